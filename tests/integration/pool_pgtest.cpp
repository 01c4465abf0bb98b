// The connection pool and the libpq loop, with pipeline mode on and off.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "db/sql.hpp"
#include "db/transaction.hpp"
#include "pg_fixture.hpp"

namespace asio = boost::asio;

namespace kiln::db {
namespace {

using kiln::testing::AdminConnection;

class PoolTest : public kiln::testing::PgTest, public ::testing::WithParamInterface<bool> {
protected:
    std::unique_ptr<Pool> make_pool(unsigned size = 4) {
        return std::make_unique<Pool>(pool_options(GetParam(), size), blocking_);
    }
};

INSTANTIATE_TEST_SUITE_P(Pipeline, PoolTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "pipelined" : "serial"; });

asio::awaitable<std::vector<std::string>> typed_values(Pool* pool) {
    auto r = co_await pool->query(
        "SELECT $1::int + 1, $2::text, $3::bool, $4::uuid, $5::text IS NULL",
        params(41, "hé", true, core::Uuid::parse("0190a2b4-0000-7000-8000-00000000000a"), std::nullopt));
    co_return std::vector<std::string>{std::to_string(r.int64(0, 0)), r.str(0, 1), r.boolean(0, 2) ? "t" : "f",
                                       r.uuid(0, 3).str(), r.boolean(0, 4) ? "null" : "not null"};
}

TEST_P(PoolTest, ParametersAndTypedResults) {
    auto pool = make_pool();
    const auto v = run(typed_values(pool.get()));
    EXPECT_EQ(v, (std::vector<std::string>{"42", "hé", "t", "0190a2b4-0000-7000-8000-00000000000a", "null"}));
}

// Each element of an array parameter comes back as it went, whatever it holds: quotes,
// backslashes, the literal's own punctuation, an empty string, the word NULL, and NULL itself.
asio::awaitable<std::vector<std::optional<std::string>>> echoed(Pool* pool,
                                                                std::vector<std::optional<std::string>> items) {
    auto r = co_await pool->query("SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n",
                                  params(nullable_array(items)));
    std::vector<std::optional<std::string>> out(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out[static_cast<std::size_t>(i)] = r.opt_str(i, 0);
    co_return out;
}

TEST_P(PoolTest, ArrayParametersKeepEveryElement) {
    auto pool = make_pool();
    const std::vector<std::optional<std::string>> items{"plain", "say \"hi\"", "back\\slash", "\\\"",     "{a,b}",
                                                        "",      "NULL",       std::nullopt,  " spaced ", "hé"};
    EXPECT_EQ(run(echoed(pool.get(), items)), items);
}

asio::awaitable<std::string> prepared_count(Pool* pool) {
    auto lease = co_await pool->acquire();
    std::vector<Query> q{{"SELECT 1", {}}, {"SELECT 1", {}}, {"SELECT 2", {}}};
    co_await lease->execute(q, std::chrono::seconds(5));
    co_await lease->execute(q, std::chrono::seconds(5));
    std::vector<Query> count{
        {"SELECT count(*) FROM pg_prepared_statements WHERE statement IN ('SELECT 1', 'SELECT 2')", {}}};
    auto r = co_await lease->execute(count, std::chrono::seconds(5));
    co_return r[0].str(0, 0);
}

TEST_P(PoolTest, StatementsArePreparedOncePerConnection) {
    auto pool = make_pool(1);
    // The first batch repeats "SELECT 1" before it is known: at most one extra PREPARE of it.
    const auto n = std::stoi(run(prepared_count(pool.get())));
    EXPECT_GE(n, 2);
    EXPECT_LE(n, 3);
}

asio::awaitable<std::string> error_then_ok(Pool* pool) {
    std::string state;
    try {
        co_await pool->query("SELECT 1/0");
    } catch (const Error& e) {
        state = e.sqlstate();
    }
    auto r = co_await pool->query("SELECT 'still fine'");
    co_return state + " " + r.str(0, 0);
}

TEST_P(PoolTest, ServerErrorKeepsTheConnectionUsable) {
    auto pool = make_pool(1);
    EXPECT_EQ(run(error_then_ok(pool.get())), "22012 still fine");
    EXPECT_EQ(pool->stats().size, 1U) << "the same connection was reused";
}

asio::awaitable<std::string> bad_sql(Pool* pool) {
    try {
        co_await pool->query("SELEKT 1");
    } catch (const Error& e) {
        co_return e.sqlstate();
    }
    co_return "no error";
}

TEST_P(PoolTest, SyntaxErrorIsReported) {
    auto pool = make_pool(1);
    EXPECT_EQ(run(bad_sql(pool.get())), "42601");
}

asio::awaitable<std::string> batch_with_failure(Pool* pool) {
    std::string out;
    // Built before co_await: g++ 12 cannot take a braced list of these inside a co_await expression.
    std::vector<Query> bad{{"SELECT 1", {}}, {"SELECT $1::int", params("x")}, {"SELECT 3", {}}};
    std::vector<Query> good{{"SELECT 1", {}}, {"SELECT $1::int", params(2)}, {"SELECT 3", {}}};
    try {
        co_await pool->execute(std::move(bad));
    } catch (const Error& e) {
        out = e.sqlstate();
    }
    auto ok = co_await pool->execute(std::move(good));
    co_return out + " " + ok[0].str(0, 0) + ok[1].str(0, 0) + ok[2].str(0, 0);
}

TEST_P(PoolTest, FailedStatementInBatch) {
    auto pool = make_pool(1);
    EXPECT_EQ(run(batch_with_failure(pool.get())), "22P02 123");
}

asio::awaitable<std::string> exhaust(Pool* pool) {
    auto held = co_await pool->acquire();
    try {
        auto second = co_await pool->acquire();
    } catch (const Unavailable&) {
        co_return "unavailable";
    }
    co_return "acquired";
}

TEST_P(PoolTest, ExhaustedPoolTimesOut) {
    auto opts = pool_options(GetParam(), 1);
    opts.acquire_timeout = std::chrono::milliseconds(50);
    Pool pool(opts, blocking_);
    EXPECT_EQ(run(exhaust(&pool)), "unavailable");
    EXPECT_EQ(pool.stats().timeouts, 1U);
}

asio::awaitable<std::string> waiter_gets_released(Pool* pool) {
    using namespace asio::experimental::awaitable_operators;
    auto held = std::make_unique<Lease>(co_await pool->acquire());
    // The waiter starts first; releasing the held lease must hand it the connection.
    auto waiter = [](Pool* p) -> asio::awaitable<std::string> {
        auto lease = co_await p->acquire();
        std::vector<Query> q{{"SELECT 'got it'", {}}};
        auto r = co_await lease->execute(q, std::chrono::seconds(5));
        co_return r[0].str(0, 0);
    };
    auto releaser = [](std::unique_ptr<Lease> lease, Pool* p) -> asio::awaitable<void> {
        // Release only once the waiter is queued.
        while (p->stats().waiters == 0) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        lease.reset();
    };
    // (a && b) with a void b yields a's value alone.
    std::string got = co_await (waiter(pool) && releaser(std::move(held), pool));
    co_return got;
}

TEST_P(PoolTest, ReleaseWakesWaiter) {
    auto opts = pool_options(GetParam(), 1);
    opts.acquire_timeout = std::chrono::seconds(10);
    Pool pool(opts, blocking_);
    EXPECT_EQ(run(waiter_gets_released(&pool)), "got it");
    EXPECT_EQ(pool.stats().timeouts, 0U);
}

asio::awaitable<std::string> survive_termination(Pool* pool) {
    auto pid = (co_await pool->query("SELECT pg_backend_pid()")).str(0, 0);
    // Another session of the same role may terminate it: the connection dies under the pool.
    AdminConnection killer(pool->options().conninfo);
    killer.exec("SELECT pg_terminate_backend(" + pid + ")");
    std::string first;
    try {
        co_await pool->query("SELECT 1");
        first = "ok";
    } catch (const Unavailable&) {
        first = "unavailable";
    }
    auto second = co_await pool->query("SELECT pg_backend_pid()");
    co_return first + " " + (second.str(0, 0) != pid ? "new connection" : "same connection");
}

TEST_P(PoolTest, ReconnectsAfterTheServerDropsAConnection) {
    auto pool = make_pool(1);
    EXPECT_EQ(run(survive_termination(pool.get())), "unavailable new connection");
}

asio::awaitable<std::string> deadline(Pool* pool) {
    try {
        co_await pool->query("SELECT pg_sleep(5)");
    } catch (const Unavailable& e) {
        co_return std::string("unavailable: ") + e.what();
    }
    co_return "finished";
}

TEST_P(PoolTest, ClientDeadlineBreaksAHungStatement) {
    auto opts = pool_options(GetParam());
    opts.statement_timeout = std::chrono::milliseconds(100);
    Pool pool(opts, blocking_);
    const auto out = run(deadline(&pool));
    EXPECT_EQ(out.rfind("unavailable", 0), 0U) << out;
    EXPECT_EQ(pool.stats().size, 0U) << "a connection in an unknown state is never re-pooled";
}

TEST_P(PoolTest, ConnectFailureIsUnavailable) {
    auto opts = pool_options(GetParam());
    auto cfg = db_config();
    cfg.password = "wrong-password";
    opts.conninfo = core::conninfo(cfg, false);
    Pool pool(opts, blocking_);
    EXPECT_THROW(run(pool.query("SELECT 1")), Unavailable);
    EXPECT_EQ(pool.stats().size, 0U);
    EXPECT_EQ(pool.stats().connect_errors, 1U);
}

}  // namespace
}  // namespace kiln::db
