#include "http/server.hpp"

#include <algorithm>
#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "core/log.hpp"
#include "core/uuid.hpp"
#include "http/body_reader.hpp"
#include "http/response_writer.hpp"
#include "http/sse.hpp"
#include "http/websocket.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace kiln::http {

namespace {

constexpr std::size_t kHeaderLimit = std::size_t{16} * 1024;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    return std::ranges::all_of(id, [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.' || c == ':';
    });
}

void log_task_exception(std::exception_ptr e, const char* task) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        core::log::error("task failed", {{"task", task}, {"error", ex.what()}});
    }
}

}  // namespace

IoThreads::IoThreads(unsigned threads) {
    if (threads == 0) threads = std::max(1U, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < threads; ++i) contexts_.push_back(std::make_unique<asio::io_context>(1));
}

IoThreads::~IoThreads() {
    stop();
    join();
}

asio::io_context& IoThreads::next() {
    return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % size()];
}

void IoThreads::start() {
    for (auto& ctx : contexts_) {
        threads_.emplace_back([c = ctx.get()] {
            auto guard = asio::make_work_guard(*c);
            c->run();
        });
    }
}

void IoThreads::stop() {
    for (auto& ctx : contexts_) ctx->stop();
}

void IoThreads::join() {
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
    threads_.clear();
}

struct Server::Session {
    explicit Session(tcp::socket socket) : stream(std::move(socket)) {
        boost::system::error_code ec;
        const auto peer = stream.socket().remote_endpoint(ec);
        if (!ec) client_ip = peer.address().to_string();
    }
    beast::tcp_stream stream;
    std::string client_ip;   // the TCP peer
    std::string request_ip;  // the current request's client behind trusted proxies (client_of)
    beast::flat_buffer buffer;
    bool busy = false;               // a request is being handled: shutdown lets it finish
    EventStream* events = nullptr;   // an event stream is running: shutdown ends it at once
    WebSocket* websocket = nullptr;  // a WebSocket is open: shutdown sends it a close frame at once
};

Server::Server(const core::ServerConfig& config, const Router& router, Metrics& metrics, IoThreads& io)
    : config_(config),
      proxies_(config.trusted_proxies),
      router_(router),
      metrics_(metrics),
      io_(io),
      acceptor_(io.at(0)) {}

std::string_view Server::client_of(Session& s, const beast_http::fields& header) const {
    if (proxies_.empty()) return s.client_ip;
    std::string chain;
    const auto [first, last] = header.equal_range("X-Forwarded-For");
    for (auto it = first; it != last; ++it) {
        if (!chain.empty()) chain += ',';
        chain += it->value();
    }
    s.request_ip = proxies_.client(s.client_ip, chain);
    return s.request_ip;
}

Server::~Server() = default;

