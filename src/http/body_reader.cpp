#include "http/body_reader.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <string>

#include "core/problem.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;

namespace kiln::http {

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
}

BodyReader::BodyReader(beast::tcp_stream& stream, beast::flat_buffer& buffer, Parser& parser, Options options)
    : stream_(stream), buffer_(buffer), parser_(parser), options_(options) {
    parser_.body_limit(options_.limit);
}

std::optional<std::uint64_t> BodyReader::content_length() const {
    const auto length = parser_.content_length();
    if (!length) return std::nullopt;
    return *length;
}

namespace {
core::Problem too_large(std::size_t limit) {
    return {413, "Content Too Large", "The body exceeds the limit of " + std::to_string(limit) + " bytes."};
}
}  // namespace

void BodyReader::restrict(std::size_t limit) {
    if (started_ || limit >= options_.limit) return;
    options_.limit = limit;
    parser_.body_limit(limit);  // Beast counts it down as the body arrives: nothing has yet
    const auto length = content_length();
    if (length && *length > limit) throw too_large(limit);
}

asio::awaitable<void> BodyReader::send_continue() {
    if (!beast::iequals(parser_.get()[beast_http::field::expect], "100-continue")) co_return;
    beast_http::response<beast_http::empty_body> cont{beast_http::status::continue_, 11};
    stream_.expires_after(options_.stall);
    auto [ec, n] = co_await beast_http::async_write(stream_, cont, kUseTuple);
    if (ec) {
        broken_ = true;
        throw BodyReadError("cannot send 100 Continue: " + ec.message());
    }
}

asio::awaitable<std::size_t> BodyReader::read(std::span<char> out) {
    if (broken_) throw BodyReadError("the request body was cut short");
    if (parser_.is_done() || out.empty()) co_return 0;
    if (!started_) {
        started_ = true;
        // The total deadline starts when the handler asks for the body, not while it authenticates.
        deadline_ = std::chrono::steady_clock::now() + options_.total;
        co_await send_continue();
    }
    auto& body = parser_.get().body();
    while (!parser_.is_done()) {
        body.data = out.data();
        body.size = out.size();
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now());
        stream_.expires_after(std::clamp(left, std::chrono::milliseconds(0), options_.stall));
        auto [ec, n] = co_await beast_http::async_read_some(stream_, buffer_, parser_, kUseTuple);
        const std::size_t got = out.size() - body.size;
        body.data = nullptr;
        if (ec == beast_http::error::body_limit) {
            // The connection cannot be reused (the rest of the body is unread); the 413 is answered.
            throw too_large(options_.limit);
        }
        if (ec && ec != beast_http::error::need_buffer) {
            broken_ = true;
            throw BodyReadError("reading the request body failed: " + ec.message());
        }
        received_ += got;
        if (got > 0) co_return got;
    }
    co_return 0;
}

}  // namespace kiln::http
