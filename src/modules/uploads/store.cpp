#include "modules/uploads/store.hpp"

#include <boost/json/parse.hpp>
#include <charconv>
#include <stdexcept>

#include "db/sql.hpp"
#include "db/transaction.hpp"

namespace asio = boost::asio;

namespace kiln::uploads {

namespace {

// ---- projects ----

constexpr std::string_view kProjectColumns = R"sql(
id, name, description, storage_connection_id, bucket, base_prefix, is_active, created_by, kiln_rfc3339(created_at),
kiln_rfc3339(updated_at))sql";

const std::string& project_get_sql() {
    static const std::string s =
        db::tenant_select(kProjectColumns, "upload_projects", "deleted_at IS NULL AND id = $1");
    return s;
}
const std::string& project_list_sql() {
    static const std::string s =
        db::tenant_select(kProjectColumns, "upload_projects",
                          "deleted_at IS NULL AND ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2");
    return s;
}
const std::string& project_insert_sql() {
    static const std::string s = std::string(R"sql(
INSERT INTO upload_projects (workspace_id, id, name, description, storage_connection_id, bucket, base_prefix,
                             is_active, created_by)
VALUES (kiln_current_workspace(), $1, $2, coalesce($3, ''), $4, coalesce($5, ''), coalesce($6, ''),
        coalesce($7::boolean, true), kiln_current_user())
RETURNING )sql") + std::string(kProjectColumns);
    return s;
}
const std::string& project_update_sql() {
    static const std::string s = std::string(R"sql(
UPDATE upload_projects
   SET name = coalesce($2, name), description = coalesce($3, description),
       storage_connection_id = CASE WHEN $4::boolean THEN $5::uuid ELSE storage_connection_id END,
       bucket = coalesce($6, bucket), base_prefix = coalesce($7, base_prefix),
       is_active = coalesce($8::boolean, is_active), updated_at = now()
 WHERE workspace_id = kiln_current_workspace() AND id = $1 AND deleted_at IS NULL
RETURNING )sql") + std::string(kProjectColumns);
    return s;
}
constexpr std::string_view kProjectRequire = "SELECT kiln_upload_project_require($1)";
constexpr std::string_view kProjectRequireField = "SELECT kiln_upload_project_require($1, $2)";
constexpr std::string_view kConnectionUsable = "SELECT kiln_upload_connection_usable($1)";
constexpr std::string_view kDeleteTree = "SELECT kiln_upload_delete_tree($1, $2)";

Project project_at(const db::Result& r, int i) {
    Project p;
    p.id = r.uuid(i, 0);
    p.name = r.str(i, 1);
    p.description = r.str(i, 2);
    if (!r.is_null(i, 3)) p.storage_connection_id = r.uuid(i, 3);
    p.bucket = r.str(i, 4);
    p.base_prefix = r.str(i, 5);
    p.is_active = r.boolean(i, 6);
    if (!r.is_null(i, 7)) p.created_by = r.uuid(i, 7);
    p.created_at = r.str(i, 8);
    p.updated_at = r.str(i, 9);
    return p;
}

// ---- cycles ----

constexpr std::string_view kCycleColumns = R"sql(
id, project_id, cycle_name, cycle_number, s3_prefix, status, description, metadata::text, kiln_rfc3339(started_at),
kiln_rfc3339(completed_at), created_by, kiln_rfc3339(created_at), kiln_rfc3339(updated_at))sql";

