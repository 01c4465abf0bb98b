#include "db/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"

namespace asio = boost::asio;

namespace kiln::db {

// The socket watcher and the deadline timer live on the executor of whoever holds the
// connection; the timer's handler holds only a weak reference, so a late firing is harmless.
struct Connection::Io {
    Io(const asio::any_io_executor& ex, int fd) : socket(ex, fd), timer(ex) {}
    ~Io() {
        // libpq owns the descriptor: only stop watching it.
        socket.release();
    }
    Io(const Io&) = delete;
    Io& operator=(const Io&) = delete;
    asio::posix::stream_descriptor socket;
    asio::steady_timer timer;
    bool timed_out = false;
};

namespace {

void on_notice(void* /*arg*/, const PGresult* res) {
    core::log::debug("postgres notice", {{"message", PQresultErrorMessage(res)}});
}

std::string trimmed(const char* msg) {
    std::string s = msg != nullptr ? msg : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

Connection::Connection(PGconn* conn, bool pipeline)
    : conn_(conn), pipeline_(pipeline), last_used_(std::chrono::steady_clock::now()) {
    PQsetNoticeReceiver(conn_, on_notice, nullptr);
}

Connection::~Connection() {
    io_.reset();
    if (conn_ != nullptr) PQfinish(conn_);
}

asio::awaitable<std::unique_ptr<Connection>> Connection::open(std::string conninfo, bool pipeline,
                                                              core::ThreadPool& blocking) {
    auto connect = [info = std::move(conninfo)] { return PQconnectdb(info.c_str()); };
    PGconn* raw = co_await blocking.run(std::move(connect));
    if (raw == nullptr) throw Unavailable("database connection failed: out of memory");
    if (PQstatus(raw) != CONNECTION_OK) {
        std::string msg = trimmed(PQerrorMessage(raw));
        blocking.post([raw] { PQfinish(raw); });
        throw Unavailable("database connection failed: " + msg);
    }
    std::unique_ptr<Connection> conn(new Connection(raw, pipeline));
    if (PQsetnonblocking(raw, 1) != 0 || (pipeline && PQenterPipelineMode(raw) != 1)) {
        conn->fail("cannot switch the connection to non-blocking pipeline mode");
    }
    co_return conn;
}

void Connection::close(std::unique_ptr<Connection> conn, core::ThreadPool& blocking) {
    if (!conn) return;
    conn->io_.reset();
    blocking.post([c = std::move(conn)]() mutable { c.reset(); });
}

bool Connection::bound_to(const asio::any_io_executor& ex) const {
    return io_ && io_->socket.get_executor() == ex;
}

void Connection::bind_to(const asio::any_io_executor& ex) {
    if (io_ && io_->socket.get_executor() == ex) return;
    io_.reset();
    const int fd = PQsocket(conn_);
    if (fd < 0) fail("connection has no socket");
    io_ = std::make_shared<Io>(ex, fd);
}

void Connection::fail(const std::string& what) {
    broken_ = true;
    std::string msg = trimmed(PQerrorMessage(conn_));
    throw Unavailable(msg.empty() ? what : what + ": " + msg);
}

asio::awaitable<void> Connection::wait(bool write) {
    using asio::posix::descriptor_base;
    auto [ec] = co_await io_->socket.async_wait(write ? descriptor_base::wait_write : descriptor_base::wait_read,
                                                asio::as_tuple(asio::use_awaitable));
    if (io_->timed_out) fail("database statement deadline passed");
    if (ec) fail("database socket error: " + ec.message());
}

asio::awaitable<void> Connection::flush_queued() {
    for (;;) {
        const int r = PQflush(conn_);
        if (r == 0) co_return;
        if (r < 0) fail("sending to the database failed");
        // The server may be blocked writing results to us: read while we wait to write.
        co_await wait(true);
        if (PQconsumeInput(conn_) == 0) fail("reading from the database failed");
    }
}

asio::awaitable<PGresult*> Connection::next_result() {
    while (PQisBusy(conn_) != 0) {
        co_await wait(false);
        if (PQconsumeInput(conn_) == 0) fail("reading from the database failed");
    }
    co_return PQgetResult(conn_);
}

namespace {

std::vector<const char*> values_of(const Params& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    return values;
}

bool is_error(PGresult* r) {
    const auto s = PQresultStatus(r);
    return s == PGRES_FATAL_ERROR || s == PGRES_PIPELINE_ABORTED || s == PGRES_BAD_RESPONSE;
}

Error error_of(PGresult* r, std::string_view sql) {
    if (PQresultStatus(r) == PGRES_PIPELINE_ABORTED) return {"", "statement skipped after an earlier error"};
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    std::string message = trimmed(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
    if (message.empty()) message = trimmed(PQresultErrorMessage(r));
    const auto first_line = sql.substr(0, std::min<std::size_t>(sql.find('\n') == 0 ? 80 : sql.find('\n'), 80));
    const char* constraint = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    const char* detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
    return {state != nullptr ? state : "", message + " [" + std::string(first_line) + "]",
            constraint != nullptr ? constraint : "", detail != nullptr ? detail : "", message};
}

}  // namespace

void throw_first_error(std::span<const Query> queries, const std::vector<Result>& results) {
    for (std::size_t i = 0; i < results.size() && i < queries.size(); ++i) {
        if (results[i].raw() != nullptr && is_error(results[i].raw()) &&
            PQresultStatus(results[i].raw()) != PGRES_PIPELINE_ABORTED) {
            throw error_of(results[i].raw(), queries[i].sql);
        }
    }
}

// One deadline per call: the timer's firing cancels the socket wait, which then fails.
void Connection::arm(core::Millis timeout, const asio::any_io_executor& ex) {
    if (broken_) throw Unavailable("database connection is broken");
    bind_to(ex);
    io_->timed_out = false;
    io_->timer.expires_after(timeout);
    io_->timer.async_wait([weak = std::weak_ptr<Io>(io_)](boost::system::error_code ec) {
        if (ec) return;
        if (auto io = weak.lock()) {
            io->timed_out = true;
            io->socket.cancel();
        }
    });
}

void Connection::disarm() {
    if (io_) io_->timer.cancel();
    last_used_ = std::chrono::steady_clock::now();
}

asio::awaitable<std::vector<Result>> Connection::execute(std::span<Query> queries, core::Millis timeout) {
    arm(timeout, co_await asio::this_coro::executor);
    std::vector<Result> results;
    try {
        // g++ 12 miscompiles co_await inside ?: (both arms run): keep it in plain if/else.
        if (pipeline_) {
            const Sent sent = send(queries);
            co_await flush_queued();
            results = co_await receive_pipelined(queries, sent);
        } else {
            results = co_await execute_serial(queries);
        }
    } catch (...) {
        disarm();
        throw;
    }
    disarm();
    throw_first_error(queries, results);
    co_return results;
}

asio::awaitable<void> Connection::flush(core::Millis timeout) {
    arm(timeout, co_await asio::this_coro::executor);
    try {
        co_await flush_queued();
    } catch (...) {
        disarm();
        throw;
    }
    disarm();
}

asio::awaitable<std::vector<Result>> Connection::receive(std::span<const Query> queries, const Sent& sent,
                                                         core::Millis timeout) {
    arm(timeout, co_await asio::this_coro::executor);
    std::vector<Result> results;
    try {
        results = co_await receive_pipelined(queries, sent);
    } catch (...) {
        disarm();
        throw;
    }
    disarm();
    co_return results;
}

std::pair<std::string, bool> Connection::send_prepare_if_new(const Query& q) {
    if (auto it = prepared_.find(q.sql); it != prepared_.end()) return {it->second, false};
    std::string name = "k" + std::to_string(next_statement_++);
    const std::string sql(q.sql);
    if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(q.params.size()), nullptr) != 1) {
        fail("sending a prepare failed");
    }
    prepared_.emplace(sql, name);
    return {name, true};
}

void Connection::send_execute(const std::string& name, const Query& q) {
    const auto values = values_of(q.params);
    if (PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0) !=
        1) {
        fail("sending a statement failed");
    }
}

bool Connection::result_ready() {
    return !broken_ && PQisBusy(conn_) == 0;
}

Connection::Sent Connection::send(std::span<const Query> queries) {
    if (broken_) throw Unavailable("database connection is broken");
    Sent sent;
    sent.slots.reserve(queries.size() * 2);
    for (std::size_t i = 0; i < queries.size(); ++i) {
        const auto& q = queries[i];
        const auto prepared = send_prepare_if_new(q);
        if (prepared.second) sent.slots.emplace_back(i, true);
        send_execute(prepared.first, q);
        sent.slots.emplace_back(i, false);
    }
    if (PQpipelineSync(conn_) != 1) fail("queueing the pipeline sync failed");
    return sent;
}

asio::awaitable<std::vector<Result>> Connection::receive_pipelined(std::span<const Query> queries, const Sent& sent) {
    std::vector<Result> results(queries.size());
    std::size_t next = 0;
    for (;;) {
        PGresult* r = co_await next_result();
        if (r == nullptr) {
            // Separates one statement's results from the next — unless the connection died,
            // when libpq returns nothing but NULL from then on.
            if (PQstatus(conn_) != CONNECTION_OK) fail("the database connection broke");
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (next >= sent.slots.size()) {
            PQclear(r);
            fail("unexpected result from the database");
        }
        const std::size_t query = sent.slots[next].first;
        const bool prepare = sent.slots[next].second;
        ++next;
        if (prepare) {
            if (is_error(r)) {
                // Rejected or skipped: either way the server does not have it.
                prepared_.erase(std::string(queries[query].sql));
                results[query] = Result(r);
            } else {
                PQclear(r);
            }
        } else if (results[query].raw() == nullptr || !is_error(results[query].raw()) ||
                   PQresultStatus(results[query].raw()) == PGRES_PIPELINE_ABORTED) {
            results[query] = Result(r);
        } else {
            PQclear(r);  // the PREPARE's error says more than the skipped execution
        }
    }
    co_return results;
}

asio::awaitable<Result> Connection::drain_one() {
    Result first;
    for (;;) {
        PGresult* r = co_await next_result();
        if (r == nullptr) co_return first;
        if (first.raw() == nullptr) {
            first = Result(r);
        } else {
            PQclear(r);
        }
    }
}

asio::awaitable<std::vector<Result>> Connection::execute_serial(std::span<Query> queries) {
    std::vector<Result> results(queries.size());
    for (std::size_t i = 0; i < queries.size(); ++i) {
        const auto& q = queries[i];
        // Not a structured binding: it would live across co_await, which g++ 12 handles poorly.
        const auto prepared = send_prepare_if_new(q);
        const std::string& name = prepared.first;
        if (prepared.second) {
            co_await flush_queued();
            Result prep = co_await drain_one();
            if (is_error(prep.raw())) {
                prepared_.erase(std::string(q.sql));
                results[i] = std::move(prep);
                co_return results;
            }
        }
        send_execute(name, q);
        co_await flush_queued();
        results[i] = co_await drain_one();
        if (results[i].raw() == nullptr) fail("no result from the database");
        if (is_error(results[i].raw())) co_return results;
    }
    co_return results;
}

}  // namespace kiln::db
