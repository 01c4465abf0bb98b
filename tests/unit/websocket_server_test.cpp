// An in-process server (127.0.0.1, a free port) with test-only WebSocket routes, driven by Beast's
// blocking WebSocket client and by a raw socket: the upgrade, refusal before it, 426, the message
// limit (1009), shutdown (1001), keep-alive pings dropping a silent peer, and the bounded queue.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "core/problem.hpp"
#include "http/websocket.hpp"
#include "support/server_fixture.hpp"

namespace kiln::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using namespace std::chrono_literals;
using kiln::testing::RawClient;
using kiln::testing::WsClient;

namespace {

constexpr std::size_t kQueueLimit = 4;
constexpr std::size_t kMessageLimit = 1024;
constexpr int kFloodMessages = 100000;

std::string upgrade(std::string_view target) {
    return "GET " + std::string(target) +
           " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Request-Id: req-ws-1\r\n\r\n";
}

asio::awaitable<void> send_flood(WebSocket* ws, std::atomic<std::size_t>* max_queued, std::atomic<int>* sent) {
    const std::string chunk(std::size_t{64} * 1024, 'x');
    for (int i = 0; i < kFloodMessages; ++i) {
        const bool ok = co_await ws->send(chunk);
        *max_queued = std::max<std::size_t>(*max_queued, ws->queued());
        if (!ok) break;
        ++*sent;
    }
}

template <int HeartbeatMs>
class WebSocketServer : public kiln::testing::ServerFixture {
protected:
    WebSocketServer() {
        config_.stream_heartbeat = std::chrono::milliseconds(HeartbeatMs);
        config_.stream_queue = kQueueLimit;

        // Echoes text as "echo:<text>", answers a binary message with "binary".
        auto echo = [this](Request& req, WebSocket& ws) -> asio::awaitable<void> {
            const Ended ended{handler_ended_};
            if (!co_await ws.accept()) co_return;
            for (;;) {
                auto message = co_await ws.read();
                if (!message) break;
                auto answer = message->binary ? std::string("binary") : "echo:" + message->data;
                if (message->data == "route") answer = std::string(req.route);
                if (!co_await ws.send(std::move(answer))) break;
            }
        };
        auto refuse = [](Request& /*req*/, WebSocket& /*ws*/) -> asio::awaitable<void> {
            throw core::Problem(401, "Unauthorized", "No token.");
            co_return;
        };
        // Sends large messages as fast as the queue takes them, noting how long the queue grew,
        // while the handler reads (pings and close frames are processed by a pending read).
        auto flood = [this](Request& /*req*/, WebSocket& ws) -> asio::awaitable<void> {
            const Ended ended{handler_ended_};
            if (!co_await ws.accept()) co_return;
            asio::steady_timer sender_done(ws.get_executor(), asio::steady_timer::time_point::max());
            bool sending = true;
            auto sender = send_flood(&ws, &max_queued_, &flood_sent_);
            asio::co_spawn(ws.get_executor(), std::move(sender), [&](const std::exception_ptr& /*e*/) {
                sending = false;
                sender_done.cancel();
            });
            for (;;) {
                auto message = co_await ws.read();
                if (!message) break;
            }
            // NOLINTNEXTLINE(bugprone-infinite-loop): the sender's completion handler clears it
            while (sending) co_await sender_done.async_wait(asio::as_tuple(asio::use_awaitable));
        };
        router_.add(
            {.method = Verb::get, .path = "/echo", .summary = "Echo", .websocket = echo, .body_limit = kMessageLimit});
        router_.add({.method = Verb::get, .path = "/refuse", .summary = "Refuse", .websocket = refuse});
        router_.add({.method = Verb::get, .path = "/flood", .summary = "Flood", .websocket = flood});
        start();
    }

