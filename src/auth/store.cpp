#include "auth/store.hpp"

#include "core/problem.hpp"
#include "mail/store.hpp"

namespace asio = boost::asio;

namespace kiln::auth {

namespace {

constexpr std::string_view kThrottleTake = "SELECT kiln_throttle_take($1, $2, make_interval(secs => $3))";
constexpr std::string_view kThrottleWait = "SELECT kiln_throttle_wait(ARRAY[$1, $2])";
constexpr std::string_view kThrottleFail =
    "SELECT kiln_throttle_fail($1, $2, make_interval(secs => $3), make_interval(secs => $4), "
    "make_interval(secs => $5))";
constexpr std::string_view kThrottleClear = "DELETE FROM auth_throttle WHERE key = $1";

constexpr std::string_view kUserInsert = R"sql(
INSERT INTO users (id, email, username, name, password_hash) VALUES ($1, $2, $3, $4, $5))sql";
constexpr std::string_view kWorkspaceInsertPersonal = R"sql(
INSERT INTO workspaces (id, name, personal, created_by) VALUES ($1, $2, true, $3))sql";
constexpr std::string_view kMembershipInsert = R"sql(
INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3))sql";
constexpr std::string_view kUserSetDefaultWorkspace = "UPDATE users SET default_workspace_id = $2 WHERE id = $1";
constexpr std::string_view kUserSetPlatformAdmin = "UPDATE users SET is_platform_admin = true WHERE id = $1";
constexpr std::string_view kPlatformAdminExists = "SELECT EXISTS (SELECT 1 FROM users WHERE is_platform_admin)";

constexpr std::string_view kUserByEmail = R"sql(
SELECT id, password_hash, deactivated_at IS NOT NULL FROM users WHERE email = $1)sql";
constexpr std::string_view kUserByUsername = R"sql(
SELECT id, password_hash, deactivated_at IS NOT NULL FROM users WHERE lower(username) = lower($1))sql";
constexpr std::string_view kAuditLoginFailed = R"sql(
INSERT INTO audit_events (workspace_id, id, actor_user_id, action, target_type, target_id, ip, request_id)
SELECT u.default_workspace_id, $2, u.id, 'auth.login_failed', 'user', u.id::text, nullif($3, '')::inet, $4
  FROM users u WHERE u.id = $1 AND u.default_workspace_id IS NOT NULL)sql";

// The session opens in the default workspace when the user still belongs to it, else in the
// oldest workspace they belong to.
constexpr std::string_view kSessionOpen = R"sql(
WITH pick AS (
    SELECT m.workspace_id, m.role
      FROM memberships m
      JOIN workspaces w ON w.id = m.workspace_id AND w.deleted_at IS NULL
      JOIN users u ON u.id = m.user_id
     WHERE m.user_id = $2
     ORDER BY (m.workspace_id = u.default_workspace_id) DESC, m.created_at
     LIMIT 1)
INSERT INTO auth_sessions (id, user_id, active_workspace_id, user_agent, ip, expires_at)
SELECT $1, $2, pick.workspace_id, left($3, 512), nullif($4, '')::inet, now() + make_interval(secs => $5)
  FROM pick
RETURNING active_workspace_id, (SELECT role FROM pick))sql";
constexpr std::string_view kRefreshInsert = R"sql(
INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at)
SELECT $1, s.id, s.user_id, s.expires_at FROM auth_sessions s WHERE s.id = $2)sql";

// Rotation, reuse detection and the new token in one batch. `replaced_by` names the rotation
// that spent a token, so the statements after the first can tell "spent just now, by us"
// from "spent before: a replay".
constexpr std::string_view kRefreshRotate = R"sql(
WITH spent AS (
    UPDATE refresh_tokens SET spent_at = now(), replaced_by = $2
     WHERE token_hash = $1 AND spent_at IS NULL AND expires_at > now()
     RETURNING session_id)
