#include "jobs/store.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "db/sql.hpp"
#include "db/transaction.hpp"

namespace asio = boost::asio;

namespace kiln::jobs {

namespace {

constexpr std::string_view kColumns = R"sql(
id, kind, queue, args::text, priority, state, attempt, max_attempts, progress_percent, progress_message,
progress_detail::text, result::text, errors::text, unique_key, cancel_requested_at IS NOT NULL,
kiln_rfc3339(run_at), kiln_rfc3339(created_at), kiln_rfc3339(attempted_at), kiln_rfc3339(finished_at), parent_id,
batch_total, batch_succeeded, batch_dead, batch_cancelled)sql";

std::string select_from(std::string_view where) {
    return db::tenant_select(kColumns, "jobs", where);
}

const std::string& get_sql() {
    static const std::string s = select_from("id = $1");
    return s;
}
const std::string& list_sql() {
    static const std::string s = select_from(R"sql(($1::text IS NULL OR state = $1)
   AND ($2::text IS NULL OR kind = $2)
   AND ($3::uuid IS NULL OR parent_id = $3)
   AND ($4::uuid IS NULL OR id < $4)
 ORDER BY id DESC
 LIMIT $5)sql");
    return s;
}
// The job a unique enqueue ended with: the new one, or the live one holding the key.
const std::string& enqueued_sql() {
    static const std::string s = select_from("(id = $1 OR ($2::text IS NOT NULL AND unique_key = $2))");
    return s;
}

// A unique key is held for a window; past it, the key is free for a new job.
constexpr std::string_view kReleaseKey = R"sql(
UPDATE jobs SET unique_key = NULL
 WHERE workspace_id = kiln_current_workspace() AND unique_key = $1 AND unique_until <= now())sql";
constexpr std::string_view kInsert = R"sql(
INSERT INTO jobs (workspace_id, id, kind, queue, args, priority, state, max_attempts, run_at, timeout_ms,
                  unique_key, unique_until, created_by)
VALUES (kiln_current_workspace(), $1, $2, $3, $4::jsonb, $5,
        CASE WHEN $6::timestamptz > now() THEN 'scheduled' ELSE 'available' END,
        $7, greatest(coalesce($6::timestamptz, now()), now()), $8,
        $9, CASE WHEN $9::text IS NULL THEN NULL ELSE now() + make_interval(secs => $10) END,
        kiln_current_user())
ON CONFLICT (workspace_id, unique_key) WHERE unique_key IS NOT NULL DO NOTHING)sql";

// Bulk: one row per array element (the arrays are as long as each other).
constexpr std::string_view kInsertMany = R"sql(
INSERT INTO jobs (workspace_id, id, kind, queue, args, priority, state, max_attempts, run_at, timeout_ms, parent_id,
                  created_by)
SELECT kiln_current_workspace(), c.id, c.kind, c.queue, c.args::jsonb, c.priority,
       CASE WHEN c.run_at > now() THEN 'scheduled' ELSE 'available' END,
       c.max_attempts, greatest(coalesce(c.run_at, now()), now()), c.timeout_ms, $9, kiln_current_user()
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::timestamptz[], $7::integer[],
              $8::integer[]) AS c(id, kind, queue, args, priority, run_at, max_attempts, timeout_ms))sql";
// A batch parent waits (run_at infinity) until its children end; kiln_job_batch wakes it.
constexpr std::string_view kInsertParent = R"sql(
INSERT INTO jobs (workspace_id, id, kind, queue, args, priority, state, max_attempts, run_at, timeout_ms,
                  batch_total, progress_message, created_by)
VALUES (kiln_current_workspace(), $1, $2, $3, $4::jsonb, $5, 'scheduled', $6, 'infinity', $7, $8::integer,
        format('0 of %s children done', $8::integer), kiln_current_user()))sql";

constexpr std::string_view kStartWaitingChildren = R"sql(
UPDATE jobs SET state = 'available', run_at = now()
 WHERE workspace_id = kiln_current_workspace() AND parent_id = $1 AND state = 'scheduled' AND run_at = 'infinity')sql";

constexpr std::string_view kCancel = "SELECT kiln_job_cancel($1)";
constexpr std::string_view kRetry = "SELECT kiln_job_retry($1)";

constexpr std::string_view kEventsAfter = R"sql(
SELECT workspace_id, id, job_id, type, data::text FROM job_events
 WHERE workspace_id = kiln_current_workspace() AND id > $1 AND ($2::uuid IS NULL OR job_id = $2)
 ORDER BY id
 LIMIT $3)sql";

constexpr std::string_view kStatsByKind = R"sql(
SELECT kind, state, count(*) FROM jobs WHERE workspace_id = kiln_current_workspace()
 GROUP BY kind, state ORDER BY kind, state)sql";
