#include "modules/uploads/sync_store.hpp"

#include "db/sql.hpp"
#include "db/transaction.hpp"
#include "jobs/store.hpp"
#include "modules/uploads/store.hpp"

namespace asio = boost::asio;

namespace kiln::uploads {

namespace {

constexpr std::string_view kStart = "SELECT kiln_upload_sync_start($1, $2, $3)";
constexpr std::string_view kCancel = "SELECT kiln_upload_sync_cancel($1)";

const std::string& session_by_id_sql() {
    static const std::string s = session_select("deleted_at IS NULL AND id = $1");
    return s;
}
const std::string& session_by_job_sql() {
    static const std::string s = session_select("deleted_at IS NULL AND job_id = $1");
    return s;
}

// The key prefix: the project's base_prefix and the cycle's s3_prefix, one '/' between them.
constexpr std::string_view kPlan = R"sql(
SELECT s.id, s.project_id, s.job_id, s.state, s.local_directory, to_json(s.include_patterns)::text,
       to_json(s.exclude_patterns)::text, s.use_find, s.max_workers, s.times_to_retry, s.scanned_at IS NOT NULL,
       p.storage_connection_id, p.bucket,
       concat_ws('/', nullif(rtrim(p.base_prefix, '/'), ''), nullif(rtrim(c.s3_prefix, '/'), ''))
  FROM upload_sync_sessions s
  JOIN upload_projects p ON p.workspace_id = s.workspace_id AND p.id = s.project_id
  JOIN upload_cycles c ON c.workspace_id = s.workspace_id AND c.id = s.cycle_id
 WHERE s.workspace_id = kiln_current_workspace() AND s.id = $1 AND s.deleted_at IS NULL)sql";

// The scan's effects run in the worker's transaction (kiln.worker on): the session's workspace
// is set first, so that RLS and the functions see it as a request would.
constexpr std::string_view kAsWorkspace = "SELECT set_config('kiln.workspace_id', $1::text, true)";
constexpr std::string_view kScanned =
    "SELECT kiln_upload_sync_scanned($1, $2, $3::uuid[], $4::text[], $5::text[], $6::text[], $7::bigint[], "
    "$8::boolean[], $9::uuid[], $10::text[], $11::text[], $12, $13, $14)";

constexpr std::string_view kLaneFiles = R"sql(
SELECT u.id, u.relative_path, coalesce(u.source_path, ''), u.object_key, u.size_bytes, u.file_id IS NOT NULL,
       f.storage_key, u.key_absent
  FROM upload_files u
  LEFT JOIN files f ON f.workspace_id = u.workspace_id AND f.id = u.file_id AND f.deleted_at IS NULL
 WHERE u.workspace_id = kiln_current_workspace() AND u.session_id = $1 AND u.lane = $2 AND u.status = 'pending'
 ORDER BY u.relative_path)sql";
constexpr std::string_view kAddFile = "SELECT kiln_upload_session_add_file($1, $2, $3, $4)";
const std::string& file_by_id_sql() {
    static const std::string s = file_select("id = $1");
    return s;
}
constexpr std::string_view kFilesDone =
    "SELECT kiln_upload_files_done($1, $2::uuid[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::text[], "
    "$8::bigint[], $9::timestamptz[], $10)";
constexpr std::string_view kFinish = "SELECT kiln_upload_sync_finish($1, $2, $3)";
constexpr std::string_view kSending = "SELECT kiln_upload_file_sending($1, $2, $3)";
constexpr std::string_view kRecordedSha256 = R"sql(
SELECT sha256 FROM upload_object_hashes
 WHERE workspace_id = kiln_current_workspace() AND etag = $1 AND size_bytes = $2)sql";

}  // namespace

asio::awaitable<SyncSession> SyncStore::start(const db::TenantScope& scope, const core::Uuid& session,
                                              const core::Uuid& job, bool retry, std::vector<db::Query> enqueue,
                                              const audit::Event& e, const audit::Origin& origin) {
    // The session is locked and checked first; its job's rows follow in the same transaction.
    std::vector<db::Query> q;
    q.push_back({kStart, db::params(session, job, retry)});
    for (auto& query : enqueue) q.push_back(std::move(query));
    q.push_back(audit::record(e, origin));
    q.push_back({session_by_id_sql(), db::params(session)});
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return session_row(r.back(), 0);
}

asio::awaitable<SyncSession> SyncStore::cancel(const db::TenantScope& scope, const core::Uuid& session,
                                               const audit::Event& e, const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kCancel, db::params(session)});
    q.push_back(audit::record(e, origin));
    q.push_back({session_by_id_sql(), db::params(session)});
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return session_row(r.back(), 0);
}

asio::awaitable<std::optional<SyncSession>> SyncStore::by_job(const db::TenantScope& scope, const core::Uuid& job) {
    auto r = co_await db::run(pool_, scope, session_by_job_sql(), db::params(job));
    if (r.empty()) co_return std::nullopt;
    co_return session_row(r, 0);
}

asio::awaitable<SyncPlan> SyncStore::plan(const db::TenantScope& scope, const core::Uuid& session) {
    auto r = co_await db::run(pool_, scope, kPlan, db::params(session));
    if (r.empty()) throw core::Problem::not_found("No such sync session.");
    SyncPlan p;
    p.session = r.uuid(0, 0);
    p.project = r.uuid(0, 1);
    if (!r.is_null(0, 2)) p.job_id = r.uuid(0, 2);
    p.state = r.str(0, 3);
    p.local_directory = r.opt_str(0, 4);
    p.include = strings_of(r.text(0, 5));
    p.exclude = strings_of(r.text(0, 6));
    p.use_find = r.boolean(0, 7);
    p.max_workers = static_cast<unsigned>(r.int64(0, 8));
    p.times_to_retry = static_cast<unsigned>(r.int64(0, 9));
    p.scanned = r.boolean(0, 10);
    if (!r.is_null(0, 11)) p.connection = r.uuid(0, 11);
    p.bucket = r.str(0, 12);
    p.prefix = r.str(0, 13);
    co_return p;
}