SELECT s.id, s.user_id, s.active_workspace_id, m.role
  FROM spent
  JOIN auth_sessions s ON s.id = spent.session_id
  JOIN memberships m ON m.workspace_id = s.active_workspace_id AND m.user_id = s.user_id
 WHERE s.revoked_at IS NULL AND s.expires_at > now())sql";
constexpr std::string_view kRefreshIssue = R"sql(
INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at)
SELECT $2, s.id, s.user_id, now() + make_interval(secs => $3)
  FROM refresh_tokens old JOIN auth_sessions s ON s.id = old.session_id
 WHERE old.token_hash = $1 AND old.replaced_by = $2 AND s.revoked_at IS NULL AND s.expires_at > now())sql";
constexpr std::string_view kSessionExtend = R"sql(
UPDATE auth_sessions SET expires_at = now() + make_interval(secs => $3), last_used_at = now()
 WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1 AND replaced_by = $2)
   AND revoked_at IS NULL)sql";
constexpr std::string_view kRefreshReuse = R"sql(
UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'refresh_reuse'
 WHERE id = (SELECT session_id FROM refresh_tokens
              WHERE token_hash = $1 AND spent_at IS NOT NULL AND replaced_by IS DISTINCT FROM $2)
   AND revoked_at IS NULL
RETURNING id, user_id)sql";
constexpr std::string_view kAuditRefreshReuse = R"sql(
INSERT INTO audit_events (workspace_id, id, actor_user_id, action, target_type, target_id, ip, request_id)
SELECT s.active_workspace_id, $3, s.user_id, 'auth.refresh_reuse', 'session', s.id::text, nullif($4, '')::inet, $5
  FROM auth_sessions s
 WHERE s.id = (SELECT session_id FROM refresh_tokens
                WHERE token_hash = $1 AND spent_at IS NOT NULL AND replaced_by IS DISTINCT FROM $2))sql";

constexpr std::string_view kSessionRevoke = R"sql(
UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL
RETURNING id)sql";
constexpr std::string_view kSessionRevokeByRefresh = R"sql(
UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'logout'
 WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL)sql";
constexpr std::string_view kSessionRevokeAll = R"sql(
UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL)sql";
constexpr std::string_view kSessionRevokeOthers = R"sql(
UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'password_changed'
 WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL)sql";
// The audit row is written only when a session was revoked.
constexpr std::string_view kSessionRevokeOwn = R"sql(
WITH revoked AS (
    UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'revoked'
     WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
    RETURNING id)
INSERT INTO audit_events (workspace_id, id, actor_user_id, action, target_type, target_id, ip, request_id)
SELECT kiln_current_workspace(), $3, $2, 'auth.session_revoked', 'session', revoked.id::text, nullif($4, '')::inet, $5
  FROM revoked
RETURNING target_id)sql";
constexpr std::string_view kSessionList = R"sql(
SELECT id, user_agent, host(ip), kiln_rfc3339(created_at), kiln_rfc3339(last_used_at)
  FROM auth_sessions
 WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
 ORDER BY created_at DESC, id DESC
 LIMIT 200)sql";

constexpr std::string_view kSessionSwitch = R"sql(
UPDATE auth_sessions SET active_workspace_id = kiln_current_workspace() WHERE id = $1
RETURNING kiln_current_role())sql";
constexpr std::string_view kRefreshAdd = R"sql(
INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at)
SELECT $2, s.id, s.user_id, s.expires_at FROM auth_sessions s WHERE s.id = $1)sql";

constexpr std::string_view kUserGet = R"sql(
SELECT u.id, u.email, u.username, u.name, u.email_verified_at IS NOT NULL, u.is_platform_admin,
       u.must_change_password, kiln_rfc3339(u.created_at), w.id, w.name, m.role
  FROM users u
  JOIN memberships m ON m.user_id = u.id AND m.workspace_id = $2
  JOIN workspaces w ON w.id = m.workspace_id AND w.deleted_at IS NULL
 WHERE u.id = $1)sql";