constexpr std::string_view kStatsNow = R"sql(
SELECT (SELECT count(*) FROM jobs WHERE workspace_id = kiln_current_workspace() AND state = 'available'),
       (SELECT count(*) FROM jobs WHERE workspace_id = kiln_current_workspace() AND state = 'running'),
       (SELECT count(*) FROM jobs WHERE workspace_id = kiln_current_workspace()
           AND finished_at > now() - interval '1 minute'),
       (SELECT extract(epoch FROM now() - min(run_at))::float8 FROM jobs
         WHERE workspace_id = kiln_current_workspace() AND state = 'available'))sql";
// Finished top-level jobs older than the retention are deleted in slices, their children by
// cascade, and the events of both here (job_events has no foreign key: see migration 0010).
constexpr std::string_view kRetention = R"sql(
WITH old AS (
    SELECT workspace_id, id FROM jobs
     WHERE state IN ('succeeded', 'dead', 'cancelled') AND parent_id IS NULL
       AND finished_at < now() - make_interval(secs => $1)
     ORDER BY finished_at LIMIT 1000),
doomed AS (
    SELECT workspace_id, id FROM old
    UNION ALL
    SELECT c.workspace_id, c.id FROM old JOIN jobs c ON c.workspace_id = old.workspace_id AND c.parent_id = old.id),
events AS (
    DELETE FROM job_events e USING doomed WHERE e.workspace_id = doomed.workspace_id AND e.job_id = doomed.id)
DELETE FROM jobs j USING old
 WHERE j.workspace_id = old.workspace_id AND j.id = old.id)sql";

// Every worker batch runs under this. Besides the scope, two planner settings for statements that
// run in a millisecond but whose estimates mislead PostgreSQL once the table is large (~1M jobs,
// bench/jobs section 9): the claim's per-workspace LIMIT is invisible to the planner, so its cost
// passes jit_above_cost and JIT compilation adds tens of milliseconds to every execution; and the
// plan cache keeps planning it afresh (custom plans, ~1 ms each) where the generic plan does as
// well.
constexpr std::string_view kWorkerScope = R"sql(
SELECT set_config('kiln.worker', 'on', true), set_config('jit', 'off', true),
       set_config('plan_cache_mode', 'force_generic_plan', true))sql";
// Claims are serialized (one transaction-scoped lock), so the per-workspace caps are exact
// and the round robin is not raced; a claim is one short statement, so this costs little.
constexpr std::string_view kClaimLock = "SELECT pg_advisory_xact_lock(7160921)";
// Walks the workspaces that have available work, in id order after the cursor (a skip scan on
// jobs_available: one index probe per workspace, whatever the queue's length), takes each
// one's next jobs by priority up to an equal share of the batch and its plan's concurrency
// cap, and leases them. The probes order by jobs_available's whole key so that only that index
// serves them: ordered by workspace alone, the planner takes the primary key whenever its
// statistics say most jobs are available (e.g. analyzed after a bulk enqueue), and each probe
// then walks past every job of the workspace that ran since (bench/jobs: 11 ms a claim, not 1).
constexpr std::string_view kClaim = R"sql(
WITH RECURSIVE ws(workspace_id, n) AS (
    (SELECT j.workspace_id, 1 FROM jobs j
      WHERE j.state = 'available' AND j.workspace_id > $1
      ORDER BY j.workspace_id, j.priority, j.run_at, j.id LIMIT 1)
    UNION ALL
    SELECT nxt.workspace_id, ws.n + 1
      FROM ws CROSS JOIN LATERAL (
           SELECT j.workspace_id FROM jobs j
            WHERE j.state = 'available' AND j.workspace_id > ws.workspace_id
            ORDER BY j.workspace_id, j.priority, j.run_at, j.id LIMIT 1) nxt
     WHERE ws.n < $2),
capped AS (
    SELECT c.kind, c.cap - (SELECT count(*) FROM jobs r WHERE r.state = 'running' AND r.kind = c.kind) AS room
      FROM unnest($8::text[], $9::integer[]) AS c(kind, cap)),
room AS (
    SELECT ws.workspace_id, ws.n,
           greatest(0, least(ceil($3::numeric / (SELECT count(*) FROM ws))::integer,
                    (SELECT p.max_concurrent_jobs FROM workspaces w JOIN plans p ON p.id = w.plan
                      WHERE w.id = ws.workspace_id)
                    - (SELECT count(*) FROM jobs r WHERE r.workspace_id = ws.workspace_id AND r.state = 'running')))
               AS share
      FROM ws),