void Server::listen() {
    const tcp::endpoint endpoint(asio::ip::make_address(config_.host), config_.port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    port_ = acceptor_.local_endpoint().port();
}

void Server::start() {
    asio::co_spawn(acceptor_.get_executor(), accept_loop(),
                   [](std::exception_ptr e) { log_task_exception(e, "accept loop"); });
}

asio::awaitable<void> Server::accept_loop() {
    while (!draining_.load()) {
        auto& ctx = io_.next();
        auto [ec, socket] = co_await acceptor_.async_accept(ctx, kUseTuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
            // EMFILE and friends: back off briefly rather than spin.
            core::log::warn("accept failed", {{"error", ec.message()}});
            asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
            co_await pause.async_wait(kUseTuple);
            continue;
        }
        if (active_.load() >= config_.max_connections) {
            beast::error_code ignored;
            socket.close(ignored);  // NOLINT(bugprone-unused-return-value)
            continue;
        }
        active_.fetch_add(1);
        asio::co_spawn(ctx, run_session(this, std::move(socket)),
                       [](std::exception_ptr e) { log_task_exception(e, "http session"); });
    }
}

void Server::register_session(Session* s) {
    std::lock_guard lock(sessions_mutex_);
    sessions_.emplace(s, s->stream.get_executor());
}

void Server::unregister_session(Session* s) {
    std::lock_guard lock(sessions_mutex_);
    sessions_.erase(s);
}

void Server::close_sessions(bool idle_only) {
    std::lock_guard lock(sessions_mutex_);
    for (const auto& [session, executor] : sessions_) {
        // Runs on the session's own thread, so it never races the session's coroutine; the
        // registry lookup tells whether the session still exists by then.
        asio::post(executor, [this, s = session, idle_only] {
            std::lock_guard inner(sessions_mutex_);
            if (!sessions_.contains(s)) return;
            if (s->events != nullptr) {
                s->events->close();  // a stream has no natural end to wait for
                return;
            }
            if (s->websocket != nullptr && idle_only) {
                // The close handshake ends it; past the grace period the socket is closed below.
                s->websocket->close(CloseCode::going_away, "server shutting down");
                return;
            }
            if (idle_only && s->busy) return;
            beast::error_code ignored;
            if (idle_only) {
                s->stream.socket().cancel(ignored);  // NOLINT(bugprone-unused-return-value)
            } else {
                s->stream.socket().close(ignored);  // NOLINT(bugprone-unused-return-value)
            }
        });
    }
}

asio::awaitable<void> Server::run_session(Server* self, tcp::socket socket) {
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // NOLINT(bugprone-unused-return-value)
    Session s(std::move(socket));
    self->metrics_.connection_opened();
    self->register_session(&s);
    try {
        while (!self->draining_.load()) {
            if (!co_await self->handle_one(s)) break;
        }
    } catch (const std::exception& e) {
        core::log::error("http session failed", {{"error", e.what()}});
    }
    self->unregister_session(&s);
    s.stream.socket().shutdown(tcp::socket::shutdown_send, ignored);  // NOLINT(bugprone-unused-return-value)
    co_await linger(s.stream);
    s.stream.socket().close(ignored);  // NOLINT(bugprone-unused-return-value)
    self->metrics_.connection_closed();
    self->active_.fetch_sub(1);
}

// Lingering close: a client still sending a body we refused (413) would get a reset instead of
// our answer if we closed with its bytes unread. Read and drop what comes, briefly and boundedly.
asio::awaitable<void> Server::linger(beast::tcp_stream& stream) {
    constexpr std::size_t kMaxDrain = std::size_t{4} << 20;
    std::array<char, 16384> sink{};
    std::size_t drained = 0;
    stream.expires_after(std::chrono::seconds(2));
    while (drained < kMaxDrain) {
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kUseTuple);
        if (ec) break;
        drained += n;
    }
}