constexpr std::string_view kUserUpdate = R"sql(
UPDATE users SET name = coalesce($2, name), username = coalesce($3, username) WHERE id = $1)sql";
constexpr std::string_view kUserCredentials = "SELECT password_hash, email, name FROM users WHERE id = $1";
constexpr std::string_view kUserSetPassword = R"sql(
UPDATE users SET password_hash = $2, must_change_password = false WHERE id = $1)sql";

// The lookup policy shows the one row whose prefix is named (migration 0005).
constexpr std::string_view kApiKeyLookup = "SELECT set_config('kiln.api_key_prefix', $1, true)";
constexpr std::string_view kApiKeyFind = R"sql(
SELECT workspace_id, id, role, created_by FROM api_keys
 WHERE prefix = $1 AND key_hash = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()))sql";
// expires_at is computed, not read back: the application role may not SELECT the table.
constexpr std::string_view kTicketInsert = R"sql(
WITH issued AS (
    INSERT INTO realtime_tickets (workspace_id, token_hash, user_id, credential_id, api_key, role, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7)))
SELECT kiln_rfc3339(now() + make_interval(secs => $7)))sql";
constexpr std::string_view kTicketRedeem = R"sql(
SELECT workspace_id, user_id, credential_id, api_key, role FROM kiln_realtime_ticket_redeem($1))sql";
constexpr std::string_view kTokenInsert = R"sql(
INSERT INTO user_tokens (token_hash, user_id, purpose, email, expires_at)
VALUES ($1, $2, 'email_verify', $3, now() + make_interval(secs => $4)))sql";
constexpr std::string_view kInvitationName = "SELECT set_config('kiln.invitation', $1, true)";
constexpr std::string_view kInvitationAccept = R"sql(
SELECT workspace_id, workspace_name, role FROM kiln_invitation_accept())sql";

constexpr std::string_view kResetTokenInsert = R"sql(
INSERT INTO user_tokens (token_hash, user_id, purpose, email, expires_at)
SELECT $1, id, 'password_reset', email, now() + make_interval(secs => $3)
  FROM users WHERE email = $2 AND deactivated_at IS NULL)sql";
// Events about an account found by a token go to that account's personal workspace.
constexpr std::string_view kAuditByToken = R"sql(
INSERT INTO audit_events (workspace_id, id, actor_user_id, action, target_type, target_id, ip, request_id)
SELECT u.default_workspace_id, $2, u.id, $3, 'user', u.id::text, nullif($4, '')::inet, $5
  FROM user_tokens t JOIN users u ON u.id = t.user_id
 WHERE t.token_hash = $1 AND u.default_workspace_id IS NOT NULL)sql";
constexpr std::string_view kResetAccount = R"sql(
SELECT u.email, u.name FROM kiln_user_token_check($1, 'password_reset') t JOIN users u ON u.id = t.user_id)sql";
constexpr std::string_view kPasswordReset = "SELECT kiln_password_reset($1, $2)";
constexpr std::string_view kVerifyEmail = "SELECT kiln_verify_email($1)";
constexpr std::string_view kVerifyTokenInsert = R"sql(
INSERT INTO user_tokens (token_hash, user_id, purpose, email, expires_at)
SELECT $1, id, 'email_verify', email, now() + make_interval(secs => $4)
  FROM users WHERE id = $2 AND email = $3 AND email_verified_at IS NULL)sql";

std::string bytea(const core::Digest& d) {
    return "\\x" + core::to_hex(d);
}

User user_from(const db::Result& r) {
    User u;
    u.id = r.uuid(0, 0);
    u.email = r.str(0, 1);
    u.username = r.opt_str(0, 2);
    u.name = r.str(0, 3);
    u.email_verified = r.boolean(0, 4);
    u.is_platform_admin = r.boolean(0, 5);
    u.must_change_password = r.boolean(0, 6);
    u.created_at = r.str(0, 7);
    u.workspace = {r.uuid(0, 8), r.str(0, 9), r.str(0, 10)};
    return u;
}

}  // namespace

db::TenantScope Store::scope_of(const Principal& p) {
    return auth::scope_of(p, p.workspace);
}

