#include "tenancy/service.hpp"

#include "core/crypto.hpp"
#include "mail/model.hpp"

namespace asio = boost::asio;

namespace kiln::tenancy {

asio::awaitable<WorkspaceList> Service::list(auth::Principal p) {
    WorkspaceList out;
    out.items = co_await store_.list(p);
    co_return out;
}

asio::awaitable<Workspace> Service::create(auth::Principal p, CreateWorkspace r, audit::Origin origin) {
    const auto id = core::Uuid::v7();
    co_return co_await store_.create(p, id, r.name, origin);
}

asio::awaitable<Workspace> Service::get(auth::Principal p, core::Uuid id) {
    co_return co_await store_.get(p, id);
}

asio::awaitable<Workspace> Service::update(auth::Principal p, core::Uuid id, UpdateWorkspace r, audit::Origin origin) {
    co_return co_await store_.update(p, id, r, origin);
}

asio::awaitable<void> Service::remove(auth::Principal p, core::Uuid id, audit::Origin origin) {
    co_await store_.remove(p, id, origin);
}

asio::awaitable<MemberList> Service::members(auth::Principal p, core::Uuid id) {
    MemberList out;
    out.items = co_await store_.members(p, id);
    co_return out;
}

asio::awaitable<Member> Service::set_role(auth::Principal p, core::Uuid id, core::Uuid user, ChangeRole r,
                                          audit::Origin origin) {
    co_return co_await store_.set_role(p, id, user, r.role, origin);
}

asio::awaitable<void> Service::remove_member(auth::Principal p, core::Uuid id, core::Uuid user, audit::Origin origin) {
    co_await store_.remove_member(p, id, user, origin);
}

asio::awaitable<ManagedUserReply> Service::create_managed_user(auth::Principal p, core::Uuid id, CreateManagedUser r,
                                                               audit::Origin origin) {
    ManagedUserReply out;
    if (!r.temporary_password) out.temporary_password = core::random_token(18);
    std::string password = r.temporary_password ? *r.temporary_password : *out.temporary_password;
    const auto hash = co_await passwords_.hash(std::move(password));
    const auto user = core::Uuid::v7();
    try {
        out.member = co_await store_.create_managed_user(p, id, user, r, hash, origin);
    } catch (const db::Error& e) {
        if (e.sqlstate() == "23505" && e.constraint() == "users_email_key") {
            throw core::Problem::conflict("An account with this email exists.");
        }
        if (e.sqlstate() == "23505" && e.constraint() == "users_username_key") {
            throw core::Problem::conflict("The username is taken.");
        }
        throw;
    }
    co_return out;
}

asio::awaitable<Member> Service::update_managed_user(auth::Principal p, core::Uuid id, core::Uuid user,
                                                     UpdateManagedUser r, audit::Origin origin) {
    try {
        co_return co_await store_.update_managed_user(p, id, user, r, origin);
    } catch (const db::Error& e) {
        if (e.sqlstate() == "23505" && e.constraint() == "users_username_key") {
            throw core::Problem::conflict("The username is taken.");
        }
        throw;
    }
}

asio::awaitable<void> Service::deactivate_managed_user(auth::Principal p, core::Uuid id, core::Uuid user,
                                                       audit::Origin origin) {
    co_await store_.deactivate_managed_user(p, id, user, origin);
}

asio::awaitable<void> Service::reactivate_managed_user(auth::Principal p, core::Uuid id, core::Uuid user,
                                                       audit::Origin origin) {
    co_await store_.reactivate_managed_user(p, id, user, origin);
}

asio::awaitable<ApiKeyCreated> Service::create_api_key(auth::Principal p, core::Uuid id, CreateApiKey r,
                                                       audit::Origin origin) {
    auto key = auth::generate_api_key();
    const auto key_id = core::Uuid::v7();
    std::optional<ApiKey> created;
    try {
        created = co_await store_.create_api_key(p, id, r, key, key_id, origin);
    } catch (const db::Error& e) {
        // A time PostgreSQL cannot represent (year 300000, …).
        if (e.sqlstate().rfind("22", 0) != 0) throw;
        throw core::Problem::validation({{"expires_at", "is out of range"}});
    }
    if (!created) throw core::Problem::validation({{"expires_at", "must be in the future"}});
    ApiKeyCreated out;
    out.api_key = std::move(*created);
    out.key = std::move(key.key);
    co_return out;
}

asio::awaitable<ApiKeyList> Service::api_keys(auth::Principal p, core::Uuid id) {
    ApiKeyList out;
    out.items = co_await store_.api_keys(p, id);
    co_return out;
}

asio::awaitable<void> Service::revoke_api_key(auth::Principal p, core::Uuid id, core::Uuid key, audit::Origin origin) {
    co_await store_.revoke_api_key(p, id, key, origin);
}

asio::awaitable<PlanReply> Service::plan(auth::Principal p, core::Uuid id) {
    co_return co_await store_.plan(p, id);
}

asio::awaitable<Invitation> Service::invite(auth::Principal p, core::Uuid id, CreateInvitation r,
                                            audit::Origin origin) {
    // The mail names the workspace: read it first (404 for a workspace the caller is not in).
    const auto ws = co_await store_.get(p, id);
    const auto token = core::random_token(32);
    const auto hash = core::sha256(token);
    r.email = auth::normalize_email(r.email);
    const auto message = mail::invitation_mail(
        r.email, ws.name, r.role, mail::link(invitations_.public_url, "/accept-invitation", token), invitations_.ttl_s);
    co_return co_await store_.create_invitation(p, id, r, hash, invitations_.ttl_s, message, origin);
}

asio::awaitable<InvitationList> Service::invitations(auth::Principal p, core::Uuid id, Page page) {
    InvitationList out;
    out.items = co_await store_.invitations(p, id, page);
    if (out.items.size() > page.limit) {
        out.items.resize(page.limit);
        out.next_cursor = out.items.back().id.str();
    }
    co_return out;
}

asio::awaitable<void> Service::revoke_invitation(auth::Principal p, core::Uuid id, core::Uuid invitation,
                                                 audit::Origin origin) {
    co_await store_.revoke_invitation(p, id, invitation, origin);
}

asio::awaitable<AcceptedInvitation> Service::accept_invitation(auth::Principal p, AcceptInvitation r,
                                                               audit::Origin origin) {
    const auto token = core::sha256(r.token);
    co_return co_await store_.accept_invitation(p, token, origin);
}

}  // namespace kiln::tenancy
