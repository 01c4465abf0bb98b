// The Data Uploader's projects, cycles and sync sessions as PostgreSQL keeps them: CRUD, names
// and cycle numbers unique among live rows, the 409 rules, another workspace's ids as 404 on
// every operation, roles, and one 422 entry per bad field.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <functional>

#include "auth/scope.hpp"
#include "jobs/store.hpp"
#include "modules/uploads/jobs.hpp"
#include "storage/connection_store.hpp"
#include "uploads_fixture.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace kiln::uploads {
namespace {

using kiln::testing::AdminConnection;
using kiln::testing::status_of;
using testing::fields_of;
using testing::kOrigin;
using testing::Person;

const auto kWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-00000000a000");
const auto kOtherWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-00000000b000");
// Polls `sql` (as the superuser) until it answers `want` or 10 s pass, letting the io_context run
// in between; whether it did.
asio::awaitable<bool> eventually(std::string conninfo, std::string sql, std::string want) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (std::chrono::steady_clock::now() < deadline) {
        AdminConnection su(conninfo);
        if (su.exec(sql) == want) co_return true;
        timer.expires_after(std::chrono::milliseconds(10));
        co_await timer.async_wait(asio::use_awaitable);
    }
    co_return false;
}

// Commits `tx` once another statement waits for a lock (at most 10 s), then lets the io_context
// run until `over` says the work started beside it has ended (at most 10 s more); whether
// something waited.
asio::awaitable<bool> commit_once_waited_for(db::Transaction& tx, std::string su_conninfo,
                                             const std::function<bool()>& over) {
    const bool waited = co_await eventually(
        su_conninfo,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", "1");
    co_await tx.commit();
    const auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor);
    for (int i = 0; i < 1000 && !over(); ++i) {
        timer.expires_after(std::chrono::milliseconds(10));
        co_await timer.async_wait(asio::use_awaitable);
    }
    co_return waited;
}

// The delete, owning what it refers to (it may outlive the caller's frame on failure).
asio::awaitable<int> delete_connection(storage::ConnectionStore* connections, db::TenantScope scope, core::Uuid conn) {
    const audit::Event e{scope.user_id, "storage_connection.delete", "storage_connection", conn.str()};
    co_return co_await kiln::testing::status_of(connections->remove(scope, conn, e, kOrigin));
}

// A project naming `conn` is inserted and left uncommitted; the connection's delete starts
// meanwhile and must wait for it, then see it (409). Returns "waited/status".
asio::awaitable<std::string> delete_during_project_insert(db::Pool* pool, storage::ConnectionStore* connections,
                                                          db::TenantScope scope, core::Uuid conn,
                                                          std::string su_conninfo) {
    auto tx = co_await db::begin(*pool, scope);
    std::vector<db::Query> q;
    q.push_back({"SELECT kiln_upload_connection_usable($1)", db::params(conn)});
    q.push_back(
        {"INSERT INTO upload_projects (workspace_id, id, name, storage_connection_id) "
         "VALUES (kiln_current_workspace(), $1, 'raced', $2)",
         db::params(core::Uuid::v7(), conn)});
    co_await tx.execute(std::move(q));
    auto status = std::make_shared<std::optional<int>>();
    // Named, not written inside the co_await expression (g++ 12 destroys such temporaries twice).
    const auto executor = co_await asio::this_coro::executor;
    auto removal = delete_connection(connections, scope, conn);
    auto done = [status](const std::exception_ptr& failure, int s) { *status = failure ? -1 : s; };
    asio::co_spawn(executor, std::move(removal), std::move(done));
    // Named, as `removal` is: a lambda made inside the co_await expression was destroyed twice.
    const std::function<bool()> over = [status] { return status->has_value(); };
    const bool waited = co_await commit_once_waited_for(tx, su_conninfo, over);
    co_return fmt::format("{}/{}", waited, status->value_or(0));
}

// A file's outcome (`uploaded`) is recorded and left uncommitted; a second report of the same file
// (`failed`: a lane that lost its lease and the one that took over) starts meanwhile and must wait
// for it, then find the file no longer pending. Returns "waited/ended".
asio::awaitable<std::string> report_during_report(db::Pool* pool, SyncStore* store, db::TenantScope scope,
                                                  core::Uuid session, core::Uuid file, std::string su_conninfo) {
    auto tx = co_await db::begin(*pool, scope);
    std::vector<db::Query> q;
    q.push_back(
        {"SELECT kiln_upload_files_done($1, ARRAY[$2::uuid], ARRAY['uploaded'], ARRAY[1], ARRAY[NULL]::text[], "
         "ARRAY[NULL]::text[], ARRAY[NULL]::text[], ARRAY[10]::bigint[], ARRAY[now()], false)",
         db::params(session, file)});
    co_await tx.execute(std::move(q));
    auto ended = std::make_shared<bool>(false);
    const auto executor = co_await asio::this_coro::executor;
    std::vector<FileOutcome> second{FileOutcome{.file = file, .status = "failed", .attempts = 1, .size = 10}};
    auto report = store->files_done(scope, session, second, false);
    auto done = [ended](const std::exception_ptr& failure) { *ended = !failure; };
    asio::co_spawn(executor, std::move(report), std::move(done));
    const std::function<bool()> over = [ended] { return *ended; };
    const bool waited = co_await commit_once_waited_for(tx, su_conninfo, over);
    co_return fmt::format("{}/{}", waited, *ended);
}