picked AS (
    SELECT c.workspace_id, c.id, c.kind, room.n, c.priority, c.run_at, room.share
      FROM room CROSS JOIN LATERAL (
           SELECT j.workspace_id, j.id, j.kind, j.priority, j.run_at FROM jobs j
            WHERE j.state = 'available' AND j.workspace_id = room.workspace_id
              AND j.kind = ANY (ARRAY(SELECT k FROM unnest($4::text[]) k
                                       WHERE k NOT IN (SELECT kind FROM capped WHERE capped.room <= 0)))
            ORDER BY j.priority, j.run_at, j.id
            LIMIT room.share
              FOR UPDATE SKIP LOCKED) c
     ORDER BY room.n
     LIMIT $5),
allowed AS (
    SELECT p.workspace_id, p.id, p.taken >= p.share OR (SELECT count(*) FROM ws) >= $2 AS more
      FROM (SELECT picked.*, row_number() OVER (PARTITION BY picked.kind
                                                ORDER BY picked.n, picked.priority, picked.run_at, picked.id) AS k,
                   count(*) OVER (PARTITION BY picked.workspace_id) AS taken
              FROM picked) p
      LEFT JOIN capped ON capped.kind = p.kind
     WHERE capped.kind IS NULL OR p.k <= capped.room)
UPDATE jobs j
   SET state = 'running', attempt = j.attempt + 1, attempted_at = now(), lease_token = gen_random_uuid(),
       lease_owner = $6, lease_expires_at = now() + make_interval(secs => $7 / 1000.0)
  FROM allowed
 WHERE j.workspace_id = allowed.workspace_id AND j.id = allowed.id
RETURNING j.workspace_id, j.id, j.kind, j.args::text, j.attempt, j.max_attempts, j.timeout_ms, j.lease_token,
          extract(epoch FROM now() - j.run_at)::float8,
          CASE WHEN j.batch_total > 0
               THEN json_build_object('total', j.batch_total, 'succeeded', j.batch_succeeded, 'dead', j.batch_dead,
                                      'cancelled', j.batch_cancelled)::text END,
          j.parent_id IS NOT NULL, allowed.more)sql";

constexpr std::string_view kSucceed = R"sql(
UPDATE jobs
   SET state = 'succeeded', result = $4::jsonb, finished_at = now(), progress_percent = 100,
       lease_token = NULL, lease_expires_at = NULL
 WHERE workspace_id = $1 AND id = $2 AND lease_token = $3 AND state = 'running'
RETURNING id)sql";
constexpr std::string_view kSucceedMany = R"sql(
UPDATE jobs j
   SET state = 'succeeded', result = h.result::jsonb, finished_at = now(), progress_percent = 100,
       lease_token = NULL, lease_expires_at = NULL
  FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[]) AS h(workspace_id, id, token, result)
 WHERE j.workspace_id = h.workspace_id AND j.id = h.id AND j.lease_token = h.token AND j.state = 'running'
RETURNING h.token)sql";
// With side effects in the same transaction: a lost lease aborts it (KL404), effects and all.
constexpr std::string_view kSucceedGuarded = R"sql(
WITH done AS (
    UPDATE jobs
       SET state = 'succeeded', result = $4::jsonb, finished_at = now(), progress_percent = 100,
           lease_token = NULL, lease_expires_at = NULL
     WHERE workspace_id = $1 AND id = $2 AND lease_token = $3 AND state = 'running'
    RETURNING id)
SELECT kiln_found((SELECT count(*) FROM done), 'The job''s lease was lost.'))sql";
constexpr std::string_view kFail = R"sql(
UPDATE jobs
   SET state = CASE WHEN attempt >= max_attempts THEN 'dead' ELSE 'failed' END,
       run_at = CASE WHEN attempt >= max_attempts THEN run_at ELSE now() + make_interval(secs => $5 / 1000.0) END,
       errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempt, 'error', left($4, 2000),
                                                              'at', kiln_rfc3339(now()))),
       finished_at = CASE WHEN attempt >= max_attempts THEN now() END,
       lease_token = NULL, lease_expires_at = NULL
 WHERE workspace_id = $1 AND id = $2 AND lease_token = $3 AND state = 'running'
RETURNING state)sql";
constexpr std::string_view kCancelled = R"sql(
UPDATE jobs SET state = 'cancelled', finished_at = now(), lease_token = NULL, lease_expires_at = NULL
 WHERE workspace_id = $1 AND id = $2 AND lease_token = $3 AND state = 'running'
RETURNING id)sql";
constexpr std::string_view kProgress = R"sql(
UPDATE jobs SET progress_percent = $4, progress_message = left($5, 500)
 WHERE workspace_id = $1 AND id = $2 AND lease_token = $3 AND state = 'running')sql";
