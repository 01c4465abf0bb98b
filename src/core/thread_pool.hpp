#pragma once
// A bounded pool for blocking and CPU-heavy work (libpq connect/close, Argon2, libvips, files):
// awaited from I/O threads, never run on them.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
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

    // Runs `fn` on a pool thread; the awaiting coroutine resumes on its own executor.
    // Pass a named callable: g++ 12 destroys a lambda (or any aggregate) temporary that sits
    // in a co_await full-expression twice.
    template <typename F>
    boost::asio::awaitable<std::invoke_result_t<F>> run(F fn) {
        if (queued_.fetch_add(1) >= max_queued_) {
            queued_.fetch_sub(1);
            throw Problem::unavailable("The server is busy; try again shortly.");
        }
        co_return co_await boost::asio::co_spawn(pool_.get_executor(), invoke(std::move(fn), &queued_),
                                                 boost::asio::use_awaitable);
    }

    // Fire and forget for cleanup work (closing sockets); `fn` must not throw.
    template <typename F>
    void post(F fn) {
        boost::asio::post(pool_, std::move(fn));
    }

    std::size_t threads() const noexcept { return threads_; }
    void stop();

private:
    template <typename F>
    static boost::asio::awaitable<std::invoke_result_t<F>> invoke(F fn, std::atomic<std::size_t>* queued) {
        queued->fetch_sub(1);
        co_return fn();
    }

    std::size_t threads_;
    std::size_t max_queued_;
    std::atomic<std::size_t> queued_{0};
    boost::asio::thread_pool pool_;
};

}  // namespace kiln::core