// `sql` as the application role in `scope`: "ok", or "error" and the SQLSTATE it failed with.
asio::awaitable<std::string> as_app(db::Pool* pool, db::TenantScope scope, std::string sql) {
    try {
        co_await db::run(*pool, scope, sql, {});
        co_return "ok";
    } catch (const db::Error& e) {
        co_return "error " + e.sqlstate();
    }
}

class UploadsTest : public testing::UploadsFixture {
protected:
    UploadsTest() : UploadsFixture(kWorkspace, kOtherWorkspace) {}
    void SetUp() override {
        root_ = fs::temp_directory_path() / ("kiln-uploads-" + core::Uuid::v7().str());
        fs::create_directories(root_ / "batch");
        UploadsFixture::SetUp();
    }
    void TearDown() override {
        UploadsFixture::TearDown();
        fs::remove_all(root_);
    }
    std::vector<std::string> import_roots() const override { return {root_.string()}; }

    // A live storage connection of `workspace`, written as the superuser (its secret is not used here).
    core::Uuid connection(const core::Uuid& workspace, const std::string& name) {
        const auto id = core::Uuid::v7();
        su(fmt::format(R"sql(INSERT INTO storage_connections (workspace_id, id, name, endpoint, region, bucket,
            access_key_id, secret_nonce, secret_ciphertext) VALUES ('{}', '{}', '{}', 'https://s3.example.com',
            'us-east-1', 'bucket', 'K', decode(repeat('00', 24), 'hex'), decode(repeat('11', 20), 'hex')))sql",
                       workspace.str(), id.str(), name));
        return id;
    }
    SyncSession session(const Person& p, const core::Uuid& cycle) {
        SyncSessionInput in;
        in.cycle_id = cycle;
        return run(service_->create_session(p.principal(), in, kOrigin));
    }
    void set_state(const core::Uuid& session, const char* state) {
        su(fmt::format("UPDATE upload_sync_sessions SET state = '{}' WHERE id = '{}'", state, session.str()));
    }
    std::string actions() {
        return su(
            "SELECT coalesce(string_agg(action, ',' ORDER BY id), '') FROM audit_events "
            "WHERE action LIKE 'upload_%'");
    }

    fs::path root_;
};

TEST_F(UploadsTest, ProjectsAreCreatedReadReplacedPatchedAndDeleted) {
    ProjectInput in;
    in.name = "Survey 2026";
    in.description = "aerial survey";
    in.bucket = "survey-bucket";
    in.base_prefix = "surveys/2026/";
    const auto made = run(service_->create_project(admin_.principal(), in, kOrigin));
    EXPECT_EQ(made.name, "Survey 2026");
    EXPECT_EQ(made.base_prefix, "surveys/2026/");
    EXPECT_TRUE(made.is_active);
    EXPECT_FALSE(made.storage_connection_id);
    EXPECT_EQ(made.created_by, admin_.user);
    EXPECT_EQ(run(service_->get_project(viewer_.principal(), made.id)).description, "aerial survey");

    ProjectPatch patch;
    patch.is_active = false;
    const auto patched = run(service_->patch_project(admin_.principal(), made.id, patch, kOrigin));
    EXPECT_FALSE(patched.is_active);
    EXPECT_EQ(patched.bucket, "survey-bucket") << "PATCH keeps what it does not name";

    ProjectInput replace;
    replace.name = "Survey 2026 (final)";
    const auto replaced = run(service_->replace_project(admin_.principal(), made.id, replace, kOrigin));
    EXPECT_EQ(replaced.name, "Survey 2026 (final)");
    EXPECT_EQ(replaced.bucket, "") << "PUT resets what it does not name";
    EXPECT_TRUE(replaced.is_active);

    EXPECT_EQ(run(service_->list_projects(viewer_.principal(), {})).items.size(), 1U);
    EXPECT_EQ(run(status_of(service_->remove_project(admin_.principal(), made.id, kOrigin))), 200);
    EXPECT_EQ(run(status_of(service_->get_project(admin_.principal(), made.id))), 404);
    EXPECT_TRUE(run(service_->list_projects(viewer_.principal(), {})).items.empty());
    EXPECT_EQ(actions(), "upload_project.create,upload_project.update,upload_project.update,upload_project.delete");
}

TEST_F(UploadsTest, ProjectNamesAreUniqueAmongLiveProjectsOfAWorkspace) {
    const auto first = project(admin_, "Archive");
    EXPECT_EQ(run(status_of(service_->create_project(admin_.principal(), {"Archive"}, kOrigin))), 409);
    const auto second = project(admin_, "Other");
    ProjectPatch clash;
    clash.name = "Archive";
    EXPECT_EQ(run(status_of(service_->patch_project(admin_.principal(), second.id, clash, kOrigin))), 409);
    EXPECT_EQ(run(status_of(service_->replace_project(admin_.principal(), second.id, {"Archive"}, kOrigin))), 409);
    EXPECT_EQ(project(outsider_, "Archive").name, "Archive") << "names are per workspace";
    run(service_->remove_project(admin_.principal(), first.id, kOrigin));
    EXPECT_EQ(project(admin_, "Archive").name, "Archive") << "a deleted project's name is free again";
}