// Reads, handles and answers one request; false when the connection should close.
asio::awaitable<bool> Server::handle_one(Session& s) {
    if (s.buffer.size() == 0) {
        // Idle keep-alive wait: the header deadline starts with the request's first byte.
        s.stream.expires_after(config_.idle_timeout);
        auto [ec, n] = co_await s.stream.async_read_some(s.buffer.prepare(4096), kUseTuple);
        if (ec) co_return false;
        s.buffer.commit(n);
    }
    const auto start = std::chrono::steady_clock::now();
    s.stream.expires_after(config_.header_timeout);
    beast_http::request_parser<beast_http::empty_body> head;
    head.header_limit(kHeaderLimit);
    // The route's own limit is applied once the header is known; this parser reads no body.
    head.body_limit(boost::none);
    auto [hec, hn] = co_await beast_http::async_read_header(s.stream, s.buffer, head, kUseTuple);
    if (hec) {
        if (hec == beast_http::error::end_of_stream || hec == beast::error::timeout ||
            hec == asio::error::operation_aborted || hec == asio::error::connection_reset || hec == asio::error::eof) {
            co_return false;
        }
        // A malformed or oversized header: answer once, then close (the stream cannot be resynced).
        const bool too_large = hec == beast_http::error::header_limit;
        const auto request_id = core::Uuid::v7().str();
        auto res = problem_response(
            too_large ? core::Problem(431, "Request Header Fields Too Large", "The request header exceeds 16 KiB.")
                      : core::Problem::bad_request("Malformed HTTP request: " + hec.message()),
            "", request_id);
        res.set("X-Request-Id", request_id);
        res.set(beast_http::field::server, "kiln");
        res.keep_alive(false);
        res.prepare_payload();
        s.stream.expires_after(config_.write_timeout);
        co_await beast_http::async_write(s.stream, res, kUseTuple);
        co_return false;
    }

    s.busy = true;
    metrics_.started();
    const auto& header = head.get();
    std::string request_id;
    if (config_.trust_request_id) {
        auto it = header.find("X-Request-Id");
        if (it != header.end() && valid_request_id(it->value())) request_id = std::string(it->value());
    }
    if (request_id.empty()) request_id = core::Uuid::v7().str();

    const std::string_view target = header.target();
    const auto qpos = target.find('?');
    const auto path = target.substr(0, qpos);
    auto match = router_.match(header.method(), path);
    const std::size_t route_index = match.route != nullptr ? match.index : metrics_.unmatched();
    const std::size_t limit =
        match.route != nullptr && match.route->body_limit != 0 ? match.route->body_limit : config_.body_limit;

    if (match.route != nullptr && match.route->stream_body &&
        !(head.content_length() && *head.content_length() > limit)) {
        co_return co_await handle_streamed_body(s, head, match, std::move(request_id), limit, start);
    }

    Response res;
    bool keep_alive = header.keep_alive();
    bool read_ok = true;
    // `target` and `path` stay valid: moving Beast's fields moves their storage, not a copy.
    beast_http::request_parser<beast_http::string_body> parser(std::move(head));
    const auto& req_header = parser.get().base();
    // What the handler sees; takes the body, so it is built once, on the path that dispatches.
    auto request = [&] {
        Request req(req_header, std::move(parser.get().body()));
        req.path = path;
        req.query = qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);
        req.request_id = request_id;
        req.client_ip = client_of(s, req_header);
        return req;
    };
    if (parser.content_length() && *parser.content_length() > limit) {
        res = problem_response(core::Problem(413, "Content Too Large",
                                             "The body exceeds the limit of " + std::to_string(limit) + " bytes."),
                               path, request_id);
        keep_alive = false;
        read_ok = false;
    } else if (!parser.is_done()) {
        if (beast::iequals(req_header[beast_http::field::expect], "100-continue")) {
            beast_http::response<beast_http::empty_body> cont{beast_http::status::continue_, 11};
            s.stream.expires_after(config_.write_timeout);
            auto [cec, cn] = co_await beast_http::async_write(s.stream, cont, kUseTuple);
            if (cec) read_ok = false;
        }
        parser.body_limit(limit);
        s.stream.expires_after(config_.read_timeout);
        beast::error_code bec;
        if (read_ok) {
            // Not inside ?: — g++ 12 evaluates co_await in both arms of a conditional.
            std::tie(bec, std::ignore) = co_await beast_http::async_read(s.stream, s.buffer, parser, kUseTuple);
        }
        if (read_ok && bec == beast_http::error::body_limit) {
            res = problem_response(core::Problem(413, "Content Too Large",
                                                 "The body exceeds the limit of " + std::to_string(limit) + " bytes."),
                                   path, request_id);
            keep_alive = false;
            read_ok = false;
        } else if (read_ok && bec) {
            metrics_.finished();
            co_return false;  // the client went away or stalled past the read deadline
        }
    }
    if (read_ok && match.route != nullptr && match.route->websocket) {
        if (beast::websocket::is_upgrade(parser.get())) {
            Request req = request();
            metrics_.finished();  // counted in kiln_http_streams_open, like a stream
            co_await run_websocket(s, req, parser.get(), match, start);
            s.busy = false;
            co_return false;  // the connection ends with the WebSocket
        }
        res = problem_response(core::Problem(426, "Upgrade Required", "This route speaks WebSocket only.")
                                   .with_header("Upgrade", "websocket"),
                               path, request_id);
        keep_alive = false;
        read_ok = false;  // answered: nothing to dispatch
    }
    if (read_ok && match.route != nullptr && match.route->stream) {
        Request req = request();
        metrics_.finished();  // a stream is counted in kiln_http_streams_open, not in flight
        co_await run_stream(s, req, match, start);
        s.busy = false;
        co_return false;  // the connection ends with the stream
    }
    if (read_ok) {
        Request req = request();
        res = co_await router_.dispatch(req, std::move(match));
    }

    co_return co_await respond(s, res, req_header.method(), path, request_id, keep_alive, route_index, start);
}

