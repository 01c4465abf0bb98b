// Resumable uploads as the database and the staging area keep them: the quota reserved at
// creation and given back on termination, offsets that move only from where they are, completion
// charging the file exactly once, another workspace's 404s, and the storage sweep deleting expired
// uploads (staging file, row, reservation) and files left 'uploading' (row and blob) across
// workspaces.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "auth/scope.hpp"
#include "core/crypto.hpp"
#include "core/problem.hpp"
#include "pg_fixture.hpp"
#include "storage/tus_service.hpp"

namespace kiln::storage {
namespace {

using kiln::testing::AdminConnection;
using kiln::testing::status_of;

const auto kUser = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000001f1");
const auto kWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000001f0");
const auto kSession = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000001f2");
const auto kOtherUser = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000001f3");
const auto kOtherWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000001e0");
const auto kOtherSession = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000001f4");
const audit::Origin kOrigin{"127.0.0.1", "req"};

class TusTest : public kiln::testing::PgTest, public ::testing::WithParamInterface<bool> {
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
        dir_ = std::filesystem::temp_directory_path() / ("kiln-tus-" + core::Uuid::v7().str());
        storage_.local_root = (dir_ / "blobs").string();
        storage_.tus_dir = (dir_ / "tus").string();
        pool_ = std::make_unique<db::Pool>(pool_options(GetParam(), 4), blocking_);
        blobs_ = std::make_unique<BlobStores>(storage_, "", blocking_);
        blobs_->attach({io_.get_executor()});
        file_store_ = std::make_unique<FileStore>(*pool_);
        files_ = std::make_unique<FileService>(*file_store_, *blobs_, blocking_);
        store_ = std::make_unique<TusStore>(*pool_);
        tus_ = std::make_unique<TusService>(*store_, *files_, blocking_, storage_, "");
    }
    void TearDown() override {
        tus_.reset();
        store_.reset();
        files_.reset();
        file_store_.reset();
        blobs_->close();
        blobs_.reset();
        pool_.reset();
        std::filesystem::remove_all(dir_);
        PgTest::TearDown();
    }

    std::string sql(const std::string& q) {
        AdminConnection su(superuser_conninfo());
        return su.exec(q);
    }
    std::string usage(const core::Uuid& ws) {
        return sql(fmt::format(
            "SELECT bytes_stored || '/' || bytes_reserved || '/' || files FROM workspace_usage WHERE workspace_id = "
            "'{}'",
            ws.str()));
    }
    TusUpload create(const auth::Principal& p, std::int64_t length) {
        return run(tus_->create(p, length, "a.bin", "application/octet-stream", kOrigin)).upload;
    }
    void stage(const TusUpload& u, const std::string& bytes) {
        std::ofstream(tus_->staging_path(u.workspace, u.id), std::ios::binary | std::ios::app) << bytes;
    }
    std::string advance(const auth::Principal& p, const TusUpload& u, std::int64_t from, std::int64_t to) {
        return run(store_->advance(auth::scope_of(p, p.workspace, "member"), u.id, from, to, 3600, nullptr, kOrigin));
    }