TEST_F(UploadsTest, AProjectsStorageConnectionIsALiveOneOfTheSameWorkspace) {
    const auto mine = connection(kWorkspace, "mine");
    const auto theirs = connection(kOtherWorkspace, "theirs");
    ProjectInput in;
    in.name = "With bucket";
    in.storage_connection_id = mine;
    const auto made = run(service_->create_project(admin_.principal(), in, kOrigin));
    EXPECT_EQ(made.storage_connection_id, mine);

    in.name = "Foreign bucket";
    in.storage_connection_id = theirs;
    EXPECT_EQ(run(fields_of(service_->create_project(admin_.principal(), in, kOrigin))),
              std::vector<std::string>{"storage_connection_id"});
    in.storage_connection_id = core::Uuid::v7();
    EXPECT_EQ(run(fields_of(service_->create_project(admin_.principal(), in, kOrigin))),
              std::vector<std::string>{"storage_connection_id"});
    ProjectPatch to_theirs;
    to_theirs.storage_connection_id = theirs;
    EXPECT_EQ(run(fields_of(service_->patch_project(admin_.principal(), made.id, to_theirs, kOrigin))),
              std::vector<std::string>{"storage_connection_id"});
    EXPECT_EQ(su("SELECT count(*) FROM upload_projects"), "1");

    // The connection cannot go while the project uses it; once the project lets go, it can.
    storage::ConnectionStore connections(*pool_);
    const auto scope = auth::scope_of(admin_.principal(), kWorkspace, "admin");
    const audit::Event e{admin_.user, "storage_connection.delete", "storage_connection", mine.str()};
    EXPECT_EQ(run(status_of(connections.remove(scope, mine, e, kOrigin))), 409);
    EXPECT_EQ(su(fmt::format("SELECT deleted_at IS NULL FROM storage_connections WHERE id = '{}'", mine.str())), "t");
    run(service_->replace_project(admin_.principal(), made.id, {"With bucket"}, kOrigin));
    EXPECT_FALSE(run(service_->get_project(admin_.principal(), made.id)).storage_connection_id)
        << "PUT without storage_connection_id goes back to the server's store";
    EXPECT_EQ(run(status_of(connections.remove(scope, mine, e, kOrigin))), 200);
    // And a deleted connection is not a choice any more.
    ProjectPatch back;
    back.storage_connection_id = mine;
    EXPECT_EQ(run(fields_of(service_->patch_project(admin_.principal(), made.id, back, kOrigin))),
              std::vector<std::string>{"storage_connection_id"});
}

TEST_F(UploadsTest, CyclesHaveNumbersUniquePerProjectAndKeepTheirMetadata) {
    const auto a = project(admin_, "A");
    const auto b = project(admin_, "B");
    auto in = cycle_input(a.id, 1);
    in.status = "active";
    in.s3_prefix = "cycle-1/";
    in.metadata = boost::json::parse(R"({"camera": "X1", "passes": 3})");
    in.started_at = "2026-12-01T09:00:00Z";
    const auto one = run(service_->create_cycle(admin_.principal(), in, kOrigin));
    EXPECT_EQ(one.project_id, a.id);
    EXPECT_EQ(one.status, "active");
    EXPECT_EQ(one.metadata, boost::json::parse(R"({"camera": "X1", "passes": 3})"));
    EXPECT_EQ(one.started_at, "2026-12-01T09:00:00.000000Z");
    EXPECT_FALSE(one.completed_at);

    EXPECT_EQ(run(status_of(service_->create_cycle(admin_.principal(), cycle_input(a.id, 1), kOrigin))), 409);
    EXPECT_EQ(cycle(admin_, b.id, 1).cycle_number, 1) << "numbers are per project";
    const auto two = cycle(admin_, a.id, 2);
    CyclePatch clash;
    clash.cycle_number = 1;
    EXPECT_EQ(run(status_of(service_->patch_cycle(admin_.principal(), two.id, clash, kOrigin))), 409);

    CyclePatch finish;
    finish.status = "completed";
    finish.completed_at = "2026-12-02T10:00:00+01:00";
    const auto done = run(service_->patch_cycle(admin_.principal(), one.id, finish, kOrigin));
    EXPECT_EQ(done.completed_at, "2026-12-02T09:00:00.000000Z");
    EXPECT_EQ(done.started_at, one.started_at) << "PATCH keeps started_at";
    CycleReplace replace{"Cycle one", 1};
    const auto replaced = run(service_->replace_cycle(admin_.principal(), one.id, replace, kOrigin));
    EXPECT_FALSE(replaced.started_at) << "PUT clears what it does not name";
    EXPECT_EQ(replaced.status, "planned");
    EXPECT_EQ(replaced.metadata, boost::json::object{});

    ListQuery by_project;
    by_project.project_id = a.id.str();
    EXPECT_EQ(run(service_->list_cycles(viewer_.principal(), by_project)).items.size(), 2U);
    EXPECT_EQ(run(service_->list_cycles(viewer_.principal(), {})).items.size(), 3U);

    // A project of another workspace, or a deleted one, is the field's error.
    const auto foreign = project(outsider_, "Theirs");
    EXPECT_EQ(run(fields_of(service_->create_cycle(admin_.principal(), cycle_input(foreign.id, 5), kOrigin))),
              std::vector<std::string>{"project_id"});
    run(service_->remove_project(admin_.principal(), b.id, kOrigin));
    EXPECT_EQ(run(fields_of(service_->create_cycle(admin_.principal(), cycle_input(b.id, 5), kOrigin))),
              std::vector<std::string>{"project_id"});
    EXPECT_EQ(run(service_->list_cycles(viewer_.principal(), {})).items.size(), 2U) << "B's cycle went with it";
}

