#pragma once
// An in-process server (127.0.0.1, a free port) for tests of the server's own routes, and a raw
// blocking client for exact bytes. A test fixture derives from ServerFixture, adds its routes to
// router_ (setting config_ first), then calls start().
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <future>
#include <string>
#include <string_view>

#include "http/server.hpp"
#include "support/ws_client.hpp"

namespace kiln::testing {

// A raw connection with a receive timeout: exact bytes out, whatever arrives in; a missing byte
// fails the test instead of hanging it.
class RawClient {
public:
    using tcp = boost::asio::ip::tcp;

    explicit RawClient(std::uint16_t port) : socket_(ctx_) {
        socket_.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
        receive_timeout(socket_);
    }
    void send(const std::string& text) { boost::asio::write(socket_, boost::asio::buffer(text)); }
    // Reads until `needle` has arrived (after `from`); false on EOF or timeout.
    bool read_until(std::string_view needle, std::size_t from = 0) {
        while (received_.find(needle, from) == std::string::npos) {
            if (!read_some()) return false;
        }
        return true;
    }
    // Reads until the server closes the connection (true) or a read times out (false).
    bool read_to_eof() {
        while (read_some()) {
        }
        return error_ == boost::asio::error::eof;
    }
    // As read_to_eof, and a reset counts as closed too.
    bool read_until_closed() {
        while (read_some()) {
        }
        return error_ == boost::asio::error::eof || error_ == boost::asio::error::connection_reset;
    }
    const std::string& received() const { return received_; }
    void close() {
        boost::system::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);  // NOLINT(bugprone-unused-return-value)
        socket_.close(ignored);                                 // NOLINT(bugprone-unused-return-value)
    }

private:
    bool read_some() {
        std::array<char, 4096> buf{};
        const auto n = socket_.read_some(boost::asio::buffer(buf), error_);
        if (error_) return false;
        received_.append(buf.data(), n);
        return true;
    }

    boost::asio::io_context ctx_;
    tcp::socket socket_;
    std::string received_;
    boost::system::error_code error_;
};

class ServerFixture : public ::testing::Test {
protected:
    ServerFixture() {
        config_.host = "127.0.0.1";
        config_.port = 0;
        config_.access_log = false;
        config_.shutdown_grace = std::chrono::seconds(30);  // streams must end long before this
    }

    // Serves the routes added so far.
    void start() {
        std::vector<std::pair<std::string, std::string>> names;
        for (const auto& r : router_.routes()) names.emplace_back("GET", r.path);
        metrics_.set_routes(std::move(names));
        server_.listen();
        server_.start();
        io_.start();
    }

    void TearDown() override {
        if (!shut_down_) shutdown();
        io_.stop();
        io_.join();
    }

    void shutdown() {
        shut_down_ = true;
        boost::asio::co_spawn(io_.at(0), server_.shutdown(), boost::asio::use_future).get();
    }

    bool handler_ended_within(std::chrono::milliseconds limit) {
        return handler_ended_.get_future().wait_for(limit) == std::future_status::ready;
    }

    // A handler holds one while it runs: its end is what handler_ended_within waits for.
    struct Ended {
        std::promise<void>& p;
        ~Ended() { p.set_value(); }
    };

    core::ServerConfig config_;
    std::promise<void> handler_ended_;
    http::Router router_;
    http::Metrics metrics_;
    http::IoThreads io_{1};
    http::Server server_{config_, router_, metrics_, io_};
    bool shut_down_ = false;
};

}  // namespace kiln::testing
