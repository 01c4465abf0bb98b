#pragma once
// A dedicated connection that LISTENs on one channel and waits, on an Asio reactor, for its
// notifications. Not pooled: it holds no transaction and is only ever read.
#include <libpq-fe.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/thread_pool.hpp"

namespace kiln::db {

class Listener {
public:
    struct Notification {
        std::string channel;
        std::string payload;
    };

    // Connects and LISTENs on the blocking pool; `channel` is a plain identifier ([a-z_]+).
    // Throws Unavailable when the database cannot be reached.
    static boost::asio::awaitable<std::unique_ptr<Listener>> open(std::string conninfo, std::string channel,
                                                                  core::ThreadPool& blocking);
    // The same on several channels, one connection: every LISTENing session of a database is
    // woken by every NOTIFY in it, whatever the channel, so a process listens on as few as it can.
    static boost::asio::awaitable<std::unique_ptr<Listener>> open(std::string conninfo,
                                                                  std::vector<std::string> channels,
                                                                  core::ThreadPool& blocking);
    // The same, also taking the session advisory lock `lock_key`, held for as long as this
    // connection lives (leader election): nullptr when another session holds it. An empty
    // `channel` listens to nothing (every LISTENing session is woken by every NOTIFY in its
    // database, so a connection that only holds a lock should not listen).
    static boost::asio::awaitable<std::unique_ptr<Listener>> open_locked(std::string conninfo, std::string channel,
                                                                         core::ThreadPool& blocking,
                                                                         std::int64_t lock_key);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // Resolves true once at least one notification arrived (all pending ones are consumed),
    // false when the connection broke or cancel() was called.
    boost::asio::awaitable<bool> wait();
    enum class Waited { notified, timed_out, closed };
    // As wait(), giving up after `limit`.
    boost::asio::awaitable<Waited> wait_for(std::chrono::milliseconds limit);
    // The payloads of the notifications the last wait() consumed, oldest first (the next wait()
    // discards what was not taken).
    std::vector<std::string> take_payloads();
    // The same with the channel each came on.
    std::vector<Notification> take_notifications() { return std::move(notifications_); }
    void cancel();
    // The server process of this connection (pg_locks.pid of the locks it holds).
    int backend_pid() const noexcept { return PQbackendPID(conn_); }

private:
    Listener(PGconn* conn, const boost::asio::any_io_executor& ex, core::ThreadPool& blocking);
    static boost::asio::awaitable<std::unique_ptr<Listener>> connect(std::string conninfo,
                                                                     std::vector<std::string> channels,
                                                                     core::ThreadPool& blocking,
                                                                     std::optional<std::int64_t> lock_key);
    bool drain();

    PGconn* conn_;
    boost::asio::posix::stream_descriptor socket_;
    core::ThreadPool& blocking_;
    std::vector<Notification> notifications_;
};

}  // namespace kiln::db