TEST_F(UploadsTest, BadFieldsAreNamedOneEntryEach) {
    ProjectInput p;
    p.name = "";
    p.bucket = "Not_A_Bucket";
    p.base_prefix = "/abs/../x";
    EXPECT_EQ(run(fields_of(service_->create_project(admin_.principal(), p, kOrigin))),
              (std::vector<std::string>{"name", "bucket", "base_prefix"}));
    const auto a = project(admin_, "A");
    auto c = cycle_input(a.id, -1);
    c.status = "done";
    c.metadata = boost::json::array{1, 2};
    c.started_at = "yesterday";
    c.s3_prefix = "a//b";
    EXPECT_EQ(run(fields_of(service_->create_cycle(admin_.principal(), c, kOrigin))),
              (std::vector<std::string>{"cycle_number", "s3_prefix", "status", "metadata", "started_at"}));
    const auto one = cycle(admin_, a.id, 1);
    SyncSessionInput s;
    s.cycle_id = one.id;
    s.max_workers = 0;
    s.times_to_retry = 11;
    s.include_patterns = std::vector<std::string>{""};
    s.exclude_patterns = std::vector<std::string>(101, "*.tmp");
    s.local_directory = "relative/path";
    EXPECT_EQ(run(fields_of(service_->create_session(member_.principal(), s, kOrigin))),
              (std::vector<std::string>{"max_workers", "times_to_retry", "include_patterns", "exclude_patterns",
                                        "local_directory"}));
    s = SyncSessionInput{};
    s.cycle_id = core::Uuid::v7();
    EXPECT_EQ(run(fields_of(service_->create_session(member_.principal(), s, kOrigin))),
              std::vector<std::string>{"cycle_id"});
    EXPECT_EQ(su("SELECT count(*) FROM upload_sync_sessions"), "0");
}

TEST_F(UploadsTest, SessionsStartPendingWithDefaultsAndChangeOnlyWhilePending) {
    const auto a = project(admin_, "A");
    const auto one = cycle(admin_, a.id, 1);
    const auto s = session(member_, one.id);
    EXPECT_EQ(s.state, "pending");
    EXPECT_EQ(s.project_id, a.id);
    EXPECT_EQ(s.max_workers, 4);
    EXPECT_EQ(s.times_to_retry, 3);
    EXPECT_TRUE(s.use_find);
    EXPECT_FALSE(s.local_directory);
    EXPECT_FALSE(s.job_id);
    EXPECT_EQ(s.files_total, 0);

    SyncSessionReplace patch;
    patch.max_workers = 8;
    patch.include_patterns = std::vector<std::string>{"*.tif", "*.jpg"};
    patch.local_directory = (root_ / "batch").string();
    const auto changed = run(service_->update_session(member_.principal(), s.id, patch, true, kOrigin));
    EXPECT_EQ(changed.max_workers, 8);
    EXPECT_EQ(changed.times_to_retry, 3);
    EXPECT_EQ(changed.include_patterns, (std::vector<std::string>{"*.tif", "*.jpg"}));
    EXPECT_EQ(changed.local_directory, fs::canonical(root_ / "batch").string());
    const auto replaced = run(service_->update_session(member_.principal(), s.id, {}, false, kOrigin));
    EXPECT_EQ(replaced.max_workers, 4);
    EXPECT_TRUE(replaced.include_patterns.empty());
    EXPECT_FALSE(replaced.local_directory);

    set_state(s.id, "completed");
    EXPECT_EQ(run(status_of(service_->update_session(member_.principal(), s.id, patch, true, kOrigin))), 409);
    set_state(s.id, "in_progress");
    EXPECT_EQ(run(status_of(service_->remove_session(member_.principal(), s.id, kOrigin))), 409);
    set_state(s.id, "failed");
    EXPECT_EQ(run(status_of(service_->remove_session(member_.principal(), s.id, kOrigin))), 200);
    EXPECT_EQ(run(status_of(service_->get_session(member_.principal(), s.id))), 404);
    EXPECT_EQ(actions(),
              "upload_project.create,upload_cycle.create,upload_sync_session.create,upload_sync_session.update,"
              "upload_sync_session.update,upload_sync_session.delete");
}

TEST_F(UploadsTest, DeletingAConnectionWaitsForAProjectBeingCreatedOnIt) {
    const auto conn = connection(kWorkspace, "raced");
    storage::ConnectionStore connections(*pool_);
    const auto scope = auth::scope_of(admin_.principal(), kWorkspace, "admin");
    EXPECT_EQ(run(delete_during_project_insert(pool_.get(), &connections, scope, conn, superuser_conninfo())),
              "true/409");
    EXPECT_EQ(su(fmt::format("SELECT deleted_at IS NULL FROM storage_connections WHERE id = '{}'", conn.str())), "t");
}

TEST_F(UploadsTest, AProjectOrCycleWithAPendingOrRunningSessionIsNotDeleted) {
    const auto a = project(admin_, "A");
    const auto one = cycle(admin_, a.id, 1);
    const auto two = cycle(admin_, a.id, 2);
    const auto s = session(member_, one.id);
    for (const char* state : {"pending", "in_progress"}) {
        set_state(s.id, state);
        EXPECT_EQ(run(status_of(service_->remove_project(admin_.principal(), a.id, kOrigin))), 409) << state;
        EXPECT_EQ(run(status_of(service_->remove_cycle(admin_.principal(), one.id, kOrigin))), 409) << state;
    }
    EXPECT_EQ(run(status_of(service_->remove_cycle(admin_.principal(), two.id, kOrigin))), 200)
        << "a cycle without such sessions goes";
    set_state(s.id, "completed_with_errors");
    EXPECT_EQ(run(status_of(service_->remove_project(admin_.principal(), a.id, kOrigin))), 200);
    EXPECT_EQ(run(status_of(service_->get_cycle(admin_.principal(), one.id))), 404);
    EXPECT_EQ(run(status_of(service_->get_session(admin_.principal(), s.id))), 404);
    EXPECT_EQ(su("SELECT count(*) FROM upload_sync_sessions WHERE deleted_at IS NULL"), "0");
}

