#pragma once
// A request body pulled by its handler, chunk by chunk, for routes that set `stream_body`: an
// upload is never held whole in memory, and the handler can refuse (authentication, quota) from
// the header alone before a byte of the body is read.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>

namespace kiln::http {

// The client stalled, went away or sent a malformed body: nothing can be answered on this
// connection any more, and the server closes it.
class BodyReadError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class BodyReader {
public:
    using Parser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;
    struct Options {
        std::size_t limit = 0;               // 413 past this many bytes (chunked bodies too)
        std::chrono::milliseconds stall{0};  // each read must bring bytes within this
        std::chrono::milliseconds total{0};  // the whole body must arrive within this
    };

    // The stream, buffer and parser belong to the connection and outlive the reader.
    BodyReader(boost::beast::tcp_stream& stream, boost::beast::flat_buffer& buffer, Parser& parser, Options options);

    // Fills `out` with the next bytes of the body; 0 at its end. The first call answers
    // `Expect: 100-continue`. Throws a 413 core::Problem past the limit, BodyReadError when the
    // client stalls, disconnects or breaks the framing.
    boost::asio::awaitable<std::size_t> read(std::span<char> out);

    // Lowers the limit (a per-plan file size known only once the caller is authenticated);
    // before the first read. Throws a 413 core::Problem when the declared length is already over.
    void restrict(std::size_t limit);

    bool done() const { return parser_.is_done(); }
    bool broken() const noexcept { return broken_; }
    std::uint64_t received() const noexcept { return received_; }
    std::size_t limit() const noexcept { return options_.limit; }
    // The declared length, when the body is not chunked.
    std::optional<std::uint64_t> content_length() const;

private:
    boost::asio::awaitable<void> send_continue();

    boost::beast::tcp_stream& stream_;
    boost::beast::flat_buffer& buffer_;
    Parser& parser_;
    Options options_;
    std::chrono::steady_clock::time_point deadline_;
    std::uint64_t received_ = 0;
    bool started_ = false;
    bool broken_ = false;
};

}  // namespace kiln::http
