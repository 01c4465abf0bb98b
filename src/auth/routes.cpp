// /api/v1/auth/…: registration, sign-in, token refresh, sign-out, the caller's profile and sessions;
// /api/v1/realtime/tickets: single-use tickets for the realtime routes.
#include "auth/routes.hpp"

#include "audit/origin.hpp"
#include "http/json.hpp"

namespace asio = boost::asio;

namespace kiln::auth {

namespace {

constexpr std::string_view kPrefix = "/api/v1/auth";

http::Response no_content() {
    http::Response res{http::beast_http::status::no_content, 11};
    return res;
}

asio::awaitable<http::Response> do_register(Service* s, http::Request& req) {
    auto body = http::bind_body<RegisterRequest>(req);
    const auto origin = audit::origin_of(req);
    auto reply = co_await s->register_account(std::move(body), origin);
    co_return http::json_response(201, http::to_json(reply));
}

asio::awaitable<http::Response> do_login(Service* s, http::Request& req) {
    auto body = http::bind_body<LoginRequest>(req);
    const auto origin = audit::origin_of(req);
    std::string user_agent(req.header_value("User-Agent"));
    auto reply = co_await s->login(std::move(body), std::move(user_agent), origin);
    co_return http::json_response(200, http::to_json(reply));
}

asio::awaitable<http::Response> do_refresh(Service* s, http::Request& req) {
    auto body = http::bind_body<RefreshRequest>(req);
    const auto origin = audit::origin_of(req);
    auto reply = co_await s->refresh(std::move(body.refresh_token), origin);
    co_return http::json_response(200, http::to_json(reply));
}

asio::awaitable<http::Response> do_logout(Service* s, http::Request& req) {
    auto who = co_await s->authenticate(req.header_value("Authorization"));
    std::optional<std::string> refresh_token;
    if (!req.body.empty()) refresh_token = http::bind_body<LogoutRequest>(req).refresh_token;
    const auto origin = audit::origin_of(req);
    co_await s->logout(who, std::move(refresh_token), origin);
    co_return no_content();
}

asio::awaitable<http::Response> do_logout_all(Service* s, http::Request& req) {
    auto who = co_await s->authenticate(req.header_value("Authorization"));
    const auto origin = audit::origin_of(req);
    co_await s->logout_all(who, origin);
    co_return no_content();
}

asio::awaitable<http::Response> do_me(Service* s, http::Request& req) {
    auto who = co_await s->authenticate(req.header_value("Authorization"));
    auto user = co_await s->me(who);
    co_return http::json_response(200, http::to_json(user));
}

asio::awaitable<http::Response> do_update_me(Service* s, http::Request& req) {
    auto who = co_await s->authenticate(req.header_value("Authorization"));
    auto body = http::bind_body<UpdateMeRequest>(req);
    const auto origin = audit::origin_of(req);
    auto user = co_await s->update_me(who, std::move(body), origin);
    co_return http::json_response(200, http::to_json(user));
}

asio::awaitable<http::Response> do_change_password(Service* s, http::Request& req) {
    auto who = co_await s->authenticate(req.header_value("Authorization"));
    auto body = http::bind_body<ChangePasswordRequest>(req);
    const auto origin = audit::origin_of(req);
    co_await s->change_password(who, std::move(body), origin);
    co_return no_content();
}

asio::awaitable<http::Response> do_switch(Service* s, http::Request& req) {
    auto who = co_await s->authenticate(req.header_value("Authorization"));
    auto body = http::bind_body<SwitchWorkspaceRequest>(req);
    const auto origin = audit::origin_of(req);
    auto reply = co_await s->switch_workspace(who, body.workspace_id, origin);
    co_return http::json_response(200, http::to_json(reply));
}

asio::awaitable<http::Response> do_sessions(Service* s, http::Request& req) {
    auto who = co_await s->authenticate(req.header_value("Authorization"));
    auto list = co_await s->sessions(who);
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_revoke_session(Service* s, http::Request& req) {
    auto who = co_await s->authenticate(req.header_value("Authorization"));
    // A malformed id names no session of the caller's: 404 like any other.
    const auto id = core::Uuid::parse(req.param("id"));
    if (!id) throw core::Problem::not_found("No such session.");
    const auto origin = audit::origin_of(req);
    co_await s->revoke_session(who, *id, origin);
    co_return no_content();
}

asio::awaitable<http::Response> do_issue_ticket(Service* s, http::Request& req) {
    auto who = co_await s->authenticate(req.header_value("Authorization"));
    auto ticket = co_await s->issue_ticket(who);
    co_return http::json_response(201, http::to_json(ticket));
}

http::Response accepted() {
    return http::Response{http::beast_http::status::accepted, 11};
}

asio::awaitable<http::Response> do_reset_request(Service* s, http::Request& req) {
    auto body = http::bind_body<PasswordResetRequest>(req);
    const auto origin = audit::origin_of(req);
    co_await s->request_password_reset(std::move(body), origin);
    co_return accepted();
}

asio::awaitable<http::Response> do_reset_confirm(Service* s, http::Request& req) {
    auto body = http::bind_body<PasswordResetConfirm>(req);
    const auto origin = audit::origin_of(req);
    co_await s->confirm_password_reset(std::move(body), origin);
    co_return no_content();
}

asio::awaitable<http::Response> do_verify_email(Service* s, http::Request& req) {
    auto body = http::bind_body<VerifyEmailRequest>(req);
    const auto origin = audit::origin_of(req);
    co_await s->verify_email(std::move(body), origin);
    co_return no_content();
}

asio::awaitable<http::Response> do_resend_verification(Service* s, http::Request& req) {
    auto who = co_await s->authenticate(req.header_value("Authorization"));
    const auto origin = audit::origin_of(req);
    co_await s->resend_verification(who, origin);
    co_return accepted();
}

std::string path(std::string_view tail) {
    return std::string(kPrefix) + std::string(tail);
}

}  // namespace

void add_routes(http::Router& router, Service& service) {
    Service* s = &service;
    const http::Body none{"application/json", std::nullopt};
    router.add({.method = http::Verb::post,
                .path = path("/register"),
                .summary = "Create an account and its personal workspace",
                .tag = "auth",
                .request = http::json_body<RegisterRequest>(),
                .status = 201,
                .response = http::json_body<RegisterReply>(),
                .handler = [s](http::Request& r) { return do_register(s, r); }});
    router.add({.method = http::Verb::post,
                .path = path("/login"),
                .summary = "Sign in with email or username and password; returns an access and a refresh token",
                .tag = "auth",
                .request = http::json_body<LoginRequest>(),
                .response = http::json_body<TokenReply>(),
                .handler = [s](http::Request& r) { return do_login(s, r); }});
    router.add(
        {.method = http::Verb::post,
         .path = path("/refresh"),
         .summary = "Exchange a refresh token for a new pair (the old one is spent; reusing it ends the session)",
         .tag = "auth",
         .request = http::json_body<RefreshRequest>(),
         .response = http::json_body<TokenReply>(),
         .handler = [s](http::Request& r) { return do_refresh(s, r); }});
    router.add({.method = http::Verb::post,
                .path = path("/logout"),
                .summary = "End the current session",
                .tag = "auth",
                .request = http::json_body<LogoutRequest>(),
                .status = 204,
                .response = none,
                .handler = [s](http::Request& r) { return do_logout(s, r); }});
    router.add({.method = http::Verb::post,
                .path = path("/logout-all"),
                .summary = "End every session of the caller",
                .tag = "auth",
                .status = 204,
                .response = none,
                .handler = [s](http::Request& r) { return do_logout_all(s, r); }});
    router.add({.method = http::Verb::get,
                .path = path("/me"),
                .summary = "The caller's account and current workspace",
                .tag = "auth",
                .response = http::json_body<User>(),
                .handler = [s](http::Request& r) { return do_me(s, r); }});
    router.add({.method = http::Verb::patch,
                .path = path("/me"),
                .summary = "Change the caller's name or username",
                .tag = "auth",
                .request = http::json_body<UpdateMeRequest>(),
                .response = http::json_body<User>(),
                .handler = [s](http::Request& r) { return do_update_me(s, r); }});
    router.add({.method = http::Verb::post,
                .path = path("/change-password"),
                .summary = "Change the password (ends every other session)",
                .tag = "auth",
                .request = http::json_body<ChangePasswordRequest>(),
                .status = 204,
                .response = none,
                .handler = [s](http::Request& r) { return do_change_password(s, r); }});
    router.add({.method = http::Verb::post,
                .path = path("/switch-workspace"),
                .summary = "Tokens for another workspace the caller belongs to (same session)",
                .tag = "auth",
                .request = http::json_body<SwitchWorkspaceRequest>(),
                .response = http::json_body<TokenReply>(),
                .handler = [s](http::Request& r) { return do_switch(s, r); }});
    router.add({.method = http::Verb::get,
                .path = path("/sessions"),
                .summary = "The caller's live sessions",
                .tag = "auth",
                .response = http::json_body<SessionList>(),
                .handler = [s](http::Request& r) { return do_sessions(s, r); }});
    router.add({.method = http::Verb::delete_,
                .path = path("/sessions/{id}"),
                .summary = "End one of the caller's sessions",
                .tag = "auth",
                .status = 204,
                .response = none,
                .handler = [s](http::Request& r) { return do_revoke_session(s, r); }});
    router.add({.method = http::Verb::post,
                .path = path("/password-reset"),
                .summary = "Mail a single-use password reset link (always 202: whether the account exists is not told)",
                .tag = "auth",
                .request = http::json_body<PasswordResetRequest>(),
                .status = 202,
                .response = none,
                .handler = [s](http::Request& r) { return do_reset_request(s, r); }});
    router.add({.method = http::Verb::post,
                .path = path("/password-reset/confirm"),
                .summary = "Set a new password with the mailed token (spends it; ends every session of the account)",
                .tag = "auth",
                .request = http::json_body<PasswordResetConfirm>(),
                .status = 204,
                .response = none,
                .handler = [s](http::Request& r) { return do_reset_confirm(s, r); }});
    router.add({.method = http::Verb::post,
                .path = path("/verify-email"),
                .summary = "Confirm the account's email address with the mailed token (single use)",
                .tag = "auth",
                .request = http::json_body<VerifyEmailRequest>(),
                .status = 204,
                .response = none,
                .handler = [s](http::Request& r) { return do_verify_email(s, r); }});
    router.add({.method = http::Verb::post,
                .path = path("/verify-email/resend"),
                .summary = "Mail a new verification link to the caller (409 when verified already)",
                .tag = "auth",
                .status = 202,
                .response = none,
                .handler = [s](http::Request& r) { return do_resend_verification(s, r); }});
    router.add(
        {.method = http::Verb::post,
         .path = "/api/v1/realtime/tickets",
         .summary = "A single-use ticket for one realtime connection (the job event streams and the WebSocket)",
         .tag = "auth",
         .status = 201,
         .response = http::json_body<RealtimeTicket>(),
         .handler = [s](http::Request& r) { return do_issue_ticket(s, r); },
         .description =
             "Browsers cannot set headers on an EventSource or a WebSocket: ask for a ticket with the usual "
             "`Authorization` (access token or API key), then open the connection with `?ticket=<ticket>`. The ticket "
             "stands for the same caller in the same workspace, is spent by the first connection that presents it and "
             "expires after `auth.realtime_ticket_ttl_s` (30 s by default); ask for a new one for each connection."});
}

}  // namespace kiln::auth