asio::awaitable<std::optional<WorkspaceRef>> Store::create_account(const NewAccount& a, const std::string& throttle_key,
                                                                   unsigned per_hour, const audit::Origin& origin) {
    std::vector<db::Query> q;
    if (!throttle_key.empty()) q.push_back({kThrottleTake, db::params(throttle_key, per_hour, 3600)});
    q.push_back({kUserInsert, db::params(a.user, a.email, a.username, a.name, a.password_hash)});
    q.push_back({kWorkspaceInsertPersonal, db::params(a.workspace, a.workspace_name, a.user)});
    q.push_back({kMembershipInsert, db::params(a.workspace, a.user, "owner")});
    q.push_back({kUserSetDefaultWorkspace, db::params(a.user, a.workspace)});
    if (a.platform_admin) q.push_back({kUserSetPlatformAdmin, db::params(a.user)});
    q.push_back(audit::record({a.user, "auth.register", "user", a.user.str()}, origin));
    if (a.verification) {
        const auto& v = *a.verification;
        q.push_back({kTokenInsert, db::params(bytea(v.hash), a.user, a.email, v.ttl_s)});
        q.push_back(mail::enqueue(v.message));
    }
    const std::size_t accepted = q.size() + 1;
    if (a.invitation) {
        // Last: accepting moves the transaction into the invitation's workspace.
        q.push_back({kInvitationName, db::params(core::to_hex(*a.invitation))});
        q.push_back({kInvitationAccept, {}});
        q.push_back(audit::record({a.user, "invitation.accept", "user", a.user.str()}, origin));
    }
    std::vector<db::Result> r;
    try {
        const db::TenantScope scope{.workspace_id = a.workspace, .user_id = a.user, .identity_lookup = true};
        r = co_await db::run(pool_, scope, std::move(q));
    } catch (const db::Error& e) {
        if (e.sqlstate() != "KL429") throw;
        throw core::Problem(429, "Too Many Requests", "Too many registrations from this address; try again later.")
            .with_header("Retry-After", e.detail().empty() ? "3600" : e.detail());
    }
    if (!a.invitation) co_return std::nullopt;
    const auto& joined = r[accepted];
    co_return WorkspaceRef{joined.uuid(0, 0), joined.str(0, 1), joined.str(0, 2)};
}

namespace {

core::Problem too_many(const db::Error& e, const char* what) {
    return core::Problem(429, "Too Many Requests", what)
        .with_header("Retry-After", e.detail().empty() ? "3600" : e.detail());
}

}  // namespace

asio::awaitable<void> Store::request_password_reset(const std::string& email, const Mailed& m, const Budget& per_email,
                                                    const Budget& per_ip, const audit::Origin& origin) {
    const auto hash = bytea(m.hash);
    std::vector<db::Query> q;
    q.push_back({kThrottleTake, db::params(per_email.key, per_email.per_hour, 3600)});
    q.push_back({kThrottleTake, db::params(per_ip.key, per_ip.per_hour, 3600)});
    q.push_back({kResetTokenInsert, db::params(hash, email, m.ttl_s)});
    q.push_back(mail::enqueue_if_token(m.message, m.hash));
    q.push_back({kAuditByToken,
                 db::params(hash, core::Uuid::v7(), "auth.password_reset_requested", origin.ip, origin.request_id)});
    try {
        const db::TenantScope scope{.identity_lookup = true};
        co_await db::run(pool_, scope, std::move(q));
    } catch (const db::Error& e) {
        if (e.sqlstate() != "KL429") throw;
        throw too_many(e, "Too many password reset requests; try again later.");
    }
}

asio::awaitable<std::pair<std::string, std::string>> Store::reset_account(const core::Digest& token) {
    const db::TenantScope scope{.identity_lookup = true};
    auto r = co_await db::run(pool_, scope, kResetAccount, db::params(bytea(token)));
    if (r.empty()) throw core::Problem::bad_request("The link is not valid.");
    co_return std::pair{r.str(0, 0), r.str(0, 1)};
}

