#pragma once
// A response body written by its handler as it is produced (a file streamed from the blob
// store), for routes that set `stream_body`: the header first, with its Content-Length, then the
// bytes, each write under the server's write deadline.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

#include "http/request.hpp"

namespace kiln::http {

class ResponseWriter {
public:
    // `decorate` adds what the server puts on every response (Server, X-Request-Id, CORS).
    ResponseWriter(boost::beast::tcp_stream& stream, std::chrono::milliseconds write_timeout,
                   std::function<void(Response&)> decorate);

    // Writes the status line and the header; `head` must carry the Content-Length of what
    // write() will send (its body is ignored). Returns false when the client is gone.
    boost::asio::awaitable<bool> start(Response head);
    // Returns false when the client is gone (or too slow): stop producing.
    boost::asio::awaitable<bool> write(std::string_view data);

    bool started() const noexcept { return started_; }
    bool broken() const noexcept { return broken_; }
    // Every byte the header promised was written.
    bool complete() const noexcept { return started_ && !broken_ && written_ == promised_; }
    unsigned status() const noexcept { return status_; }
    std::uint64_t bytes_written() const noexcept { return written_; }

private:
    boost::beast::tcp_stream& stream_;
    std::chrono::milliseconds write_timeout_;
    std::function<void(Response&)> decorate_;
    bool started_ = false;
    bool broken_ = false;
    unsigned status_ = 0;
    std::uint64_t promised_ = 0;
    std::uint64_t written_ = 0;
};

}  // namespace kiln::http
