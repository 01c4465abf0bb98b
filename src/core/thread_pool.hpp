#pragma once
// A bounded pool for blocking and CPU-heavy work (libpq connect/close, Argon2, libvips, files):
// awaited from I/O threads, never run on them.
#include <atomic>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>

#include "core/problem.hpp"

namespace kiln::core {

class ThreadPool {
public:
    // `max_queued` bounds work waiting for a thread; beyond it run() fails fast with a 503 Problem.
    explicit ThreadPool(std::size_t threads, std::size_t max_queued = 1024);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    // Runs `fn` on a pool thread; the awaiting coroutine resumes on its own executor. One post
    // each way (co_spawn took three: in, again on the pool, back), each a thread woken. Not
    // cancellable: `fn` runs to its end once started.
    // Pass a named callable: g++ 12 destroys a lambda (or any aggregate) temporary that sits
    // in a co_await full-expression twice.
    template <typename F>
    boost::asio::awaitable<std::invoke_result_t<F>> run(F fn) {
        using R = std::invoke_result_t<F>;
        if (queued_.fetch_add(1) >= max_queued_) {
            queued_.fetch_sub(1);
            throw Problem::unavailable("The server is busy; try again shortly.");
        }
        runs_.fetch_add(1, std::memory_order_relaxed);
        if constexpr (std::is_void_v<R>) {
            co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(std::exception_ptr)>(
                Start<F>{this}, boost::asio::use_awaitable, std::move(fn));
        } else {
            auto result = co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                                               void(std::exception_ptr, std::optional<R>)>(
                Start<F>{this}, boost::asio::use_awaitable, std::move(fn));
            co_return std::move(*result);
        }
    }

    // Fire and forget for cleanup work (closing sockets); `fn` must not throw.
    template <typename F>
    void post(F fn) {
        boost::asio::post(pool_, std::move(fn));
    }

    std::size_t threads() const noexcept { return threads_; }
    // Calls of run() so far: each a trip to a pool thread and back.
    std::uint64_t runs() const noexcept { return runs_.load(std::memory_order_relaxed); }
    void stop();

private:
    // Posts `f` to the pool; its outcome is posted back to the awaiting side's executor, which
    // counts it as outstanding work meanwhile.
    template <typename F>
    struct Start {
        ThreadPool* pool;
        template <typename Handler>
        void operator()(Handler handler, F f) const {
            auto back = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                            boost::asio::execution::outstanding_work.tracked);
            boost::asio::post(pool->pool_, [queued = &pool->queued_, f = std::move(f), handler = std::move(handler),
                                            back = std::move(back)]() mutable {
                queued->fetch_sub(1);
                using R = std::invoke_result_t<F>;
                std::exception_ptr failure;
                if constexpr (std::is_void_v<R>) {
                    try {
                        f();
                    } catch (...) {
                        failure = std::current_exception();
                    }
                    boost::asio::post(back, [h = std::move(handler), failure]() mutable { std::move(h)(failure); });
                } else {
                    std::optional<R> result;
                    try {
                        result.emplace(f());
                    } catch (...) {
                        failure = std::current_exception();
                    }
                    boost::asio::post(back, [h = std::move(handler), failure, r = std::move(result)]() mutable {
                        std::move(h)(failure, std::move(r));
                    });
                }
            });
        }
    };

    std::size_t threads_;
    std::size_t max_queued_;
    std::atomic<std::size_t> queued_{0};
    std::atomic<std::uint64_t> runs_{0};
    boost::asio::thread_pool pool_;
};

}  // namespace kiln::core
