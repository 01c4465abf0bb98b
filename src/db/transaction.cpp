#include "db/transaction.hpp"

namespace asio = boost::asio;

namespace kiln::db {

namespace {
constexpr std::string_view kBegin = "BEGIN";
constexpr std::string_view kCommit = "COMMIT";
constexpr std::string_view kRollback = "ROLLBACK";
constexpr std::string_view kSetTenant = R"sql(
SELECT set_config('kiln.workspace_id', coalesce($1, ''), true),
       set_config('kiln.user_id', coalesce($2, ''), true),
       set_config('kiln.identity', $3, true))sql";
constexpr std::string_view kRequireSession = "SELECT kiln_require_session($1, $2)";
constexpr std::string_view kRequireApiKey = "SELECT kiln_require_api_key($1, $2, $3)";

void add_scope(std::vector<Query>& out, const TenantScope& scope) {
    if (scope.workspace_id || scope.user_id || scope.identity_lookup) {
        out.push_back({kSetTenant, params(scope.workspace_id, scope.user_id, scope.identity_lookup ? "on" : "")});
    }
    const auto min_role =
        scope.min_role != nullptr ? std::optional<std::string>(scope.min_role) : std::optional<std::string>();
    if (scope.session_id && scope.api_key_workspace) {
        out.push_back({kRequireApiKey, params(scope.session_id, scope.api_key_workspace, min_role)});
    } else if (scope.session_id) {
        out.push_back({kRequireSession, params(scope.session_id, min_role)});
    }
}
}  // namespace

void rethrow_translated(std::exception_ptr failure) {
    try {
        std::rethrow_exception(std::move(failure));
    } catch (const Error& e) {
        const auto& state = e.sqlstate();
        if (state == "KL401") throw core::Problem::unauthorized("The session has ended; sign in again.");
        if (state == "KL403") throw core::Problem::forbidden(e.primary());
        if (state == "KL404") throw core::Problem::not_found(e.primary());
        if (state == "KL409") throw core::Problem::conflict(e.primary());
        if (state == "KL422") throw core::Problem::validation({{e.detail(), e.primary()}});
        if (state == "KL402") throw core::Problem::plan_limit(e.detail(), e.primary());
        if (state == "KL400") throw core::Problem::bad_request(e.primary());
        if (state == "KL410") throw core::Problem(410, "Gone", e.primary());
        throw;
    }
}

std::vector<Query> begin_statements(const TenantScope& scope) {
    std::vector<Query> out;
    out.push_back({kBegin, {}});
    add_scope(out, scope);
    return out;
}

Transaction::Transaction(Lease lease, core::Millis timeout, const TenantScope& scope)
    : lease_(std::move(lease)), timeout_(timeout), prelude_(begin_statements(scope)) {}

asio::awaitable<std::vector<Result>> Transaction::execute(std::vector<Query> queries) {
    if (finished_) throw std::logic_error("transaction already finished");
    const std::size_t skip = prelude_.size();
    if (skip != 0) {
        prelude_.insert(prelude_.end(), std::make_move_iterator(queries.begin()),
                        std::make_move_iterator(queries.end()));
        queries = std::move(prelude_);
        prelude_.clear();
    }
    auto results = co_await lease_->execute(queries, timeout_);
    if (skip != 0) results.erase(results.begin(), results.begin() + static_cast<std::ptrdiff_t>(skip));
    co_return results;
}

asio::awaitable<Result> Transaction::query(std::string_view sql, Params p) {
    std::vector<Query> q;
    q.push_back({sql, std::move(p)});
    auto results = co_await execute(std::move(q));
    co_return std::move(results.front());
}

asio::awaitable<void> Transaction::commit() {
    if (prelude_.empty()) {
        co_await query(kCommit);
    }
    // Nothing was sent yet: there is nothing to commit.
    finished_ = true;
    co_return;
}

asio::awaitable<void> Transaction::rollback() {
    finished_ = true;
    if (prelude_.empty()) {
        std::vector<Query> q{{kRollback, {}}};
        co_await lease_->execute(q, timeout_);
    }
}

asio::awaitable<Transaction> begin(Pool& pool, TenantScope scope) {
    auto lease = co_await pool.acquire();
    co_return Transaction(std::move(lease), pool.options().statement_timeout, scope);
}

namespace {
asio::awaitable<std::vector<Result>> run_serial(Pool& pool, const TenantScope& scope, std::vector<Query> body) {
    auto queries = begin_statements(scope);
    const std::size_t skip = queries.size();
    queries.insert(queries.end(), std::make_move_iterator(body.begin()), std::make_move_iterator(body.end()));
    queries.push_back({kCommit, {}});
    auto lease = co_await pool.acquire();
    std::vector<Result> results;
    std::exception_ptr failure;
    try {
        results = co_await lease->execute(queries, pool.options().statement_timeout);
    } catch (const Error&) {
        failure = std::current_exception();
    }
    if (failure) {
        // The failed block must be rolled back before the connection is reused.
        if (!lease->broken() && lease->transaction_status() != PQTRANS_IDLE) {
            std::vector<Query> rb{{kRollback, {}}};
            co_await lease->execute(rb, pool.options().statement_timeout);
        }
        std::rethrow_exception(failure);
    }
    results.pop_back();  // COMMIT
    results.erase(results.begin(), results.begin() + static_cast<std::ptrdiff_t>(skip));
    co_return results;
}
}  // namespace

asio::awaitable<std::vector<Result>> run(Pool& pool, TenantScope scope, std::vector<Query> queries, Lane lane) {
    std::exception_ptr failure;
    std::vector<Result> results;
    try {
        if (pool.options().pipeline) {
            // No BEGIN/COMMIT: the statements before a pipeline's Sync run in one implicit
            // transaction, which a failure rolls back by itself — so the batch can share a
            // connection with other requests' batches.
            std::vector<Query> batch;
            add_scope(batch, scope);
            const std::size_t skip = batch.size();
            batch.insert(batch.end(), std::make_move_iterator(queries.begin()), std::make_move_iterator(queries.end()));
            results = co_await pool.execute(std::move(batch), lane);
            results.erase(results.begin(), results.begin() + static_cast<std::ptrdiff_t>(skip));
        } else {
            results = co_await run_serial(pool, scope, std::move(queries));
        }
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) rethrow_translated(failure);
    co_return results;
}

asio::awaitable<Result> run(Pool& pool, TenantScope scope, std::string_view sql, Params p) {
    std::vector<Query> body;
    body.push_back({sql, std::move(p)});
    auto results = co_await run(pool, scope, std::move(body));
    co_return std::move(results.front());
}

}  // namespace kiln::db