TEST_F(UploadsTest, SessionListsFilterByCycleProjectAndState) {
    const auto a = project(admin_, "A");
    const auto b = project(admin_, "B");
    const auto a1 = cycle(admin_, a.id, 1);
    const auto b1 = cycle(admin_, b.id, 1);
    const auto s1 = session(member_, a1.id);
    session(member_, a1.id);
    session(member_, b1.id);
    set_state(s1.id, "failed");
    ListQuery q;
    q.cycle_id = a1.id.str();
    EXPECT_EQ(run(service_->list_sessions(viewer_.principal(), q)).items.size(), 2U);
    q = {};
    q.project_id = b.id.str();
    EXPECT_EQ(run(service_->list_sessions(viewer_.principal(), q)).items.size(), 1U);
    q = {};
    q.state = "failed";
    const auto failed = run(service_->list_sessions(viewer_.principal(), q)).items;
    ASSERT_EQ(failed.size(), 1U);
    EXPECT_EQ(failed[0].id, s1.id);
    q.state = "exploded";
    q.cycle_id = "nope";
    EXPECT_EQ(run(fields_of(service_->list_sessions(viewer_.principal(), q))),
              (std::vector<std::string>{"cycle_id", "state"}));
    q = {};
    q.limit = "2";
    auto page = run(service_->list_sessions(viewer_.principal(), q));
    EXPECT_EQ(page.items.size(), 2U);
    ASSERT_TRUE(page.next_cursor);
    q.cursor = page.next_cursor;
    page = run(service_->list_sessions(viewer_.principal(), q));
    EXPECT_EQ(page.items.size(), 1U);
    EXPECT_EQ(page.items[0].id, s1.id) << "newest first";
    EXPECT_FALSE(page.next_cursor);
}

TEST_F(UploadsTest, ASessionsFilesAreListedByStatusInPages) {
    const auto a = project(admin_, "A");
    const auto s = session(member_, cycle(admin_, a.id, 1).id);
    for (int i = 0; i < 5; ++i) {
        su(
            fmt::format("INSERT INTO upload_files (workspace_id, id, session_id, relative_path, object_key, status) "
                        "VALUES ('{}', '{}', '{}', 'f{}.tif', 'cycle-1/f{}.tif', '{}')",
                        kWorkspace.str(), core::Uuid::v7().str(), s.id.str(), i, i, i < 3 ? "uploaded" : "failed"));
    }
    ListQuery q;
    q.state = "failed";
    const auto failed = run(service_->list_files(viewer_.principal(), s.id, q));
    ASSERT_EQ(failed.items.size(), 2U);
    EXPECT_EQ(failed.items[0].relative_path, "f4.tif");
    EXPECT_EQ(failed.items[0].session_id, s.id);
    std::vector<std::string> seen;
    q = {};
    q.limit = "2";
    for (;;) {
        auto page = run(service_->list_files(viewer_.principal(), s.id, q));
        for (const auto& f : page.items) seen.push_back(f.relative_path);
        if (!page.next_cursor) break;
        q.cursor = page.next_cursor;
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"f4.tif", "f3.tif", "f2.tif", "f1.tif", "f0.tif"}));
    q = {};
    q.state = "lost";
    EXPECT_EQ(run(fields_of(service_->list_files(viewer_.principal(), s.id, q))), std::vector<std::string>{"status"});
    EXPECT_EQ(run(status_of(service_->list_files(viewer_.principal(), core::Uuid::v7(), {}))), 404);
}

TEST_F(UploadsTest, AnotherWorkspacesIdsAre404OnEveryOperation) {
    const auto a = project(admin_, "A");
    const auto one = cycle(admin_, a.id, 1);
    const auto s = session(member_, one.id);
    const auto o = outsider_.principal();
    EXPECT_EQ(run(status_of(service_->get_project(o, a.id))), 404);
    EXPECT_EQ(run(status_of(service_->replace_project(o, a.id, {"mine"}, kOrigin))), 404);
    EXPECT_EQ(run(status_of(service_->patch_project(o, a.id, {}, kOrigin))), 404);
    EXPECT_EQ(run(status_of(service_->remove_project(o, a.id, kOrigin))), 404);
    EXPECT_EQ(run(status_of(service_->get_cycle(o, one.id))), 404);
    EXPECT_EQ(run(status_of(service_->replace_cycle(o, one.id, {"mine", 9}, kOrigin))), 404);
    EXPECT_EQ(run(status_of(service_->patch_cycle(o, one.id, {}, kOrigin))), 404);
    EXPECT_EQ(run(status_of(service_->remove_cycle(o, one.id, kOrigin))), 404);
    EXPECT_EQ(run(status_of(service_->get_session(o, s.id))), 404);
    EXPECT_EQ(run(status_of(service_->update_session(o, s.id, {}, false, kOrigin))), 404);
    EXPECT_EQ(run(status_of(service_->update_session(o, s.id, {}, true, kOrigin))), 404);
    EXPECT_EQ(run(status_of(service_->remove_session(o, s.id, kOrigin))), 404);
    EXPECT_EQ(run(status_of(service_->list_files(o, s.id, {}))), 404);
    SyncSessionInput into_theirs;
    into_theirs.cycle_id = one.id;
    EXPECT_EQ(run(fields_of(service_->create_session(o, into_theirs, kOrigin))), std::vector<std::string>{"cycle_id"});
    EXPECT_TRUE(run(service_->list_projects(o, {})).items.empty());
    EXPECT_TRUE(run(service_->list_cycles(o, {})).items.empty());
    EXPECT_TRUE(run(service_->list_sessions(o, {})).items.empty());
    // Nothing changed, and nothing refused was audited.
    EXPECT_EQ(run(service_->get_project(admin_.principal(), a.id)).name, "A");
    EXPECT_EQ(run(service_->get_cycle(admin_.principal(), one.id)).cycle_name, "Cycle 1");
    EXPECT_EQ(run(service_->get_session(admin_.principal(), s.id)).state, "pending");
    EXPECT_EQ(actions(), "upload_project.create,upload_cycle.create,upload_sync_session.create");
}

