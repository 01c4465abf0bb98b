#include "http/websocket.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <deque>

#include "core/log.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace kiln::http {

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// A close frame's payload is at most 125 bytes, two of them the code.
constexpr std::size_t kMaxReason = 123;

}  // namespace

// Everything lives on the connection's I/O thread: no locks. The timers are never re-armed (they
// expire at time_point::max()); cancel() wakes every coroutine waiting on one, and each looks at
// the state again, so a wake-up is never lost and waiters never cancel each other.
struct WebSocket::Impl {
    Impl(beast::tcp_stream& stream, const beast::http::request<beast::http::string_body>& request, Options opts,
         std::string id)
        : ws(stream),
          upgrade(request),
          options(opts),
          request_id(std::move(id)),
          executor(stream.get_executor()),
          wake(executor, asio::steady_timer::time_point::max()),
          room(executor, asio::steady_timer::time_point::max()),
          writer_done(executor, asio::steady_timer::time_point::max()) {}

    void wake_all() {
        wake.cancel();
        room.cancel();
    }

    websocket::stream<beast::tcp_stream&> ws;
    const beast::http::request<beast::http::string_body>& upgrade;
    const Options options;
    const std::string request_id;
    asio::any_io_executor executor;
    std::deque<std::string> queue;
    asio::steady_timer wake;  // the writer waits for a message or a close request
    asio::steady_timer room;  // senders wait while the queue is full
    asio::steady_timer writer_done;
    std::optional<websocket::close_reason> close_request;
    std::uint64_t bytes = 0;
    bool attempted = false;
    bool accepted = false;
    bool ended = false;  // the transport is done: nothing more can be read or written
    bool writer_running = false;
};

WebSocket::WebSocket(beast::tcp_stream& stream, const beast::http::request<beast::http::string_body>& upgrade,
                     Options options, std::string request_id)
    : impl_(std::make_unique<Impl>(stream, upgrade, options, std::move(request_id))) {}

WebSocket::~WebSocket() = default;

bool WebSocket::accepted() const noexcept {
    return impl_->accepted;
}

bool WebSocket::closing() const noexcept {
    return impl_->ended || impl_->close_request.has_value();
}

std::size_t WebSocket::queued() const noexcept {
    return impl_->queue.size();
}

asio::any_io_executor WebSocket::get_executor() const {
    return impl_->executor;
}

bool WebSocket::handshake_attempted() const noexcept {
    return impl_->attempted;
}

std::uint64_t WebSocket::bytes_written() const noexcept {
    return impl_->bytes;
}

asio::awaitable<bool> WebSocket::accept() {
    auto& m = *impl_;
    if (m.attempted) co_return m.accepted && !m.ended;
    if (m.close_request) co_return false;  // the server began shutting down before the handler got here
    m.attempted = true;
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    if (m.options.ping_interval.count() > 0) timeouts.idle_timeout = 2 * m.options.ping_interval;
    m.ws.set_option(timeouts);
    m.ws.set_option(websocket::stream_base::decorator([id = m.request_id](websocket::response_type& res) {
        res.set(beast::http::field::server, "kiln");
        res.set("X-Request-Id", id);
    }));
    m.ws.read_message_max(m.options.max_message);
    auto [ec] = co_await m.ws.async_accept(m.upgrade, kUseTuple);
    if (ec) {
        m.ended = true;
        co_return false;
    }
    m.accepted = true;
    m.writer_running = true;
    auto on_writer_done = [&m](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                core::log::error("websocket writer failed", {{"error", ex.what()}, {"request_id", m.request_id}});
            }
        }
        m.writer_running = false;
        m.ended = true;
        m.writer_done.cancel();
        m.room.cancel();
    };
    asio::co_spawn(m.executor, run_writer(), std::move(on_writer_done));
    co_return true;
}

asio::awaitable<void> WebSocket::run_writer() {
    auto& m = *impl_;
    while (!m.ended) {
        if (m.close_request) {
            // Not when the peer's close or a failed read (1009, protocol error) already closed it.
            if (m.ws.is_open()) co_await m.ws.async_close(*m.close_request, kUseTuple);
            break;
        }
        if (m.queue.empty()) {
            co_await m.wake.async_wait(kUseTuple);
            continue;
        }
        std::string text = std::move(m.queue.front());
        m.queue.pop_front();
        m.room.cancel();
        m.ws.text(true);
        beast::error_code ec;
        std::size_t n = 0;
        std::tie(ec, n) = co_await m.ws.async_write(asio::buffer(text), kUseTuple);
        if (ec) break;
        m.bytes += n;
    }
    m.queue.clear();
}

asio::awaitable<std::optional<WsMessage>> WebSocket::read() {
    auto& m = *impl_;
    if (!m.accepted || m.ended) co_return std::nullopt;
    beast::flat_buffer buffer;
    beast::error_code ec;
    std::tie(ec, std::ignore) = co_await m.ws.async_read(buffer, kUseTuple);
    if (ec) {
        // Closed by either side (Beast answered the peer's close and tore the connection down),
        // over the size limit (Beast sent 1009), a protocol error, the peer gone or timed out.
        m.ended = true;
        m.wake_all();
        co_return std::nullopt;
    }
    co_return WsMessage{beast::buffers_to_string(buffer.data()), !m.ws.got_text()};
}

asio::awaitable<bool> WebSocket::send(std::string text) {
    auto& m = *impl_;
    for (;;) {
        if (!m.accepted || m.ended || m.close_request) co_return false;
        if (m.queue.size() < m.options.queue_limit) break;
        co_await m.room.async_wait(kUseTuple);
        const auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) co_return false;
    }
    m.queue.push_back(std::move(text));
    m.wake.cancel();
    co_return true;
}

void WebSocket::close(CloseCode code, std::string reason) {
    auto& m = *impl_;
    if (m.close_request || m.ended) return;
    if (reason.size() > kMaxReason) reason.resize(kMaxReason);
    m.close_request.emplace(static_cast<websocket::close_code>(code), reason);
    m.queue.clear();
    m.wake_all();
}

asio::awaitable<void> WebSocket::finish(CloseCode code) {
    auto& m = *impl_;
    if (!m.accepted) co_return;
    close(code);
    while (m.writer_running) co_await m.writer_done.async_wait(kUseTuple);
}

}  // namespace kiln::http
