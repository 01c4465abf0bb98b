// GET /sync-sessions/stats as PostgreSQL answers it: the sums over sessions in every state, the
// rates and their nulls, the filters (project, cycle, created_at range), and another workspace's
// sessions never counted. States, counters and times are set as the superuser: the sync job
// that writes them is not what is tested here.
#include <fmt/format.h>

#include "uploads_fixture.hpp"

namespace asio = boost::asio;

namespace kiln::uploads {
namespace {

using testing::fields_of;
using testing::kOrigin;
using testing::Person;

const auto kWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-00000000c000");
const auto kOtherWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-00000000d000");

class UploadStatsTest : public testing::UploadsFixture {
protected:
    UploadStatsTest() : UploadsFixture(kWorkspace, kOtherWorkspace) {}

    // A session of `cycle` with `set` (an SQL SET list) applied as the superuser.
    core::Uuid session(const Person& p, const core::Uuid& cycle, const std::string& set = {}) {
        SyncSessionInput in;
        in.cycle_id = cycle;
        const auto id = run(service_->create_session(p.principal(), in, kOrigin)).id;
        if (!set.empty()) su(fmt::format("UPDATE upload_sync_sessions SET {} WHERE id = '{}'", set, id.str()));
        return id;
    }
    // A session that finished in `state` after running `seconds` (from 2026-12-01T10:00:00Z).
    static std::string ran(const char* state, int seconds, const std::string& counters) {
        return fmt::format(
            "state = '{}', {}, started_at = '2026-12-01T10:00:00Z', "
            "finished_at = timestamptz '2026-12-01T10:00:00Z' + interval '{} seconds'",
            state, counters, seconds);
    }
    SessionStats stats(const Person& p, SessionStatsQuery q = {}) {
        return run(service_->session_stats(p.principal(), std::move(q)));
    }
};

TEST_F(UploadStatsTest, NoSessionsIsZerosAndNulls) {
    project(admin_, "Empty");  // a project without sessions is not listed
    const auto s = stats(viewer_);
    EXPECT_EQ(s.sessions.total, 0);
    EXPECT_EQ(s.sessions.pending, 0);
    EXPECT_EQ(s.sessions.cancelled, 0);
    EXPECT_EQ(s.files.total, 0);
    EXPECT_EQ(s.files.done, 0);
    EXPECT_EQ(s.bytes.total, 0);
    EXPECT_EQ(s.bytes.done, 0);
    EXPECT_FALSE(s.success_rate);
    EXPECT_FALSE(s.throughput_bytes_per_second);
    EXPECT_FALSE(s.average_duration_s);
    EXPECT_TRUE(s.by_project.empty());
}

TEST_F(UploadStatsTest, SumsAddUpAcrossSessionsInEveryState) {
    const auto alpha = project(admin_, "Alpha");
    const auto beta = project(admin_, "Beta");
    const auto a1 = cycle(admin_, alpha.id, 1);
    const auto a2 = cycle(admin_, alpha.id, 2);
    const auto b1 = cycle(admin_, beta.id, 1);
    session(admin_, a1.id,
            ran("completed", 10,
                "files_total = 10, files_done = 8, files_skipped = 2, bytes_total = 1000, bytes_done = 800"));
    session(admin_, a1.id,
            ran("completed_with_errors", 30,
                "files_total = 5, files_done = 2, files_skipped = 1, files_failed = 2, bytes_total = 500, "
                "bytes_done = 200"));
    session(admin_, a2.id, ran("failed", 20, "files_total = 4, files_failed = 4, bytes_total = 400"));
    // Running: its counters count, but it has no duration (nor does a session cancelled before it started).
    session(admin_, b1.id,
            "state = 'in_progress', files_total = 6, files_done = 3, files_failed = 1, bytes_total = 600, "
            "bytes_done = 300, started_at = '2026-12-01T10:00:00Z'");
    session(admin_, b1.id, "state = 'cancelled', finished_at = '2026-12-01T10:00:00Z'");
    session(admin_, b1.id);
    session(admin_, b1.id);
    // A deleted session and another workspace's are never counted.
    const auto gone = session(admin_, a1.id, ran("completed", 1, "files_total = 99, files_done = 99, bytes_done = 9"));
    run(service_->remove_session(admin_.principal(), gone, kOrigin));
    const auto theirs = cycle(outsider_, project(outsider_, "Theirs").id, 1);
    session(outsider_, theirs.id, ran("completed", 5, "files_total = 50, files_done = 50, bytes_done = 5000"));

    const auto s = stats(viewer_);
    EXPECT_EQ(s.sessions.total, 7);
    EXPECT_EQ(s.sessions.pending, 2);
    EXPECT_EQ(s.sessions.in_progress, 1);
    EXPECT_EQ(s.sessions.completed, 1);
    EXPECT_EQ(s.sessions.completed_with_errors, 1);
    EXPECT_EQ(s.sessions.failed, 1);
    EXPECT_EQ(s.sessions.cancelled, 1);
    EXPECT_EQ(s.files.total, 25);
    EXPECT_EQ(s.files.done, 13);
    EXPECT_EQ(s.files.skipped, 3);
    EXPECT_EQ(s.files.failed, 7);
    EXPECT_EQ(s.bytes.total, 2500);
    EXPECT_EQ(s.bytes.done, 1300);
    ASSERT_TRUE(s.success_rate);
    EXPECT_DOUBLE_EQ(*s.success_rate, 16.0 / 23.0);
    // 800 + 200 + 0 bytes in 10 + 30 + 20 s: the running session's 300 bytes are not in it.
    ASSERT_TRUE(s.throughput_bytes_per_second);
    EXPECT_DOUBLE_EQ(*s.throughput_bytes_per_second, 1000.0 / 60.0);
    ASSERT_TRUE(s.average_duration_s);
    EXPECT_DOUBLE_EQ(*s.average_duration_s, 20.0);
    // Most sessions first, whatever the names.
    ASSERT_EQ(s.by_project.size(), 2U);
    EXPECT_EQ(s.by_project[0].project_id, beta.id);
    EXPECT_EQ(s.by_project[0].name, "Beta");
    EXPECT_EQ(s.by_project[0].sessions, 4);
    EXPECT_EQ(s.by_project[0].files_done, 3);
    EXPECT_EQ(s.by_project[0].bytes_done, 300);
    EXPECT_EQ(s.by_project[1].project_id, alpha.id);
    EXPECT_EQ(s.by_project[1].sessions, 3);
    EXPECT_EQ(s.by_project[1].files_done, 10);
    EXPECT_EQ(s.by_project[1].bytes_done, 1000);

    // The other workspace sees its own session only.
    const auto t = stats(outsider_);
    EXPECT_EQ(t.sessions.total, 1);
    EXPECT_EQ(t.files.done, 50);
    ASSERT_EQ(t.by_project.size(), 1U);
    EXPECT_EQ(t.by_project[0].name, "Theirs");
}

TEST_F(UploadStatsTest, FiltersByProjectCycleAndCreationTime) {
    const auto alpha = project(admin_, "Alpha");
    const auto beta = project(admin_, "Beta");
    const auto a1 = cycle(admin_, alpha.id, 1);
    const auto a2 = cycle(admin_, alpha.id, 2);
    const auto b1 = cycle(admin_, beta.id, 1);
    session(admin_, a1.id, "files_done = 1, created_at = '2026-11-01T00:00:00Z'");
    session(admin_, a1.id, "files_done = 2, created_at = '2026-11-10T00:00:00Z'");
    session(admin_, a2.id, "files_done = 4, created_at = '2026-11-20T00:00:00Z'");
    session(admin_, b1.id, "files_done = 8, created_at = '2026-11-20T00:00:00Z'");
    const auto theirs = cycle(outsider_, project(outsider_, "Theirs").id, 1);
    session(outsider_, theirs.id, "files_done = 16");

    auto by_project = stats(viewer_, {.project_id = alpha.id.str()});
    EXPECT_EQ(by_project.sessions.total, 3);
    EXPECT_EQ(by_project.files.done, 7);
    ASSERT_EQ(by_project.by_project.size(), 1U);
    EXPECT_EQ(by_project.by_project[0].project_id, alpha.id);

    EXPECT_EQ(stats(viewer_, {.cycle_id = a1.id.str()}).files.done, 3);
    EXPECT_EQ(stats(viewer_, {.project_id = alpha.id.str(), .cycle_id = b1.id.str()}).sessions.total, 0)
        << "the filters are and-ed";
    EXPECT_EQ(stats(viewer_, {.since = "2026-11-10T00:00:00Z"}).files.done, 14) << "since is inclusive";
    EXPECT_EQ(stats(viewer_, {.until = "2026-11-20T00:00:00Z"}).files.done, 3) << "until is exclusive";
    EXPECT_EQ(stats(viewer_, {.since = "2026-11-05T00:00:00+01:00", .until = "2026-11-15T00:00:00Z"}).files.done, 2);

    // Another workspace's ids, or ids of nothing, match nothing: zeros, as for an empty project.
    for (const auto& id : {theirs.project_id, theirs.id, core::Uuid::v7()}) {
        const auto none = stats(viewer_, {.project_id = id.str()});
        EXPECT_EQ(none.sessions.total, 0);
        EXPECT_EQ(none.files.done, 0);
        EXPECT_TRUE(none.by_project.empty());
        EXPECT_FALSE(none.success_rate);
        EXPECT_EQ(stats(viewer_, {.cycle_id = id.str()}).sessions.total, 0);
    }

    // A malformed parameter is its own 422 entry.
    const SessionStatsQuery bad{.project_id = "not-a-uuid", .cycle_id = "42", .since = "yesterday", .until = "now"};
    EXPECT_EQ(run(fields_of(service_->session_stats(viewer_.principal(), bad))),
              (std::vector<std::string>{"project_id", "cycle_id", "since", "until"}));
}

}  // namespace
}  // namespace kiln::uploads
