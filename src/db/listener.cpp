#include "db/listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "db/error.hpp"

namespace asio = boost::asio;

namespace kiln::db {

namespace {
std::vector<std::string> one(std::string channel) {
    std::vector<std::string> out;
    if (!channel.empty()) out.push_back(std::move(channel));
    return out;
}
}  // namespace

asio::awaitable<std::unique_ptr<Listener>> Listener::open(std::string conninfo, std::string channel,
                                                          core::ThreadPool& blocking) {
    co_return co_await connect(std::move(conninfo), one(std::move(channel)), blocking, std::nullopt);
}

asio::awaitable<std::unique_ptr<Listener>> Listener::open(std::string conninfo, std::vector<std::string> channels,
                                                          core::ThreadPool& blocking) {
    co_return co_await connect(std::move(conninfo), std::move(channels), blocking, std::nullopt);
}

asio::awaitable<std::unique_ptr<Listener>> Listener::open_locked(std::string conninfo, std::string channel,
                                                                 core::ThreadPool& blocking, std::int64_t lock_key) {
    co_return co_await connect(std::move(conninfo), one(std::move(channel)), blocking, lock_key);
}

asio::awaitable<std::unique_ptr<Listener>> Listener::connect(std::string conninfo, std::vector<std::string> channels,
                                                             core::ThreadPool& blocking,
                                                             std::optional<std::int64_t> lock_key) {
    std::string listen;  // one simple query: "LISTEN a; LISTEN b"
    for (const auto& channel : channels) {
        if (channel.empty()) throw std::invalid_argument("listener channel must be [a-z_]+");
        for (char c : channel) {
            if ((c < 'a' || c > 'z') && c != '_') throw std::invalid_argument("listener channel must be [a-z_]+");
        }
        listen += (listen.empty() ? "LISTEN " : "; LISTEN ") + channel;
    }
    // The connection is owned until the Listener takes it: should the process stop while the
    // connect runs, the result is dropped undelivered, and with it the connection.
    struct Close {
        void operator()(PGconn* c) const noexcept { PQfinish(c); }
    };
    struct Opened {
        std::unique_ptr<PGconn, Close> conn;
        bool locked = true;
    };
    auto connect = [conninfo = std::move(conninfo), listen = std::move(listen), lock_key]() -> Opened {
        PGconn* c = PQconnectdb(conninfo.c_str());
        if (PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            return {};
        }
        auto exec = [c](const std::string& sql, ExecStatusType want, std::string* value) {
            PGresult* r = PQexec(c, sql.c_str());
            const bool ok = PQresultStatus(r) == want;
            if (ok && value != nullptr) *value = PQgetvalue(r, 0, 0);
            PQclear(r);
            return ok;
        };
        std::string locked = "t";
        const bool ok = (listen.empty() || exec(listen, PGRES_COMMAND_OK, nullptr)) &&
                        (!lock_key || exec("SELECT pg_try_advisory_lock(" + std::to_string(*lock_key) + ")",
                                           PGRES_TUPLES_OK, &locked));
        if (!ok || locked != "t" || PQsetnonblocking(c, 1) != 0) {
            PQfinish(c);
            return {nullptr, !ok || locked == "t"};
        }
        return {std::unique_ptr<PGconn, Close>(c), true};
    };
    Opened opened = co_await blocking.run(std::move(connect));
    if (!opened.conn && opened.locked) throw Unavailable("cannot open the LISTEN connection");
    if (!opened.conn) co_return nullptr;  // another session holds the lock
    auto ex = co_await asio::this_coro::executor;
    co_return std::unique_ptr<Listener>(new Listener(opened.conn.release(), ex, blocking));
}

Listener::Listener(PGconn* conn, const asio::any_io_executor& ex, core::ThreadPool& blocking)
    : conn_(conn), socket_(ex, PQsocket(conn)), blocking_(blocking) {}

Listener::~Listener() {
    // libpq owns the descriptor: stop watching it, then close off the I/O thread.
    socket_.release();
    PGconn* c = conn_;
    blocking_.post([c] { PQfinish(c); });
}

bool Listener::drain() {
    bool any = false;
    while (PGnotify* n = PQnotifies(conn_)) {
        any = true;
        notifications_.push_back({n->relname != nullptr ? n->relname : "", n->extra != nullptr ? n->extra : ""});
        PQfreemem(n);
    }
    return any;
}

asio::awaitable<bool> Listener::wait() {
    notifications_.clear();
    for (;;) {
        if (PQconsumeInput(conn_) == 0) co_return false;
        if (drain()) co_return true;
        auto [ec] =
            co_await socket_.async_wait(asio::posix::stream_descriptor::wait_read, asio::as_tuple(asio::use_awaitable));
        if (ec) co_return false;
    }
}

asio::awaitable<Listener::Waited> Listener::wait_for(std::chrono::milliseconds limit) {
    notifications_.clear();
    // The timer only cancels the socket wait, and only while this call still waits: its handler
    // can be queued in the same turn as the socket's completion and run after this returned
    // (and this Listener is gone). `expired` tells the timeout apart from cancel().
    struct State {
        bool waiting = true;
        bool expired = false;
    };
    auto state = std::make_shared<State>();
    asio::steady_timer timer(socket_.get_executor(), limit);
    timer.async_wait([this, state](boost::system::error_code ec) {
        if (ec || !state->waiting) return;
        state->expired = true;
        socket_.cancel();
    });
    Waited result = Waited::closed;
    for (;;) {
        if (PQconsumeInput(conn_) == 0) break;
        if (drain()) {
            result = Waited::notified;
            break;
        }
        auto [ec] =
            co_await socket_.async_wait(asio::posix::stream_descriptor::wait_read, asio::as_tuple(asio::use_awaitable));
        if (ec) {
            result = state->expired ? Waited::timed_out : Waited::closed;
            break;
        }
    }
    state->waiting = false;
    timer.cancel();
    co_return result;
}

std::vector<std::string> Listener::take_payloads() {
    std::vector<std::string> out;
    out.reserve(notifications_.size());
    for (auto& n : notifications_) out.push_back(std::move(n.payload));
    notifications_.clear();
    return out;
}

void Listener::cancel() {
    socket_.cancel();
}

}  // namespace kiln::db
