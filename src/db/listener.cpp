#include "db/listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "db/error.hpp"

namespace asio = boost::asio;

namespace kiln::db {

asio::awaitable<std::unique_ptr<Listener>> Listener::open(std::string conninfo, std::string channel,
                                                          core::ThreadPool& blocking) {
    for (char c : channel) {
        if ((c < 'a' || c > 'z') && c != '_') throw std::invalid_argument("listener channel must be [a-z_]+");
    }
    auto connect = [conninfo = std::move(conninfo), channel = std::move(channel)]() -> PGconn* {
        PGconn* c = PQconnectdb(conninfo.c_str());
        if (PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            return nullptr;
        }
        const std::string listen = "LISTEN " + channel;
        PGresult* r = PQexec(c, listen.c_str());
        const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok || PQsetnonblocking(c, 1) != 0) {
            PQfinish(c);
            return nullptr;
        }
        return c;
    };
    PGconn* conn = co_await blocking.run(std::move(connect));
    if (conn == nullptr) throw Unavailable("cannot open the LISTEN connection");
    auto ex = co_await asio::this_coro::executor;
    co_return std::unique_ptr<Listener>(new Listener(conn, ex, blocking));
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
        payloads_.emplace_back(n->extra != nullptr ? n->extra : "");
        PQfreemem(n);
    }
    return any;
}

asio::awaitable<bool> Listener::wait() {
    payloads_.clear();
    for (;;) {
        if (PQconsumeInput(conn_) == 0) co_return false;
        if (drain()) co_return true;
        auto [ec] =
            co_await socket_.async_wait(asio::posix::stream_descriptor::wait_read, asio::as_tuple(asio::use_awaitable));
        if (ec) co_return false;
    }
}

void Listener::cancel() {
    socket_.cancel();
}

}  // namespace kiln::db
