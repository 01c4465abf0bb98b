#include "http/sse.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <stdexcept>

#include "core/problem.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace kiln::http {

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

void append_field(std::string& out, std::string_view name, std::string_view value) {
    out += name;
    out += ": ";
    out += value;
    out += '\n';
}

void check_single_line(std::string_view value, const char* what) {
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
        throw std::invalid_argument(std::string("SSE ") + what + " must be a single line without NUL");
    }
}

}  // namespace

std::string format_sse(const SseEvent& event) {
    check_single_line(event.id, "id");
    check_single_line(event.type, "event type");
    std::string out;
    out.reserve(event.id.size() + event.type.size() + event.data.size() + 32);
    if (!event.id.empty()) append_field(out, "id", event.id);
    if (!event.type.empty()) append_field(out, "event", event.type);
    // Every line terminator the client recognises (CRLF, CR, LF) starts a new data: line.
    std::string_view rest = event.data;
    for (;;) {
        const auto end = rest.find_first_of("\r\n");
        append_field(out, "data", rest.substr(0, end));
        if (end == std::string_view::npos) break;
        const std::size_t skip = rest[end] == '\r' && end + 1 < rest.size() && rest[end + 1] == '\n' ? 2 : 1;
        rest.remove_prefix(end + skip);
    }
    out += '\n';
    return out;
}

std::string format_sse(const Event& event) {
    return format_sse(SseEvent{.id = std::to_string(event.id), .type = event.type, .data = event.data});
}

std::string format_sse_comment(std::string_view text) {
    std::string out;
    std::string_view rest = text;
    for (;;) {
        const auto end = rest.find_first_of("\r\n");
        out += ": ";
        out += rest.substr(0, end);
        out += '\n';
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end + 1);
    }
    out += '\n';
    return out;
}

std::string format_sse_retry(std::chrono::milliseconds delay) {
    return "retry: " + std::to_string(std::max<std::int64_t>(0, delay.count())) + "\n\n";
}

std::optional<std::string> last_event_id(const Request& req) {
    const auto header = req.header_value("Last-Event-ID");
    if (!header.empty()) return std::string(header);
    auto query = req.query_param("last_event_id");
    if (query && !query->empty()) return query;
    return std::nullopt;
}

EventStream::EventStream(beast::tcp_stream& stream, Response head, Options options,
                         std::optional<std::string> last_event_id)
    : stream_(stream),
      executor_(stream.get_executor()),
      head_(std::move(head)),
      options_(options),
      last_event_id_(std::move(last_event_id)),
      heartbeat_timer_(executor_),
      writer_free_(executor_),
      last_write_(std::chrono::steady_clock::now()) {}

EventStream::~EventStream() = default;

std::optional<std::int64_t> EventStream::last_event_number() const {
    if (!last_event_id_) return std::nullopt;
    const auto& text = *last_event_id_;
    std::int64_t value = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || value < 0) {
        throw core::Problem::bad_request("Last-Event-ID must be a non-negative integer event id.");
    }
    return value;
}

void EventStream::close() {
    if (closed_) return;
    closed_ = true;
    // The handler's pending co_await completes with operation_aborted; later ones throw.
    if (handler_running_) cancel_.emit(asio::cancellation_type::terminal);
    heartbeat_timer_.cancel();
    writer_free_.cancel();
    beast::error_code ignored;
    stream_.socket().cancel(ignored);  // NOLINT(bugprone-unused-return-value): the pending read, a write
}

void EventStream::handler_finished() noexcept {
    handler_running_ = false;
    cancel_.slot().clear();
}

void EventStream::release_writer() {
    writing_ = false;
    writer_free_.cancel();
}

asio::awaitable<bool> EventStream::open() {
    if (opened_) co_return !closed_;
    if (closed_) co_return false;
    const bool ok = co_await write_header();
    co_return ok && !closed_;
}

asio::awaitable<bool> EventStream::write_header() {
    opened_ = true;
    writing_ = true;  // heartbeats start only once opened_; nothing else writes before
    beast_http::response_serializer<beast_http::string_body> serializer(head_);
    stream_.expires_after(options_.write_timeout);
    auto result = co_await beast_http::async_write_header(stream_, serializer, kUseTuple);
    release_writer();
    if (std::get<0>(result)) {
        broken_ = true;
        close();
        co_return false;
    }
    bytes_ += std::get<1>(result);
    last_write_ = std::chrono::steady_clock::now();
    co_return true;
}

asio::awaitable<bool> EventStream::send(SseEvent event) {
    auto text = format_sse(event);
    co_return co_await write_frame(std::move(text));
}

asio::awaitable<bool> EventStream::write_frame(std::string text) {
    if (!opened_) {
        const bool ok = co_await open();
        if (!ok) co_return false;
    }
    const bool ok = co_await write_raw(std::move(text), false);
    co_return ok;
}

// One write in flight at a time (handler frames and heartbeats share the socket).
asio::awaitable<bool> EventStream::write_raw(std::string text, bool last) {
    while (writing_) {
        if (closed_ && !last) co_return false;
        writer_free_.expires_at(asio::steady_timer::time_point::max());
        co_await writer_free_.async_wait(kUseTuple);
    }
    if (closed_ && !last) co_return false;
    writing_ = true;
    stream_.expires_after(options_.write_timeout);
    beast::error_code ec;
    std::size_t n = 0;
    if (last) {
        auto chunk = beast_http::make_chunk_last();
        std::tie(ec, n) = co_await asio::async_write(stream_, chunk, kUseTuple);
    } else {
        auto chunk = beast_http::make_chunk(asio::buffer(text));
        std::tie(ec, n) = co_await asio::async_write(stream_, chunk, kUseTuple);
    }
    release_writer();
    if (ec) {
        broken_ = true;
        close();
        co_return false;
    }
    bytes_ += n;
    last_write_ = std::chrono::steady_clock::now();
    co_return true;
}

asio::awaitable<void> EventStream::run_heartbeats() {
    const auto interval = options_.heartbeat;
    if (interval.count() <= 0) co_return;
    while (!closed_) {
        auto wait = std::chrono::steady_clock::duration(interval);
        if (opened_ && !writing_) wait = last_write_ + interval - std::chrono::steady_clock::now();
        heartbeat_timer_.expires_after(wait);
        co_await heartbeat_timer_.async_wait(kUseTuple);
        if (closed_) break;
        if (!opened_ || writing_) continue;
        if (std::chrono::steady_clock::now() - last_write_ >= interval) {
            co_await write_raw(format_sse_comment("keep-alive"), false);
        }
    }
}

asio::awaitable<void> EventStream::finish() {
    if (broken_ || finished_) co_return;
    finished_ = true;
    if (!opened_) {
        const bool ok = co_await write_header();  // the handler returned without a word
        if (!ok) co_return;
    }
    co_await write_raw({}, true);
}

}  // namespace kiln::http