// A route that pulls its own body: the handler runs as soon as the header is known and reads
// the body through a BodyReader; a body it leaves unread closes the connection after the answer.
asio::awaitable<bool> Server::handle_streamed_body(Session& s, beast_http::request_parser<beast_http::empty_body>& head,
                                                   Router::Match& match, std::string request_id, std::size_t limit,
                                                   std::chrono::steady_clock::time_point start) {
    const std::size_t route_index = match.index;
    BodyReader::Parser parser(std::move(head));
    const auto& header = parser.get().base();
    const std::string_view target = header.target();
    const auto qpos = target.find('?');
    const bool client_keep_alive = parser.get().keep_alive();
    BodyReader reader(s.stream, s.buffer, parser,
                      {.limit = limit, .stall = config_.read_timeout, .total = config_.upload_timeout});
    Request req(header, {});
    req.path = target.substr(0, qpos);
    req.query = qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);
    req.request_id = request_id;
    req.client_ip = client_of(s, header);
    req.body_reader = &reader;
    ResponseWriter writer(s.stream, config_.write_timeout, [&](Response& head) {
        head.set(beast_http::field::server, "kiln");
        head.set("X-Request-Id", request_id);
        head.keep_alive(client_keep_alive && reader.done() && !draining_.load());
        router_.apply_cors(req, head);
    });
    req.response_writer = &writer;
    auto res = co_await router_.dispatch(req, std::move(match));
    if (reader.broken()) {
        metrics_.finished();
        s.busy = false;
        co_return false;  // the client went away or stalled: nobody to answer
    }
    if (writer.started()) {
        // The handler answered itself; an error after that cannot be answered any more.
        metrics_.finished();
        s.busy = false;
        record(route_index, header.method(), req.path, writer.status(), start, writer.bytes_written(), request_id);
        const bool reusable = writer.complete() && client_keep_alive && reader.done();
        co_return reusable && !draining_.load();
    }
    const bool keep_alive = client_keep_alive && reader.done();
    co_return co_await respond(s, res, header.method(), req.path, request_id, keep_alive, route_index, start);
}

// Writes a handler's answer, counts and logs it; false when the connection should close.
asio::awaitable<bool> Server::respond(Session& s, Response& res, Verb method, std::string_view path,
                                      const std::string& request_id, bool keep_alive, std::size_t route_index,
                                      std::chrono::steady_clock::time_point start) {
    const bool draining = draining_.load();
    res.version(11);
    res.set(beast_http::field::server, "kiln");
    res.set("X-Request-Id", request_id);
    res.keep_alive(keep_alive && !draining);
    if (method == Verb::head) {
        const auto size = res.body().size();
        res.body().clear();
        res.content_length(size);
    } else {
        res.prepare_payload();
    }
    const unsigned status = res.result_int();
    s.stream.expires_after(config_.write_timeout);
    auto [wec, wn] = co_await beast_http::async_write(s.stream, res, kUseTuple);
    metrics_.finished();
    s.busy = false;
    record(route_index, method, path, status, start, wn, request_id);
    co_return !wec && res.keep_alive() && !draining;
}

namespace {

bool is_cancellation(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const boost::system::system_error& ex) {
        return ex.code() == asio::error::operation_aborted;
    } catch (...) {
        return false;
    }
}

}  // namespace

