#pragma once
// Workspaces and members: the rules beyond what the database checks (see Store).
#include <boost/asio/awaitable.hpp>

#include "auth/password.hpp"
#include "tenancy/store.hpp"

namespace kiln::tenancy {

// What invitations need from the configuration.
struct InvitationSettings {
    unsigned ttl_s = 7 * 24 * 3600;
    std::string public_url;  // base of the mailed link
};

class Service {
public:
    Service(Store& store, const auth::Passwords& passwords, InvitationSettings invitations)
        : store_(store), passwords_(passwords), invitations_(std::move(invitations)) {}

    boost::asio::awaitable<WorkspaceList> list(auth::Principal p);
    boost::asio::awaitable<Workspace> create(auth::Principal p, CreateWorkspace r, audit::Origin origin);
    boost::asio::awaitable<Workspace> get(auth::Principal p, core::Uuid id);
    boost::asio::awaitable<Workspace> update(auth::Principal p, core::Uuid id, UpdateWorkspace r, audit::Origin origin);
    boost::asio::awaitable<void> remove(auth::Principal p, core::Uuid id, audit::Origin origin);
    boost::asio::awaitable<MemberList> members(auth::Principal p, core::Uuid id);
    boost::asio::awaitable<Member> set_role(auth::Principal p, core::Uuid id, core::Uuid user, ChangeRole r,
                                            audit::Origin origin);
    boost::asio::awaitable<void> remove_member(auth::Principal p, core::Uuid id, core::Uuid user, audit::Origin origin);

    boost::asio::awaitable<ManagedUserReply> create_managed_user(auth::Principal p, core::Uuid id, CreateManagedUser r,
                                                                 audit::Origin origin);

    boost::asio::awaitable<Member> update_managed_user(auth::Principal p, core::Uuid id, core::Uuid user,
                                                       UpdateManagedUser r, audit::Origin origin);
    boost::asio::awaitable<void> deactivate_managed_user(auth::Principal p, core::Uuid id, core::Uuid user,
                                                         audit::Origin origin);

    boost::asio::awaitable<void> reactivate_managed_user(auth::Principal p, core::Uuid id, core::Uuid user,
                                                         audit::Origin origin);

    // The key itself is in the reply and nowhere else: only its hash is stored.
    boost::asio::awaitable<ApiKeyCreated> create_api_key(auth::Principal p, core::Uuid id, CreateApiKey r,
                                                         audit::Origin origin);
    boost::asio::awaitable<ApiKeyList> api_keys(auth::Principal p, core::Uuid id);
    boost::asio::awaitable<void> revoke_api_key(auth::Principal p, core::Uuid id, core::Uuid key, audit::Origin origin);
    // The workspace's plan, its limits and what of them is used.
    boost::asio::awaitable<PlanReply> plan(auth::Principal p, core::Uuid id);
    boost::asio::awaitable<Invitation> invite(auth::Principal p, core::Uuid id, CreateInvitation r,
                                              audit::Origin origin);
    boost::asio::awaitable<InvitationList> invitations(auth::Principal p, core::Uuid id, Page page);
    boost::asio::awaitable<void> revoke_invitation(auth::Principal p, core::Uuid id, core::Uuid invitation,
                                                   audit::Origin origin);
    boost::asio::awaitable<AcceptedInvitation> accept_invitation(auth::Principal p, AcceptInvitation r,
                                                                 audit::Origin origin);

private:
    Store& store_;
    const auth::Passwords& passwords_;
    InvitationSettings invitations_;
};

}  // namespace kiln::tenancy