TEST_F(UploadsTest, ViewersReadMembersRunSessionsAdminsManageProjectsAndCycles) {
    const auto a = project(owner_, "A");
    const auto one = cycle(owner_, a.id, 1);
    for (const auto* p : {&viewer_, &member_}) {
        const auto who = p->principal();
        EXPECT_EQ(run(service_->get_project(who, a.id)).id, a.id) << p->role;
        EXPECT_EQ(run(service_->get_cycle(who, one.id)).id, one.id) << p->role;
        EXPECT_EQ(run(status_of(service_->create_project(who, {"x"}, kOrigin))), 403) << p->role;
        EXPECT_EQ(run(status_of(service_->patch_project(who, a.id, {}, kOrigin))), 403) << p->role;
        EXPECT_EQ(run(status_of(service_->remove_project(who, a.id, kOrigin))), 403) << p->role;
        EXPECT_EQ(run(status_of(service_->create_cycle(who, cycle_input(a.id, 7), kOrigin))), 403) << p->role;
        EXPECT_EQ(run(status_of(service_->patch_cycle(who, one.id, {}, kOrigin))), 403) << p->role;
        EXPECT_EQ(run(status_of(service_->remove_cycle(who, one.id, kOrigin))), 403) << p->role;
    }
    SyncSessionInput in;
    in.cycle_id = one.id;
    EXPECT_EQ(run(status_of(service_->create_session(viewer_.principal(), in, kOrigin))), 403);
    const auto s = session(member_, one.id);
    EXPECT_EQ(run(status_of(service_->update_session(viewer_.principal(), s.id, {}, true, kOrigin))), 403);
    EXPECT_EQ(run(status_of(service_->remove_session(viewer_.principal(), s.id, kOrigin))), 403);
    EXPECT_EQ(run(service_->list_sessions(viewer_.principal(), {})).items.size(), 1U);
    EXPECT_EQ(run(status_of(service_->remove_session(member_.principal(), s.id, kOrigin))), 200);
    EXPECT_EQ(run(status_of(service_->remove_cycle(admin_.principal(), one.id, kOrigin))), 200);
}

TEST_F(UploadsTest, ALocalDirectoryMustLieInsideAnImportRoot) {
    const auto one = cycle(admin_, project(admin_, "A").id, 1);
    SyncSessionInput in;
    in.cycle_id = one.id;
    in.local_directory = (root_ / "batch").string();
    EXPECT_EQ(run(service_->create_session(member_.principal(), in, kOrigin)).local_directory,
              fs::canonical(root_ / "batch").string());
    in.local_directory = (root_ / "batch" / ".." / "..").string();
    EXPECT_EQ(run(fields_of(service_->create_session(member_.principal(), in, kOrigin))),
              std::vector<std::string>{"local_directory"});
    in.local_directory = "/etc";
    EXPECT_EQ(run(fields_of(service_->create_session(member_.principal(), in, kOrigin))),
              std::vector<std::string>{"local_directory"});
    // Without roots, no server path at all.
    Service closed(*store_, *sync_store_, blocking_, {});
    in.local_directory = (root_ / "batch").string();
    EXPECT_EQ(run(fields_of(closed.create_session(member_.principal(), in, kOrigin))),
              std::vector<std::string>{"local_directory"});
    in.local_directory.reset();
    EXPECT_EQ(run(closed.create_session(member_.principal(), in, kOrigin)).state, "pending");
}

// The lanes wait for the scan to share out the files; a scan out of attempts (or cancelled on
// its own) cancels them, so the batch ends and its parent runs to settle the session.
TEST_F(UploadsTest, ASyncWhoseScanDiesEndsItsWaitingLanes) {
    const auto a = project(admin_, "Scan dies");
    const auto one = cycle(admin_, a.id, 1);
    const auto s = session(member_, one.id);
    const auto started = run(service_->start_sync(member_.principal(), s.id, false, kOrigin));
    ASSERT_TRUE(started.job_id.has_value());
    const auto parent = started.job_id->str();
    EXPECT_EQ(su(fmt::format("SELECT count(*) FROM jobs WHERE parent_id = '{}' AND kind = '{}' AND state = 'scheduled'",
                             parent, kTransferKind)),
              std::to_string(s.max_workers));

    jobs::Store engine(*pool_);
    su(fmt::format("UPDATE jobs SET max_attempts = 1 WHERE parent_id = '{}' AND kind = '{}'", parent, kScanKind));
    jobs::ClaimRequest c;
    c.kinds = {kScanKind};
    c.worker = "pgtest";
    c.limit = 1;
    const auto claimed = run(engine.claim(c));
    ASSERT_EQ(claimed.size(), 1U);
    const jobs::Lease lease{claimed[0].workspace, claimed[0].id, claimed[0].lease};
    EXPECT_EQ(run(engine.fail(lease, "the database went away", std::chrono::milliseconds(0))), "dead");

    EXPECT_EQ(su(fmt::format("SELECT string_agg(DISTINCT state, ',') FROM jobs WHERE parent_id = '{}' AND kind = '{}'",
                             parent, kTransferKind)),
              "cancelled");
    EXPECT_EQ(su(fmt::format("SELECT state || ' ' || batch_dead || ' ' || batch_cancelled FROM jobs WHERE id = '{}'",
                             parent)),
              fmt::format("available 1 {}", s.max_workers));
}

