// /api/v1/workspaces/…: the caller's workspaces and their members.
#include "tenancy/routes.hpp"

#include <charconv>

#include "audit/origin.hpp"
#include "http/json.hpp"

namespace asio = boost::asio;

namespace kiln::tenancy {

namespace {

struct Deps {
    const auth::Service* auth;
    Service* tenancy;
};

// Ids name workspaces and users the caller may not see: a malformed one is as absent as any.
http::Response no_content() {
    return http::Response{http::beast_http::status::no_content, 11};
}

asio::awaitable<http::Response> do_list(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto list = co_await d.tenancy->list(who);
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_create(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto body = http::bind_body<CreateWorkspace>(req);
    const auto origin = audit::origin_of(req);
    auto ws = co_await d.tenancy->create(who, std::move(body), origin);
    co_return http::json_response(201, http::to_json(ws));
}

asio::awaitable<http::Response> do_get(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    auto ws = co_await d.tenancy->get(who, id);
    co_return http::json_response(200, http::to_json(ws));
}

asio::awaitable<http::Response> do_update(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    auto body = http::bind_body<UpdateWorkspace>(req);
    const auto origin = audit::origin_of(req);
    auto ws = co_await d.tenancy->update(who, id, std::move(body), origin);
    co_return http::json_response(200, http::to_json(ws));
}

asio::awaitable<http::Response> do_delete(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    const auto origin = audit::origin_of(req);
    co_await d.tenancy->remove(who, id, origin);
    co_return no_content();
}

asio::awaitable<http::Response> do_members(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    auto list = co_await d.tenancy->members(who, id);
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_create_user(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    auto body = http::bind_body<CreateManagedUser>(req);
    const auto origin = audit::origin_of(req);
    auto reply = co_await d.tenancy->create_managed_user(who, id, std::move(body), origin);
    co_return http::json_response(201, http::to_json(reply));
}

asio::awaitable<http::Response> do_update_user(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    const auto user = req.uuid_param("user_id", "No such managed user.");
    auto body = http::bind_body<UpdateManagedUser>(req);
    const auto origin = audit::origin_of(req);
    auto member = co_await d.tenancy->update_managed_user(who, id, user, std::move(body), origin);
    co_return http::json_response(200, http::to_json(member));
}

asio::awaitable<http::Response> do_deactivate_user(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    const auto user = req.uuid_param("user_id", "No such managed user.");
    const auto origin = audit::origin_of(req);
    co_await d.tenancy->deactivate_managed_user(who, id, user, origin);
    co_return no_content();
}

asio::awaitable<http::Response> do_set_role(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    const auto user = req.uuid_param("user_id", "No such member.");
    auto body = http::bind_body<ChangeRole>(req);
    const auto origin = audit::origin_of(req);
    auto member = co_await d.tenancy->set_role(who, id, user, std::move(body), origin);
    co_return http::json_response(200, http::to_json(member));
}

asio::awaitable<http::Response> do_remove_member(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    const auto user = req.uuid_param("user_id", "No such member.");
    const auto origin = audit::origin_of(req);
    co_await d.tenancy->remove_member(who, id, user, origin);
    co_return no_content();
}

asio::awaitable<http::Response> do_reactivate_user(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    const auto user = req.uuid_param("user_id", "No such managed user.");
    const auto origin = audit::origin_of(req);
    co_await d.tenancy->reactivate_managed_user(who, id, user, origin);
    co_return no_content();
}

asio::awaitable<http::Response> do_create_api_key(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    auto body = http::bind_body<CreateApiKey>(req);
    const auto origin = audit::origin_of(req);
    auto created = co_await d.tenancy->create_api_key(who, id, std::move(body), origin);
    co_return http::json_response(201, http::to_json(created));
}

asio::awaitable<http::Response> do_api_keys(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    auto list = co_await d.tenancy->api_keys(who, id);
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_revoke_api_key(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    const auto key = req.uuid_param("key_id", "No such API key.");
    const auto origin = audit::origin_of(req);
    co_await d.tenancy->revoke_api_key(who, id, key, origin);
    co_return no_content();
}

asio::awaitable<http::Response> do_plan(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    auto plan = co_await d.tenancy->plan(who, id);
    co_return http::json_response(200, http::to_json(plan));
}

Page page_of(const http::Request& req) {
    Page page;
    core::Validator v;
    if (auto limit = req.query_param("limit")) {
        unsigned n = 0;
        auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
        if (ec != std::errc{} || end != limit->data() + limit->size() || n < 1 || n > 200) {
            v.add("limit", "must be an integer from 1 to 200");
        }
        page.limit = n;
    }
    if (auto cursor = req.query_param("cursor")) {
        page.cursor = core::Uuid::parse(*cursor);
        if (!page.cursor) v.add("cursor", "must be a next_cursor from a previous page");
    }
    v.throw_if_failed();
    return page;
}

asio::awaitable<http::Response> do_invite(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    auto body = http::bind_body<CreateInvitation>(req);
    const auto origin = audit::origin_of(req);
    auto invitation = co_await d.tenancy->invite(who, id, std::move(body), origin);
    co_return http::json_response(201, http::to_json(invitation));
}

asio::awaitable<http::Response> do_invitations(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    const auto page = page_of(req);
    auto list = co_await d.tenancy->invitations(who, id, page);
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_revoke_invitation(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    const auto invitation = req.uuid_param("invitation_id", "No such pending invitation.");
    const auto origin = audit::origin_of(req);
    co_await d.tenancy->revoke_invitation(who, id, invitation, origin);
    co_return no_content();
}

asio::awaitable<http::Response> do_accept(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto body = http::bind_body<AcceptInvitation>(req);
    const auto origin = audit::origin_of(req);
    auto accepted = co_await d.tenancy->accept_invitation(who, std::move(body), origin);
    co_return http::json_response(200, http::to_json(accepted));
}

}  // namespace

void add_routes(http::Router& router, const auth::Service& auth, Service& service) {
    const Deps d{&auth, &service};
    const http::Body none{"application/json", std::nullopt};
    router.add({.method = http::Verb::get,
                .path = "/api/v1/workspaces",
                .summary = "The workspaces the caller belongs to, with their role in each",
                .tag = "workspaces",
                .response = http::json_body<WorkspaceList>(),
                .handler = [d](http::Request& r) { return do_list(d, r); }});
    router.add({.method = http::Verb::post,
                .path = "/api/v1/workspaces",
                .summary = "Create a workspace; the caller becomes its owner",
                .tag = "workspaces",
                .request = http::json_body<CreateWorkspace>(),
                .status = 201,
                .response = http::json_body<Workspace>(),
                .handler = [d](http::Request& r) { return do_create(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/workspaces/{id}",
                .summary = "One of the caller's workspaces (404 for any other)",
                .tag = "workspaces",
                .response = http::json_body<Workspace>(),
                .handler = [d](http::Request& r) { return do_get(d, r); }});
    router.add({.method = http::Verb::patch,
                .path = "/api/v1/workspaces/{id}",
                .summary = "Rename a workspace (owner, admin)",
                .tag = "workspaces",
                .request = http::json_body<UpdateWorkspace>(),
                .response = http::json_body<Workspace>(),
                .handler = [d](http::Request& r) { return do_update(d, r); }});
    router.add({.method = http::Verb::delete_,
                .path = "/api/v1/workspaces/{id}",
                .summary = "Delete a workspace (owner; soft delete; not the personal one)",
                .tag = "workspaces",
                .status = 204,
                .response = none,
                .handler = [d](http::Request& r) { return do_delete(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/workspaces/{id}/members",
                .summary = "The members of a workspace and their roles",
                .tag = "workspaces",
                .response = http::json_body<MemberList>(),
                .handler = [d](http::Request& r) { return do_members(d, r); }});
    router.add({.method = http::Verb::post,
                .path = "/api/v1/workspaces/{id}/users",
                .summary = "Create an account in the workspace with a role and a temporary password it must change "
                           "at first sign-in (admin; the owner role: owner)",
                .tag = "workspaces",
                .request = http::json_body<CreateManagedUser>(),
                .status = 201,
                .response = http::json_body<ManagedUserReply>(),
                .handler = [d](http::Request& r) { return do_create_user(d, r); }});
    router.add({.method = http::Verb::patch,
                .path = "/api/v1/workspaces/{id}/users/{user_id}",
                .summary = "Change a managed account's name or username (admin)",
                .tag = "workspaces",
                .request = http::json_body<UpdateManagedUser>(),
                .response = http::json_body<Member>(),
                .handler = [d](http::Request& r) { return do_update_user(d, r); }});
    router.add({.method = http::Verb::post,
                .path = "/api/v1/workspaces/{id}/users/{user_id}/deactivate",
                .summary = "Deactivate a managed account: it can no longer sign in and its sessions end (admin)",
                .tag = "workspaces",
                .status = 204,
                .response = none,
                .handler = [d](http::Request& r) { return do_deactivate_user(d, r); }});
    router.add({.method = http::Verb::patch,
                .path = "/api/v1/workspaces/{id}/members/{user_id}",
                .summary = "Change a member's role (admin; the owner role: owner; the last owner stays)",
                .tag = "workspaces",
                .request = http::json_body<ChangeRole>(),
                .response = http::json_body<Member>(),
                .handler = [d](http::Request& r) { return do_set_role(d, r); }});
    router.add({.method = http::Verb::delete_,
                .path = "/api/v1/workspaces/{id}/members/{user_id}",
                .summary = "Remove a member (admin), or leave (yourself); the last owner stays",
                .tag = "workspaces",
                .status = 204,
                .response = none,
                .handler = [d](http::Request& r) { return do_remove_member(d, r); }});
    router.add({.method = http::Verb::post,
                .path = "/api/v1/workspaces/{id}/users/{user_id}/reactivate",
                .summary = "Let a deactivated managed account sign in again (admin)",
                .tag = "workspaces",
                .status = 204,
                .response = none,
                .handler = [d](http::Request& r) { return do_reactivate_user(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/workspaces/{id}/plan",
                .summary = "The workspace's plan: its limits and how much of them is used",
                .tag = "workspaces",
                .response = http::json_body<PlanReply>(),
                .handler = [d](http::Request& r) { return do_plan(d, r); }});
    router.add({.method = http::Verb::post,
                .path = "/api/v1/workspaces/{id}/api-keys",
                .summary = "Create an API key with a role (admin); the key is in this reply only",
                .tag = "api-keys",
                .request = http::json_body<CreateApiKey>(),
                .status = 201,
                .response = http::json_body<ApiKeyCreated>(),
                .handler = [d](http::Request& r) { return do_create_api_key(d, r); },
                .description = "Use it as `Authorization: Bearer kiln_…`. It acts in this workspace with the lesser "
                               "of its role and its creator's current role, and stops working when revoked, "
                               "expired, or when its creator leaves the workspace."});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/workspaces/{id}/api-keys",
                .summary = "The workspace's live API keys: prefix, role, last use (admin)",
                .tag = "api-keys",
                .response = http::json_body<ApiKeyList>(),
                .handler = [d](http::Request& r) { return do_api_keys(d, r); }});
    router.add({.method = http::Verb::delete_,
                .path = "/api/v1/workspaces/{id}/api-keys/{key_id}",
                .summary = "Revoke an API key (admin); it stops working at once",
                .tag = "api-keys",
                .status = 204,
                .response = none,
                .handler = [d](http::Request& r) { return do_revoke_api_key(d, r); }});
    router.add({.method = http::Verb::post,
                .path = "/api/v1/workspaces/{id}/invitations",
                .summary = "Invite an email address with a role; a single-use, expiring link is mailed (admin; the "
                           "owner role: owner)",
                .tag = "workspaces",
                .request = http::json_body<CreateInvitation>(),
                .status = 201,
                .response = http::json_body<Invitation>(),
                .handler = [d](http::Request& r) { return do_invite(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/workspaces/{id}/invitations",
                .summary = "Pending invitations, newest first (admin; ?limit=&cursor=)",
                .tag = "workspaces",
                .response = http::json_body<InvitationList>(),
                .handler = [d](http::Request& r) { return do_invitations(d, r); }});
    router.add({.method = http::Verb::delete_,
                .path = "/api/v1/workspaces/{id}/invitations/{invitation_id}",
                .summary = "Revoke a pending invitation (admin)",
                .tag = "workspaces",
                .status = 204,
                .response = none,
                .handler = [d](http::Request& r) { return do_revoke_invitation(d, r); }});
    router.add({.method = http::Verb::post,
                .path = "/api/v1/invitations/accept",
                .summary = "Accept an invitation with the mailed token: the caller (whose email must be the invited "
                           "one) becomes a member with its role",
                .tag = "workspaces",
                .request = http::json_body<AcceptInvitation>(),
                .response = http::json_body<AcceptedInvitation>(),
                .handler = [d](http::Request& r) { return do_accept(d, r); }});
}

}  // namespace kiln::tenancy