constexpr std::string_view kHeartbeat = R"sql(
UPDATE jobs j SET lease_expires_at = now() + make_interval(secs => $4 / 1000.0)
  FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS h(workspace_id, id, token)
 WHERE j.workspace_id = h.workspace_id AND j.id = h.id AND j.lease_token = h.token AND j.state = 'running'
RETURNING j.lease_token, j.cancel_requested_at IS NOT NULL)sql";
constexpr std::string_view kWorkerSeen = R"sql(
INSERT INTO workers (id, host, pid, kinds, running) VALUES ($1, $2, $3, $4::text[], $5)
ON CONFLICT (id) DO UPDATE SET last_seen_at = now(), running = excluded.running)sql";
constexpr std::string_view kRelease = R"sql(
UPDATE jobs j SET state = 'available', attempt = j.attempt - 1, run_at = now(), lease_token = NULL,
       lease_expires_at = NULL
  FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS h(workspace_id, id, token)
 WHERE j.workspace_id = h.workspace_id AND j.id = h.id AND j.lease_token = h.token AND j.state = 'running')sql";
constexpr std::string_view kPromote = R"sql(
WITH due AS (
    SELECT workspace_id, id FROM jobs
     WHERE state IN ('scheduled', 'failed') AND run_at <= now()
     ORDER BY run_at LIMIT 1000
       FOR UPDATE SKIP LOCKED)
UPDATE jobs j SET state = 'available' FROM due WHERE j.workspace_id = due.workspace_id AND j.id = due.id)sql";
constexpr std::string_view kRescue = R"sql(
WITH expired AS (
    SELECT workspace_id, id FROM jobs
     WHERE state = 'running' AND lease_expires_at < now()
     ORDER BY lease_expires_at LIMIT 1000
       FOR UPDATE SKIP LOCKED)
UPDATE jobs j
   SET state = CASE WHEN j.attempt >= j.max_attempts THEN 'dead' ELSE 'available' END,
       errors = j.errors || jsonb_build_array(jsonb_build_object(
                    'attempt', j.attempt, 'error', 'the worker stopped answering (lease expired)',
                    'at', kiln_rfc3339(now()))),
       finished_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
       run_at = now(), lease_token = NULL, lease_expires_at = NULL
  FROM expired WHERE j.workspace_id = expired.workspace_id AND j.id = expired.id)sql";
constexpr std::string_view kForgetWorkers = "DELETE FROM workers WHERE last_seen_at < now() - interval '5 minutes'";

constexpr std::string_view kQueueDepth = R"sql(
SELECT kind, state, count(*),
       CASE WHEN state = 'available' THEN extract(epoch FROM now() - min(run_at))::float8 END
  FROM jobs WHERE state IN ('available', 'running', 'scheduled', 'failed')
 GROUP BY kind, state ORDER BY kind, state)sql";
constexpr std::string_view kZoneNow = R"sql(
SELECT to_char(now() AT TIME ZONE z, 'YYYY-MM-DD HH24:MI') FROM unnest($1::text[]) WITH ORDINALITY AS u(z, i)
 ORDER BY i)sql";
constexpr std::string_view kTakeLead = R"sql(
INSERT INTO job_leader (id, worker, lock_pid) VALUES (true, $1, $2)
ON CONFLICT (id) DO UPDATE SET worker = excluded.worker, lock_pid = excluded.lock_pid, since = now())sql";
constexpr std::string_view kSyncSchedules = R"sql(
INSERT INTO job_schedules (name, cron, time_zone, next_run_at)
SELECT s.name, s.cron, s.zone, s.next_local::timestamp AT TIME ZONE s.zone
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS s(name, cron, zone, next_local)
ON CONFLICT (name) DO UPDATE
   SET cron = excluded.cron, time_zone = excluded.time_zone, updated_at = now(),
       next_run_at = CASE WHEN job_schedules.cron = excluded.cron AND job_schedules.time_zone = excluded.time_zone
                          THEN job_schedules.next_run_at ELSE excluded.next_run_at END)sql";
constexpr std::string_view kDueSchedules = R"sql(
SELECT name, to_char(now() AT TIME ZONE time_zone, 'YYYY-MM-DD HH24:MI'), runs FROM job_schedules
 WHERE name = ANY($1::text[]) AND next_run_at <= now()
 ORDER BY next_run_at)sql";
constexpr std::string_view kAdvanceSchedule = R"sql(
UPDATE job_schedules SET next_run_at = $3::timestamp AT TIME ZONE time_zone, runs = runs + 1, last_run_at = now()
 WHERE name = $1 AND runs = $2 AND next_run_at <= now()
RETURNING name)sql";
constexpr std::string_view kScheduleRan = "UPDATE job_schedules SET last_error = $2 WHERE name = $1";

