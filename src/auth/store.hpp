#pragma once
// All SQL of accounts and sessions. Each operation is one batch: one round trip, one
// transaction, its audit event included.
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "audit/store.hpp"
#include "auth/model.hpp"
#include "auth/scope.hpp"
#include "core/crypto.hpp"
#include "db/transaction.hpp"
#include "mail/model.hpp"

namespace kiln::auth {

// A single-use token to store (its hash) and the mail that carries it.
struct Mailed {
    core::Digest hash{};
    unsigned ttl_s = 0;
    mail::Message message;
};

// A per-hour budget counted in auth_throttle.
struct Budget {
    std::string key;
    unsigned per_hour = 0;
};

struct NewAccount {
    core::Uuid user;
    core::Uuid workspace;
    std::string email;  // normalized
    std::optional<std::string> username;
    std::string name;
    std::string password_hash;
    std::string workspace_name;
    bool platform_admin = false;
    std::optional<Mailed> verification;      // mailed when the address is not proven otherwise
    std::optional<core::Digest> invitation;  // accepted in the same batch
};

struct Throttle {
    unsigned threshold = 5;
    unsigned window_s = 900;
    unsigned base_lock_s = 15;
    unsigned max_lock_s = 900;
};

struct LoginCandidate {
    core::Uuid id;
    std::string password_hash;
    bool deactivated = false;
};

struct NewSession {
    core::Uuid id;
    core::Uuid user;
    std::string user_agent;
    std::string ip;
    core::Digest refresh_hash;
    unsigned ttl_s = 0;
};

struct Rotation {
    enum class Outcome { rotated, reused, refused } outcome = Outcome::refused;
    core::Uuid session;
    core::Uuid user;
    core::Uuid workspace;
    std::string role;
};

class Store {
public:
    explicit Store(db::Pool& pool) : pool_(pool) {}

    // Throws db::Error 23505 (constraint users_email_key / users_username_key) when taken,
    // and a 429 Problem when the address registered too often (no limit when `throttle_key`
    // is empty: the command line).
    // Returns the invitation's workspace when one was accepted (KL400/KL410/KL403 otherwise).
    boost::asio::awaitable<std::optional<WorkspaceRef>> create_account(const NewAccount& a,
                                                                       const std::string& throttle_key,
                                                                       unsigned per_hour, const audit::Origin& origin);
    boost::asio::awaitable<bool> platform_admin_exists();

    // Seconds to wait before any of the keys may try again, and the account (if any).
    boost::asio::awaitable<std::pair<int, std::optional<LoginCandidate>>> find_login(const std::string& login,
                                                                                     bool by_username,
                                                                                     const std::string& account_key,
                                                                                     const std::string& ip_key);
    // Counts a failed login on both keys; records it for a known account.
    boost::asio::awaitable<void> record_login_failure(const std::optional<core::Uuid>& user,
                                                      const std::string& account_key, const std::string& ip_key,
                                                      const Throttle& account, const Throttle& ip,
                                                      const audit::Origin& origin);
    // Opens a session in the user's default workspace (or their oldest); nullopt when they
    // belong to none. Returns (workspace, role).
    boost::asio::awaitable<std::optional<std::pair<core::Uuid, std::string>>> open_session(
        const NewSession& s, const std::string& account_key, const audit::Origin& origin);

    boost::asio::awaitable<Rotation> rotate(const core::Digest& presented, const core::Digest& next, unsigned ttl_s,
                                            const audit::Origin& origin);

    boost::asio::awaitable<void> revoke_current(const Principal& p, const std::optional<core::Digest>& also,
                                                const audit::Origin& origin);
    boost::asio::awaitable<void> revoke_all(const Principal& p, const audit::Origin& origin);
    // False when `id` is not a live session of the principal's user.
    boost::asio::awaitable<bool> revoke_one(const Principal& p, const core::Uuid& id, const audit::Origin& origin);
    boost::asio::awaitable<std::vector<SessionInfo>> sessions(const Principal& p);

    // Moves the session to `workspace` (404 unless a member) and adds a refresh token to it;
    // returns the caller's role there.
    boost::asio::awaitable<std::string> switch_session(const Principal& p, const core::Uuid& workspace,
                                                       const core::Digest& refresh_hash, const audit::Origin& origin);
    boost::asio::awaitable<User> user(const Principal& p);
    // Throws db::Error 23505 (users_username_key) when the username is taken.
    boost::asio::awaitable<User> update_user(const Principal& p, const UpdateMeRequest& r, const audit::Origin& origin);
    // (password hash, email, name) of the principal's user.
    boost::asio::awaitable<std::tuple<std::string, std::string, std::string>> credentials(const Principal& p);
    // Sets the hash and revokes every other session of the user.
    boost::asio::awaitable<void> set_password(const Principal& p, const std::string& hash, const audit::Origin& origin);

    // Stores a realtime ticket's hash with the principal it stands for; returns its expiry (RFC 3339).
    boost::asio::awaitable<std::string> issue_ticket(const Principal& p, const core::Digest& hash, unsigned ttl_s);
    // Spends the ticket: its principal when it was live, nullopt when unknown, spent or expired.
    // Atomic across processes: one of any number of concurrent redemptions gets it.
    boost::asio::awaitable<std::optional<Principal>> redeem_ticket(const core::Digest& hash);

    // The live API key with this prefix and hash, as the principal it speaks for.
    boost::asio::awaitable<std::optional<Principal>> find_api_key(std::string_view prefix, const core::Digest& hash);
    // Stores the reset token and queues its mail when an active account has `email`; nothing
    // otherwise. The same single round trip either way. 429 past either budget.
    boost::asio::awaitable<void> request_password_reset(const std::string& email, const Mailed& m,
                                                        const Budget& per_email, const Budget& per_ip,
                                                        const audit::Origin& origin);
    // (email, name) of the account a live reset token belongs to; 400 unknown, 410 spent/expired.
    boost::asio::awaitable<std::pair<std::string, std::string>> reset_account(const core::Digest& token);
    // Spends the token, sets the password, ends every session of the user.
    boost::asio::awaitable<void> reset_password(const core::Digest& token, const std::string& password_hash,
                                                const audit::Origin& origin);
    boost::asio::awaitable<void> verify_email(const core::Digest& token, const audit::Origin& origin);
    // Queues a new verification mail; false when the address is verified already.
    boost::asio::awaitable<bool> send_verification(const Principal& p, const Mailed& m, const Budget& budget,
                                                   const audit::Origin& origin);

private:
    static db::TenantScope scope_of(const Principal& p);
    db::Pool& pool_;
};

}  // namespace kiln::auth
