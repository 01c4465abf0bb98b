#include "core/thread_pool.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "support/run.hpp"

namespace kiln::core {
namespace {

boost::asio::awaitable<std::thread::id> where(ThreadPool* pool) {
    auto fn = [] { return std::this_thread::get_id(); };
    co_return co_await pool->run(std::move(fn));
}

TEST(ThreadPool, RunsOffTheCallingThread) {
    ThreadPool pool(1);
    EXPECT_NE(kiln::testing::run(where(&pool)), std::this_thread::get_id());
}

boost::asio::awaitable<int> compute(ThreadPool* pool, int x) {
    auto fn = [x] { return x * 2; };
    co_return co_await pool->run(std::move(fn));
}

TEST(ThreadPool, ReturnsTheResult) {
    ThreadPool pool(2);
    EXPECT_EQ(kiln::testing::run(compute(&pool, 21)), 42);
}

boost::asio::awaitable<void> throws(ThreadPool* pool) {
    auto fn = []() -> int { throw std::runtime_error("from the pool"); };
    co_await pool->run(std::move(fn));
}

TEST(ThreadPool, PropagatesExceptions) {
    ThreadPool pool(1);
    EXPECT_THROW(kiln::testing::run(throws(&pool)), std::runtime_error);
}

boost::asio::awaitable<void> hold(ThreadPool* pool, std::shared_future<void> gate, std::promise<void>* started) {
    auto fn = [gate, started] {
        if (started != nullptr) started->set_value();
        gate.wait();
    };
    co_await pool->run(std::move(fn));
}

TEST(ThreadPool, FullQueueIsUnavailableNotUnbounded) {
    ThreadPool pool(1, 1);
    std::promise<void> release;
    std::shared_future<void> gate = release.get_future().share();
    std::promise<void> running;
    boost::asio::io_context ctx;
    // A occupies the only thread, B the only queue slot; C must be refused, not queued.
    auto a = boost::asio::co_spawn(ctx, hold(&pool, gate, &running), boost::asio::use_future);
    ctx.poll();
    running.get_future().wait();
    auto b = boost::asio::co_spawn(ctx, hold(&pool, gate, nullptr), boost::asio::use_future);
    ctx.poll();
    try {
        kiln::testing::run(compute(&pool, 1));
        ADD_FAILURE() << "expected a 503 Problem";
    } catch (const Problem& p) {
        EXPECT_EQ(p.status(), 503);
    }
    release.set_value();
    ctx.restart();
    ctx.run();
    a.get();
    b.get();
    EXPECT_EQ(kiln::testing::run(compute(&pool, 2)), 4) << "capacity is back once the jobs finished";
}

}  // namespace
}  // namespace kiln::core
