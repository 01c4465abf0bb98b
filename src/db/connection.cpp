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

asio::awaitable<void> Connection::flush() {
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

const std::string* Connection::prepared_name(std::string_view sql) const {
    auto it = prepared_.find(sql);
    return it == prepared_.end() ? nullptr : &it->second;
}

namespace {

struct Slot {
    std::size_t query;  // index into the queries
    bool prepare;       // a PREPARE rather than the execution
    std::string name;
};

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
    return {state != nullptr ? state : "", message + " [" + std::string(first_line) + "]"};
}

}  // namespace

asio::awaitable<std::vector<Result>> Connection::execute(std::span<Query> queries, core::Millis timeout) {
    if (broken_) throw Unavailable("database connection is broken");
    bind_to(co_await asio::this_coro::executor);
    io_->timed_out = false;
    io_->timer.expires_after(timeout);
    io_->timer.async_wait([weak = std::weak_ptr<Io>(io_)](boost::system::error_code ec) {
        if (ec) return;
        if (auto io = weak.lock()) {
            io->timed_out = true;
            io->socket.cancel();
        }
    });
    std::vector<Result> results;
    try {
        // g++ 12 miscompiles co_await inside ?: (both arms run): keep it in plain if/else.
        if (pipeline_) {
            results = co_await execute_pipelined(queries);
        } else {
            results = co_await execute_serial(queries);
        }
    } catch (...) {
        io_->timer.cancel();
        throw;
    }
    io_->timer.cancel();
    last_used_ = std::chrono::steady_clock::now();
    // Report the first rejected statement; later ones were only skipped because of it.
    for (std::size_t i = 0; i < results.size(); ++i) {
        if (results[i].raw() != nullptr && is_error(results[i].raw()) &&
            PQresultStatus(results[i].raw()) != PGRES_PIPELINE_ABORTED) {
            throw error_of(results[i].raw(), queries[i].sql);
        }
    }
    co_return results;
}

std::pair<std::string, bool> Connection::send_prepare_if_new(const Query& q) {
    if (const auto* known = prepared_name(q.sql)) return {*known, false};
    std::string name = "k" + std::to_string(next_statement_++);
    const std::string sql(q.sql);
    if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(q.params.size()), nullptr) != 1) {
        fail("sending a prepare failed");
    }
    return {name, true};
}

void Connection::send_execute(const std::string& name, const Query& q) {
    const auto values = values_of(q.params);
    if (PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0) !=
        1) {
        fail("sending a statement failed");
    }
}

asio::awaitable<std::vector<Result>> Connection::execute_pipelined(std::span<Query> queries) {
    std::vector<Slot> slots;
    slots.reserve(queries.size() * 2);
    for (std::size_t i = 0; i < queries.size(); ++i) {
        const auto& q = queries[i];
        const auto [name, fresh] = send_prepare_if_new(q);
        if (fresh) slots.push_back({i, true, name});
        send_execute(name, q);
        slots.push_back({i, false, name});
    }
    if (PQpipelineSync(conn_) != 1) fail("queueing the pipeline sync failed");
    co_await flush();

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
        if (next >= slots.size()) {
            PQclear(r);
            fail("unexpected result from the database");
        }
        const auto& slot = slots[next++];
        if (slot.prepare) {
            if (is_error(r)) {
                results[slot.query] = Result(r);
            } else {
                prepared_.emplace(std::string(queries[slot.query].sql), slot.name);
                PQclear(r);
            }
        } else if (results[slot.query].raw() == nullptr || !is_error(results[slot.query].raw()) ||
                   PQresultStatus(results[slot.query].raw()) == PGRES_PIPELINE_ABORTED) {
            results[slot.query] = Result(r);
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
            co_await flush();
            Result prep = co_await drain_one();
            if (is_error(prep.raw())) {
                results[i] = std::move(prep);
                co_return results;
            }
            prepared_.emplace(std::string(q.sql), name);
        }
        send_execute(name, q);
        co_await flush();
        results[i] = co_await drain_one();
        if (results[i].raw() == nullptr) fail("no result from the database");
        if (is_error(results[i].raw())) co_return results;
    }
    co_return results;
}

}  // namespace kiln::db