// A scan deals its files to the lanes as it inserts them: by size, biggest first (then by path),
// round robin, so that the lanes carry about the same bytes; and records which keys the store's
// listing did not have.
TEST_F(UploadsTest, AScanDealsItsFilesToTheLanesBySize) {
    const auto a = project(admin_, "Deal");
    const auto s = session(member_, cycle(admin_, a.id, 1).id);
    const auto started = run(service_->start_sync(member_.principal(), s.id, false, kOrigin));
    ASSERT_TRUE(started.job_id.has_value());
    std::vector<std::string> ids(5);
    for (auto& id : ids) id = core::Uuid::v7().str();
    su(fmt::format(
        "SELECT set_config('kiln.workspace_id', '{}', true); "
        "SELECT kiln_upload_sync_scanned('{}', '{}', ARRAY['{}']::uuid[], ARRAY['a','b','c','d','e'], "
        "ARRAY['/s/a','/s/b','/s/c','/s/d','/s/e'], ARRAY['p/a','p/b','p/c','p/d','p/e'], "
        "ARRAY[10,50,30,50,20]::bigint[], ARRAY[true,true,false,true,true], '{{}}'::uuid[], '{{}}'::text[], "
        "'{{}}'::text[], NULL, 2, 'p/')",
        admin_.workspace.str(), s.id.str(), started.job_id->str(), fmt::join(ids, "','")));
    EXPECT_EQ(su(fmt::format("SELECT string_agg(relative_path || ':' || lane || ':' || key_absent, ',' "
                             "ORDER BY relative_path) FROM upload_files WHERE session_id = '{}'",
                             s.id.str())),
              "a:0:true,b:0:true,c:0:false,d:1:true,e:1:true");
    EXPECT_EQ(su(fmt::format("SELECT files_total || ' ' || bytes_total FROM upload_sync_sessions WHERE id = '{}'",
                             s.id.str())),
              "5 160");
}

// A lane's outcomes count once each: a file reported again (by a lane that lost its lease and the
// one that took over) keeps its first outcome, and an id that is not a pending file of the session
// changes nothing. A file that grew since the scan moves the session's bytes_total.
TEST_F(UploadsTest, AFilesOutcomeCountsOnce) {
    const auto a = project(admin_, "Outcomes");
    const auto s = session(member_, cycle(admin_, a.id, 1).id);
    const auto other = session(member_, cycle(admin_, a.id, 2).id);
    const auto started = run(service_->start_sync(member_.principal(), s.id, false, kOrigin));
    ASSERT_TRUE(started.job_id.has_value());
    std::vector<core::Uuid> ids(3);
    for (auto& id : ids) id = core::Uuid::v7();
    const auto stranger = core::Uuid::v7();  // a file of the other session
    su(
        fmt::format("INSERT INTO upload_files (workspace_id, id, session_id, relative_path, object_key, size_bytes) "
                    "VALUES ('{}', '{}', '{}', 'x', 'p/x', 5)",
                    kWorkspace.str(), stranger.str(), other.id.str()));
    su(
        fmt::format("SELECT set_config('kiln.workspace_id', '{}', true); "
                    "SELECT kiln_upload_sync_scanned('{}', '{}', ARRAY['{}','{}','{}']::uuid[], ARRAY['a','b','c'], "
                    "ARRAY['/s/a','/s/b','/s/c'], ARRAY['p/a','p/b','p/c'], ARRAY[10,20,30]::bigint[], "
                    "ARRAY[false,false,false], '{{}}'::uuid[], '{{}}'::text[], '{{}}'::text[], NULL, 1, 'p/')",
                    kWorkspace.str(), s.id.str(), started.job_id->str(), ids[0].str(), ids[1].str(), ids[2].str()));
    db::TenantScope scope;
    scope.workspace_id = kWorkspace;
    const auto outcome = [](const core::Uuid& id, const char* status, std::uint64_t size) {
        return FileOutcome{.file = id, .status = status, .attempts = 1, .size = size};
    };
    run(sync_store_->files_done(scope, s.id, {outcome(ids[0], "uploaded", 12), outcome(ids[1], "failed", 20)}, false));
    run(sync_store_->files_done(scope, s.id,
                                {outcome(ids[0], "failed", 10), outcome(ids[2], "skipped", 30),
                                 outcome(stranger, "uploaded", 5), outcome(core::Uuid::v7(), "uploaded", 1)},
                                false));
    EXPECT_EQ(
        su(fmt::format("SELECT string_agg(relative_path || ':' || status || ':' || size_bytes || ':' || attempts, "
                       "',' ORDER BY relative_path) FROM upload_files WHERE session_id = '{}'",
                       s.id.str())),
        "a:uploaded:12:1,b:failed:20:1,c:skipped:30:1");
    EXPECT_EQ(su(fmt::format("SELECT status FROM upload_files WHERE id = '{}'", stranger.str())), "pending");
    EXPECT_EQ(su(fmt::format("SELECT files_done || ' ' || files_failed || ' ' || files_skipped || ' ' || bytes_total "
                             "|| ' ' || bytes_done FROM upload_sync_sessions WHERE id = '{}'",
                             s.id.str())),
              "1 1 1 62 42");
}

