// The job-events WebSocket protocol's messages: what a client may send, what the server sends.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "jobs/event_socket.hpp"

namespace kiln::jobs {

namespace {

const auto kJob = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000d1");

SocketCommand command(std::string_view text) {
    auto parsed = parse_socket_command(text);
    EXPECT_TRUE(std::holds_alternative<SocketCommand>(parsed)) << text;
    return std::holds_alternative<SocketCommand>(parsed) ? std::get<SocketCommand>(parsed) : SocketCommand{};
}

SocketError error(std::string_view text) {
    auto parsed = parse_socket_command(text);
    EXPECT_TRUE(std::holds_alternative<SocketError>(parsed)) << text;
    return std::holds_alternative<SocketError>(parsed) ? std::get<SocketError>(parsed) : SocketError{};
}

TEST(SocketCommands, SubscribeToAJobOrTheWorkspace) {
    const auto job = command(R"({"type":"subscribe","job_id":"0190a2b4-0000-7000-8000-0000000000d1"})");
    EXPECT_EQ(job.kind, SocketCommand::Kind::subscribe);
    EXPECT_EQ(job.job, kJob);
    EXPECT_FALSE(job.after);

    const auto all = command(R"({"type":"subscribe","workspace":true,"after":42})");
    EXPECT_FALSE(all.job);
    EXPECT_EQ(all.after, 42);

    const auto zero = command(R"({"type":"subscribe","workspace":true,"after":0})");
    EXPECT_EQ(zero.after, 0);

    const auto off = command(R"({"type":"unsubscribe","job_id":"0190a2b4-0000-7000-8000-0000000000d1"})");
    EXPECT_EQ(off.kind, SocketCommand::Kind::unsubscribe);
    EXPECT_EQ(off.job, kJob);
}

TEST(SocketCommands, MalformedMessagesAreExplained) {
    for (const auto* text : {"", "not json", "[]", "42", R"({"job_id":"x"})", R"({"type":"listen","workspace":true})",
                             R"({"type":7,"workspace":true})"}) {
        const auto e = error(text);
        EXPECT_EQ(e.status, 400) << text;
        EXPECT_FALSE(e.detail.empty()) << text;
    }
    // Exactly one target.
    EXPECT_EQ(error(R"({"type":"subscribe"})").status, 400);
    EXPECT_EQ(error(R"({"type":"subscribe","workspace":true,"job_id":"0190a2b4-0000-7000-8000-0000000000d1"})").status,
              400);
    EXPECT_EQ(error(R"({"type":"subscribe","workspace":false})").status, 400);
    EXPECT_EQ(error(R"({"type":"subscribe","job_id":5})").status, 400);
}

TEST(SocketCommands, AfterMustBeAnEventId) {
    for (const auto* after : {"-1", "1.5", "\"7\"", "null", "18446744073709551615"}) {
        const auto e = error(std::string(R"({"type":"subscribe","workspace":true,"after":)") + after + "}");
        EXPECT_EQ(e.status, 400) << after;
        EXPECT_TRUE(e.workspace) << "the error names the subscription";
    }
}

TEST(SocketCommands, AnIdThatIsNoUuidIsNoSuchJob) {
    const auto e = error(R"({"type":"subscribe","job_id":"../etc/passwd"})");
    EXPECT_EQ(e.status, 404);
    EXPECT_EQ(e.job_id, "../etc/passwd");
}

TEST(SocketMessages, EventCarriesTheSseData) {
    const http::Event e{.id = 7, .job_id = kJob, .type = "job.progress", .data = R"({"percent":40,"q":"a\"b"})"};
    const auto v = boost::json::parse(socket_event(e));
    EXPECT_EQ(v.at("type"), "event");
    EXPECT_EQ(v.at("id"), 7);
    EXPECT_EQ(v.at("event"), "job.progress");
    EXPECT_EQ(v.at("data").at("percent"), 40);
    EXPECT_EQ(v.at("data").at("q"), "a\"b");
}

TEST(SocketMessages, AcksAndErrorsNameTheirTarget) {
    auto v = boost::json::parse(socket_ack("subscribed", kJob));
    EXPECT_EQ(v, boost::json::parse(R"({"type":"subscribed","job_id":"0190a2b4-0000-7000-8000-0000000000d1"})"));
    v = boost::json::parse(socket_ack("unsubscribed", std::nullopt));
    EXPECT_EQ(v, boost::json::parse(R"({"type":"unsubscribed","workspace":true})"));
    v = boost::json::parse(socket_error({.status = 404, .detail = "No such job.", .job_id = "abc"}));
    EXPECT_EQ(v, boost::json::parse(R"({"type":"error","status":404,"detail":"No such job.","job_id":"abc"})"));
    v = boost::json::parse(socket_error({.status = 400, .detail = "Bad."}));
    EXPECT_EQ(v, boost::json::parse(R"({"type":"error","status":400,"detail":"Bad."})"));
}

}  // namespace

}  // namespace kiln::jobs
