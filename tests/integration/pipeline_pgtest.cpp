// The shared pipeline: concurrent self-contained batches on one pooled connection.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <set>
#include <thread>

#include "db/transaction.hpp"
#include "pg_fixture.hpp"

namespace asio = boost::asio;

namespace kiln::db {
namespace {

class PipelineTest : public kiln::testing::PgTest {
protected:
    // Starts every task at once on the test's io_context and runs them all to the end.
    std::vector<std::string> run_together(std::vector<asio::awaitable<std::string>> tasks) {
        std::vector<std::future<std::string>> futures;
        futures.reserve(tasks.size());
        for (auto& t : tasks) futures.push_back(asio::co_spawn(io_, std::move(t), asio::use_future));
        io_.restart();
        io_.run();
        std::vector<std::string> out;
        out.reserve(futures.size());
        for (auto& f : futures) out.push_back(f.get());
        return out;
    }
};

// Returns "<value> <backend pid>", or the SQLSTATE of the failure.
asio::awaitable<std::string> doubled(Pool* pool, int n) {
    try {
        auto r = co_await pool->query("SELECT $1::int * 2, pg_backend_pid()", params(n));
        co_return r.str(0, 0) + " " + r.str(0, 1);
    } catch (const Error& e) {
        co_return "error " + e.sqlstate();
    }
}

TEST_F(PipelineTest, ConcurrentBatchesShareOneConnection) {
    Pool pool(pool_options(true, 8), blocking_);
    std::vector<asio::awaitable<std::string>> tasks;
    tasks.reserve(64);
    for (int i = 0; i < 64; ++i) tasks.push_back(doubled(&pool, i));
    const auto out = run_together(std::move(tasks));
    std::set<std::string> backends;
    for (int i = 0; i < 64; ++i) {
        const auto& line = out[static_cast<std::size_t>(i)];
        const auto space = line.find(' ');
        ASSERT_NE(space, std::string::npos) << line;
        EXPECT_EQ(line.substr(0, space), std::to_string(i * 2));
        backends.insert(line.substr(space + 1));
    }
    // With a connection each, 64 concurrent requests would have used all 8.
    EXPECT_EQ(backends.size(), 1U);
    EXPECT_EQ(pool.stats().size, 1U);
}

asio::awaitable<std::string> divide(Pool* pool, int n) {
    try {
        auto r = co_await pool->query("SELECT 100 / $1::int", params(n));
        co_return r.str(0, 0);
    } catch (const Error& e) {
        co_return "error " + e.sqlstate();
    }
}

asio::awaitable<std::string> waits_for_lock(Pool* pool) {
    std::vector<Query> q;
    q.push_back({"SELECT set_config('lock_timeout', '20s', true)", {}});
    q.push_back({"SELECT pg_advisory_lock(4242), pg_advisory_unlock(4242), pg_backend_pid()", {}});
    try {
        auto r = co_await pool->execute(std::move(q));
        co_return "main " + r[1].str(0, 2);
    } catch (const Error& e) {
        co_return "error " + e.sqlstate();
    }
}

// Runs on the side lane while the main lane's connection is stuck, then frees the main lane.
asio::awaitable<std::string> side_then_unlock(Pool* pool, kiln::testing::AdminConnection* holder) {
    std::vector<Query> q;
    q.push_back({"SELECT pg_backend_pid()", {}});
    auto r = co_await pool->execute(std::move(q), Lane::side);
    holder->exec("SELECT pg_advisory_unlock(4242)");
    co_return "side " + r[0].str(0, 0);
}

TEST_F(PipelineTest, TheSideLaneRunsBesideABusyMainLane) {
    Pool pool(pool_options(true, 8), blocking_);
    kiln::testing::AdminConnection holder(superuser_conninfo());
    holder.exec("SELECT pg_advisory_lock(4242)");
    std::vector<asio::awaitable<std::string>> tasks;
    tasks.push_back(waits_for_lock(&pool));
    tasks.push_back(side_then_unlock(&pool, &holder));
    // Were both lanes one connection, the side batch would queue behind the blocked one and
    // the lock would be released only by the main batch's lock_timeout (an error).
    const auto out = run_together(std::move(tasks));
    ASSERT_EQ(out[0].rfind("main ", 0), 0U) << out[0];
    ASSERT_EQ(out[1].rfind("side ", 0), 0U) << out[1];
    EXPECT_NE(out[0].substr(5), out[1].substr(5));
    EXPECT_EQ(pool.stats().size, 2U);
}

TEST_F(PipelineTest, AFailedBatchDoesNotDisturbItsNeighbours) {
    Pool pool(pool_options(true, 4), blocking_);
    std::vector<asio::awaitable<std::string>> tasks;
    for (int n : {1, 2, 0, 4, 5, 0, 10}) tasks.push_back(divide(&pool, n));
    EXPECT_EQ(run_together(std::move(tasks)),
              (std::vector<std::string>{"100", "50", "error 22012", "25", "20", "error 22012", "10"}));
}

// The tenant settings of one request's batch must end with it, never reach the next batch.
asio::awaitable<std::string> seen_workspace(Pool* pool, TenantScope scope) {
    auto r = co_await run(*pool, scope, "SELECT coalesce(current_setting('kiln.workspace_id', true), '')");
    co_return r.str(0, 0);
}

TEST_F(PipelineTest, TenantSettingsEndWithTheirBatch) {
    Pool pool(pool_options(true, 4), blocking_);
    const auto a = core::Uuid::parse("0190a2b4-0000-7000-8000-00000000000a");
    const auto b = core::Uuid::parse("0190a2b4-0000-7000-8000-00000000000b");
    std::vector<asio::awaitable<std::string>> tasks;
    std::vector<std::string> expected;
    for (int i = 0; i < 12; ++i) {
        const auto which = i % 3;
        TenantScope scope;
        if (which == 0) scope.workspace_id = a;
        if (which == 1) scope.workspace_id = b;
        tasks.push_back(seen_workspace(&pool, scope));
        expected.push_back(which == 0 ? a->str() : which == 1 ? b->str() : "");
    }
    EXPECT_EQ(run_together(std::move(tasks)), expected);
    EXPECT_EQ(pool.stats().size, 1U);
}

asio::awaitable<std::string> open_transaction_then_query(Pool* pool) {
    const auto before = (co_await pool->query("SELECT pg_backend_pid()")).str(0, 0);
    std::string outcome;
    try {
        std::vector<Query> begin_only{{"BEGIN", {}}};
        co_await pool->execute(std::move(begin_only));
        outcome = "accepted";
    } catch (const Unavailable&) {
        outcome = "refused";
    }
    const auto after = (co_await pool->query("SELECT pg_backend_pid()")).str(0, 0);
    co_return outcome + (after != before ? " fresh connection" : " same connection");
}

TEST_F(PipelineTest, BatchLeavingATransactionOpenIsRefusedAndItsConnectionDropped) {
    Pool pool(pool_options(true, 2), blocking_);
    std::vector<asio::awaitable<std::string>> tasks;
    tasks.push_back(open_transaction_then_query(&pool));
    EXPECT_EQ(run_together(std::move(tasks)), (std::vector<std::string>{"refused fresh connection"}));
}

asio::awaitable<std::string> many_doubled(Pool* pool, int from, int count) {
    std::string wrong;
    for (int i = from; i < from + count; ++i) {
        auto r = co_await pool->query("SELECT $1::int * 2", params(i));
        if (r.int64(0, 0) != 2LL * i) wrong += std::to_string(i) + " ";
    }
    co_return wrong.empty() ? "ok" : "wrong: " + wrong;
}

TEST_F(PipelineTest, BatchesFromSeveralThreads) {
    // Two I/O threads, each with its own io_context, as the server runs them: the contexts
    // outlive the pool and keep running until every request is answered.
    asio::io_context contexts[2];
    std::vector<std::string> results(2);
    {
        Pool pool(pool_options(true, 4), blocking_);
        std::vector<std::future<std::string>> futures[2];
        for (int t = 0; t < 2; ++t) {
            for (int k = 0; k < 4; ++k) {
                futures[t].push_back(
                    asio::co_spawn(contexts[t], many_doubled(&pool, (t * 4 + k) * 1000, 250), asio::use_future));
            }
        }
        auto guard0 = asio::make_work_guard(contexts[0]);
        auto guard1 = asio::make_work_guard(contexts[1]);
        std::thread a([&] { contexts[0].run(); });
        std::thread b([&] { contexts[1].run(); });
        for (int t = 0; t < 2; ++t) {
            for (auto& f : futures[t]) results[static_cast<std::size_t>(t)] += f.get() + ";";
        }
        guard0.reset();
        guard1.reset();
        a.join();
        b.join();
    }
    EXPECT_EQ(results, (std::vector<std::string>{"ok;ok;ok;ok;", "ok;ok;ok;ok;"}));
}

}  // namespace
}  // namespace kiln::db
