#pragma once
// WebSocket routes (RFC 6455) on Boost.Beast: the upgrade, and the WebSocket a route's handler
// talks through.
//
// A route declares `.websocket = handler` (see router.hpp). A GET asking to upgrade runs the
// handler with the request and a WebSocket; nothing is answered until the handler calls accept(),
// so it may still refuse by throwing core::Problem (answered as problem+json, no upgrade). A
// request that does not ask to upgrade is answered 426.
//
// After accept() the handler reads messages with read() (one reader) while any of its coroutines
// send(). It keeps a read pending until read() returns nullopt: Beast handles pings, pongs and
// the close handshake inside a pending read, and arms its keep-alive timer when a read starts. A writer coroutine owned
// by the WebSocket drains the outgoing queue, one write in flight (Beast allows one read and one write at once). The
// queue is bounded: send() waits while it is full, so a client that reads slowly slows its producers down (and their
// hub subscriptions lag) instead of growing memory. Beast's keep-alive pings drop a peer that answers nothing, not even
// pongs — also one whose writes are stuck because it stopped reading.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace kiln::http {

// The close codes Kiln sends (RFC 6455 §7.4.1; 1013 from the IANA registry).
enum class CloseCode : std::uint16_t {
    normal = 1000,
    going_away = 1001,       // the server is shutting down
    policy = 1008,           // the client broke a rule of the protocol (e.g. too many subscriptions)
    too_big = 1009,          // a message over the limit (sent by Beast itself)
    internal_error = 1011,   // the handler failed
    try_again_later = 1013,  // the client fell too far behind; reconnect and resume
};

struct WsMessage {
    std::string data;
    bool binary = false;
};

class WebSocket {
public:
    struct Options {
        std::size_t max_message = std::size_t{64} * 1024;  // a larger message closes with 1009
        std::size_t queue_limit = 256;                     // outgoing messages
        // A ping after this long without a frame from the peer; dropped after twice as long.
        // 0: Beast's suggested server timeouts (ping after 150 s, drop after 300 s).
        std::chrono::milliseconds ping_interval{15000};
    };

    // `upgrade` is the client's request; it must outlive the WebSocket.
    WebSocket(boost::beast::tcp_stream& stream,
              const boost::beast::http::request<boost::beast::http::string_body>& upgrade, Options options,
              std::string request_id);
    ~WebSocket();
    WebSocket(const WebSocket&) = delete;
    WebSocket& operator=(const WebSocket&) = delete;

    // --- for handlers ---

    // Answers 101 and starts the writer; false when the handshake failed (Beast answered the
    // client itself) or the server is shutting down.
    boost::asio::awaitable<bool> accept();
    // The next message; nullopt once the connection has ended (closed by either side, a message
    // over the limit, the peer gone or timed out). One reader at a time.
    boost::asio::awaitable<std::optional<WsMessage>> read();
    // Queues a text message, waiting while the queue is full; false when the connection is
    // closing or has ended (or the waiting coroutine was cancelled).
    boost::asio::awaitable<bool> send(std::string text);
    // Drops what is queued and sends a close frame after the write in flight; the peer's reply
    // ends read(). Idempotent: the first code wins.
    void close(CloseCode code, std::string reason = {});

    bool accepted() const noexcept;
    // close() was called, or the connection ended.
    bool closing() const noexcept;
    std::size_t queued() const noexcept;
    // Where the handler runs: the connection's I/O thread (subscribe to the hub with it).
    boost::asio::any_io_executor get_executor() const;

    // --- for the server ---

    // accept() was called: Beast wrote the handshake's answer, so no other answer may follow.
    bool handshake_attempted() const noexcept;
    // After the handler returned: closes with `code` unless closing already, and waits for the
    // close handshake and the writer to end.
    boost::asio::awaitable<void> finish(CloseCode code);
    std::uint64_t bytes_written() const noexcept;

private:
    struct Impl;
    boost::asio::awaitable<void> run_writer();

    std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::http
