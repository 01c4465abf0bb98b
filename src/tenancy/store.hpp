#pragma once
// All SQL of workspaces and memberships. Each call is one round trip; the caller's membership
// and least role are checked live by the session check in front of it (db::TenantScope).
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <vector>

#include "audit/store.hpp"
#include "auth/api_key.hpp"
#include "auth/model.hpp"
#include "auth/scope.hpp"
#include "core/crypto.hpp"
#include "db/transaction.hpp"
#include "mail/model.hpp"
#include "tenancy/model.hpp"

namespace kiln::tenancy {

class Store {
public:
    explicit Store(db::Pool& pool) : pool_(pool) {}

    boost::asio::awaitable<std::vector<Workspace>> list(const auth::Principal& p);
    boost::asio::awaitable<Workspace> create(const auth::Principal& p, const core::Uuid& id, const std::string& name,
                                             const audit::Origin& origin);
    // Each: 404 when the caller is not a member of `id` (or it is deleted), 403 below the role.
    boost::asio::awaitable<Workspace> get(const auth::Principal& p, const core::Uuid& id);
    boost::asio::awaitable<Workspace> update(const auth::Principal& p, const core::Uuid& id, const UpdateWorkspace& r,
                                             const audit::Origin& origin);
    boost::asio::awaitable<void> remove(const auth::Principal& p, const core::Uuid& id, const audit::Origin& origin);
    boost::asio::awaitable<std::vector<Member>> members(const auth::Principal& p, const core::Uuid& id);
    boost::asio::awaitable<Member> set_role(const auth::Principal& p, const core::Uuid& id, const core::Uuid& user,
                                            const std::string& role, const audit::Origin& origin);
    boost::asio::awaitable<void> remove_member(const auth::Principal& p, const core::Uuid& id, const core::Uuid& user,
                                               const audit::Origin& origin);

    // Creates the account (must change its password), makes it a member with `role`.
    // Throws db::Error 23505 (users_email_key / users_username_key) when taken.
    boost::asio::awaitable<Member> create_managed_user(const auth::Principal& p, const core::Uuid& workspace,
                                                       const core::Uuid& user, const CreateManagedUser& r,
                                                       const std::string& password_hash, const audit::Origin& origin);

    // Both: 404 unless `user` is an account this workspace manages.
    boost::asio::awaitable<Member> update_managed_user(const auth::Principal& p, const core::Uuid& workspace,
                                                       const core::Uuid& user, const UpdateManagedUser& r,
                                                       const audit::Origin& origin);
    boost::asio::awaitable<void> deactivate_managed_user(const auth::Principal& p, const core::Uuid& workspace,
                                                         const core::Uuid& user, const audit::Origin& origin);

    // 404 unless `user` is an account this workspace manages.
    boost::asio::awaitable<void> reactivate_managed_user(const auth::Principal& p, const core::Uuid& workspace,
                                                         const core::Uuid& user, const audit::Origin& origin);

    // Admins and owners. nullopt when `expires_at` is not in the future; a 402 Problem past the
    // plan's number of keys.
    boost::asio::awaitable<std::optional<ApiKey>> create_api_key(const auth::Principal& p, const core::Uuid& workspace,
                                                                 const CreateApiKey& r, const auth::NewApiKey& key,
                                                                 const core::Uuid& id, const audit::Origin& origin);
    boost::asio::awaitable<std::vector<ApiKey>> api_keys(const auth::Principal& p, const core::Uuid& workspace);
    // 404 unless a live key of the workspace.
    boost::asio::awaitable<void> revoke_api_key(const auth::Principal& p, const core::Uuid& workspace,
                                                const core::Uuid& id, const audit::Origin& origin);
    boost::asio::awaitable<PlanReply> plan(const auth::Principal& p, const core::Uuid& workspace);
    // Invitations (tenancy/invitations.cpp). Create: admin (owner for the owner role), 409 when
    // the address is a member already; the mail is queued in the same batch.
    boost::asio::awaitable<Invitation> create_invitation(const auth::Principal& p, const core::Uuid& workspace,
                                                         const CreateInvitation& r, const core::Digest& token,
                                                         unsigned ttl_s, const mail::Message& mail,
                                                         const audit::Origin& origin);
    // Pending ones (not accepted, revoked or expired), newest first; limit + 1 rows are read.
    boost::asio::awaitable<std::vector<Invitation>> invitations(const auth::Principal& p, const core::Uuid& workspace,
                                                                const Page& page);
    boost::asio::awaitable<void> revoke_invitation(const auth::Principal& p, const core::Uuid& workspace,
                                                   const core::Uuid& id, const audit::Origin& origin);
    // Makes the caller a member of the invitation's workspace (its email must be the invited one).
    boost::asio::awaitable<AcceptedInvitation> accept_invitation(const auth::Principal& p, const core::Digest& token,
                                                                 const audit::Origin& origin);

private:
    db::Pool& pool_;
};

}  // namespace kiln::tenancy