boost::json::value parse_or_null(const db::Result& r, int row, int col) {
    if (r.is_null(row, col)) return nullptr;
    return boost::json::parse(r.text(row, col));
}

// Three parallel arrays, as PostgreSQL array literals.
std::string uuid_array(const std::vector<Lease>& leases, core::Uuid Lease::*member) {
    std::string out = "{";
    for (std::size_t i = 0; i < leases.size(); ++i) {
        if (i != 0) out += ',';
        out += (leases[i].*member).str();
    }
    out += '}';
    return out;
}

std::string text_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i != 0) out += ',';
        out += '"';
        for (const char c : items[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    out += '}';
    return out;
}

db::Query insert_many(const std::vector<NewJob>& jobs, const std::optional<core::Uuid>& parent) {
    return {
        kInsertMany,
        db::params(db::array_of(jobs, [](const NewJob& j) { return std::optional(j.id.str()); }),
                   db::array_of(jobs, [](const NewJob& j) { return std::optional(j.kind); }),
                   db::array_of(jobs, [](const NewJob& j) { return std::optional(j.queue); }),
                   db::array_of(jobs, [](const NewJob& j) { return std::optional(j.args_json); }),
                   db::array_of(jobs, [](const NewJob& j) { return std::optional(std::to_string(j.priority)); }),
                   db::array_of(jobs, [](const NewJob& j) { return j.run_at; }),
                   db::array_of(jobs, [](const NewJob& j) { return std::optional(std::to_string(j.max_attempts)); }),
                   db::array_of(jobs, [](const NewJob& j) { return std::optional(std::to_string(j.timeout_ms)); }),
                   parent)};
}

db::TenantScope worker_scope() {
    return {};
}

std::vector<db::Query> as_worker(std::string_view sql, db::Params p) {
    std::vector<db::Query> q;
    q.push_back({kWorkerScope, {}});
    q.push_back({sql, std::move(p)});
    return q;
}

}  // namespace

std::vector<db::Query> enqueue(const NewJob& j) {
    std::vector<db::Query> q;
    if (j.unique_key) q.push_back({kReleaseKey, db::params(j.unique_key)});
    q.push_back({kInsert, db::params(j.id, j.kind, j.queue, j.args_json, j.priority, j.run_at, j.max_attempts,
                                     j.timeout_ms, j.unique_key, j.unique_window_s)});
    q.push_back({enqueued_sql(), db::params(j.id, j.unique_key)});
    return q;
}

db::Query record_effect(const core::Uuid& workspace, const core::Uuid& job, int attempt) {
    static constexpr std::string_view kRecord =
        "INSERT INTO job_effects (workspace_id, job_id, attempt) VALUES ($1, $2, $3)";
    return {kRecord, db::params(workspace, job, attempt)};
}

std::vector<db::Query> enqueue_many(const std::vector<NewJob>& jobs) {
    std::vector<db::Query> q;
    q.push_back(insert_many(jobs, std::nullopt));
    return q;
}

db::Query start_waiting_children(const core::Uuid& parent) {
    return {kStartWaitingChildren, db::params(parent)};
}

std::vector<db::Query> enqueue_batch(const NewJob& parent, const std::vector<NewJob>& children) {
    std::vector<db::Query> q;
    q.push_back({kInsertParent, db::params(parent.id, parent.kind, parent.queue, parent.args_json, parent.priority,
                                           parent.max_attempts, parent.timeout_ms, static_cast<int>(children.size()))});
    q.push_back(insert_many(children, parent.id));
    q.push_back({get_sql(), db::params(parent.id)});
    return q;
}

Job Store::job_at(const db::Result& r, int i) const {
    Job j;
    j.id = r.uuid(i, 0);
    j.kind = r.str(i, 1);
    j.queue = r.str(i, 2);
    j.args = boost::json::parse(r.text(i, 3));
    j.priority = r.int64(i, 4);
    j.state = r.str(i, 5);
    j.attempt = r.int64(i, 6);
    j.max_attempts = r.int64(i, 7);
    j.progress.percent = r.int64(i, 8);
    j.progress.message = r.str(i, 9);
    j.progress.detail = boost::json::parse(r.text(i, 10));
    j.result = parse_or_null(r, i, 11);
    j.errors = boost::json::parse(r.text(i, 12));
    j.unique_key = r.opt_str(i, 13);
    j.cancel_requested = r.boolean(i, 14);
    j.run_at = r.opt_str(i, 15);  // null: a batch parent waiting for its children
    j.created_at = r.str(i, 16);
    j.attempted_at = r.opt_str(i, 17);
    j.finished_at = r.opt_str(i, 18);
    if (!r.is_null(i, 19)) j.parent_id = r.uuid(i, 19);
    if (r.int64(i, 20) > 0) {
        j.batch = BatchCounts{r.int64(i, 20), r.int64(i, 21), r.int64(i, 22), r.int64(i, 23)};
    }
    return j;
}