// Runs a stream route: the handler and the heartbeats as child coroutines on this thread, while
// this coroutine keeps a read pending so a client that goes away is noticed at once.
asio::awaitable<void> Server::run_stream(Session& s, Request& req, Router::Match& match,
                                         std::chrono::steady_clock::time_point start) {
    const Route& route = *match.route;
    req.route = route.path;
    req.path_params = std::move(match.params);
    const auto route_index = match.index;

    Response head{beast_http::status::ok, 11};
    head.set(beast_http::field::content_type, "text/event-stream");
    head.set(beast_http::field::cache_control, "no-store");
    head.set("X-Accel-Buffering", "no");
    head.set(beast_http::field::server, "kiln");
    head.set("X-Request-Id", req.request_id);
    head.keep_alive(false);
    head.chunked(true);
    router_.apply_cors(req, head);

    std::optional<std::string> resume;
    std::exception_ptr setup_error;
    try {
        resume = last_event_id(req);
    } catch (...) {
        setup_error = std::current_exception();
    }
    EventStream events(s.stream, std::move(head),
                       {.heartbeat = config_.stream_heartbeat, .write_timeout = config_.write_timeout},
                       std::move(resume));
    s.events = &events;
    metrics_.stream_opened();

    const auto executor = co_await asio::this_coro::executor;
    std::exception_ptr handler_error = setup_error;
    int children = 0;
    asio::steady_timer children_done(executor, asio::steady_timer::time_point::max());
    if (!setup_error && req.method() == Verb::head) {
        co_await events.open();
    } else if (!setup_error) {
        children = 2;
        auto on_handler_done = [&](std::exception_ptr e) {
            events.handler_finished();
            handler_error = std::move(e);
            events.close();
            --children;
            children_done.cancel();
        };
        auto on_heartbeats_done = [&](std::exception_ptr e) {
            log_task_exception(std::move(e), "stream heartbeats");
            --children;
            children_done.cancel();
        };
        events.handler_started();
        auto handler_task = route.stream(req, events);
        asio::co_spawn(executor, std::move(handler_task),
                       asio::bind_cancellation_slot(events.handler_slot(), std::move(on_handler_done)));
        auto heartbeats = events.run_heartbeats();
        asio::co_spawn(executor, std::move(heartbeats), std::move(on_heartbeats_done));

        // The raw socket, not the tcp_stream: its deadline belongs to the stream's writes.
        std::array<char, 512> sink{};
        while (!events.closed()) {
            auto [ec, n] = co_await s.stream.socket().async_read_some(asio::buffer(sink), kUseTuple);
            if (ec == asio::error::operation_aborted && events.closed()) break;
            if (ec) {
                events.mark_broken();  // the client went away (or reset): nothing more reaches it
                break;
            }
            // Bytes from the client mean nothing on a stream; they are read and dropped.
        }
        events.close();
        while (children > 0) {
            children_done.expires_at(asio::steady_timer::time_point::max());
            co_await children_done.async_wait(kUseTuple);
        }
    }
    s.events = nullptr;

    unsigned status = 200;
    if (handler_error && !events.is_open()) {
        // Refused before anything was written: an ordinary problem+json answer.
        status = co_await refuse(s, req, handler_error);
    } else {
        if (handler_error && !is_cancellation(handler_error)) {
            log_task_exception(handler_error, "event stream");
        }
        if (req.method() != Verb::head) co_await events.finish();
    }
    finish_stream(req, route_index, status, start, events.bytes_written(), "stream");
}