const std::string& cycle_get_sql() {
    static const std::string s = db::tenant_select(kCycleColumns, "upload_cycles", "deleted_at IS NULL AND id = $1");
    return s;
}
const std::string& cycle_list_sql() {
    static const std::string s = db::tenant_select(kCycleColumns, "upload_cycles", R"sql(deleted_at IS NULL
   AND ($1::uuid IS NULL OR project_id = $1) AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3)sql");
    return s;
}
const std::string& cycle_insert_sql() {
    static const std::string s = std::string(R"sql(
INSERT INTO upload_cycles (workspace_id, id, project_id, cycle_name, cycle_number, s3_prefix, status, description,
                           metadata, started_at, completed_at, created_by)
VALUES (kiln_current_workspace(), $1, $2, $3, $4, coalesce($5, ''), coalesce($6, 'planned'), coalesce($7, ''),
        coalesce($8::jsonb, '{}'), $9::timestamptz, $10::timestamptz, kiln_current_user())
RETURNING )sql") + std::string(kCycleColumns);
    return s;
}
const std::string& cycle_update_sql() {
    static const std::string s = std::string(R"sql(
UPDATE upload_cycles
   SET cycle_name = coalesce($2, cycle_name), cycle_number = coalesce($3::integer, cycle_number),
       s3_prefix = coalesce($4, s3_prefix), status = coalesce($5, status), description = coalesce($6, description),
       metadata = coalesce($7::jsonb, metadata),
       started_at = CASE WHEN $8::boolean THEN $9::timestamptz ELSE started_at END,
       completed_at = CASE WHEN $10::boolean THEN $11::timestamptz ELSE completed_at END, updated_at = now()
 WHERE workspace_id = kiln_current_workspace() AND id = $1 AND deleted_at IS NULL
RETURNING )sql") + std::string(kCycleColumns);
    return s;
}
constexpr std::string_view kCycleRequire = "SELECT kiln_upload_cycle_require($1)";
constexpr std::string_view kCycleRequireField = "SELECT kiln_upload_cycle_require($1, $2)";

std::optional<std::string> opt_str(const db::Result& r, int i, int col) {
    return r.is_null(i, col) ? std::nullopt : std::optional<std::string>(r.str(i, col));
}

Cycle cycle_at(const db::Result& r, int i) {
    Cycle c;
    c.id = r.uuid(i, 0);
    c.project_id = r.uuid(i, 1);
    c.cycle_name = r.str(i, 2);
    c.cycle_number = r.int64(i, 3);
    c.s3_prefix = r.str(i, 4);
    c.status = r.str(i, 5);
    c.description = r.str(i, 6);
    c.metadata = boost::json::parse(r.text(i, 7));
    c.started_at = opt_str(r, i, 8);
    c.completed_at = opt_str(r, i, 9);
    if (!r.is_null(i, 10)) c.created_by = r.uuid(i, 10);
    c.created_at = r.str(i, 11);
    c.updated_at = r.str(i, 12);
    return c;
}

// ---- sync sessions ----

constexpr std::string_view kSessionColumns = R"sql(
id, project_id, cycle_id, local_directory, max_workers, times_to_retry, to_json(include_patterns)::text,
to_json(exclude_patterns)::text, use_find, state, files_total, files_done, files_failed, files_skipped, bytes_total,
bytes_done, job_id, created_by, kiln_rfc3339(created_at), kiln_rfc3339(updated_at), kiln_rfc3339(started_at),
kiln_rfc3339(finished_at), error)sql";

