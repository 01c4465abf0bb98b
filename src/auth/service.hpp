#pragma once
// Accounts and sessions: the rules. Passwords are hashed and checked on the CPU pool; every
// database step is one round trip (see Store).
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "auth/api_key.hpp"
#include "auth/jwt.hpp"
#include "auth/model.hpp"
#include "auth/password.hpp"
#include "auth/store.hpp"
#include "core/config.hpp"

namespace kiln::auth {

class Service {
public:
    // `public_url` is the base of the links mailed to users (server.public_url).
    Service(Store& store, const Passwords& passwords, const Jwt& jwt, const core::AuthConfig& config,
            std::string public_url);

    boost::asio::awaitable<RegisterReply> register_account(RegisterRequest r, audit::Origin origin);
    // The command line's way in: same rules, no rate limit, optionally a platform administrator.
    boost::asio::awaitable<RegisterReply> create_account(RegisterRequest r, bool platform_admin);
    boost::asio::awaitable<bool> platform_admin_exists();
    boost::asio::awaitable<TokenReply> login(LoginRequest r, std::string user_agent, audit::Origin origin);
    boost::asio::awaitable<TokenReply> refresh(std::string refresh_token, audit::Origin origin);
    boost::asio::awaitable<void> logout(Principal p, std::optional<std::string> refresh_token, audit::Origin origin);
    boost::asio::awaitable<void> logout_all(Principal p, audit::Origin origin);
    boost::asio::awaitable<User> me(Principal p);
    boost::asio::awaitable<User> update_me(Principal p, UpdateMeRequest r, audit::Origin origin);
    boost::asio::awaitable<void> change_password(Principal p, ChangePasswordRequest r, audit::Origin origin);
    boost::asio::awaitable<SessionList> sessions(Principal p);
    // New tokens naming another workspace the caller belongs to (the same session).
    boost::asio::awaitable<TokenReply> switch_workspace(Principal p, core::Uuid workspace, audit::Origin origin);
    boost::asio::awaitable<void> revoke_session(Principal p, core::Uuid id, audit::Origin origin);

    // The principal of an "Authorization: Bearer <access token | API key>" header. A token's
    // signature, claims and expiry are checked here, an API key is looked up (or found in the
    // cache); the session or key itself is checked live with the request's first statement.
    // 401 otherwise.
    boost::asio::awaitable<Principal> authenticate(std::string_view authorization) const;

    // A single-use ticket standing for the caller, live for auth.realtime_ticket_ttl_s.
    boost::asio::awaitable<RealtimeTicket> issue_ticket(Principal p);
    // The principal of a realtime request (SSE, WebSocket): the Authorization header when there
    // is one, else the ?ticket= (spent here). A ticket that is malformed, unknown, spent or
    // expired, or neither credential, is 401.
    boost::asio::awaitable<Principal> authenticate_realtime(std::string_view authorization,
                                                            std::optional<std::string> ticket) const;

    // Always succeeds (202) for a well-formed address, account or not; 429 past the budgets.
    boost::asio::awaitable<void> request_password_reset(PasswordResetRequest r, audit::Origin origin);
    boost::asio::awaitable<void> confirm_password_reset(PasswordResetConfirm r, audit::Origin origin);
    boost::asio::awaitable<void> verify_email(VerifyEmailRequest r, audit::Origin origin);
    boost::asio::awaitable<void> resend_verification(Principal p, audit::Origin origin);

private:
    boost::asio::awaitable<RegisterReply> create(RegisterRequest r, bool platform_admin, std::string throttle_key,
                                                 audit::Origin origin, bool mail_verification);
    // A fresh token (returned) whose hash and mail go into `out`.
    std::string mailed_token(Mailed& out, const std::string& to, bool reset) const;
    TokenReply tokens_for(const Principal& p, std::string refresh_token) const;
    boost::asio::awaitable<Principal> api_key_principal(std::string key) const;

    Store& store_;
    const Passwords& passwords_;
    const Jwt& jwt_;
    const core::AuthConfig& config_;
    mutable ApiKeyCache api_keys_;
    std::string public_url_;
};

}  // namespace kiln::auth