// Runs a WebSocket route: the handler as a child coroutine on this thread, which reads the
// messages itself (the WebSocket's writer runs beside it once accepted).
asio::awaitable<void> Server::run_websocket(Session& s, Request& req,
                                            const beast_http::request<beast_http::string_body>& upgrade,
                                            Router::Match& match, std::chrono::steady_clock::time_point start) {
    const Route& route = *match.route;
    req.route = route.path;
    req.path_params = std::move(match.params);
    const auto route_index = match.index;

    // The WebSocket keeps its own timeouts (pings); the HTTP deadlines must not cut it.
    s.stream.expires_never();
    WebSocket::Options options;
    if (route.body_limit != 0) options.max_message = route.body_limit;
    options.queue_limit = config_.stream_queue;
    options.ping_interval = config_.stream_heartbeat;
    WebSocket ws(s.stream, upgrade, options, req.request_id);
    s.websocket = &ws;
    metrics_.stream_opened();

    const auto executor = co_await asio::this_coro::executor;
    std::exception_ptr handler_error;
    bool running = true;
    asio::steady_timer handler_done(executor, asio::steady_timer::time_point::max());
    auto on_handler_done = [&](std::exception_ptr e) {
        handler_error = std::move(e);
        running = false;
        handler_done.cancel();
    };
    auto handler_task = route.websocket(req, ws);
    asio::co_spawn(executor, std::move(handler_task), std::move(on_handler_done));
    while (running) co_await handler_done.async_wait(kUseTuple);

    unsigned status = 101;
    if (!ws.handshake_attempted()) {
        // Refused before the upgrade: an ordinary problem+json answer. A handler that returned
        // without accepting met the server's shutdown.
        if (!handler_error) {
            handler_error = std::make_exception_ptr(
                core::Problem::unavailable("The server is shutting down.").with_header("Retry-After", "1"));
        }
        status = co_await refuse(s, req, handler_error);
    } else {
        if (handler_error && !is_cancellation(handler_error)) log_task_exception(handler_error, "websocket");
        co_await ws.finish(handler_error ? CloseCode::internal_error : CloseCode::normal);
        if (!ws.accepted()) status = 400;  // Beast refused the handshake itself (bad key or version)
    }
    s.websocket = nullptr;
    finish_stream(req, route_index, status, start, ws.bytes_written(), "websocket");
}

// The answer to a stream or WebSocket refused before it started; returns its status.
asio::awaitable<unsigned> Server::refuse(Session& s, const Request& req, std::exception_ptr error) {
    auto res = router_.error_response(req, std::move(error));
    res.version(11);
    res.set(beast_http::field::server, "kiln");
    res.set("X-Request-Id", req.request_id);
    res.keep_alive(false);
    res.prepare_payload();
    const unsigned status = res.result_int();
    s.stream.expires_after(config_.write_timeout);
    co_await beast_http::async_write(s.stream, res, kUseTuple);
    co_return status;
}

// A stream or WebSocket has ended: its gauge, its latency and its access-log line (`kind`
// marks which it was).
void Server::finish_stream(const Request& req, std::size_t route_index, unsigned status,
                           std::chrono::steady_clock::time_point start, std::uint64_t bytes, const char* kind) {
    metrics_.stream_closed();
    record(route_index, req.method(), req.path, status, start, bytes, req.request_id, kind);
}

// A request has ended: its latency in /metrics and its access-log line (`kind` marks a stream or
// a WebSocket).
void Server::record(std::size_t route_index, Verb method, std::string_view path, unsigned status,
                    std::chrono::steady_clock::time_point start, std::uint64_t bytes, std::string_view request_id,
                    const char* kind) {
    const auto elapsed = std::chrono::steady_clock::now() - start;
    metrics_.observe(route_index, status, elapsed);
    if (!config_.access_log) return;
    boost::json::object fields{{"method", std::string(beast_http::to_string(method))},
                               {"path", path},
                               {"status", status},
                               {"duration_ms", std::chrono::duration<double, std::milli>(elapsed).count()},
                               {"bytes", bytes}};
    if (kind != nullptr) fields[kind] = true;
    fields["request_id"] = request_id;
    core::log::info("request", fields);
}

asio::awaitable<void> Server::shutdown() {
    draining_.store(true);
    beast::error_code ignored;
    acceptor_.close(ignored);  // NOLINT(bugprone-unused-return-value)
    close_sessions(true);
    const auto deadline = std::chrono::steady_clock::now() + config_.shutdown_grace;
    asio::steady_timer tick(co_await asio::this_coro::executor);
    while (active_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
        tick.expires_after(std::chrono::milliseconds(10));
        co_await tick.async_wait(kUseTuple);
        close_sessions(true);  // sessions that finished a request since are idle now
    }
    if (active_.load() > 0) {
        core::log::warn("shutdown grace period over; closing connections", {{"connections", active_.load()}});
        close_sessions(false);
    }
}

}  // namespace kiln::http