    std::filesystem::path dir_;
    core::StorageConfig storage_;
    std::unique_ptr<db::Pool> pool_;
    std::unique_ptr<BlobStores> blobs_;
    std::unique_ptr<FileStore> file_store_;
    std::unique_ptr<FileService> files_;
    std::unique_ptr<TusStore> store_;
    std::unique_ptr<TusService> tus_;
    auth::Principal me_{kUser, kWorkspace, kSession, "member"};
    auth::Principal them_{kOtherUser, kOtherWorkspace, kOtherSession, "owner"};
};

TEST_P(TusTest, CreationReservesTheLengthAndTerminationGivesItBack) {
    const auto u = create(me_, 600);
    EXPECT_EQ(u.offset, 0);
    EXPECT_EQ(u.length, 600);
    EXPECT_TRUE(std::filesystem::exists(tus_->staging_path(kWorkspace, u.id)));
    EXPECT_EQ(usage(kWorkspace), "0/600/0");
    // 600 reserved + 600 > 1000; 900 is over the plan's largest file.
    EXPECT_EQ(run(status_of(tus_->create(me_, 600, "b", "", kOrigin))), 402);
    EXPECT_EQ(run(status_of(tus_->create(me_, 900, "b", "", kOrigin))), 413);
    // A plain upload cannot take the reserved bytes either.
    const auto plain = run(files_->begin_upload(me_));
    const Stored big{500, std::string(64, 'a'), "text/plain"};
    EXPECT_EQ(run(status_of(files_->finish_upload(me_, plain, big, "p", "", kOrigin))), 402);
    const Stored fits{400, std::string(64, 'a'), "text/plain"};
    EXPECT_EQ(run(files_->finish_upload(me_, plain, fits, "p", "", kOrigin)).size, 400);
    EXPECT_EQ(usage(kWorkspace), "400/600/1");

    run(tus_->terminate(me_, u.id, kOrigin));
    EXPECT_EQ(usage(kWorkspace), "400/0/1");
    EXPECT_FALSE(std::filesystem::exists(tus_->staging_path(kWorkspace, u.id)));
    EXPECT_EQ(run(status_of(tus_->terminate(me_, u.id, kOrigin))), 404);
    EXPECT_EQ(run(status_of(tus_->head(me_, u.id))), 404);
    EXPECT_EQ(usage(kWorkspace), "400/0/1") << "given back once";
    EXPECT_EQ(sql("SELECT string_agg(action, ',' ORDER BY created_at, action) FROM audit_events WHERE action LIKE "
                  "'tus.%'"),
              "tus.create,tus.delete");
}

TEST_P(TusTest, OffsetsMoveOnlyFromWhereTheyAreAndCompletionChargesOnce) {
    const auto u = create(me_, 100);
    const std::string bytes(100, 'x');
    stage(u, bytes.substr(0, 40));
    EXPECT_FALSE(advance(me_, u, 0, 40).empty());
    EXPECT_EQ(
        run(status_of(store_->advance(auth::scope_of(me_, kWorkspace, "member"), u.id, 0, 80, 3600, nullptr, kOrigin))),
        409)
        << "a second writer from the old offset";
    EXPECT_EQ(run(tus_->head(me_, u.id)).offset, 40);
    stage(u, bytes.substr(40));
    const auto expires = advance(me_, u, 40, 100);
    EXPECT_TRUE(expires.ends_with(" GMT")) << expires;

    auto at = run(tus_->head(me_, u.id));
    ASSERT_EQ(at.offset, 100);
    const auto file = run(tus_->complete(me_, at, kOrigin));
    EXPECT_EQ(file.size, 100);
    EXPECT_EQ(file.name, "a.bin");
    EXPECT_EQ(file.sha256, core::to_hex(core::sha256(bytes)));
    EXPECT_EQ(usage(kWorkspace), "100/0/1");
    EXPECT_EQ(run(tus_->head(me_, u.id)).file_id, file.id);
    EXPECT_FALSE(std::filesystem::exists(tus_->staging_path(kWorkspace, u.id))) << "staging removed";
    EXPECT_TRUE(std::filesystem::exists(dir_ / "blobs" / "ws" / kWorkspace.str() / "files" / file.id.str()));
    // Completing again is refused (the upload already became a file) and charges nothing: by the
    // service, and by the database for a second completer that raced the first (its staged
    // bytes still there, its view of the upload older).
    at = run(tus_->head(me_, u.id));
    EXPECT_EQ(run(status_of(tus_->complete(me_, at, kOrigin))), 409);
    stage(at, bytes);
    at.file_id.reset();
    EXPECT_EQ(run(status_of(tus_->complete(me_, at, kOrigin))), 404);
    EXPECT_EQ(usage(kWorkspace), "100/0/1");
    EXPECT_EQ(sql("SELECT count(*) FROM files WHERE status = 'uploading'"), "0") << "the failed attempt left no row";
    const auto stored = dir_ / "blobs" / "ws" / kWorkspace.str() / "files";
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(stored), {}), 1) << "nor a blob";
    // Terminating a finished upload forgets it and gives nothing back.
    run(tus_->terminate(me_, u.id, kOrigin));
    EXPECT_EQ(usage(kWorkspace), "100/0/1");
}