asio::awaitable<Job> Store::get(const db::TenantScope& scope, const core::Uuid& id) {
    auto r = co_await db::run(pool_, scope, get_sql(), db::params(id));
    if (r.empty()) throw core::Problem::not_found("No such job.");
    co_return job_at(r, 0);
}

asio::awaitable<std::vector<Job>> Store::list(const db::TenantScope& scope, const std::optional<std::string>& state,
                                              const std::optional<std::string>& kind,
                                              const std::optional<core::Uuid>& batch,
                                              const std::optional<core::Uuid>& before, int limit) {
    auto r = co_await db::run(pool_, scope, list_sql(), db::params(state, kind, batch, before, limit));
    std::vector<Job> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(job_at(r, i));
    co_return out;
}

asio::awaitable<Job> Store::cancel(const db::TenantScope& scope, const core::Uuid& id, const audit::Event& e,
                                   const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kCancel, db::params(id)});
    q.push_back(audit::record(e, origin));
    q.push_back({get_sql(), db::params(id)});
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return job_at(r[2], 0);
}

asio::awaitable<Job> Store::retry(const db::TenantScope& scope, const core::Uuid& id, const audit::Event& e,
                                  const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kRetry, db::params(id)});
    q.push_back(audit::record(e, origin));
    q.push_back({get_sql(), db::params(id)});
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return job_at(r[2], 0);
}

asio::awaitable<Job> Store::enqueue(const db::TenantScope& scope, const NewJob& j, const audit::Event& e,
                                    const audit::Origin& origin) {
    auto q = jobs::enqueue(j);
    const std::size_t last = q.size() - 1;
    q.push_back(audit::record(e, origin));
    auto r = co_await db::run(pool_, scope, std::move(q));
    wake_local();
    co_return job_at(r[last], 0);
}

void Store::set_local_wake(std::function<void()> wake) {
    std::lock_guard lock(wake_mutex_);
    local_wake_ = std::move(wake);
}

void Store::wake_local() {
    std::lock_guard lock(wake_mutex_);
    if (local_wake_) local_wake_();
}

asio::awaitable<Job> Store::enqueue_batch(const db::TenantScope& scope, const NewJob& parent,
                                          const std::vector<NewJob>& children, const audit::Event& e,
                                          const audit::Origin& origin) {
    auto q = jobs::enqueue_batch(parent, children);
    const std::size_t last = q.size() - 1;
    q.push_back(audit::record(e, origin));
    auto r = co_await db::run(pool_, scope, std::move(q));
    wake_local();
    co_return job_at(r[last], 0);
}

asio::awaitable<Stats> Store::stats(const db::TenantScope& scope) {
    std::vector<db::Query> q;
    q.push_back({kStatsByKind, {}});
    q.push_back({kStatsNow, {}});
    auto r = co_await db::run(pool_, scope, std::move(q));
    Stats s;
    for (int i = 0; i < r[0].rows(); ++i) s.by_kind.push_back({r[0].str(i, 0), r[0].str(i, 1), r[0].int64(i, 2)});
    s.waiting = r[1].int64(0, 0);
    s.running = r[1].int64(0, 1);
    s.finished_last_minute = r[1].int64(0, 2);
    if (!r[1].is_null(0, 3)) s.oldest_waiting_s = std::stod(r[1].str(0, 3));
    co_return s;
}

asio::awaitable<std::vector<http::Event>> Store::events_after(const db::TenantScope& scope, std::int64_t after,
                                                              const std::optional<core::Uuid>& job, int limit) {
    auto r = co_await db::run(pool_, scope, kEventsAfter, db::params(after, job, limit));
    std::vector<http::Event> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        // Serialized as the live relay does (jsonb's own text has other spacing).
        out.push_back({r.int64(i, 1), r.uuid(i, 0), r.uuid(i, 2), r.str(i, 3),
                       boost::json::serialize(boost::json::parse(r.text(i, 4)))});
    }
    co_return out;
}

