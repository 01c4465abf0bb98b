#pragma once
// Accounts and sessions on the wire. Token replies follow OAuth 2's shape.
#include <boost/describe.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "core/uuid.hpp"

namespace kiln::auth {

// Who a valid access token or API key speaks for. For an API key, `session` is the key's id,
// `user` its creator and `workspace` the one workspace it acts in.
struct Principal {
    core::Uuid user;
    core::Uuid workspace;
    core::Uuid session;
    std::string role;
    bool api_key = false;
};

// Shared field rules; each adds its findings to `v`.
void check_email(core::Validator& v, const std::string& field, const std::string& email);
void check_name(core::Validator& v, const std::string& field, const std::string& name);
void check_username(core::Validator& v, const std::string& field, const std::string& username);
// Lowercase and trimmed, as emails are stored and compared.
std::string normalize_email(std::string_view email);

struct RegisterRequest {
    std::string email;
    std::string password;
    std::string name;
    std::optional<std::string> username;
    // From an invitation mail: the new account joins that workspace too (its email must be the
    // invited one).
    std::optional<std::string> invitation_token;
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(RegisterRequest, (), (email, password, name, username, invitation_token))

struct LoginRequest {
    std::optional<std::string> email;
    std::optional<std::string> username;
    std::string password;
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(LoginRequest, (), (email, username, password))

struct RefreshRequest {
    std::string refresh_token;
};
BOOST_DESCRIBE_STRUCT(RefreshRequest, (), (refresh_token))

struct LogoutRequest {
    std::optional<std::string> refresh_token;
};
BOOST_DESCRIBE_STRUCT(LogoutRequest, (), (refresh_token))

struct ChangePasswordRequest {
    std::string current_password;
    std::string new_password;
};
BOOST_DESCRIBE_STRUCT(ChangePasswordRequest, (), (current_password, new_password))

struct UpdateMeRequest {
    std::optional<std::string> name;
    std::optional<std::string> username;
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(UpdateMeRequest, (), (name, username))

struct SwitchWorkspaceRequest {
    core::Uuid workspace_id;
};
BOOST_DESCRIBE_STRUCT(SwitchWorkspaceRequest, (), (workspace_id))

struct TokenReply {
    std::string access_token;
    std::string refresh_token;
    std::string token_type = "Bearer";
    std::int64_t expires_in = 0;
};
BOOST_DESCRIBE_STRUCT(TokenReply, (), (access_token, refresh_token, token_type, expires_in))

struct WorkspaceRef {
    core::Uuid id;
    std::string name;
    std::string role;
};
BOOST_DESCRIBE_STRUCT(WorkspaceRef, (), (id, name, role))

struct User {
    core::Uuid id;
    std::string email;
    std::optional<std::string> username;
    std::string name;
    bool email_verified = false;
    bool is_platform_admin = false;
    bool must_change_password = false;
    std::string created_at;
    WorkspaceRef workspace;
};
BOOST_DESCRIBE_STRUCT(User, (),
                      (id, email, username, name, email_verified, is_platform_admin, must_change_password, created_at,
                       workspace))

struct RegisterReply {
    User user;
    WorkspaceRef workspace;
    std::optional<WorkspaceRef> joined;  // the invitation's workspace, when registering with one
};
BOOST_DESCRIBE_STRUCT(RegisterReply, (), (user, workspace, joined))

struct PasswordResetRequest {
    std::string email;
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(PasswordResetRequest, (), (email))

struct PasswordResetConfirm {
    std::string token;
    std::string new_password;
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(PasswordResetConfirm, (), (token, new_password))

struct VerifyEmailRequest {
    std::string token;
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(VerifyEmailRequest, (), (token))

// Mailed tokens are 32 random bytes, base64url: anything else names no token.
void check_token(core::Validator& v, const std::string& field, const std::string& token);

// A single-use ticket for a realtime route (?ticket=…), for clients that cannot send headers.
struct RealtimeTicket {
    std::string ticket;
    std::string expires_at;
};
BOOST_DESCRIBE_STRUCT(RealtimeTicket, (), (ticket, expires_at))

struct SessionInfo {
    core::Uuid id;
    std::string user_agent;
    std::optional<std::string> ip;
    std::string created_at;
    std::string last_used_at;
    bool current = false;
};
BOOST_DESCRIBE_STRUCT(SessionInfo, (), (id, user_agent, ip, created_at, last_used_at, current))

struct SessionList {
    std::vector<SessionInfo> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(SessionList, (), (items, next_cursor))

}  // namespace kiln::auth