const std::string& session_get_sql() {
    static const std::string s =
        db::tenant_select(kSessionColumns, "upload_sync_sessions", "deleted_at IS NULL AND id = $1");
    return s;
}
const std::string& session_list_sql() {
    static const std::string s = db::tenant_select(kSessionColumns, "upload_sync_sessions", R"sql(deleted_at IS NULL
   AND ($1::uuid IS NULL OR cycle_id = $1) AND ($2::uuid IS NULL OR project_id = $2)
   AND ($3::text IS NULL OR state = $3) AND ($4::uuid IS NULL OR id < $4) ORDER BY id DESC LIMIT $5)sql");
    return s;
}
// The session takes its project from its cycle (checked live by kiln_upload_cycle_require first).
const std::string& session_insert_sql() {
    static const std::string s = std::string(R"sql(
INSERT INTO upload_sync_sessions (workspace_id, id, project_id, cycle_id, local_directory, max_workers,
                                  times_to_retry, include_patterns, exclude_patterns, use_find, created_by)
SELECT c.workspace_id, $1, c.project_id, c.id, $3, coalesce($4::integer, 4), coalesce($5::integer, 3),
       ARRAY(SELECT jsonb_array_elements_text(coalesce($6::jsonb, '[]'))),
       ARRAY(SELECT jsonb_array_elements_text(coalesce($7::jsonb, '[]'))), coalesce($8::boolean, true),
       kiln_current_user()
  FROM upload_cycles c
 WHERE c.workspace_id = kiln_current_workspace() AND c.id = $2 AND c.deleted_at IS NULL
RETURNING )sql") + std::string(kSessionColumns);
    return s;
}
const std::string& session_update_sql() {
    static const std::string s = std::string(R"sql(
UPDATE upload_sync_sessions
   SET local_directory = CASE WHEN $2::boolean THEN $3 ELSE local_directory END,
       max_workers = coalesce($4::integer, max_workers), times_to_retry = coalesce($5::integer, times_to_retry),
       include_patterns = CASE WHEN $6::jsonb IS NULL THEN include_patterns
                               ELSE ARRAY(SELECT jsonb_array_elements_text($6::jsonb)) END,
       exclude_patterns = CASE WHEN $7::jsonb IS NULL THEN exclude_patterns
                               ELSE ARRAY(SELECT jsonb_array_elements_text($7::jsonb)) END,
       use_find = coalesce($8::boolean, use_find), updated_at = now()
 WHERE workspace_id = kiln_current_workspace() AND id = $1 AND deleted_at IS NULL
RETURNING )sql") + std::string(kSessionColumns);
    return s;
}
constexpr std::string_view kSessionRequire = "SELECT kiln_upload_session_require($1, $2::text[], $3)";
constexpr std::string_view kSessionDelete = R"sql(
UPDATE upload_sync_sessions SET deleted_at = now(), updated_at = now()
 WHERE workspace_id = kiln_current_workspace() AND id = $1 AND deleted_at IS NULL)sql";

SyncSession session_at(const db::Result& r, int i) {
    SyncSession s;
    s.id = r.uuid(i, 0);
    s.project_id = r.uuid(i, 1);
    s.cycle_id = r.uuid(i, 2);
    s.local_directory = opt_str(r, i, 3);
    s.max_workers = r.int64(i, 4);
    s.times_to_retry = r.int64(i, 5);
    s.include_patterns = strings_of(r.text(i, 6));
    s.exclude_patterns = strings_of(r.text(i, 7));
    s.use_find = r.boolean(i, 8);
    s.state = r.str(i, 9);
    s.files_total = r.int64(i, 10);
    s.files_done = r.int64(i, 11);
    s.files_failed = r.int64(i, 12);
    s.files_skipped = r.int64(i, 13);
    s.bytes_total = r.int64(i, 14);
    s.bytes_done = r.int64(i, 15);
    if (!r.is_null(i, 16)) s.job_id = r.uuid(i, 16);
    if (!r.is_null(i, 17)) s.created_by = r.uuid(i, 17);
    s.created_at = r.str(i, 18);
    s.updated_at = r.str(i, 19);
    s.started_at = opt_str(r, i, 20);
    s.finished_at = opt_str(r, i, 21);
    s.error = opt_str(r, i, 22);
    return s;
}

// ---- statistics of sync sessions ----

// One pass over the selected sessions (the CTE is read twice, so PostgreSQL materializes it).
// `run_s` is a finished session's duration when it has both times in order: throughput and the
// average duration count only those. The per-project list travels as one JSON text column so
// that the whole answer stays one statement.
constexpr std::string_view kSessionStats = R"sql(
WITH s AS (
    SELECT project_id, state, files_total, files_done, files_failed, files_skipped, bytes_total, bytes_done,
           CASE WHEN state IN ('completed', 'completed_with_errors', 'failed', 'cancelled')
                     AND started_at IS NOT NULL AND finished_at >= started_at
                THEN extract(epoch FROM finished_at - started_at)::float8 END AS run_s
      FROM upload_sync_sessions
     WHERE workspace_id = kiln_current_workspace() AND deleted_at IS NULL
       AND ($1::uuid IS NULL OR project_id = $1) AND ($2::uuid IS NULL OR cycle_id = $2)
       AND ($3::timestamptz IS NULL OR created_at >= $3::timestamptz)
       AND ($4::timestamptz IS NULL OR created_at < $4::timestamptz)),
top AS (
    SELECT s.project_id, p.name, count(*) AS sessions, sum(s.files_done)::bigint AS files_done,
           sum(s.bytes_done)::bigint AS bytes_done
      FROM s JOIN upload_projects p ON p.workspace_id = kiln_current_workspace() AND p.id = s.project_id
     GROUP BY s.project_id, p.name
     ORDER BY sessions DESC, p.name, s.project_id
     LIMIT 100)