asio::awaitable<std::vector<Claimed>> Store::claim(const ClaimRequest& c) {
    std::vector<db::Query> q;
    q.push_back({kWorkerScope, {}});
    q.push_back({kClaimLock, {}});
    const auto cursor = c.after_workspace ? *c.after_workspace : core::Uuid{};
    std::vector<std::string> capped;
    std::string caps = "{";
    for (const auto& [kind, cap] : c.caps) {
        capped.push_back(kind);
        if (caps.size() > 1) caps += ',';
        caps += std::to_string(cap);
    }
    caps += '}';
    q.push_back({kClaim, db::params(cursor, c.workspaces, c.limit, text_array(c.kinds), c.limit, c.worker,
                                    c.lease.count(), text_array(capped), caps)});
    auto r = co_await db::run(pool_, worker_scope(), std::move(q));
    const auto& rows = r[2];
    std::vector<Claimed> out;
    out.reserve(static_cast<std::size_t>(rows.rows()));
    for (int i = 0; i < rows.rows(); ++i) {
        out.push_back({rows.uuid(i, 0), rows.uuid(i, 1), rows.str(i, 2), rows.str(i, 3),
                       static_cast<int>(rows.int64(i, 4)), static_cast<int>(rows.int64(i, 5)),
                       std::chrono::milliseconds(rows.int64(i, 6)), rows.uuid(i, 7), std::stod(rows.str(i, 8)),
                       rows.is_null(i, 9) ? std::string() : rows.str(i, 9), rows.boolean(i, 10), rows.boolean(i, 11)});
    }
    co_return out;
}

asio::awaitable<bool> Store::succeed(const Lease& l, const std::string& result_json, std::vector<db::Query> effects) {
    if (effects.empty()) {
        auto q = as_worker(kSucceed, db::params(l.workspace, l.id, l.token, result_json));
        auto r = co_await db::run(pool_, worker_scope(), std::move(q));
        co_return !r[1].empty();
    }
    auto q = as_worker(kSucceedGuarded, db::params(l.workspace, l.id, l.token, result_json));
    for (auto& e : effects) q.push_back(std::move(e));
    bool lost = false;
    try {
        co_await db::run(pool_, worker_scope(), std::move(q));
    } catch (const core::Problem& p) {
        if (p.status() != 404) throw;
        lost = true;
    }
    co_return !lost;
}

asio::awaitable<std::vector<core::Uuid>> Store::succeed_many(const std::vector<std::pair<Lease, std::string>>& done) {
    std::vector<Lease> leases;
    leases.reserve(done.size());
    for (const auto& d : done) leases.push_back(d.first);
    auto q =
        as_worker(kSucceedMany, db::params(uuid_array(leases, &Lease::workspace), uuid_array(leases, &Lease::id),
                                           uuid_array(leases, &Lease::token),
                                           db::array_of(done, [](const auto& d) { return std::optional(d.second); })));
    auto r = co_await db::run(pool_, worker_scope(), std::move(q), db::Lane::side);
    std::vector<core::Uuid> out;
    out.reserve(static_cast<std::size_t>(r[1].rows()));
    for (int i = 0; i < r[1].rows(); ++i) out.push_back(r[1].uuid(i, 0));
    co_return out;
}

asio::awaitable<std::optional<std::string>> Store::fail(const Lease& l, const std::string& error,
                                                        std::chrono::milliseconds retry_in) {
    auto q = as_worker(kFail, db::params(l.workspace, l.id, l.token, error, retry_in.count()));
    auto r = co_await db::run(pool_, worker_scope(), std::move(q));
    if (r[1].empty()) co_return std::nullopt;
    co_return r[1].str(0, 0);
}

asio::awaitable<bool> Store::cancelled(const Lease& l) {
    auto q = as_worker(kCancelled, db::params(l.workspace, l.id, l.token));
    auto r = co_await db::run(pool_, worker_scope(), std::move(q));
    co_return !r[1].empty();
}

asio::awaitable<void> Store::progress(const Lease& l, int percent, const std::string& message) {
    auto q = as_worker(kProgress, db::params(l.workspace, l.id, l.token, percent, message));
    co_await db::run(pool_, worker_scope(), std::move(q));
}

asio::awaitable<std::vector<std::pair<core::Uuid, bool>>> Store::heartbeat(const std::vector<Lease>& leases,
                                                                           std::chrono::milliseconds lease,
                                                                           const std::string& worker,
                                                                           const std::string& host, int pid,
                                                                           const std::vector<std::string>& kinds) {
    std::vector<db::Query> q;
    q.push_back({kWorkerScope, {}});
    q.push_back({kHeartbeat, db::params(uuid_array(leases, &Lease::workspace), uuid_array(leases, &Lease::id),
                                        uuid_array(leases, &Lease::token), lease.count())});
    q.push_back({kWorkerSeen, db::params(worker, host, pid, text_array(kinds), static_cast<int>(leases.size()))});
    auto r = co_await db::run(pool_, worker_scope(), std::move(q));
    std::vector<std::pair<core::Uuid, bool>> out;
    out.reserve(static_cast<std::size_t>(r[1].rows()));
    for (int i = 0; i < r[1].rows(); ++i) out.emplace_back(r[1].uuid(i, 0), r[1].boolean(i, 1));
    co_return out;
}

