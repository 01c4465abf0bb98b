// An in-process server (127.0.0.1, a free port) with test-only stream routes, driven by a raw
// blocking socket: headers, framing, heartbeats, Last-Event-ID, disconnect and shutdown.
#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "http/event_hub.hpp"
#include "http/sse.hpp"
#include "support/server_fixture.hpp"

namespace kiln::http {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using Client = kiln::testing::RawClient;

std::string get(std::string_view target, std::string_view extra_headers = {}) {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\nX-Request-Id: req-sse-1\r\n" +
           std::string(extra_headers) + "\r\n";
}

class StreamServerTest : public kiln::testing::ServerFixture {
protected:
    StreamServerTest() {
        config_.stream_heartbeat = 50ms;

        // Subscribes, greets with the resume point (so the client knows it is subscribed), then
        // relays the workspace's events until the stream ends.
        auto relay = [this](Request& req, EventStream& stream) -> asio::awaitable<void> {
            const Ended ended{handler_ended_};
            auto sub = hub_.subscribe(stream.get_executor(), {.workspace_id = workspace_});
            const auto resume = stream.last_event_number();
            SseEvent hello{
                .type = "hello",
                .data = "resume=" + (resume ? std::to_string(*resume) : "none") + "\nroute=" + std::string(req.route)};
            if (!co_await stream.send(std::move(hello))) co_return;
            for (;;) {
                auto event = co_await sub.next();
                if (!event) break;
                const bool sent = co_await stream.send(*event);
                if (!sent) break;
            }
        };
        auto refuse = [](Request& /*req*/, EventStream& /*stream*/) -> asio::awaitable<void> {
            throw core::Problem(401, "Unauthorized", "No ticket.");
            co_return;
        };
        auto once = [](Request& /*req*/, EventStream& stream) -> asio::awaitable<void> {
            SseEvent event{.id = "1", .type = "only", .data = "bye"};  // named: g++ 12 and co_await temporaries
            co_await stream.send(std::move(event));
        };
        router_.add({.method = Verb::get, .path = "/events", .summary = "Relay", .stream = relay});
        router_.add({.method = Verb::get, .path = "/refuse", .summary = "Refuse", .stream = refuse});
        router_.add({.method = Verb::get, .path = "/once", .summary = "Once", .stream = once});
        start();
    }

    EventHub hub_{16};
    core::Uuid workspace_ = core::Uuid::v7();
};

TEST_F(StreamServerTest, HeadersFramingAndLastEventId) {
    Client client(server_.port());
    client.send(get("/events", "Last-Event-ID: 41\r\n"));
    ASSERT_TRUE(client.read_until("\r\n\r\n"));
    const auto& head = client.received();
    EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
    EXPECT_NE(head.find("Content-Type: text/event-stream\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("Cache-Control: no-store\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("X-Accel-Buffering: no\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("X-Request-Id: req-sse-1\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << head;

    ASSERT_TRUE(client.read_until("event: hello\ndata: resume=41\ndata: route=/events\n\n")) << client.received();
    EXPECT_EQ(metrics_.streams(), 1);
    const auto mark = client.received().size();
    hub_.publish(Event{.id = 42, .workspace_id = workspace_, .type = "job.progress", .data = "{\"pct\":5}"});
    hub_.publish(Event{.id = 43, .workspace_id = core::Uuid::v7(), .type = "other.workspace", .data = "{}"});
    hub_.publish(Event{.id = 44, .workspace_id = workspace_, .type = "job.done", .data = "line1\nline2"});
    ASSERT_TRUE(client.read_until("id: 44\nevent: job.done\ndata: line1\ndata: line2\n\n", mark)) << client.received();
    EXPECT_NE(client.received().find("id: 42\nevent: job.progress\ndata: {\"pct\":5}\n\n", mark), std::string::npos);
    EXPECT_EQ(client.received().find("other.workspace"), std::string::npos);
    EXPECT_EQ(metrics_.in_flight(), 0);  // a stream is not a request in flight
}

TEST_F(StreamServerTest, QueryParameterIsTheLastEventIdFallback) {
    Client client(server_.port());
    client.send(get("/events?last_event_id=7"));
    ASSERT_TRUE(client.read_until("data: resume=7\n")) << client.received();
}

TEST_F(StreamServerTest, MalformedLastEventIdIsRefusedBeforeTheStreamOpens) {
    Client client(server_.port());
    client.send(get("/events", "Last-Event-ID: seven\r\n"));
    ASSERT_TRUE(client.read_to_eof());
    EXPECT_TRUE(client.received().starts_with("HTTP/1.1 400 ")) << client.received();
    EXPECT_NE(client.received().find("application/problem+json"), std::string::npos);
}

TEST_F(StreamServerTest, HeartbeatsWhileIdle) {
    Client client(server_.port());
    client.send(get("/events"));
    ASSERT_TRUE(client.read_until("event: hello"));
    const auto mark = client.received().size();
    ASSERT_TRUE(client.read_until(": keep-alive\n\n", mark)) << client.received();
}

TEST_F(StreamServerTest, ClientDisconnectEndsTheHandler) {
    {
        Client client(server_.port());
        client.send(get("/events"));
        ASSERT_TRUE(client.read_until("event: hello"));
        EXPECT_EQ(hub_.subscribers(), 1U);
        client.close();
    }
    ASSERT_TRUE(handler_ended_within(5000ms));
    EXPECT_EQ(hub_.subscribers(), 0U);
}

TEST_F(StreamServerTest, RefusalBeforeOpeningIsProblemJson) {
    Client client(server_.port());
    client.send(get("/refuse"));
    ASSERT_TRUE(client.read_to_eof());
    const auto& text = client.received();
    EXPECT_TRUE(text.starts_with("HTTP/1.1 401 ")) << text;
    EXPECT_NE(text.find("Content-Type: application/problem+json"), std::string::npos) << text;
    EXPECT_NE(text.find("X-Request-Id: req-sse-1"), std::string::npos) << text;
    EXPECT_EQ(text.find("text/event-stream"), std::string::npos) << text;
}

TEST_F(StreamServerTest, HandlerReturningEndsTheBodyCleanly) {
    Client client(server_.port());
    client.send(get("/once"));
    ASSERT_TRUE(client.read_to_eof());
    const auto& text = client.received();
    EXPECT_NE(text.find("id: 1\nevent: only\ndata: bye\n\n"), std::string::npos) << text;
    EXPECT_TRUE(text.ends_with("\r\n0\r\n\r\n")) << text;  // the last chunk, then close
}

TEST_F(StreamServerTest, GracefulShutdownEndsStreamsPromptly) {
    Client client(server_.port());
    client.send(get("/events"));
    ASSERT_TRUE(client.read_until("event: hello"));
    shut_down_ = true;
    const auto t0 = std::chrono::steady_clock::now();
    auto done = asio::co_spawn(io_.at(0), server_.shutdown(), asio::use_future);
    ASSERT_TRUE(handler_ended_within(5000ms));
    ASSERT_TRUE(client.read_to_eof());
    EXPECT_TRUE(client.received().ends_with("0\r\n\r\n")) << client.received();
    client.close();  // the server lingers until the client closes too
    ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // the grace period is 30 s: not waited for
    EXPECT_EQ(metrics_.streams(), 0);
    EXPECT_EQ(server_.connections(), 0U);
}

}  // namespace

}  // namespace kiln::http