// Two reports of one file at once: the second waits for the first's row and then leaves it (the
// update checks `pending` again on the row the first one wrote), so the file counts once.
TEST_F(UploadsTest, TwoReportsOfAFileAtOnceCountOnce) {
    const auto a = project(admin_, "Raced outcomes");
    const auto s = session(member_, cycle(admin_, a.id, 1).id);
    const auto started = run(service_->start_sync(member_.principal(), s.id, false, kOrigin));
    ASSERT_TRUE(started.job_id.has_value());
    const auto id = core::Uuid::v7();
    su(
        fmt::format("SELECT set_config('kiln.workspace_id', '{}', true); "
                    "SELECT kiln_upload_sync_scanned('{}', '{}', ARRAY['{}']::uuid[], ARRAY['a'], ARRAY['/s/a'], "
                    "ARRAY['p/a'], ARRAY[10]::bigint[], ARRAY[false], '{{}}'::uuid[], '{{}}'::text[], '{{}}'::text[], "
                    "NULL, 1, 'p/')",
                    kWorkspace.str(), s.id.str(), started.job_id->str(), id.str()));
    db::TenantScope scope;
    scope.workspace_id = kWorkspace;
    EXPECT_EQ(run(report_during_report(pool_.get(), sync_store_.get(), scope, s.id, id, superuser_conninfo())),
              "true/true");
    EXPECT_EQ(su(fmt::format("SELECT status || ':' || attempts FROM upload_files WHERE id = '{}'", id.str())),
              "uploaded:1");
    EXPECT_EQ(su(fmt::format("SELECT files_done || ' ' || files_failed FROM upload_sync_sessions WHERE id = '{}'",
                             s.id.str())),
              "1 0");
}

// A file belongs to a session that exists, as a foreign key would have it (migration 0024 checks
// it once per statement): a file for no session, a session deleted with its files, a file moved to
// another session and a session given another id all fail with 23503.
TEST_F(UploadsTest, AFileStaysLinkedToItsSession) {
    const auto a = project(admin_, "Links");
    const auto s = session(member_, cycle(admin_, a.id, 1).id);
    db::TenantScope scope;
    scope.workspace_id = kWorkspace;
    const auto insert = [&](const core::Uuid& session_id, const char* path) {
        return run(as_app(pool_.get(), scope,
                          fmt::format("INSERT INTO upload_files (workspace_id, id, session_id, relative_path, "
                                      "object_key) VALUES (kiln_current_workspace(), '{}', '{}', '{}', 'p/{}')",
                                      core::Uuid::v7().str(), session_id.str(), path, path)));
    };
    EXPECT_EQ(insert(core::Uuid::v7(), "nowhere"), "error 23503");
    EXPECT_EQ(insert(s.id, "kept"), "ok");
    const auto elsewhere = fmt::format("UPDATE upload_files SET session_id = '{}'", core::Uuid::v7().str());
    EXPECT_EQ(run(as_app(pool_.get(), scope, elsewhere)), "error 23503");
    const auto rekey =
        fmt::format("UPDATE upload_sync_sessions SET id = '{}' WHERE id = '{}'", core::Uuid::v7().str(), s.id.str());
    EXPECT_EQ(run(as_app(pool_.get(), scope, rekey)), "error 23503");
    // The superuser sees every row, so this is the table's rule, not a policy hiding the session.
    const auto deleted = fmt::format("DELETE FROM upload_sync_sessions WHERE id = '{}'", s.id.str());
    EXPECT_EQ(su(fmt::format("SELECT count(*) FROM upload_files WHERE session_id = '{}'", s.id.str())), "1");
    EXPECT_EQ(run(as_app(pool_.get(), scope, deleted)), "error 23503");
    EXPECT_EQ(su(fmt::format("SELECT count(*) FROM upload_sync_sessions WHERE id = '{}'", s.id.str())), "1");
}

// A file's SHA-256 is stored only as 64 lowercase hex digits (migration 0025 checks it without a
// regular expression: the same rule).
TEST_F(UploadsTest, AFilesSha256IsSixtyFourLowercaseHexDigits) {
    const auto a = project(admin_, "Digests");
    const auto s = session(member_, cycle(admin_, a.id, 1).id);
    db::TenantScope scope;
    scope.workspace_id = kWorkspace;
    const auto id = core::Uuid::v7();
    ASSERT_EQ(
        run(as_app(pool_.get(), scope,
                   fmt::format("INSERT INTO upload_files (workspace_id, id, session_id, relative_path, object_key) "
                               "VALUES (kiln_current_workspace(), '{}', '{}', 'a', 'p/a')",
                               id.str(), s.id.str()))),
        "ok");
    const auto set = [&](const std::string& sha) {
        return run(as_app(pool_.get(), scope,
                          fmt::format("UPDATE upload_files SET sha256 = '{}' WHERE id = '{}'", sha, id.str())));
    };
    const std::string hex(64, 'a');
    EXPECT_EQ(set(hex.substr(0, 63)), "error 23514");
    EXPECT_EQ(set(hex + "0"), "error 23514");
    EXPECT_EQ(set(std::string(63, 'a') + "A"), "error 23514");
    EXPECT_EQ(set(std::string(63, 'a') + "g"), "error 23514");
    EXPECT_EQ(set(std::string(63, 'a') + " "), "error 23514");
    EXPECT_EQ(set("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"), "ok");
    EXPECT_EQ(su(fmt::format("SELECT sha256 FROM upload_files WHERE id = '{}'", id.str())),
              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
}

}  // namespace
}  // namespace kiln::uploads
