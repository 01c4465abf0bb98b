#pragma once
// A bounded pool of connections. Waiting for a connection has a deadline (then Unavailable,
// which the router answers 503); broken connections are dropped and replaced on demand, so a
// database restart costs failed requests, never the process.
#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "core/config.hpp"
#include "core/thread_pool.hpp"
#include "db/connection.hpp"
#include "db/pipeline.hpp"

namespace kiln::db {

class Pool;

// A connection borrowed from the pool; returned when the lease goes away.
class Lease {
public:
    Lease() = default;
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }
    explicit operator bool() const { return conn_ != nullptr; }

private:
    Pool* pool_ = nullptr;
    std::unique_ptr<Connection> conn_;
};

// Which shared pipeline connection a batch rides on. Each is one PostgreSQL backend, so one
// process's work uses at most one database core per lane: the job worker's completions take
// the side lane so that they run beside its claims and the API's requests instead of after them.
enum class Lane : std::uint8_t { main, side };

struct PoolOptions {
    std::string conninfo;
    unsigned max_size = 16;
    core::Millis acquire_timeout{2000};
    core::Millis statement_timeout{30000};
    core::Millis health_check_after{30000};
    bool pipeline = true;
};

struct PoolStats {
    unsigned size = 0;
    unsigned in_use = 0;
    unsigned waiters = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t connect_errors = 0;
};

class Pool {
public:
    Pool(PoolOptions options, core::ThreadPool& blocking);
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    boost::asio::awaitable<Lease> acquire();
    // One self-contained batch (it must not leave a transaction block open). In pipeline mode
    // it shares a connection with other requests' batches (see db::Pipeline).
    boost::asio::awaitable<std::vector<Result>> execute(std::vector<Query> queries, Lane lane = Lane::main);
    boost::asio::awaitable<Result> query(std::string_view sql, Params params = {});

    PoolStats stats() const;
    const PoolOptions& options() const noexcept { return options_; }
    // Drops idle connections and refuses new ones; leases still out are closed on return.
    void close();

private:
    friend class Lease;
    struct Waiter;
    void release(std::unique_ptr<Connection> conn);
    void discard(std::unique_ptr<Connection> conn);
    boost::asio::awaitable<std::unique_ptr<Connection>> connect();
    boost::asio::awaitable<bool> healthy(Connection& conn);
    Pipeline& pipeline(const boost::asio::any_io_executor& ex, Lane lane);

    PoolOptions options_;
    core::ThreadPool& blocking_;
    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<Connection>> idle_;
    std::deque<std::shared_ptr<Waiter>> waiters_;
    unsigned size_ = 0;  // idle + leased + being opened
    bool closed_ = false;
    // Bumped when a connection breaks: idle connections from before are checked before reuse.
    std::uint64_t generation_ = 0;
    std::atomic<std::uint64_t> timeouts_{0};
    std::atomic<std::uint64_t> connect_errors_{0};
    // Shared by every thread: one connection carrying everyone's batches keeps PostgreSQL's
    // work per statement lowest (measured: one per I/O thread was slower on 2 cores). One per
    // Lane.
    std::array<std::unique_ptr<Pipeline>, 2> pipelines_;
};

}  // namespace kiln::db
