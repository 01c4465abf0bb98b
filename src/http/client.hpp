#pragma once
// Outbound HTTP on libcurl's multi interface, driven by Asio: curl's sockets are watched by
// stream_descriptors and its timeouts by a steady_timer of the io_context the client is bound to,
// so a transfer never blocks an I/O thread. One Client per single-threaded io_context.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::http {

// Receives a response body as it arrives. The transfer pauses while write() is awaited, so a
// slow sink slows the download down instead of filling memory.
class BodySink {
public:
    virtual ~BodySink() = default;
    virtual boost::asio::awaitable<void> write(std::string_view data) = 0;
};

// Supplies a request body while it is sent. The transfer pauses while read() is awaited, so a
// source that reads a file on a thread pool slows the upload down instead of blocking the thread.
class BodySource {
public:
    virtual ~BodySource() = default;
    // Fills the span or part of it; 0 at the end.
    virtual boost::asio::awaitable<std::size_t> read(std::span<char> buffer) = 0;
};

struct ClientRequest {
    std::string method = "GET";
    std::string url;  // already encoded; sent as given
    std::vector<std::pair<std::string, std::string>> headers;
    // The request body, pulled while it is sent: fills the span, returns the bytes written, 0 at
    // the end. Runs on the client's thread inside libcurl, so it must not block.
    std::function<std::size_t(std::span<char>)> body;
    std::optional<std::uint64_t> body_size;  // known: Content-Length; unknown: chunked
    // Instead of `body`: a body read ahead while the previous chunk is on the wire (two chunks
    // in memory); an exception from it ends the transfer and is rethrown by perform().
    BodySource* source = nullptr;
    // Without a sink the body is collected into ClientResponse::body, up to max_body bytes.
    BodySink* sink = nullptr;
    std::size_t max_body = std::size_t{1} << 20;
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds timeout{0};  // whole transfer; 0: none
    // Slower than low_speed_limit bytes/s for low_speed_time ends the transfer (stalled peers).
    long low_speed_limit = 1;
    std::chrono::seconds low_speed_time{60};
    // libcurl's SigV4 signing ("aws:amz:<region>:s3") with user_password "key:secret".
    std::string aws_sigv4;
    std::string user_password;
};

struct ClientResponse {
    long status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, values trimmed
    std::string body;                                          // only without a sink
    std::optional<std::string> header(std::string_view name) const;
};

// The transfer failed below HTTP (connect, TLS, timeout, reset): worth retrying. `code` is the CURLcode.
class ClientError : public std::runtime_error {
public:
    ClientError(int code, const std::string& what) : std::runtime_error(what), code(code) {}
    int code;
    bool timed_out() const noexcept;
};

class Client {
public:
    // `ex` must belong to a single-threaded io_context; perform() is called from coroutines on it.
    explicit Client(boost::asio::any_io_executor ex);
    // Ends transfers still running (their perform() throws operation_aborted). Call on the
    // client's thread, or after its io_context has stopped.
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Resolves when the transfer ends, with any HTTP status (a 5xx is a response, not an error).
    // Throws ClientError for transport failures, and operation_aborted when the awaiting
    // coroutine is cancelled or the client destroyed; an exception from the body or the sink
    // ends the transfer and is rethrown.
    boost::asio::awaitable<ClientResponse> perform(ClientRequest request);

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace kiln::http