SELECT count(*),
       count(*) FILTER (WHERE state = 'pending'),
       count(*) FILTER (WHERE state = 'in_progress'),
       count(*) FILTER (WHERE state = 'completed'),
       count(*) FILTER (WHERE state = 'completed_with_errors'),
       count(*) FILTER (WHERE state = 'failed'),
       count(*) FILTER (WHERE state = 'cancelled'),
       coalesce(sum(files_total), 0)::bigint, coalesce(sum(files_done), 0)::bigint,
       coalesce(sum(files_skipped), 0)::bigint, coalesce(sum(files_failed), 0)::bigint,
       coalesce(sum(bytes_total), 0)::bigint, coalesce(sum(bytes_done), 0)::bigint,
       sum(files_done + files_skipped)::float8 / nullif(sum(files_done + files_skipped + files_failed), 0)::float8,
       (sum(bytes_done) FILTER (WHERE run_s IS NOT NULL))::float8 / nullif(sum(run_s), 0),
       avg(run_s),
       (SELECT coalesce(json_agg(json_build_object('project_id', project_id, 'name', name, 'sessions', sessions,
                                                   'files_done', files_done, 'bytes_done', bytes_done)
                                 ORDER BY sessions DESC, name, project_id), '[]')::text
          FROM top)
  FROM s)sql";

std::optional<double> opt_double(const db::Result& r, int i, int col) {
    if (r.is_null(i, col)) return std::nullopt;
    const auto t = r.text(i, col);
    double v = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc{} || end != t.data() + t.size()) throw std::runtime_error("column is not a number");
    return v;
}

SessionStats session_stats_at(const db::Result& r) {
    SessionStats s;
    s.sessions = {r.int64(0, 0), r.int64(0, 1), r.int64(0, 2), r.int64(0, 3),
                  r.int64(0, 4), r.int64(0, 5), r.int64(0, 6)};
    s.files = {r.int64(0, 7), r.int64(0, 8), r.int64(0, 9), r.int64(0, 10)};
    s.bytes = {r.int64(0, 11), r.int64(0, 12)};
    s.success_rate = opt_double(r, 0, 13);
    s.throughput_bytes_per_second = opt_double(r, 0, 14);
    s.average_duration_s = opt_double(r, 0, 15);
    const auto projects = boost::json::parse(r.text(0, 16));
    for (const auto& el : projects.as_array()) {
        const auto& o = el.as_object();
        const auto id = core::Uuid::parse(o.at("project_id").as_string());
        if (!id) throw std::runtime_error("project_id is not a uuid");
        s.by_project.push_back({*id, std::string(o.at("name").as_string()), o.at("sessions").to_number<std::int64_t>(),
                                o.at("files_done").to_number<std::int64_t>(),
                                o.at("bytes_done").to_number<std::int64_t>()});
    }
    return s;
}

// ---- files of a session ----

constexpr std::string_view kSessionFound = R"sql(
SELECT kiln_found(count(*), 'No such sync session.') FROM upload_sync_sessions
 WHERE workspace_id = kiln_current_workspace() AND id = $1 AND deleted_at IS NULL)sql";
constexpr std::string_view kFileColumns = R"sql(
id, session_id, relative_path, object_key, size_bytes, sha256, status, attempts, error, kiln_rfc3339(started_at),
kiln_rfc3339(finished_at), kiln_rfc3339(created_at), kiln_rfc3339(updated_at), file_id, bytes_sent)sql";
const std::string& file_list_sql() {
    static const std::string s = db::tenant_select(kFileColumns, "upload_files", R"sql(session_id = $1
   AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR id < $3) ORDER BY id DESC LIMIT $4)sql");
    return s;
}

