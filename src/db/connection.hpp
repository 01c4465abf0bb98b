#pragma once
// One non-blocking libpq connection whose socket is watched by Asio. Statements are prepared
// once per connection and, in pipeline mode, a whole batch goes out in one round trip.
#include <libpq-fe.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/config.hpp"
#include "core/thread_pool.hpp"
#include "db/error.hpp"
#include "db/params.hpp"
#include "db/result.hpp"

namespace kiln::db {

struct Query {
    std::string_view sql;  // must outlive the call; store statements as constants
    Params params;
};

class Connection {
public:
    // Connects on the blocking pool (PQconnectdb resolves names and may block).
    static boost::asio::awaitable<std::unique_ptr<Connection>> open(std::string conninfo, bool pipeline,
                                                                    core::ThreadPool& blocking);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Runs the queries in order and returns one result each. In pipeline mode all of them
    // (and any PREPAREs they need) travel in one round trip. Throws Error for the first
    // statement the server rejected (after reading every result, so the connection stays
    // usable) and Unavailable when the connection breaks or the deadline passes.
    boost::asio::awaitable<std::vector<Result>> execute(std::span<Query> queries, core::Millis timeout);

    // Pipeline mode only, for callers that keep several batches in flight on one connection
    // (db::Pipeline): `send` queues a batch and its Sync without waiting, `flush` sends what is
    // queued, `receive` reads the oldest unread batch's results. Statement errors are left in
    // the results (see throw_first_error); a broken connection or a passed deadline throws
    // Unavailable. Batches must be self-contained: no transaction block may stay open after one.
    struct Sent {
        std::vector<std::pair<std::size_t, bool>> slots;  // (query index, is a PREPARE)
    };
    Sent send(std::span<const Query> queries);
    // Whether a result can be read without waiting, from what libpq has read already.
    bool result_ready();
    boost::asio::awaitable<void> flush(core::Millis timeout);
    boost::asio::awaitable<std::vector<Result>> receive(std::span<const Query> queries, const Sent& sent,
                                                        core::Millis timeout);

    bool broken() const noexcept { return broken_; }
    // PQTRANS_IDLE when no transaction block is open.
    PGTransactionStatusType transaction_status() const noexcept { return PQtransactionStatus(conn_); }
    std::chrono::steady_clock::time_point last_used() const noexcept { return last_used_; }
    // Whether the socket is watched by `ex` already (using it elsewhere re-registers it).
    bool bound_to(const boost::asio::any_io_executor& ex) const;
    // Closes on the blocking pool (PQfinish may block on a slow network).
    static void close(std::unique_ptr<Connection> conn, core::ThreadPool& blocking);

    std::uint64_t generation = 0;  // set by the pool

private:
    struct Io;
    explicit Connection(PGconn* conn, bool pipeline);
    void bind_to(const boost::asio::any_io_executor& ex);
    void arm(core::Millis timeout, const boost::asio::any_io_executor& ex);
    void disarm();
    boost::asio::awaitable<void> flush_queued();
    boost::asio::awaitable<void> wait(bool write);
    boost::asio::awaitable<PGresult*> next_result();
    boost::asio::awaitable<Result> drain_one();
    boost::asio::awaitable<std::vector<Result>> receive_pipelined(std::span<const Query> queries, const Sent& sent);
    boost::asio::awaitable<std::vector<Result>> execute_serial(std::span<Query> queries);
    // Queues a PREPARE unless this connection knows the statement; returns its name and
    // whether it was queued now (its result must then be read). The name is remembered at
    // once, so batches queued behind this one reuse it; a failed PREPARE forgets it.
    std::pair<std::string, bool> send_prepare_if_new(const Query& q);
    void send_execute(const std::string& name, const Query& q);
    [[noreturn]] void fail(const std::string& what);

    PGconn* conn_;
    bool pipeline_;
    bool broken_ = false;
    std::uint64_t next_statement_ = 0;
    std::shared_ptr<Io> io_;
    std::chrono::steady_clock::time_point last_used_;
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, std::string, Hash, std::equal_to<>> prepared_;
};

// Throws the Error of the first statement the server rejected (later ones in the batch were
// only skipped because of it).
void throw_first_error(std::span<const Query> queries, const std::vector<Result>& results);

}  // namespace kiln::db