std::vector<db::Query> SyncStore::record_scan(const core::Uuid& workspace, const core::Uuid& session,
                                              const core::Uuid& job, const ScannedFiles& scanned, unsigned lanes,
                                              const std::string& prefix) {
    std::vector<core::Uuid> ids(scanned.files.size());
    for (auto& id : ids) id = core::Uuid::v7();
    std::vector<core::Uuid> refused_ids(scanned.refused.size());
    for (auto& id : refused_ids) id = core::Uuid::v7();
    using File = ScannedFiles::File;
    using Refused = ScannedFiles::Refused;
    std::vector<db::Query> q;
    q.push_back({kAsWorkspace, db::params(workspace)});
    q.push_back(
        {kScanned,
         db::params(session, job, db::array_of(ids, [](const core::Uuid& id) { return std::optional(id.str()); }),
                    db::array_of(scanned.files, [](const File& f) { return std::optional(f.relative); }),
                    db::array_of(scanned.files, [](const File& f) { return std::optional(f.source); }),
                    // NULL: the key is `prefix` + the path, which the function puts together.
                    db::array_of(scanned.files,
                                 [&prefix](const File& f) {
                                     const bool derived = f.key.size() == prefix.size() + f.relative.size() &&
                                                          f.key.starts_with(prefix) && f.key.ends_with(f.relative);
                                     return derived ? std::nullopt : std::optional(f.key);
                                 }),
                    db::array_of(scanned.files, [](const File& f) { return std::optional(std::to_string(f.size)); }),
                    db::array_of(scanned.files,
                                 [](const File& f) { return std::optional(std::string(f.key_absent ? "t" : "f")); }),
                    db::array_of(refused_ids, [](const core::Uuid& id) { return std::optional(id.str()); }),
                    db::array_of(scanned.refused, [](const Refused& f) { return std::optional(f.relative); }),
                    db::array_of(scanned.refused, [](const Refused& f) { return std::optional(f.reason); }),
                    scanned.error, static_cast<int>(lanes), prefix)});
    q.push_back(jobs::start_waiting_children(job));
    return q;
}

asio::awaitable<std::vector<LaneFile>> SyncStore::lane_files(const db::TenantScope& scope, const core::Uuid& session,
                                                             unsigned lane) {
    auto r = co_await db::run(pool_, scope, kLaneFiles, db::params(session, static_cast<int>(lane)));
    std::vector<LaneFile> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        out.push_back({r.uuid(i, 0), r.str(i, 1), r.str(i, 2), r.str(i, 3), static_cast<std::uint64_t>(r.int64(i, 4)),
                       r.boolean(i, 5), r.opt_str(i, 6), r.boolean(i, 7)});
    }
    co_return out;
}

asio::awaitable<UploadFile> SyncStore::add_file(const db::TenantScope& scope, const core::Uuid& session,
                                                const core::Uuid& file, const std::optional<std::string>& relative,
                                                const audit::Event& e, const audit::Origin& origin) {
    const auto id = core::Uuid::v7();
    std::vector<db::Query> q;
    q.push_back({kAddFile, db::params(session, id, file, relative)});
    q.push_back(audit::record(e, origin));
    q.push_back({file_by_id_sql(), db::params(id)});
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return file_row(r.back(), 0);
}

asio::awaitable<void> SyncStore::files_done(const db::TenantScope& scope, const core::Uuid& session,
                                            const std::vector<FileOutcome>& done, bool event) {
    using O = FileOutcome;
    co_await db::run(
        pool_, scope, kFilesDone,
        db::params(session, db::array_of(done, [](const O& o) { return std::optional(o.file.str()); }),
                   db::array_of(done, [](const O& o) { return std::optional(o.status); }),
                   db::array_of(done, [](const O& o) { return std::optional(std::to_string(o.attempts)); }),
                   db::array_of(done, [](const O& o) { return o.error; }),
                   db::array_of(done, [](const O& o) { return o.sha256; }),
                   db::array_of(done, [](const O& o) { return o.etag; }),
                   db::array_of(done, [](const O& o) { return std::optional(std::to_string(o.size)); }),
                   db::array_of(done, [](const O& o) { return db::to_param(o.started); }), event));
}

asio::awaitable<std::optional<std::string>> SyncStore::recorded_sha256(db::TenantScope scope, std::string etag,
                                                                       std::uint64_t size) {
    auto r = co_await db::run(pool_, scope, kRecordedSha256, db::params(etag, static_cast<std::int64_t>(size)));
    if (r.empty()) co_return std::nullopt;
    co_return r.str(0, 0);
}

asio::awaitable<void> SyncStore::sending(db::TenantScope scope, core::Uuid session, core::Uuid file,
                                         std::int64_t bytes) {
    co_await db::run(pool_, scope, kSending, db::params(session, file, bytes));
}

asio::awaitable<void> SyncStore::finish(const db::TenantScope& scope, const core::Uuid& session, const core::Uuid& job,
                                        const std::optional<std::string>& lanes_failed) {
    co_await db::run(pool_, scope, kFinish, db::params(session, job, lanes_failed));
}

}  // namespace kiln::uploads