asio::awaitable<void> Store::reset_password(const core::Digest& token, const std::string& password_hash,
                                            const audit::Origin& origin) {
    const auto hash = bytea(token);
    std::vector<db::Query> q;
    q.push_back({kPasswordReset, db::params(hash, password_hash)});
    q.push_back(
        {kAuditByToken, db::params(hash, core::Uuid::v7(), "auth.password_reset", origin.ip, origin.request_id)});
    const db::TenantScope scope{.identity_lookup = true};
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<void> Store::verify_email(const core::Digest& token, const audit::Origin& origin) {
    const auto hash = bytea(token);
    std::vector<db::Query> q;
    q.push_back({kVerifyEmail, db::params(hash)});
    q.push_back(
        {kAuditByToken, db::params(hash, core::Uuid::v7(), "auth.email_verified", origin.ip, origin.request_id)});
    const db::TenantScope scope{.identity_lookup = true};
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<bool> Store::send_verification(const Principal& p, const Mailed& m, const Budget& budget,
                                               const audit::Origin& origin) {
    auto scope = scope_of(p);
    scope.identity_lookup = true;  // the throttle counters
    std::vector<db::Query> q;
    q.push_back({kThrottleTake, db::params(budget.key, budget.per_hour, 3600)});
    q.push_back({kVerifyTokenInsert, db::params(bytea(m.hash), p.user, m.message.to, m.ttl_s)});
    q.push_back(mail::enqueue_if_token(m.message, m.hash));
    q.push_back({kAuditByToken,
                 db::params(bytea(m.hash), core::Uuid::v7(), "auth.verification_sent", origin.ip, origin.request_id)});
    std::vector<db::Result> r;
    try {
        r = co_await db::run(pool_, scope, std::move(q));
    } catch (const db::Error& e) {
        if (e.sqlstate() != "KL429") throw;
        throw too_many(e, "Too many verification mails; try again later.");
    }
    co_return r[1].affected() == 1;
}

asio::awaitable<bool> Store::platform_admin_exists() {
    const db::TenantScope scope{.identity_lookup = true};
    auto r = co_await db::run(pool_, scope, kPlatformAdminExists);
    co_return r.boolean(0, 0);
}

asio::awaitable<std::pair<int, std::optional<LoginCandidate>>> Store::find_login(const std::string& login,
                                                                                 bool by_username,
                                                                                 const std::string& account_key,
                                                                                 const std::string& ip_key) {
    std::vector<db::Query> q;
    q.push_back({kThrottleWait, db::params(account_key, ip_key)});
    q.push_back({by_username ? kUserByUsername : kUserByEmail, db::params(login)});
    const db::TenantScope scope{.identity_lookup = true};
    auto r = co_await db::run(pool_, scope, std::move(q));
    std::optional<LoginCandidate> who;
    if (!r[1].empty()) who = LoginCandidate{r[1].uuid(0, 0), r[1].str(0, 1), r[1].boolean(0, 2)};
    co_return std::pair{static_cast<int>(r[0].int64(0, 0)), std::move(who)};
}

asio::awaitable<void> Store::record_login_failure(const std::optional<core::Uuid>& user, const std::string& account_key,
                                                  const std::string& ip_key, const Throttle& account,
                                                  const Throttle& ip, const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kThrottleFail, db::params(account_key, account.threshold, account.window_s, account.base_lock_s,
                                           account.max_lock_s)});
    q.push_back({kThrottleFail, db::params(ip_key, ip.threshold, ip.window_s, ip.base_lock_s, ip.max_lock_s)});
    if (user) q.push_back({kAuditLoginFailed, db::params(user, core::Uuid::v7(), origin.ip, origin.request_id)});
    const db::TenantScope scope{.identity_lookup = true};
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<std::optional<std::pair<core::Uuid, std::string>>> Store::open_session(const NewSession& s,
                                                                                       const std::string& account_key,
                                                                                       const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kThrottleClear, db::params(account_key)});
    q.push_back({kSessionOpen, db::params(s.id, s.user, s.user_agent, s.ip, s.ttl_s)});
    q.push_back({kRefreshInsert, db::params(bytea(s.refresh_hash), s.id)});
    q.push_back(audit::record_for_session(s.id, {s.user, "auth.login", "session", s.id.str()}, origin));
    const db::TenantScope scope{.user_id = s.user, .identity_lookup = true};
    auto r = co_await db::run(pool_, scope, std::move(q));
    if (r[1].empty()) co_return std::nullopt;
    co_return std::pair{r[1].uuid(0, 0), r[1].str(0, 1)};
}

