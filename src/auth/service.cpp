#include "auth/service.hpp"

#include <boost/algorithm/string/predicate.hpp>

#include "core/log.hpp"
#include "mail/model.hpp"

namespace asio = boost::asio;

namespace kiln::auth {

namespace {

constexpr std::size_t kRefreshTokenBytes = 32;
constexpr std::size_t kTicketBytes = 32;

core::Problem bad_credentials() {
    return core::Problem::unauthorized("The email, username or password is wrong.");
}

core::Problem locked(int seconds) {
    return core::Problem(429, "Too Many Requests", "Too many failed sign-ins; try again later.")
        .with_header("Retry-After", std::to_string(std::max(1, seconds)));
}

bool is_unique_violation(const db::Error& e, std::string_view constraint) {
    return e.sqlstate() == "23505" && e.constraint() == constraint;
}

}  // namespace

Service::Service(Store& store, const Passwords& passwords, const Jwt& jwt, const core::AuthConfig& config,
                 std::string public_url)
    : store_(store), passwords_(passwords), jwt_(jwt), config_(config), public_url_(std::move(public_url)) {}

std::string Service::mailed_token(Mailed& out, const std::string& to, bool reset) const {
    auto token = core::random_token(kRefreshTokenBytes);
    out.hash = core::sha256(token);
    if (reset) {
        out.ttl_s = config_.reset_ttl_s;
        out.message = mail::password_reset_mail(to, mail::link(public_url_, "/reset-password", token), out.ttl_s);
    } else {
        out.ttl_s = config_.verify_ttl_s;
        out.message = mail::verification_mail(to, mail::link(public_url_, "/verify-email", token), out.ttl_s);
    }
    return token;
}

TokenReply Service::tokens_for(const Principal& p, std::string refresh_token) const {
    Claims c{.user = p.user, .workspace = p.workspace, .session = p.session, .role = p.role};
    return {jwt_.issue(c, unix_now()), std::move(refresh_token), "Bearer", jwt_.ttl().count()};
}

asio::awaitable<RegisterReply> Service::register_account(RegisterRequest r, audit::Origin origin) {
    std::string throttle_key = "register:ip:" + origin.ip;
    co_return co_await create(std::move(r), false, std::move(throttle_key), std::move(origin), true);
}

asio::awaitable<RegisterReply> Service::create_account(RegisterRequest r, bool platform_admin) {
    // Validated here: no request binding stands in front of the command line.
    core::Validator v;
    r.validate(v);
    v.throw_if_failed();
    audit::Origin origin{"", "cli"};
    // Accounts made by an operator get no verification mail (there may be no mailbox behind them).
    co_return co_await create(std::move(r), platform_admin, std::string(), std::move(origin), false);
}

asio::awaitable<bool> Service::platform_admin_exists() {
    co_return co_await store_.platform_admin_exists();
}

asio::awaitable<RegisterReply> Service::create(RegisterRequest r, bool platform_admin, std::string throttle_key,
                                               audit::Origin origin, bool mail_verification) {
    r.email = normalize_email(r.email);  // the policy was checked on the request as given
    NewAccount a;
    a.user = core::Uuid::v7();
    a.workspace = core::Uuid::v7();
    a.email = r.email;
    a.username = r.username;
    a.name = r.name;
    a.workspace_name = r.name + "'s workspace";
    a.platform_admin = platform_admin;
    if (r.invitation_token) {
        // Registering through an invitation proves the address: no verification mail.
        a.invitation = core::sha256(*r.invitation_token);
    } else if (mail_verification) {
        a.verification.emplace();
        mailed_token(*a.verification, a.email, false);
    }
    a.password_hash = co_await passwords_.hash(std::move(r.password));
    std::optional<WorkspaceRef> joined;
    try {
        joined = co_await store_.create_account(a, throttle_key, config_.registrations_per_ip_hour, origin);
    } catch (const db::Error& e) {
        if (is_unique_violation(e, "users_email_key")) {
            throw core::Problem::conflict("An account with this email exists.");
        }
        if (is_unique_violation(e, "users_username_key")) throw core::Problem::conflict("The username is taken.");
        throw;
    }
    RegisterReply out;
    out.workspace = {a.workspace, a.workspace_name, "owner"};
    out.user = {a.user, a.email, a.username, a.name, joined.has_value(), platform_admin, false, "", out.workspace};
    out.joined = std::move(joined);
    out.user.created_at = db::format_time(std::chrono::system_clock::now());
    co_return out;
}

asio::awaitable<TokenReply> Service::login(LoginRequest r, std::string user_agent, audit::Origin origin) {
    const bool by_username = r.username.has_value();
    const std::string login = by_username ? normalize_email(*r.username) : normalize_email(*r.email);
    const std::string account_key = "login:account:" + login;
    const std::string ip_key = "login:ip:" + origin.ip;

    const auto found = co_await store_.find_login(login, by_username, account_key, ip_key);
    if (found.first > 0) throw locked(found.first);
    const auto& who = found.second;
    // An unknown account is checked against a dummy hash: the answer takes as long either way.
    std::string stored = who ? who->password_hash : std::string();
    const bool ok = co_await passwords_.verify(std::move(stored), std::move(r.password));
    if (!ok || !who || who->deactivated) {
        const std::optional<core::Uuid> user = who ? std::optional(who->id) : std::nullopt;
        const Throttle account{config_.login_account_failures, config_.login_window_s, config_.lock_base_s,
                               config_.lock_max_s};
        const Throttle ip{config_.login_ip_failures, config_.login_window_s, config_.lock_base_s, config_.lock_max_s};
        co_await store_.record_login_failure(user, account_key, ip_key, account, ip, origin);
        core::log::info("login failed", {{"request_id", origin.request_id}});
        throw bad_credentials();
    }

    auto refresh_token = core::random_token(kRefreshTokenBytes);
    NewSession s{core::Uuid::v7(),     who->id, std::move(user_agent), origin.ip, core::sha256(refresh_token),
                 config_.refresh_ttl_s};
    const auto opened = co_await store_.open_session(s, account_key, origin);
    if (!opened) throw core::Problem::forbidden("The account belongs to no workspace.");
    co_return tokens_for({who->id, opened->first, s.id, opened->second}, std::move(refresh_token));
}

asio::awaitable<TokenReply> Service::refresh(std::string refresh_token, audit::Origin origin) {
    auto next = core::random_token(kRefreshTokenBytes);
    const auto presented = core::sha256(refresh_token);
    const auto replacement = core::sha256(next);
    const auto rotation = co_await store_.rotate(presented, replacement, config_.refresh_ttl_s, origin);
    if (rotation.outcome == Rotation::Outcome::reused) {
        core::log::warn("refresh token reused; session revoked",
                        {{"session", rotation.session.str()}, {"request_id", origin.request_id}});
    }
    if (rotation.outcome != Rotation::Outcome::rotated) {
        throw core::Problem::unauthorized("The refresh token is not valid; sign in again.");
    }
    co_return tokens_for({rotation.user, rotation.workspace, rotation.session, rotation.role}, std::move(next));
}

asio::awaitable<void> Service::logout(Principal p, std::optional<std::string> refresh_token, audit::Origin origin) {
    std::optional<core::Digest> also;
    if (refresh_token) also = core::sha256(*refresh_token);
    co_await store_.revoke_current(p, also, origin);
}

asio::awaitable<void> Service::logout_all(Principal p, audit::Origin origin) {
    co_await store_.revoke_all(p, origin);
}

asio::awaitable<User> Service::me(Principal p) {
    co_return co_await store_.user(p);
}

asio::awaitable<User> Service::update_me(Principal p, UpdateMeRequest r, audit::Origin origin) {
    try {
        co_return co_await store_.update_user(p, r, origin);
    } catch (const db::Error& e) {
        if (is_unique_violation(e, "users_username_key")) throw core::Problem::conflict("The username is taken.");
        throw;
    }
}

asio::awaitable<void> Service::change_password(Principal p, ChangePasswordRequest r, audit::Origin origin) {
    // Not a structured binding: g++ 12 handles those poorly across co_await.
    auto credentials = co_await store_.credentials(p);
    const bool ok = co_await passwords_.verify(std::move(std::get<0>(credentials)), std::move(r.current_password));
    core::Validator v;
    if (!ok) v.add("current_password", "is wrong");
    check_password_policy(v, "new_password", r.new_password, std::get<1>(credentials), std::get<2>(credentials));
    v.throw_if_failed();
    const auto hash = co_await passwords_.hash(std::move(r.new_password));
    co_await store_.set_password(p, hash, origin);
}

asio::awaitable<TokenReply> Service::switch_workspace(Principal p, core::Uuid workspace, audit::Origin origin) {
    auto refresh_token = core::random_token(kRefreshTokenBytes);
    const auto refresh_hash = core::sha256(refresh_token);
    const auto role = co_await store_.switch_session(p, workspace, refresh_hash, origin);
    co_return tokens_for({p.user, workspace, p.session, role}, std::move(refresh_token));
}

asio::awaitable<SessionList> Service::sessions(Principal p) {
    // Not SessionList{co_await …}: g++ 12 destroys an aggregate built around a co_await twice.
    SessionList out;
    out.items = co_await store_.sessions(p);
    co_return out;
}

asio::awaitable<void> Service::revoke_session(Principal p, core::Uuid id, audit::Origin origin) {
    const bool revoked = co_await store_.revoke_one(p, id, origin);
    if (!revoked) throw core::Problem::not_found("No such session.");
}

asio::awaitable<void> Service::request_password_reset(PasswordResetRequest r, audit::Origin origin) {
    const auto email = normalize_email(r.email);
    Mailed m;
    mailed_token(m, email, true);
    const Budget per_email{"reset:email:" + email, config_.resets_per_email_hour};
    const Budget per_ip{"reset:ip:" + origin.ip, config_.resets_per_ip_hour};
    co_await store_.request_password_reset(email, m, per_email, per_ip, origin);
}

asio::awaitable<void> Service::confirm_password_reset(PasswordResetConfirm r, audit::Origin origin) {
    const auto token = core::sha256(r.token);
    auto account = co_await store_.reset_account(token);
    core::Validator v;
    check_password_policy(v, "new_password", r.new_password, account.first, account.second);
    v.throw_if_failed();
    const auto hash = co_await passwords_.hash(std::move(r.new_password));
    co_await store_.reset_password(token, hash, origin);
}

asio::awaitable<void> Service::verify_email(VerifyEmailRequest r, audit::Origin origin) {
    const auto token = core::sha256(r.token);  // named: no aggregate temporary in a co_await (g++ 12)
    co_await store_.verify_email(token, origin);
}

asio::awaitable<void> Service::resend_verification(Principal p, audit::Origin origin) {
    const auto user = co_await store_.user(p);
    if (user.email_verified) throw core::Problem::conflict("The email address is verified already.");
    Mailed m;
    mailed_token(m, user.email, false);
    const Budget budget{"verify:user:" + p.user.str(), config_.resets_per_email_hour};
    const bool sent = co_await store_.send_verification(p, m, budget, origin);
    if (!sent) throw core::Problem::conflict("The email address is verified already.");
}

asio::awaitable<Principal> Service::authenticate(std::string_view authorization) const {
    constexpr std::string_view kScheme = "Bearer ";
    if (authorization.size() <= kScheme.size() || !boost::algorithm::istarts_with(authorization, kScheme)) {
        throw core::Problem::unauthorized("An access token is required (Authorization: Bearer …).");
    }
    auto token = authorization.substr(kScheme.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    if (token.starts_with(kApiKeyScheme)) {
        std::string key(token);
        co_return co_await api_key_principal(std::move(key));
    }
    const auto claims = jwt_.verify(token, unix_now());
    if (!claims) throw core::Problem::unauthorized("The access token is invalid or expired.");
    co_return Principal{claims->user, claims->workspace, claims->session, claims->role};
}

asio::awaitable<RealtimeTicket> Service::issue_ticket(Principal p) {
    RealtimeTicket out;
    out.ticket = core::random_token(kTicketBytes);
    const auto hash = core::sha256(out.ticket);
    out.expires_at = co_await store_.issue_ticket(p, hash, config_.realtime_ticket_ttl_s);
    co_return out;
}

asio::awaitable<Principal> Service::authenticate_realtime(std::string_view authorization,
                                                          std::optional<std::string> ticket) const {
    if (!authorization.empty() || !ticket) co_return co_await authenticate(authorization);
    // Anything but base64url of 32 bytes names no ticket: refused without a round trip.
    const auto raw = core::base64url_decode(*ticket);
    if (!raw || raw->size() != kTicketBytes) throw core::Problem::unauthorized("The ticket is malformed.");
    const auto hash = core::sha256(*ticket);
    auto who = co_await store_.redeem_ticket(hash);
    if (!who) throw core::Problem::unauthorized("The ticket is unknown, used or expired; ask for a new one.");
    co_return *who;
}

asio::awaitable<Principal> Service::api_key_principal(std::string key) const {
    const auto prefix = api_key_prefix(key);
    if (!prefix) throw core::Problem::unauthorized("The API key is malformed.");
    const auto hash = core::sha256(key);
    if (auto hit = api_keys_.find(hash)) co_return *hit;
    auto found = co_await store_.find_api_key(*prefix, hash);
    if (!found) throw core::Problem::unauthorized("The API key is invalid, revoked or expired.");
    api_keys_.put(hash, *found);
    co_return *found;
}

}  // namespace kiln::auth
