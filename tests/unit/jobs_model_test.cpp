// Enqueue requests are checked field by field before they reach the database.
#include <gtest/gtest.h>

#include "jobs/model.hpp"

namespace kiln::jobs {
namespace {

std::vector<std::string> invalid_fields(const EnqueueRequest& r) {
    core::Validator v;
    r.validate(v);
    try {
        v.throw_if_failed();
    } catch (const core::Problem& p) {
        std::vector<std::string> out;
        for (const auto& e : p.errors()) out.push_back(e.field);
        return out;
    }
    return {};
}

TEST(JobsModel, KindsAreDottedLowercaseNames) {
    for (const char* good : {"system.sleep", "images.resize_v2", "a.b.c", "x1.y_2"}) {
        EnqueueRequest r;
        r.kind = good;
        EXPECT_TRUE(invalid_fields(r).empty()) << good;
    }
    for (const char* bad : {"", "nope", "System.sleep", "system.", ".sleep", "system..sleep", "system.Sleep", "1x.y",
                            "system.sl-eep", "system sleep"}) {
        EnqueueRequest r;
        r.kind = bad;
        EXPECT_EQ(invalid_fields(r), std::vector<std::string>{"kind"}) << bad;
    }
}

TEST(JobsModel, QueuesPrioritiesAndAttemptsHaveBounds) {
    EnqueueRequest r;
    r.kind = "system.sleep";
    r.queue = "bulk-imports_2";
    r.priority = 4;
    r.max_attempts = 100;
    EXPECT_TRUE(invalid_fields(r).empty());
    r.queue = std::string(41, 'q');
    r.priority = 0;
    r.max_attempts = 101;
    r.run_at = "tomorrow";
    r.args = boost::json::array{};
    EXPECT_EQ(invalid_fields(r), (std::vector<std::string>{"args", "queue", "priority", "run_at", "max_attempts"}));
    r = EnqueueRequest{};
    r.kind = "system.sleep";
    r.queue = "Bulk";
    EXPECT_EQ(invalid_fields(r), std::vector<std::string>{"queue"});
}

}  // namespace
}  // namespace kiln::jobs
