// Routes that pull their body (stream_body): chunks as they arrive, Content-Length and chunked
// bodies, the limit (413, chunked too), Expect: 100-continue answered only when the handler
// reads, a refusal before reading, a stalled body, and keep-alive after a body read to its end.
#include <gtest/gtest.h>

#include <array>

#include "core/problem.hpp"
#include "http/body_reader.hpp"
#include "support/server_fixture.hpp"

namespace kiln::http {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using Client = kiln::testing::RawClient;

std::string post(std::string_view target, std::string_view headers, std::string_view body = {}) {
    return "POST " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(headers) + "\r\n" +
           std::string(body);
}

class UploadServerTest : public kiln::testing::ServerFixture {
protected:
    // `stall`: the longest wait for the next bytes; `total`: for the whole body.
    explicit UploadServerTest(std::chrono::milliseconds stall = 200ms, std::chrono::milliseconds total = 1h) {
        config_.read_timeout = stall;
        config_.upload_timeout = total;
        // Echoes the body with the sizes of the pieces it came in (7-byte reads).
        auto echo = [](Request& req) -> asio::awaitable<Response> {
            std::string body;
            std::array<char, 7> chunk{};
            for (;;) {
                const auto n = co_await req.body_reader->read(chunk);
                if (n == 0) break;
                body.append(chunk.data(), n);
            }
            co_return text_response(200, body + "|" + std::to_string(req.body_reader->received()), "text/plain");
        };
        auto refuse = [](Request& /*req*/) -> asio::awaitable<Response> {
            throw core::Problem(401, "Unauthorized", "No token.");
            co_return Response{};
        };
        auto restricted = [echo](Request& req) -> asio::awaitable<Response> {
            req.body_reader->restrict(5);
            co_return co_await echo(req);
        };
        auto stalled = [this, echo](Request& req) -> asio::awaitable<Response> {
            const Ended ended{handler_ended_};
            co_return co_await echo(req);
        };
        router_.add({.method = Verb::post, .path = "/echo", .handler = echo, .body_limit = 20, .stream_body = true});
        router_.add({.method = Verb::post, .path = "/refuse", .handler = refuse, .stream_body = true});
        router_.add({.method = Verb::post, .path = "/restricted", .handler = restricted, .stream_body = true});
        router_.add({.method = Verb::post, .path = "/stalled", .handler = stalled, .stream_body = true});
        start();
    }
};

TEST_F(UploadServerTest, ContentLengthBodyInPiecesThenKeepAlive) {
    Client client(server_.port());
    client.send(post("/echo", "Content-Length: 16\r\n", "0123456789abcdef"));
    ASSERT_TRUE(client.read_until("0123456789abcdef|16")) << client.received();
    EXPECT_TRUE(client.received().starts_with("HTTP/1.1 200 OK\r\n"));
    EXPECT_EQ(client.received().find("Connection: close"), std::string::npos);
    const auto mark = client.received().size();
    client.send(post("/echo", "Content-Length: 2\r\n", "hi"));
    ASSERT_TRUE(client.read_until("hi|2", mark)) << client.received();
}

TEST_F(UploadServerTest, ChunkedBody) {
    Client client(server_.port());
    client.send(post("/echo", "Transfer-Encoding: chunked\r\n", "3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n"));
    ASSERT_TRUE(client.read_until("abc0123456789|13")) << client.received();
}

TEST_F(UploadServerTest, LimitByContentLengthWithoutContinue) {
    Client client(server_.port());
    client.send(post("/echo", "Content-Length: 21\r\nExpect: 100-continue\r\n"));
    ASSERT_TRUE(client.read_to_eof());
    EXPECT_TRUE(client.received().starts_with("HTTP/1.1 413 ")) << client.received();
    EXPECT_EQ(client.received().find("100 Continue"), std::string::npos);
}

TEST_F(UploadServerTest, LimitWhileReadingChunked) {
    Client client(server_.port());
    client.send(post("/echo", "Transfer-Encoding: chunked\r\n", "A\r\n0123456789\r\nA\r\n0123456789\r\n1\r\nx\r\n"));
    ASSERT_TRUE(client.read_until_closed());
    EXPECT_TRUE(client.received().starts_with("HTTP/1.1 413 ")) << client.received();
    EXPECT_NE(client.received().find("limit of 20 bytes"), std::string::npos);
}

TEST_F(UploadServerTest, ContinueOnlyWhenTheHandlerReads) {
    Client client(server_.port());
    client.send(post("/echo", "Content-Length: 3\r\nExpect: 100-continue\r\n"));
    ASSERT_TRUE(client.read_until("HTTP/1.1 100 Continue\r\n\r\n"));
    client.send("abc");
    ASSERT_TRUE(client.read_until("abc|3")) << client.received();

    Client refused(server_.port());
    refused.send(post("/refuse", "Content-Length: 3\r\nExpect: 100-continue\r\n"));
    ASSERT_TRUE(refused.read_to_eof());
    EXPECT_TRUE(refused.received().starts_with("HTTP/1.1 401 Unauthorized\r\n")) << refused.received();
    EXPECT_NE(refused.received().find("Connection: close"), std::string::npos);  // the body is left unread
}

TEST_F(UploadServerTest, RestrictedByTheHandler) {
    Client client(server_.port());
    client.send(post("/restricted", "Content-Length: 6\r\n", "abcdef"));
    ASSERT_TRUE(client.read_until_closed());
    EXPECT_TRUE(client.received().starts_with("HTTP/1.1 413 ")) << client.received();

    Client chunked(server_.port());
    chunked.send(post("/restricted", "Transfer-Encoding: chunked\r\n", "6\r\nabcdef\r\n0\r\n\r\n"));
    ASSERT_TRUE(chunked.read_until_closed());
    EXPECT_TRUE(chunked.received().starts_with("HTTP/1.1 413 ")) << chunked.received();

    Client fits(server_.port());
    fits.send(post("/restricted", "Content-Length: 5\r\n", "abcde"));
    ASSERT_TRUE(fits.read_until("abcde|5")) << fits.received();
}

TEST_F(UploadServerTest, StalledBodyClosesWithoutAnswer) {
    Client client(server_.port());
    client.send(post("/stalled", "Content-Length: 10\r\n", "abc"));
    ASSERT_TRUE(client.read_until_closed());
    EXPECT_EQ(client.received(), "");
    EXPECT_TRUE(handler_ended_within(5s));
}

// Bytes that keep the per-read deadline (long here) happy do not stretch the whole-body one.
class UploadDeadlineTest : public UploadServerTest {
protected:
    UploadDeadlineTest() : UploadServerTest(30s, 200ms) {}
};

TEST_F(UploadDeadlineTest, TheWholeBodyHasADeadline) {
    Client client(server_.port());
    client.send(post("/stalled", "Content-Length: 10\r\n", "abc"));
    ASSERT_TRUE(client.read_until_closed()) << "still open long after the upload deadline";
    EXPECT_EQ(client.received(), "");
    EXPECT_TRUE(handler_ended_within(5s));
}

}  // namespace

}  // namespace kiln::http
