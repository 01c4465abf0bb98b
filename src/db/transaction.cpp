#include "db/transaction.hpp"

namespace asio = boost::asio;

namespace kiln::db {

namespace {
constexpr std::string_view kBegin = "BEGIN";
constexpr std::string_view kCommit = "COMMIT";
constexpr std::string_view kRollback = "ROLLBACK";
constexpr std::string_view kSetTenant = R"sql(
SELECT set_config('kiln.workspace_id', coalesce($1, ''), true),
       set_config('kiln.user_id', coalesce($2, ''), true))sql";
}  // namespace

std::vector<Query> begin_statements(const TenantScope& scope) {
    std::vector<Query> out;
    out.push_back({kBegin, {}});
    if (scope.workspace_id || scope.user_id) out.push_back({kSetTenant, params(scope.workspace_id, scope.user_id)});
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

asio::awaitable<Result> run(Pool& pool, TenantScope scope, std::string_view sql, Params p) {
    if (pool.options().pipeline) {
        // No BEGIN/COMMIT: the statements before a pipeline's Sync run in one implicit
        // transaction, which a failure rolls back by itself — so the batch can share a
        // connection with other requests' batches.
        std::vector<Query> queries;
        if (scope.workspace_id || scope.user_id) queries.push_back({kSetTenant, params(scope.workspace_id, scope.user_id)});
        const std::size_t index = queries.size();
        queries.push_back({sql, std::move(p)});
        auto results = co_await pool.execute(std::move(queries));
        co_return std::move(results[index]);
    }
    auto queries = begin_statements(scope);
    const std::size_t index = queries.size();
    queries.push_back({sql, std::move(p)});
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
    co_return std::move(results[index]);
}

}  // namespace kiln::db
