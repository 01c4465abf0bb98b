#pragma once
// Transactions, and the tenant scope every tenant query runs under: kiln.workspace_id and
// kiln.user_id set with set_config(…, true), so they end with the transaction and the
// row-level security policies see them.
#include <boost/asio/awaitable.hpp>
#include <exception>
#include <optional>
#include <type_traits>

#include "core/uuid.hpp"
#include "db/pool.hpp"

namespace kiln::db {

struct TenantScope {
    std::optional<core::Uuid> workspace_id;
    std::optional<core::Uuid> user_id;
    // An access token's session: checked live in the same round trip as the first statement
    // (a revoked session aborts the batch and the request is answered 401).
    std::optional<core::Uuid> session_id;
    // Set when the credential is an API key: session_id then names a key of this workspace,
    // checked live instead of a session (kiln_require_api_key, migration 0005).
    std::optional<core::Uuid> api_key_workspace;
    // Lets the auth store find an account or a token before anyone is signed in.
    bool identity_lookup = false;
    // With a session: the least role ("viewer", "member", "admin", "owner") the user must hold
    // in the workspace, checked live in the same round trip — not a member is 404, a lower
    // role 403. nullptr: membership is not required (the caller's own account and sessions).
    const char* min_role = nullptr;
};

// Our functions' SQLSTATEs KL401, KL403, KL404 and KL409 (session ended, role too low, not a
// member, a rule such as "at least one owner"), KL422 (a request field, named by DETAIL, that
// names something not there: answered 422 with that one field), KL400 and KL410 (a token that is unknown, or
// spent/expired/revoked) become Problems with the server's message;
// anything else is rethrown as it is.
[[noreturn]] void rethrow_translated(std::exception_ptr failure);

class Transaction {
public:
    Transaction(Lease lease, core::Millis timeout, const TenantScope& scope);
    Transaction(Transaction&&) = default;
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction() = default;

    // The first call also carries BEGIN and the tenant settings, in the same round trip.
    boost::asio::awaitable<std::vector<Result>> execute(std::vector<Query> queries);
    boost::asio::awaitable<Result> query(std::string_view sql, Params params = {});
    boost::asio::awaitable<void> commit();
    boost::asio::awaitable<void> rollback();
    bool finished() const noexcept { return finished_; }

private:
    Lease lease_;
    core::Millis timeout_;
    std::vector<Query> prelude_;  // sent with the first statement
    bool finished_ = false;
};

// The prelude of a tenant transaction, for callers that pipeline it themselves.
std::vector<Query> begin_statements(const TenantScope& scope);

boost::asio::awaitable<Transaction> begin(Pool& pool, TenantScope scope = {});

// Runs `fn(tx)` in a transaction: committed when fn returns, rolled back when it throws.
template <typename F>
auto transaction(Pool& pool, TenantScope scope, F fn)
    -> boost::asio::awaitable<typename std::invoke_result_t<F, Transaction&>::value_type> {
    using T = typename std::invoke_result_t<F, Transaction&>::value_type;
    Transaction tx = co_await begin(pool, scope);
    std::exception_ptr failure;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await fn(tx);
            co_await tx.commit();
            co_return;
        } else {
            T value = co_await fn(tx);
            co_await tx.commit();
            co_return value;
        }
    } catch (...) {
        failure = std::current_exception();
    }
    if (!tx.finished()) {
        try {
            co_await tx.rollback();
        } catch (...) {  // NOLINT(bugprone-empty-catch): the pool discards a connection left mid-transaction
        }
    }
    rethrow_translated(failure);
}

// Statements in one tenant transaction, in a single round trip: the tenant settings, the
// session check and the statements are pipelined together (in serial mode: with BEGIN and
// COMMIT around them). Returns one result per statement given.
boost::asio::awaitable<std::vector<Result>> run(Pool& pool, TenantScope scope, std::vector<Query> queries,
                                                Lane lane = Lane::main);
boost::asio::awaitable<Result> run(Pool& pool, TenantScope scope, std::string_view sql, Params params = {});

}  // namespace kiln::db