    std::atomic<std::size_t> max_queued_{0};
    std::atomic<int> flood_sent_{0};
};

using WebSocketServerTest = WebSocketServer<30000>;
using WebSocketTimeoutTest = WebSocketServer<100>;

TEST_F(WebSocketServerTest, UpgradesAndTalks) {
    WsClient client(server_.port(), "/echo");
    EXPECT_EQ(client.response().result_int(), 101);
    EXPECT_EQ(client.response()[beast::http::field::server], "kiln");
    EXPECT_FALSE(client.response()["X-Request-Id"].empty());
    EXPECT_EQ(metrics_.streams(), 1);
    client.write("hello");
    EXPECT_EQ(client.read(), "echo:hello");
    client.write("route");
    EXPECT_EQ(client.read(), "/echo");
    client.close();
    ASSERT_TRUE(handler_ended_within(5000ms));
}

TEST_F(WebSocketServerTest, RefusalBeforeTheUpgradeIsProblemJson) {
    RawClient client(server_.port());
    client.send(upgrade("/refuse"));
    ASSERT_TRUE(client.read_until_closed());
    const auto& text = client.received();
    EXPECT_TRUE(text.starts_with("HTTP/1.1 401 ")) << text;
    EXPECT_NE(text.find("Content-Type: application/problem+json"), std::string::npos) << text;
    EXPECT_NE(text.find("X-Request-Id: req-ws-1"), std::string::npos) << text;
    EXPECT_EQ(text.find("Sec-WebSocket-Accept"), std::string::npos) << text;
}

TEST_F(WebSocketServerTest, ARequestThatDoesNotUpgradeIs426) {
    RawClient client(server_.port());
    client.send("GET /echo HTTP/1.1\r\nHost: test\r\n\r\n");
    ASSERT_TRUE(client.read_until_closed());
    const auto& text = client.received();
    EXPECT_TRUE(text.starts_with("HTTP/1.1 426 ")) << text;
    EXPECT_NE(text.find("Upgrade: websocket"), std::string::npos) << text;
    EXPECT_NE(text.find("application/problem+json"), std::string::npos) << text;
}

TEST_F(WebSocketServerTest, BinaryMessagesReachTheHandlerMarked) {
    WsClient client(server_.port(), "/echo");
    client.write_binary("x");
    EXPECT_EQ(client.read(), "binary");
    client.write("x");
    EXPECT_EQ(client.read(), "echo:x");
}

TEST_F(WebSocketServerTest, AMessageOverTheLimitClosesWith1009) {
    WsClient client(server_.port(), "/echo");
    client.write(std::string(kMessageLimit + 1, 'y'));
    EXPECT_EQ(client.read(), std::nullopt);
    EXPECT_TRUE(client.closed_by_server());
    EXPECT_EQ(client.close_code(), websocket::close_code::too_big);
    ASSERT_TRUE(handler_ended_within(5000ms));
}

TEST_F(WebSocketServerTest, AMessageAtTheLimitIsRead) {
    WsClient client(server_.port(), "/echo");
    const std::string text(kMessageLimit - 5, 'z');  // "echo:" makes the answer exactly the limit
    client.write(text);
    EXPECT_EQ(client.read(), "echo:" + text);
}

TEST_F(WebSocketServerTest, ShutdownClosesWith1001Promptly) {
    WsClient client(server_.port(), "/echo");
    client.write("ping");
    ASSERT_EQ(client.read(), "echo:ping");
    shut_down_ = true;
    const auto t0 = std::chrono::steady_clock::now();
    auto done = asio::co_spawn(io_.at(0), server_.shutdown(), asio::use_future);
    EXPECT_EQ(client.read(), std::nullopt);
    EXPECT_TRUE(client.closed_by_server());
    EXPECT_EQ(client.close_code(), websocket::close_code::going_away);
    ASSERT_TRUE(handler_ended_within(5000ms));
    ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // the grace period is 30 s: not waited for
    EXPECT_EQ(metrics_.streams(), 0);
    EXPECT_EQ(server_.connections(), 0U);
}

TEST_F(WebSocketTimeoutTest, APeerThatAnswersNoPingIsDropped) {
    RawClient client(server_.port());
    client.send(upgrade("/echo"));
    ASSERT_TRUE(client.read_until("\r\n\r\n"));
    EXPECT_TRUE(client.received().starts_with("HTTP/1.1 101 ")) << client.received();
    const auto head = client.received().size();
    // Nothing more is sent: after one ping (opcode 0x9, FIN set) with no pong, the server hangs up.
    ASSERT_TRUE(client.read_until_closed());
    ASSERT_GT(client.received().size(), head);
    EXPECT_EQ(static_cast<unsigned char>(client.received()[head]), 0x89U);
    ASSERT_TRUE(handler_ended_within(5000ms));
}

TEST_F(WebSocketTimeoutTest, AClientThatStopsReadingHoldsTheSenderAtTheQueueLimit) {
    WsClient client(server_.port(), "/flood");
    // The client never reads: once the socket buffers are full the writer stalls, send() waits
    // with the queue at its limit, and the unanswered pings end the connection.
    ASSERT_TRUE(handler_ended_within(10000ms));
    EXPECT_LE(max_queued_.load(), kQueueLimit);
    EXPECT_GT(flood_sent_.load(), 0);
    EXPECT_LT(flood_sent_.load(), kFloodMessages);
}

}  // namespace

}  // namespace kiln::http
