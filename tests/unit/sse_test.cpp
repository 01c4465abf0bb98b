#include "http/sse.hpp"

#include <gtest/gtest.h>

#include "http/openapi.hpp"
#include "http/router.hpp"

namespace kiln::http {

namespace {

TEST(SseFormat, IdTypeAndData) {
    EXPECT_EQ(format_sse(SseEvent{.id = "7", .type = "job.progress", .data = R"({"pct":50})"}),
              "id: 7\nevent: job.progress\ndata: {\"pct\":50}\n\n");
}

TEST(SseFormat, OmitsEmptyIdAndType) {
    EXPECT_EQ(format_sse(SseEvent{.data = "x"}), "data: x\n\n");
}

TEST(SseFormat, SplitsEveryLineTerminator) {
    EXPECT_EQ(format_sse(SseEvent{.data = "a\nb\r\nc\rd"}), "data: a\ndata: b\ndata: c\ndata: d\n\n");
    // A trailing newline is a last, empty line (the client keeps it).
    EXPECT_EQ(format_sse(SseEvent{.data = "a\n"}), "data: a\ndata: \n\n");
    EXPECT_EQ(format_sse(SseEvent{.data = "\r\n\r\n"}), "data: \ndata: \ndata: \n\n");
    EXPECT_EQ(format_sse(SseEvent{.data = ""}), "data: \n\n");
}

TEST(SseFormat, KeepsLeadingSpacesAndColons) {
    // The client strips exactly one space after "data:": ours, so the data's own survive.
    EXPECT_EQ(format_sse(SseEvent{.data = "  indented: yes"}), "data:   indented: yes\n\n");
}

TEST(SseFormat, RefusesMultiLineIdOrType) {
    EXPECT_THROW(format_sse(SseEvent{.id = "1\n2", .data = "x"}), std::invalid_argument);
    EXPECT_THROW(format_sse(SseEvent{.type = "a\rb", .data = "x"}), std::invalid_argument);
    EXPECT_THROW(format_sse(SseEvent{.id = std::string("1\0", 2), .data = "x"}), std::invalid_argument);
}

TEST(SseFormat, HubEvent) {
    Event e{.id = 42, .type = "job.done", .data = "{}"};
    EXPECT_EQ(format_sse(e), "id: 42\nevent: job.done\ndata: {}\n\n");
}

TEST(SseFormat, CommentAndRetry) {
    EXPECT_EQ(format_sse_comment("keep-alive"), ": keep-alive\n\n");
    EXPECT_EQ(format_sse_comment("a\nb"), ": a\n: b\n\n");
    EXPECT_EQ(format_sse_retry(std::chrono::milliseconds(2500)), "retry: 2500\n\n");
}

TEST(SseLastEventId, HeaderThenQueryParameter) {
    Header header;
    Request req(header, {});
    EXPECT_EQ(last_event_id(req), std::nullopt);
    req.query = "last_event_id=17&x=1";
    EXPECT_EQ(last_event_id(req), "17");
    header.set("Last-Event-ID", "23");
    EXPECT_EQ(last_event_id(req), "23");
}

TEST(SseRoute, OpenApiDocumentsEventStream) {
    Router router;
    auto handler = [](Request& /*req*/, EventStream& /*stream*/) -> boost::asio::awaitable<void> { co_return; };
    router.add({.method = Verb::get, .path = "/events", .summary = "Live events", .stream = handler});
    ASSERT_TRUE(router.routes().front().stream);
    const auto doc = openapi_document(router, "Test", "1");
    const auto& get = doc.at("paths").at("/events").at("get");
    EXPECT_TRUE(get.at("responses").at("200").at("content").as_object().contains("text/event-stream"));
}

}  // namespace

}  // namespace kiln::http
