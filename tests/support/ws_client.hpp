#pragma once
// Beast's blocking WebSocket client, for tests of WebSocket routes: a read that waits more than
// 5 s fails instead of hanging the test.
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <optional>
#include <string>

namespace kiln::testing {

inline void receive_timeout(boost::asio::ip::tcp::socket& socket, int seconds = 5) {
    timeval tv{.tv_sec = seconds, .tv_usec = 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

class WsClient {
public:
    using tcp = boost::asio::ip::tcp;

    // `receive_buffer` > 0 shrinks the socket's receive buffer (before connecting, so that the
    // window it advertises stays small): a client that stops reading stalls the server sooner.
    WsClient(std::uint16_t port, const std::string& target, int receive_buffer = 0) : ws_(ctx_) {
        auto& socket = ws_.next_layer();
        socket.open(tcp::v4());
        if (receive_buffer > 0) {
            ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
        }
        socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
        receive_timeout(socket);
        ws_.handshake(response_, "127.0.0.1", target);
    }
    const boost::beast::websocket::response_type& response() const { return response_; }
    void write(std::string_view text) {
        ws_.text(true);
        ws_.write(boost::asio::buffer(text));
    }
    void write_binary(std::string_view bytes) {
        ws_.binary(true);
        ws_.write(boost::asio::buffer(bytes));
    }
    // The next message; nullopt when the server closed (close_code() says how) or the read failed.
    std::optional<std::string> read() {
        boost::beast::flat_buffer buffer;
        ws_.read(buffer, error_);
        if (error_) return std::nullopt;
        return boost::beast::buffers_to_string(buffer.data());
    }
    bool closed_by_server() const { return error_ == boost::beast::websocket::error::closed; }
    std::uint16_t close_code() const { return ws_.reason().code; }
    std::string close_reason() const { return {ws_.reason().reason.data(), ws_.reason().reason.size()}; }
    void close() { ws_.close(boost::beast::websocket::close_code::normal); }

private:
    boost::asio::io_context ctx_;
    boost::beast::websocket::stream<tcp::socket> ws_;
    boost::beast::websocket::response_type response_;
    boost::beast::error_code error_;
};

}  // namespace kiln::testing
