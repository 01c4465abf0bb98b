#pragma once
// Concurrent self-contained batches from one I/O thread, pipelined on one pooled connection.
//
// A request that needs one round trip (a statement, or a tenant-scoped statement in its own
// implicit transaction) does not need a connection to itself: its batch, framed by its own
// Sync, can follow other requests' batches on a shared connection. Batches queued while the
// connection is busy go out together in one write, and PostgreSQL answers them in order from
// one backend — one wake-up for many requests instead of one each. The connection is
// borrowed from the pool while batches are in flight and returned when none are.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

#include "db/connection.hpp"

namespace kiln::db {

class Pool;

class Pipeline {
public:
    // The driver runs on `executor` (an I/O thread's), so the shared connection's socket stays
    // registered with one reactor; that context must outlive the pool.
    Pipeline(Pool& pool, boost::asio::any_io_executor executor);
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;
    ~Pipeline() = default;

    // Runs the batch in order; throws Error for a rejected statement, Unavailable when no
    // connection is available or it breaks. The batch must leave no transaction block open.
    boost::asio::awaitable<std::vector<Result>> execute(std::vector<Query> queries);

private:
    struct Batch;
    boost::asio::awaitable<void> drive();
    boost::asio::awaitable<bool> drive_one_connection();
    void finish(const std::shared_ptr<Batch>& batch);
    void fail_all(std::deque<std::shared_ptr<Batch>>& batches, const std::exception_ptr& why);

    Pool& pool_;
    boost::asio::any_io_executor executor_;
    std::mutex mutex_;  // guards queued_ and driving_; never held across co_await
    std::deque<std::shared_ptr<Batch>> queued_;
    bool driving_ = false;
};

}  // namespace kiln::db