asio::awaitable<Rotation> Store::rotate(const core::Digest& presented, const core::Digest& next, unsigned ttl_s,
                                        const audit::Origin& origin) {
    const auto old_hash = bytea(presented);
    const auto new_hash = bytea(next);
    std::vector<db::Query> q;
    q.push_back({kRefreshRotate, db::params(old_hash, new_hash)});
    q.push_back({kRefreshIssue, db::params(old_hash, new_hash, ttl_s)});
    q.push_back({kSessionExtend, db::params(old_hash, new_hash, ttl_s)});
    q.push_back({kRefreshReuse, db::params(old_hash, new_hash)});
    q.push_back({kAuditRefreshReuse, db::params(old_hash, new_hash, core::Uuid::v7(), origin.ip, origin.request_id)});
    const db::TenantScope scope{.identity_lookup = true};
    auto r = co_await db::run(pool_, scope, std::move(q));
    Rotation out;
    if (!r[0].empty() && r[1].affected() == 1) {
        out.outcome = Rotation::Outcome::rotated;
        out.session = r[0].uuid(0, 0);
        out.user = r[0].uuid(0, 1);
        out.workspace = r[0].uuid(0, 2);
        out.role = r[0].str(0, 3);
    } else if (!r[3].empty()) {
        out.outcome = Rotation::Outcome::reused;
        out.session = r[3].uuid(0, 0);
        out.user = r[3].uuid(0, 1);
    }
    co_return out;
}

