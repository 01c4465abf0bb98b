// A kiln_job_events notification carries one statement's events as a JSON array; the relay
// passes on the well-formed ones.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "jobs/events.hpp"

namespace kiln::jobs {
namespace {

constexpr std::string_view kWorkspace = "0190a2b4-0000-7000-8000-0000000000c2";
constexpr std::string_view kJob = "0190a2b4-0000-7000-8000-0000000000d1";

std::string event(int id, std::string_view type) {
    return fmt::format(R"({{"workspace_id":"{}","id":{},"type":"{}","data":{{"job_id":"{}","state":"running"}}}})",
                       kWorkspace, id, type, kJob);
}

TEST(JobNotification, EveryEventOfTheArrayIsRelayedInOrder) {
    const auto payload = "[" + event(7, "job.running") + "," + event(8, "job.progress") + "]";
    const auto events = events_of_notification(payload);
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[0].id, 7);
    EXPECT_EQ(events[0].type, "job.running");
    EXPECT_EQ(events[0].workspace_id.str(), kWorkspace);
    ASSERT_TRUE(events[0].job_id.has_value());
    EXPECT_EQ(events[0].job_id->str(), kJob);
    EXPECT_EQ(events[1].id, 8);
    EXPECT_EQ(events[1].data, R"({"job_id":"0190a2b4-0000-7000-8000-0000000000d1","state":"running"})");
}

TEST(JobNotification, MalformedEventsAreLeftOutAndTheRestKept) {
    const auto payload = "[" + event(1, "job.running") +
                         R"(,{"id":2},{"workspace_id":"nope","id":3,"type":"t","data":{}},)" +
                         event(4, "job.succeeded") + "]";
    const auto events = events_of_notification(payload);
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[0].id, 1);
    EXPECT_EQ(events[1].id, 4);
}

TEST(JobNotification, APayloadThatIsNotAnArrayYieldsNothing) {
    EXPECT_TRUE(events_of_notification("").empty());
    EXPECT_TRUE(events_of_notification("{").empty());
    EXPECT_TRUE(events_of_notification(event(1, "job.running")).empty());
}

}  // namespace
}  // namespace kiln::jobs
