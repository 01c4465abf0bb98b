#include "db/pool.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"

namespace asio = boost::asio;

namespace kiln::db {

namespace {
constexpr std::string_view kPing = "SELECT 1";
}

// A coroutine waiting for a connection. The releasing thread hands over a connection (or the
// right to open one) under the pool mutex, then wakes the waiter on the waiter's own executor.
struct Pool::Waiter {
    explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::unique_ptr<Connection> conn;
    bool may_connect = false;
};

Lease& Lease::operator=(Lease&& other) noexcept {
    if (this != &other) {
        if (pool_ != nullptr && conn_) pool_->release(std::move(conn_));
        pool_ = other.pool_;
        conn_ = std::move(other.conn_);
    }
    return *this;
}

Lease::~Lease() {
    if (pool_ != nullptr && conn_) pool_->release(std::move(conn_));
}

Pool::Pool(PoolOptions options, core::ThreadPool& blocking) : options_(std::move(options)), blocking_(blocking) {}

Pool::~Pool() {
    close();
}

asio::awaitable<std::unique_ptr<Connection>> Pool::connect() {
    try {
        auto conn = co_await Connection::open(options_.conninfo, options_.pipeline, blocking_);
        std::lock_guard lock(mutex_);
        conn->generation = generation_;
        co_return conn;
    } catch (const Unavailable& e) {
        connect_errors_.fetch_add(1);
        {
            std::lock_guard lock(mutex_);
            --size_;
        }
        core::log::warn("database connect failed", {{"error", e.what()}});
        throw;
    }
}

asio::awaitable<bool> Pool::healthy(Connection& conn) {
    try {
        std::vector<Query> ping{{kPing, {}}};
        co_await conn.execute(ping, options_.statement_timeout);
        co_return true;
    } catch (const std::exception&) {
        co_return false;
    }
}

asio::awaitable<Lease> Pool::acquire() {
    for (;;) {
        std::unique_ptr<Connection> conn;
        bool may_connect = false;
        std::shared_ptr<Waiter> waiter;
        std::uint64_t generation = 0;
        const auto executor = co_await asio::this_coro::executor;
        {
            std::lock_guard lock(mutex_);
            if (closed_) throw Unavailable("database pool is closed");
            generation = generation_;
            if (!idle_.empty()) {
                // Most recently used first (warm, lets the rest age out), preferring one already
                // watched by this thread so its socket need not be re-registered.
                auto it =
                    std::find_if(idle_.rbegin(), idle_.rend(), [&](const auto& c) { return c->bound_to(executor); });
                auto pick = it == idle_.rend() ? std::prev(idle_.end()) : std::prev(it.base());
                conn = std::move(*pick);
                idle_.erase(pick);
            } else if (size_ < options_.max_size) {
                ++size_;
                may_connect = true;
            } else {
                waiter = std::make_shared<Waiter>(executor);
                waiter->timer.expires_after(options_.acquire_timeout);
                waiters_.push_back(waiter);
            }
        }
        if (waiter) {
            co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
            std::lock_guard lock(mutex_);
            if (waiter->conn) {
                conn = std::move(waiter->conn);
            } else if (waiter->may_connect) {
                may_connect = true;
            } else {
                std::erase(waiters_, waiter);
                timeouts_.fetch_add(1);
                throw Unavailable("no database connection became free in time");
            }
        }
        if (may_connect) co_return Lease(this, co_await connect());
        const bool stale = conn->generation < generation ||
                           std::chrono::steady_clock::now() - conn->last_used() > options_.health_check_after;
        if (!stale || co_await healthy(*conn)) {
            conn->generation = generation;
            co_return Lease(this, std::move(conn));
        }
        discard(std::move(conn));
    }
}

void Pool::release(std::unique_ptr<Connection> conn) {
    if (conn->broken() || conn->transaction_status() != PQTRANS_IDLE) {
        // An open transaction block here means its owner failed mid-way: never re-pool it.
        discard(std::move(conn));
        return;
    }
    std::shared_ptr<Waiter> waiter;
    {
        std::lock_guard lock(mutex_);
        if (closed_) {
            --size_;
        } else if (!waiters_.empty()) {
            waiter = std::move(waiters_.front());
            waiters_.pop_front();
            waiter->conn = std::move(conn);
        } else {
            idle_.push_back(std::move(conn));
        }
    }
    if (conn) Connection::close(std::move(conn), blocking_);
    if (waiter) asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
}

void Pool::discard(std::unique_ptr<Connection> conn) {
    std::shared_ptr<Waiter> waiter;
    {
        std::lock_guard lock(mutex_);
        if (conn->broken()) ++generation_;
        if (!closed_ && !waiters_.empty()) {
            // The freed slot goes to the longest waiter, who opens a fresh connection.
            waiter = std::move(waiters_.front());
            waiters_.pop_front();
            waiter->may_connect = true;
        } else {
            --size_;
        }
    }
    Connection::close(std::move(conn), blocking_);
    if (waiter) asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
}

Pipeline& Pool::pipeline(const asio::any_io_executor& ex, Lane lane) {
    std::lock_guard lock(mutex_);
    auto& p = pipelines_.at(static_cast<std::size_t>(lane));
    if (!p) p = std::make_unique<Pipeline>(*this, ex);
    return *p;
}

asio::awaitable<std::vector<Result>> Pool::execute(std::vector<Query> queries, Lane lane) {
    if (options_.pipeline) {
        auto& shared = pipeline(co_await asio::this_coro::executor, lane);
        co_return co_await shared.execute(std::move(queries));
    }
    auto lease = co_await acquire();
    co_return co_await lease->execute(queries, options_.statement_timeout);
}

asio::awaitable<Result> Pool::query(std::string_view sql, Params params) {
    std::vector<Query> q;
    q.push_back({sql, std::move(params)});
    auto results = co_await execute(std::move(q));
    co_return std::move(results.front());
}

PoolStats Pool::stats() const {
    std::lock_guard lock(mutex_);
    PoolStats s;
    s.size = size_;
    s.in_use = size_ - static_cast<unsigned>(idle_.size());
    s.waiters = static_cast<unsigned>(waiters_.size());
    s.timeouts = timeouts_.load();
    s.connect_errors = connect_errors_.load();
    return s;
}

void Pool::close() {
    std::vector<std::unique_ptr<Connection>> idle;
    std::deque<std::shared_ptr<Waiter>> waiters;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        idle.swap(idle_);
        waiters.swap(waiters_);
        size_ -= static_cast<unsigned>(idle.size());
    }
    for (auto& c : idle) Connection::close(std::move(c), blocking_);
    for (auto& w : waiters) asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
}

}  // namespace kiln::db