TEST_P(TusTest, AnotherWorkspacesUploadIsNotFound) {
    const auto u = create(me_, 10);
    EXPECT_EQ(run(status_of(tus_->head(them_, u.id))), 404);
    EXPECT_EQ(run(status_of(tus_->terminate(them_, u.id, kOrigin))), 404);
    EXPECT_EQ(run(status_of(store_->advance(auth::scope_of(them_, kOtherWorkspace, "member"), u.id, 0, 5, 3600, nullptr,
                                            kOrigin))),
              409);
    EXPECT_EQ(run(tus_->head(me_, u.id)).offset, 0);
    EXPECT_EQ(usage(kWorkspace), "0/10/0");
}

TEST_P(TusTest, ViewersCannotCreate) {
    const auto viewer = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000001f7");
    const auto viewer_session = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000001f8");
    seed_member(viewer, kWorkspace, viewer_session, "viewer");
    const auth::Principal v{viewer, kWorkspace, viewer_session, "viewer"};
    EXPECT_EQ(run(status_of(tus_->create(v, 10, "a", "", kOrigin))), 403);
    EXPECT_EQ(sql("SELECT count(*) FROM tus_uploads"), "0");
}

TEST_P(TusTest, SweepDeletesExpiredUploadsAndStaleFilesWithTheirBytes) {
    const auto expired = create(me_, 300);
    stage(expired, std::string(120, 'e'));
    advance(me_, expired, 0, 120);
    const auto theirs_expired = create(them_, 200);
    const auto live = create(me_, 50);
    sql(fmt::format("UPDATE tus_uploads SET expires_at = now() - interval '1 second' WHERE id IN ('{}', '{}')",
                    expired.id.str(), theirs_expired.id.str()));
    EXPECT_EQ(run(status_of(tus_->head(me_, expired.id))), 404) << "expired is gone for the client at once";

    // A file left 'uploading' by a process that died two days ago, with its blob; and one in flight.
    const auto stale = run(files_->begin_upload(them_));
    std::filesystem::create_directories((dir_ / "blobs" / stale.key).parent_path());
    std::ofstream(dir_ / "blobs" / stale.key) << "partial";
    sql(fmt::format("UPDATE files SET created_at = now() - interval '2 days' WHERE id = '{}'", stale.id.str()));
    const auto fresh = run(files_->begin_upload(me_));

    const auto report = run(tus_->sweep());
    EXPECT_EQ(report.expired, 2U);
    EXPECT_EQ(report.stale, 1U);
    EXPECT_FALSE(std::filesystem::exists(tus_->staging_path(kWorkspace, expired.id)));
    EXPECT_TRUE(std::filesystem::exists(tus_->staging_path(kWorkspace, live.id)));
    EXPECT_EQ(sql("SELECT string_agg(id::text, ',') FROM tus_uploads"), live.id.str());
    EXPECT_EQ(usage(kWorkspace), "0/50/0");
    EXPECT_EQ(usage(kOtherWorkspace), "0/0/0");
    EXPECT_FALSE(std::filesystem::exists(dir_ / "blobs" / stale.key));
    EXPECT_EQ(sql("SELECT string_agg(id::text, ',') FROM files"), fresh.id.str());

    const auto again = run(tus_->sweep());
    EXPECT_EQ(again.expired + again.stale, 0U);
}

INSTANTIATE_TEST_SUITE_P(Pipeline, TusTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "pipeline" : "serial"; });

}  // namespace
}  // namespace kiln::storage
