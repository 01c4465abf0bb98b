#include "db/pipeline.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "db/pool.hpp"

namespace asio = boost::asio;

namespace kiln::db {

// A waiting request: the driver fills in the results (or the failure), then cancels the
// timer the request sleeps on, from the request's own executor.
struct Pipeline::Batch {
    explicit Batch(const asio::any_io_executor& ex) : done(ex) {}
    std::vector<Query> queries;
    Connection::Sent sent;
    std::vector<Result> results;
    std::exception_ptr failure;
    asio::steady_timer done;
};

Pipeline::Pipeline(Pool& pool, asio::any_io_executor executor) : pool_(pool), executor_(std::move(executor)) {}

asio::awaitable<std::vector<Result>> Pipeline::execute(std::vector<Query> queries) {
    const auto executor = co_await asio::this_coro::executor;
    auto batch = std::make_shared<Batch>(executor);
    batch->queries = std::move(queries);
    batch->done.expires_at(asio::steady_timer::time_point::max());
    bool start = false;
    {
        std::lock_guard lock(mutex_);
        queued_.push_back(batch);
        start = !driving_;
        driving_ = true;
    }
    if (start) {
        // co_spawn posts: requests that become ready in the same turn of the event loop queue
        // their batches before the driver sends, so they share one write.
        asio::co_spawn(executor_, drive(), [](const std::exception_ptr& e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                core::log::error("database pipeline stopped", {{"error", ex.what()}});
            }
        });
    }
    co_await batch->done.async_wait(asio::as_tuple(asio::use_awaitable));
    if (batch->failure) std::rethrow_exception(batch->failure);
    throw_first_error(batch->queries, batch->results);
    co_return std::move(batch->results);
}

void Pipeline::finish(const std::shared_ptr<Batch>& batch) {
    asio::post(batch->done.get_executor(), [batch] { batch->done.cancel(); });
}

void Pipeline::fail_all(std::deque<std::shared_ptr<Batch>>& batches, const std::exception_ptr& why) {
    for (auto& b : batches) {
        b->failure = why;
        finish(b);
    }
    batches.clear();
}

asio::awaitable<void> Pipeline::drive() {
    // Each pass borrows one connection and keeps it while batches are in flight; a broken
    // connection fails the batches it carried, and the next pass borrows another.
    // Not `while (co_await …)`: g++ 12 miscompiles co_await in a loop condition.
    for (;;) {
        const bool again = co_await drive_one_connection();
        if (!again) break;
    }
}

asio::awaitable<bool> Pipeline::drive_one_connection() {
    Lease lease;
    try {
        lease = co_await pool_.acquire();
    } catch (...) {
        std::deque<std::shared_ptr<Batch>> waiting;
        {
            std::lock_guard lock(mutex_);
            waiting.swap(queued_);
            driving_ = false;
        }
        fail_all(waiting, std::current_exception());
        co_return false;
    }
    const auto timeout = pool_.options().statement_timeout;
    std::deque<std::shared_ptr<Batch>> in_flight;
    try {
        for (;;) {
            // Let every request that became ready in this turn of the event loop queue its
            // batch first, so that they leave in one write.
            co_await asio::post(executor_, asio::use_awaitable);
            std::deque<std::shared_ptr<Batch>> fresh;
            {
                std::lock_guard lock(mutex_);
                if (queued_.empty() && in_flight.empty()) {
                    driving_ = false;
                    co_return false;
                }
                fresh.swap(queued_);
            }
            for (auto& b : fresh) {
                b->sent = lease->send(b->queries);
                in_flight.push_back(std::move(b));
            }
            if (!fresh.empty()) co_await lease->flush(timeout);
            // Wait for the oldest batch, then take every later one whose answer has arrived
            // too, before going back to send what queued up meanwhile.
            do {
                auto& oldest = *in_flight.front();
                oldest.results = co_await lease->receive(oldest.queries, oldest.sent, timeout);
                // libpq reports the transaction state only once nothing is in flight. A batch
                // that left a block open breaks the contract; the release below discards the
                // connection.
                if (in_flight.size() == 1 && lease->transaction_status() != PQTRANS_IDLE) {
                    throw Unavailable("a pipelined batch left a transaction block open");
                }
                finish(in_flight.front());
                in_flight.pop_front();
            } while (!in_flight.empty() && lease->result_ready());
        }
    } catch (...) {
        fail_all(in_flight, std::current_exception());
    }
    // The lease goes back (a broken connection is discarded); try again with another if
    // batches arrived meanwhile.
    std::lock_guard lock(mutex_);
    if (queued_.empty()) {
        driving_ = false;
        co_return false;
    }
    co_return true;
}

}  // namespace kiln::db