asio::awaitable<void> Store::revoke_current(const Principal& p, const std::optional<core::Digest>& also,
                                            const audit::Origin& origin) {
    const auto scope = scope_of(p);
    std::vector<db::Query> q;
    q.push_back({kSessionRevoke, db::params(p.session, "logout")});
    if (also) q.push_back({kSessionRevokeByRefresh, db::params(bytea(*also))});
    q.push_back(audit::record({p.user, "auth.logout", "session", p.session.str()}, origin));
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<void> Store::revoke_all(const Principal& p, const audit::Origin& origin) {
    const auto scope = scope_of(p);
    std::vector<db::Query> q;
    q.push_back({kSessionRevokeAll, db::params(p.user, "logout_all")});
    q.push_back(audit::record({p.user, "auth.logout_all", "user", p.user.str()}, origin));
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<bool> Store::revoke_one(const Principal& p, const core::Uuid& id, const audit::Origin& origin) {
    const auto scope = scope_of(p);
    auto r = co_await db::run(pool_, scope, kSessionRevokeOwn,
                              db::params(id, p.user, core::Uuid::v7(), origin.ip, origin.request_id));
    co_return !r.empty();
}

asio::awaitable<std::vector<SessionInfo>> Store::sessions(const Principal& p) {
    const auto scope = scope_of(p);
    auto r = co_await db::run(pool_, scope, kSessionList, db::params(p.user));
    std::vector<SessionInfo> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        SessionInfo s;
        s.id = r.uuid(i, 0);
        s.user_agent = r.str(i, 1);
        s.ip = r.opt_str(i, 2);
        s.created_at = r.str(i, 3);
        s.last_used_at = r.str(i, 4);
        s.current = s.id == p.session;
        out.push_back(std::move(s));
    }
    co_return out;
}

asio::awaitable<std::string> Store::switch_session(const Principal& p, const core::Uuid& workspace,
                                                   const core::Digest& refresh_hash, const audit::Origin& origin) {
    const auto scope = auth::scope_of(p, workspace, "viewer");
    std::vector<db::Query> q;
    q.push_back({kSessionSwitch, db::params(p.session)});
    q.push_back({kRefreshAdd, db::params(p.session, bytea(refresh_hash))});
    q.push_back(audit::record({p.user, "auth.switch_workspace", "workspace", workspace.str()}, origin));
    auto r = co_await db::run(pool_, scope, std::move(q));
    if (r[0].empty() || r[0].is_null(0, 0)) throw core::Problem::not_found("No such workspace.");
    co_return r[0].str(0, 0);
}

asio::awaitable<User> Store::user(const Principal& p) {
    const auto scope = scope_of(p);
    auto r = co_await db::run(pool_, scope, kUserGet, db::params(p.user, p.workspace));
    if (r.empty()) throw core::Problem::unauthorized("The account no longer belongs to this workspace.");
    co_return user_from(r);
}

asio::awaitable<User> Store::update_user(const Principal& p, const UpdateMeRequest& req, const audit::Origin& origin) {
    const auto scope = scope_of(p);
    std::vector<db::Query> q;
    q.push_back({kUserUpdate, db::params(p.user, req.name, req.username)});
    q.push_back(audit::record({p.user, "user.update", "user", p.user.str()}, origin));
    q.push_back({kUserGet, db::params(p.user, p.workspace)});
    auto r = co_await db::run(pool_, scope, std::move(q));
    if (r[2].empty()) throw core::Problem::unauthorized("The account no longer belongs to this workspace.");
    co_return user_from(r[2]);
}

asio::awaitable<std::tuple<std::string, std::string, std::string>> Store::credentials(const Principal& p) {
    const auto scope = scope_of(p);
    auto r = co_await db::run(pool_, scope, kUserCredentials, db::params(p.user));
    if (r.empty()) throw core::Problem::unauthorized("The account no longer exists.");
    co_return std::tuple{r.str(0, 0), r.str(0, 1), r.str(0, 2)};
}

asio::awaitable<void> Store::set_password(const Principal& p, const std::string& hash, const audit::Origin& origin) {
    const auto scope = scope_of(p);
    std::vector<db::Query> q;
    q.push_back({kUserSetPassword, db::params(p.user, hash)});
    q.push_back({kSessionRevokeOthers, db::params(p.user, p.session)});
    q.push_back(audit::record({p.user, "auth.password_changed", "user", p.user.str()}, origin));
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<std::string> Store::issue_ticket(const Principal& p, const core::Digest& hash, unsigned ttl_s) {
    // Any role of the workspace (and so an API key too, which acts only within one).
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    auto r = co_await db::run(pool_, scope, kTicketInsert,
                              db::params(p.workspace, bytea(hash), p.user, p.session, p.api_key, p.role, ttl_s));
    co_return r.str(0, 0);
}

asio::awaitable<std::optional<Principal>> Store::redeem_ticket(const core::Digest& hash) {
    auto r = co_await db::run(pool_, db::TenantScope{}, kTicketRedeem, db::params(bytea(hash)));
    if (r.empty()) co_return std::nullopt;
    co_return Principal{r.uuid(0, 1), r.uuid(0, 0), r.uuid(0, 2), r.str(0, 4), r.boolean(0, 3)};
}

asio::awaitable<std::optional<Principal>> Store::find_api_key(std::string_view prefix, const core::Digest& hash) {
    std::vector<db::Query> q;
    q.push_back({kApiKeyLookup, db::params(prefix)});
    q.push_back({kApiKeyFind, db::params(prefix, bytea(hash))});
    auto r = co_await db::run(pool_, db::TenantScope{}, std::move(q));
    if (r[1].empty()) co_return std::nullopt;
    co_return Principal{r[1].uuid(0, 3), r[1].uuid(0, 0), r[1].uuid(0, 1), r[1].str(0, 2), true};
}

}  // namespace kiln::auth