UploadFile file_at(const db::Result& r, int i) {
    UploadFile f;
    f.id = r.uuid(i, 0);
    f.session_id = r.uuid(i, 1);
    f.relative_path = r.str(i, 2);
    f.object_key = r.str(i, 3);
    f.size_bytes = r.int64(i, 4);
    f.sha256 = opt_str(r, i, 5);
    f.status = r.str(i, 6);
    f.attempts = r.int64(i, 7);
    f.error = opt_str(r, i, 8);
    f.started_at = opt_str(r, i, 9);
    f.finished_at = opt_str(r, i, 10);
    f.created_at = r.str(i, 11);
    f.updated_at = r.str(i, 12);
    if (!r.is_null(i, 13)) f.file_id = r.uuid(i, 13);
    f.bytes_sent = r.int64(i, 14);
    return f;
}

template <typename Row, typename F>
std::vector<Row> rows_of(const db::Result& r, F at) {
    std::vector<Row> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(at(r, i));
    return out;
}

}  // namespace

asio::awaitable<Project> Store::create_project(const db::TenantScope& scope, const core::Uuid& id,
                                               const ProjectChanges& c, const audit::Event& e,
                                               const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kConnectionUsable, db::params(c.storage_connection_id)});
    q.push_back({project_insert_sql(),
                 db::params(id, c.name, c.description, c.storage_connection_id, c.bucket, c.base_prefix, c.is_active)});
    q.push_back(audit::record(e, origin));
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return project_at(r[1], 0);
}

asio::awaitable<std::vector<Project>> Store::list_projects(const db::TenantScope& scope,
                                                           const std::optional<core::Uuid>& before, int limit) {
    auto r = co_await db::run(pool_, scope, project_list_sql(), db::params(before, limit));
    co_return rows_of<Project>(r, project_at);
}

asio::awaitable<Project> Store::get_project(const db::TenantScope& scope, const core::Uuid& id) {
    auto r = co_await db::run(pool_, scope, project_get_sql(), db::params(id));
    if (r.empty()) throw core::Problem::not_found("No such project.");
    co_return project_at(r, 0);
}

asio::awaitable<Project> Store::update_project(const db::TenantScope& scope, const core::Uuid& id,
                                               const ProjectChanges& c, const audit::Event& e,
                                               const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kProjectRequire, db::params(id)});
    q.push_back({kConnectionUsable, db::params(c.set_connection ? c.storage_connection_id : std::nullopt)});
    q.push_back({project_update_sql(), db::params(id, c.name, c.description, c.set_connection, c.storage_connection_id,
                                                  c.bucket, c.base_prefix, c.is_active)});
    q.push_back(audit::record(e, origin));
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return project_at(r[2], 0);
}

asio::awaitable<void> Store::remove_project(const db::TenantScope& scope, const core::Uuid& id, const audit::Event& e,
                                            const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kDeleteTree, db::params(id, std::nullopt)});
    q.push_back(audit::record(e, origin));
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<Cycle> Store::create_cycle(const db::TenantScope& scope, const core::Uuid& id,
                                           const core::Uuid& project, const CycleChanges& c, const audit::Event& e,
                                           const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kProjectRequireField, db::params(project, "project_id")});
    q.push_back({cycle_insert_sql(), db::params(id, project, c.cycle_name, c.cycle_number, c.s3_prefix, c.status,
                                                c.description, c.metadata_json, c.started_at, c.completed_at)});
    q.push_back(audit::record(e, origin));
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return cycle_at(r[1], 0);
}

asio::awaitable<std::vector<Cycle>> Store::list_cycles(const db::TenantScope& scope,
                                                       const std::optional<core::Uuid>& project,
                                                       const std::optional<core::Uuid>& before, int limit) {
    auto r = co_await db::run(pool_, scope, cycle_list_sql(), db::params(project, before, limit));
    co_return rows_of<Cycle>(r, cycle_at);
}

asio::awaitable<Cycle> Store::get_cycle(const db::TenantScope& scope, const core::Uuid& id) {
    auto r = co_await db::run(pool_, scope, cycle_get_sql(), db::params(id));
    if (r.empty()) throw core::Problem::not_found("No such cycle.");
    co_return cycle_at(r, 0);
}

asio::awaitable<Cycle> Store::update_cycle(const db::TenantScope& scope, const core::Uuid& id, const CycleChanges& c,
                                           const audit::Event& e, const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kCycleRequire, db::params(id)});
    q.push_back({cycle_update_sql(),
                 db::params(id, c.cycle_name, c.cycle_number, c.s3_prefix, c.status, c.description, c.metadata_json,
                            c.set_started_at, c.started_at, c.set_completed_at, c.completed_at)});
    q.push_back(audit::record(e, origin));
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return cycle_at(r[1], 0);
}

