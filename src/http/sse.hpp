#pragma once
// Server-Sent Events (https://html.spec.whatwg.org/multipage/server-sent-events.html): the
// framing, and the EventStream a stream route's handler writes to.
//
// A route declares `.stream = handler` (see router.hpp). The server runs the handler with the
// request and an EventStream; nothing is written until the handler calls open() or send(), so a
// handler may still refuse the request by throwing core::Problem (answered as problem+json).
// The stream ends when the handler returns, the client disconnects (the server keeps a read
// pending to notice at once) or the server shuts down; in the last two cases the handler's
// pending co_await is cancelled (it completes with operation_aborted, and Subscription::next()
// returns null) and every later send() returns false.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/event_hub.hpp"
#include "http/request.hpp"

namespace kiln::http {

struct SseEvent {
    std::string id;    // empty: no `id:` line
    std::string type;  // empty: no `event:` line (the client's default "message")
    std::string data;  // split into one `data:` line per line (CRLF, CR or LF)
};

// One event as it goes on the wire, ending with the blank line that dispatches it. Throws
// std::invalid_argument when `id` or `type` contains CR, LF (or `id` NUL): they cannot be framed.
std::string format_sse(const SseEvent& event);
std::string format_sse(const Event& event);
// A comment line (`: text`), ignored by clients; used for heartbeats.
std::string format_sse_comment(std::string_view text);
// `retry: ms`: how long the client waits before reconnecting.
std::string format_sse_retry(std::chrono::milliseconds delay);

// The resume point a client sent: the `Last-Event-ID` header, else the `last_event_id` query
// parameter (for EventSource polyfills that cannot set headers).
std::optional<std::string> last_event_id(const Request& req);

class EventStream {
public:
    struct Options {
        std::chrono::milliseconds heartbeat{15000};  // 0: none
        std::chrono::milliseconds write_timeout{30000};
    };

    // `head` is the response header written on open(); the server fills it in.
    EventStream(boost::beast::tcp_stream& stream, Response head, Options options,
                std::optional<std::string> last_event_id);
    ~EventStream();
    EventStream(const EventStream&) = delete;
    EventStream& operator=(const EventStream&) = delete;

    // --- for handlers ---

    // Writes the 200 header (once). send() opens implicitly; call it when there is nothing to
    // send yet so the client sees the stream open. False when the stream has ended.
    boost::asio::awaitable<bool> open();
    // Each writes one frame within the write deadline; false when the stream has ended (the
    // handler should return).
    boost::asio::awaitable<bool> send(SseEvent event);
    boost::asio::awaitable<bool> send(const Event& event) { return write_frame(format_sse(event)); }
    boost::asio::awaitable<bool> comment(std::string_view text) { return write_frame(format_sse_comment(text)); }
    boost::asio::awaitable<bool> retry(std::chrono::milliseconds delay) { return write_frame(format_sse_retry(delay)); }

    // The resume point the client sent (see last_event_id(const Request&)).
    const std::optional<std::string>& last_event_id() const noexcept { return last_event_id_; }
    // The same as an event number; nullopt when absent, 400 Problem when not a non-negative integer.
    std::optional<std::int64_t> last_event_number() const;

    bool is_open() const noexcept { return opened_; }
    bool closed() const noexcept { return closed_; }
    // Where the handler runs: the connection's I/O thread (subscribe to the hub with it).
    boost::asio::any_io_executor get_executor() const { return executor_; }

    // --- for the server ---

    // Ends the stream: cancels the handler's pending operation and the socket's. Idempotent.
    void close();
    // The client is gone or a write failed: no clean end (last chunk) can be written.
    void mark_broken() noexcept { broken_ = true; }
    bool broken() const noexcept { return broken_; }
    std::uint64_t bytes_written() const noexcept { return bytes_; }
    boost::asio::cancellation_slot handler_slot() { return cancel_.slot(); }
    void handler_started() noexcept { handler_running_ = true; }
    void handler_finished() noexcept;
    // Writes `: keep-alive` whenever nothing was written for `heartbeat`; returns once closed.
    boost::asio::awaitable<void> run_heartbeats();
    // Ends the chunked body (writing the header first if the handler never opened the stream),
    // unless the connection is broken.
    boost::asio::awaitable<void> finish();

private:
    boost::asio::awaitable<bool> write_header();
    boost::asio::awaitable<bool> write_frame(std::string text);
    boost::asio::awaitable<bool> write_raw(std::string text, bool last);
    void release_writer();

    boost::beast::tcp_stream& stream_;
    boost::asio::any_io_executor executor_;
    Response head_;
    Options options_;
    std::optional<std::string> last_event_id_;
    boost::asio::cancellation_signal cancel_;
    boost::asio::steady_timer heartbeat_timer_;
    boost::asio::steady_timer writer_free_;  // wakes a writer waiting for the one in flight
    std::chrono::steady_clock::time_point last_write_;
    std::uint64_t bytes_ = 0;
    bool opened_ = false;
    bool closed_ = false;
    bool broken_ = false;
    bool writing_ = false;
    bool finished_ = false;
    bool handler_running_ = false;
};

}  // namespace kiln::http
