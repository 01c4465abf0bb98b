// Files as the database keeps them: the storage quota checked atomically when an upload becomes
// ready (two concurrent uploads that together exceed it: exactly one passes, in pipeline and in
// serial mode), usage given back on delete, who may upload and delete, and row-level security
// between workspaces.
#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <future>

#include "auth/scope.hpp"
#include "core/problem.hpp"
#include "pg_fixture.hpp"
#include "storage/store.hpp"

namespace asio = boost::asio;

namespace kiln::storage {
namespace {

using kiln::testing::AdminConnection;

const auto kUser = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000f1");
const auto kOtherUser = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000f3");
const auto kWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000f0");
const auto kSession = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000f2");
const auto kOtherSession = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000f4");
const auto kOtherWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000e0");
const std::string kSha(64, 'a');

class FilesTest : public kiln::testing::PgTest, public ::testing::WithParamInterface<bool> {
protected:
    void SetUp() override {
        PgTest::SetUp();
        seed_member(kUser, kWorkspace, kSession, "member");
        seed_member(kOtherUser, kOtherWorkspace, kOtherSession, "owner");
        AdminConnection su(superuser_conninfo());
        su.exec(fmt::format(R"sql(
            INSERT INTO plans (id, name, max_members, max_api_keys, storage_bytes, max_file_bytes, max_concurrent_jobs,
                               monthly_credits)
                 VALUES ('small', 'Small', 5, 5, 1000, 800, 1, 0);
            UPDATE workspaces SET plan = 'small' WHERE id IN ('{}', '{}'))sql",
                            kWorkspace.str(), kOtherWorkspace.str()));
        pool_ = std::make_unique<db::Pool>(pool_options(GetParam(), 4), blocking_);
        store_ = std::make_unique<FileStore>(*pool_);
    }
    void TearDown() override {
        store_.reset();
        pool_.reset();
        PgTest::TearDown();
    }

    db::TenantScope scope(const core::Uuid& user, const core::Uuid& workspace, const core::Uuid& session) const {
        return auth::scope_of({user, workspace, session, "member"}, workspace, "member");
    }
    Upload begin(const db::TenantScope& s) {
        const auto id = core::Uuid::v7();
        return run(store_->begin(s, id, "ws/x/files/" + id.str()));
    }
    asio::awaitable<File> ready(db::TenantScope s, Upload u, std::int64_t size) {
        const audit::Event e{s.user_id, "file.upload", "file", u.id.str()};
        const audit::Origin origin{"127.0.0.1", "req"};
        co_return co_await store_->ready(s, u.id, size, kSha, "text/plain", "a.txt", "", e, origin);
    }
    std::string count(const std::string& sql) {
        AdminConnection su(superuser_conninfo());
        return su.exec(sql);
    }