asio::awaitable<void> Store::remove_cycle(const db::TenantScope& scope, const core::Uuid& id, const audit::Event& e,
                                          const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kDeleteTree, db::params(std::nullopt, id)});
    q.push_back(audit::record(e, origin));
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<SyncSession> Store::create_session(const db::TenantScope& scope, const core::Uuid& id,
                                                   const core::Uuid& cycle, const SessionChanges& c,
                                                   const audit::Event& e, const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kCycleRequireField, db::params(cycle, "cycle_id")});
    q.push_back({session_insert_sql(), db::params(id, cycle, c.local_directory, c.max_workers, c.times_to_retry,
                                                  c.include_json, c.exclude_json, c.use_find)});
    q.push_back(audit::record(e, origin));
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return session_at(r[1], 0);
}

asio::awaitable<std::vector<SyncSession>> Store::list_sessions(const db::TenantScope& scope, const SessionFilter& f,
                                                               const std::optional<core::Uuid>& before, int limit) {
    auto r = co_await db::run(pool_, scope, session_list_sql(),
                              db::params(f.cycle_id, f.project_id, f.state, before, limit));
    co_return rows_of<SyncSession>(r, session_at);
}

asio::awaitable<SessionStats> Store::session_stats(const db::TenantScope& scope, const SessionStatsFilter& f) {
    auto r = co_await db::run(pool_, scope, kSessionStats, db::params(f.project_id, f.cycle_id, f.since, f.until));
    co_return session_stats_at(r);
}

asio::awaitable<SyncSession> Store::get_session(const db::TenantScope& scope, const core::Uuid& id) {
    auto r = co_await db::run(pool_, scope, session_get_sql(), db::params(id));
    if (r.empty()) throw core::Problem::not_found("No such sync session.");
    co_return session_at(r, 0);
}

asio::awaitable<SyncSession> Store::update_session(const db::TenantScope& scope, const core::Uuid& id,
                                                   const SessionChanges& c, const audit::Event& e,
                                                   const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kSessionRequire, db::params(id, "{in_progress,completed,completed_with_errors,failed,cancelled}",
                                             "Only a pending sync session can be changed; this one is %s.")});
    q.push_back({session_update_sql(), db::params(id, c.set_local_directory, c.local_directory, c.max_workers,
                                                  c.times_to_retry, c.include_json, c.exclude_json, c.use_find)});
    q.push_back(audit::record(e, origin));
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return session_at(r[1], 0);
}

asio::awaitable<void> Store::remove_session(const db::TenantScope& scope, const core::Uuid& id, const audit::Event& e,
                                            const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kSessionRequire,
                 db::params(id, "{in_progress}", "A sync session in progress cannot be deleted; cancel it first.")});
    q.push_back({kSessionDelete, db::params(id)});
    q.push_back(audit::record(e, origin));
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<std::vector<UploadFile>> Store::list_files(const db::TenantScope& scope, const core::Uuid& session,
                                                           const std::optional<std::string>& status,
                                                           const std::optional<core::Uuid>& before, int limit) {
    std::vector<db::Query> q;
    q.push_back({kSessionFound, db::params(session)});
    q.push_back({file_list_sql(), db::params(session, status, before, limit)});
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return rows_of<UploadFile>(r[1], file_at);
}

std::string session_select(std::string_view where) {
    return db::tenant_select(kSessionColumns, "upload_sync_sessions", where);
}

std::vector<std::string> strings_of(std::string_view json_text) {
    std::vector<std::string> out;
    const auto v = boost::json::parse(json_text);
    for (const auto& el : v.as_array()) out.emplace_back(el.as_string());
    return out;
}

SyncSession session_row(const db::Result& r, int i) {
    return session_at(r, i);
}

std::string file_select(std::string_view where) {
    return db::tenant_select(kFileColumns, "upload_files", where);
}

UploadFile file_row(const db::Result& r, int i) {
    return file_at(r, i);
}

}  // namespace kiln::uploads