asio::awaitable<void> Store::release(const std::vector<Lease>& leases) {
    auto q = as_worker(kRelease, db::params(uuid_array(leases, &Lease::workspace), uuid_array(leases, &Lease::id),
                                            uuid_array(leases, &Lease::token)));
    co_await db::run(pool_, worker_scope(), std::move(q));
}

asio::awaitable<std::int64_t> Store::maintain() {
    std::vector<db::Query> q;
    q.push_back({kWorkerScope, {}});
    q.push_back({kPromote, {}});
    q.push_back({kRescue, {}});
    auto r = co_await db::run(pool_, worker_scope(), std::move(q));
    co_return r[1].affected() + r[2].affected();
}

asio::awaitable<std::int64_t> Store::retention(std::chrono::seconds age) {
    // Slices of 1000, so no one transaction holds many locks; a bounded number per run.
    constexpr int kSlices = 1000;
    constexpr std::int64_t kSlice = 1000;
    std::int64_t deleted = 0;
    for (int i = 0; i < kSlices; ++i) {
        std::vector<db::Query> q;
        q.push_back({kWorkerScope, {}});
        q.push_back({kRetention, db::params(age.count())});
        if (i == 0) q.push_back({kForgetWorkers, {}});
        auto r = co_await db::run(pool_, worker_scope(), std::move(q));
        deleted += r[1].affected();
        if (r[1].affected() < kSlice) break;
    }
    co_return deleted;
}

asio::awaitable<std::vector<QueueDepth>> Store::queue_depth() {
    auto q = as_worker(kQueueDepth, {});
    auto r = co_await db::run(pool_, worker_scope(), std::move(q));
    std::vector<QueueDepth> out;
    out.reserve(static_cast<std::size_t>(r[1].rows()));
    for (int i = 0; i < r[1].rows(); ++i) {
        QueueDepth d{r[1].str(i, 0), r[1].str(i, 1), r[1].int64(i, 2), std::nullopt};
        if (!r[1].is_null(i, 3)) d.oldest_s = std::stod(r[1].str(i, 3));
        out.push_back(std::move(d));
    }
    co_return out;
}

asio::awaitable<std::vector<std::string>> Store::zone_now(const std::vector<std::string>& zones) {
    auto q = as_worker(kZoneNow, db::params(text_array(zones)));
    auto r = co_await db::run(pool_, worker_scope(), std::move(q));
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(r[1].rows()));
    for (int i = 0; i < r[1].rows(); ++i) out.push_back(r[1].str(i, 0));
    co_return out;
}

asio::awaitable<void> Store::lead(const std::string& worker, int lock_pid, const std::vector<ScheduleRow>& schedules) {
    std::vector<db::Query> q;
    q.push_back({kWorkerScope, {}});
    q.push_back({kTakeLead, db::params(worker, lock_pid)});
    if (!schedules.empty()) {
        q.push_back(
            {kSyncSchedules,
             db::params(db::array_of(schedules, [](const ScheduleRow& s) { return std::optional(s.name); }),
                        db::array_of(schedules, [](const ScheduleRow& s) { return std::optional(s.cron); }),
                        db::array_of(schedules, [](const ScheduleRow& s) { return std::optional(s.time_zone); }),
                        db::array_of(schedules, [](const ScheduleRow& s) { return std::optional(s.next_local); }))});
    }
    co_await db::run(pool_, worker_scope(), std::move(q));
}

asio::awaitable<std::vector<DueSchedule>> Store::due_schedules(const std::vector<std::string>& names) {
    auto q = as_worker(kDueSchedules, db::params(text_array(names)));
    auto r = co_await db::run(pool_, worker_scope(), std::move(q));
    std::vector<DueSchedule> out;
    out.reserve(static_cast<std::size_t>(r[1].rows()));
    for (int i = 0; i < r[1].rows(); ++i) out.push_back({r[1].str(i, 0), r[1].str(i, 1), r[1].int64(i, 2)});
    co_return out;
}

asio::awaitable<bool> Store::advance_schedule(const std::string& name, std::int64_t runs,
                                              const std::string& next_local) {
    auto q = as_worker(kAdvanceSchedule, db::params(name, runs, next_local));
    auto r = co_await db::run(pool_, worker_scope(), std::move(q));
    co_return !r[1].empty();
}

asio::awaitable<void> Store::schedule_ran(const std::string& name, const std::optional<std::string>& error) {
    auto q = as_worker(kScheduleRan, db::params(name, error));
    co_await db::run(pool_, worker_scope(), std::move(q));
}

}  // namespace kiln::jobs