    std::unique_ptr<db::Pool> pool_;
    std::unique_ptr<FileStore> store_;
    db::TenantScope mine_ = scope(kUser, kWorkspace, kSession);
    db::TenantScope theirs_ = scope(kOtherUser, kOtherWorkspace, kOtherSession);
};

TEST_P(FilesTest, ConcurrentUploadsNeverPassTheQuotaTogether) {
    const auto a = begin(mine_);
    const auto b = begin(mine_);
    EXPECT_EQ(a.max_file_bytes, 800);
    // Both in flight at once: 600 + 600 > 1000, so one must be refused.
    auto fa = asio::co_spawn(io_, ready(mine_, a, 600), asio::use_future);
    auto fb = asio::co_spawn(io_, ready(mine_, b, 600), asio::use_future);
    io_.restart();
    io_.run();
    int passed = 0;
    int refused = 0;
    for (auto* f : {&fa, &fb}) {
        try {
            f->get();
            ++passed;
        } catch (const core::Problem& p) {
            EXPECT_EQ(p.status(), 402);
            ASSERT_EQ(p.extensions().size(), 1U);
            EXPECT_EQ(p.extensions()[0].second, "storage_bytes");
            ++refused;
        }
    }
    EXPECT_EQ(passed, 1);
    EXPECT_EQ(refused, 1);
    EXPECT_EQ(count(fmt::format("SELECT bytes_stored || '/' || files FROM workspace_usage WHERE workspace_id = '{}'",
                                kWorkspace.str())),
              "600/1");
    EXPECT_EQ(count("SELECT count(*) FROM files WHERE status = 'ready'"), "1");
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'file.upload'"), "1")
        << "the refused upload wrote no audit event";
}

TEST_P(FilesTest, DeleteGivesTheBytesBackAndOnlyOnce) {
    const auto a = begin(mine_);
    const auto file = run(ready(mine_, a, 700));
    const audit::Event e{kUser, "file.delete", "file", file.id.str()};
    const audit::Origin origin{"127.0.0.1", "req"};
    EXPECT_EQ(run(store_->remove(mine_, file.id, e, origin)), a.key);
    EXPECT_EQ(run(store_->usage(mine_)).bytes_stored, 0);
    EXPECT_THROW(run(store_->remove(mine_, file.id, e, origin)), core::Problem);
    EXPECT_THROW(run(store_->get(mine_, file.id)), core::Problem);
    // The quota is free again.
    EXPECT_EQ(run(ready(mine_, begin(mine_), 1000)).size, 1000);
}

TEST_P(FilesTest, OnlyTheUploaderOrAnAdminDeletes) {
    const auto other_member = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000f5");
    const auto other_session = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000f6");
    seed_member(other_member, kWorkspace, other_session, "member");
    const auto file = run(ready(mine_, begin(mine_), 10));
    const audit::Event e{other_member, "file.delete", "file", file.id.str()};
    const audit::Origin origin{"127.0.0.1", "req"};
    try {
        run(store_->remove(scope(other_member, kWorkspace, other_session), file.id, e, origin));
        ADD_FAILURE() << "another member deleted the file";
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 403);
    }
    AdminConnection su(superuser_conninfo());
    su.exec(fmt::format("UPDATE memberships SET role = 'admin' WHERE user_id = '{}'", other_member.str()));
    EXPECT_NO_THROW(run(store_->remove(scope(other_member, kWorkspace, other_session), file.id, e, origin)));
}

TEST_P(FilesTest, ViewersCannotUpload) {
    const auto viewer = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000f7");
    const auto viewer_session = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000f8");
    seed_member(viewer, kWorkspace, viewer_session, "viewer");
    const auto id = core::Uuid::v7();
    try {
        run(store_->begin(scope(viewer, kWorkspace, viewer_session), id, "ws/x/files/" + id.str()));
        ADD_FAILURE() << "a viewer began an upload";
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 403);
    }
    EXPECT_EQ(count("SELECT count(*) FROM files"), "0");
}

TEST_P(FilesTest, AnotherWorkspaceSeesNothing) {
    const auto file = run(ready(mine_, begin(mine_), 10));
    try {
        run(store_->get(theirs_, file.id));
        ADD_FAILURE() << "read another workspace's file";
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 404);
    }
    EXPECT_TRUE(run(store_->list(theirs_, {})).empty());
    const audit::Event e{kOtherUser, "file.delete", "file", file.id.str()};
    EXPECT_THROW(run(store_->remove(theirs_, file.id, e, {"127.0.0.1", "req"})), core::Problem);
    // Even the other workspace's ready() on this upload's id finds nothing to finish.
    const auto upload = begin(mine_);
    EXPECT_THROW(run(ready(theirs_, upload, 10)), core::Problem);
    EXPECT_EQ(run(store_->usage(theirs_)).bytes_stored, 0) << "the failed ready() was rolled back";
    EXPECT_EQ(run(store_->usage(mine_)).files, 1);
}

INSTANTIATE_TEST_SUITE_P(Pipeline, FilesTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "pipeline" : "serial"; });

}  // namespace
}  // namespace kiln::storage
