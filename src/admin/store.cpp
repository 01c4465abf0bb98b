#include "admin/store.hpp"

#include <boost/json/parse.hpp>

#include "auth/scope.hpp"

namespace asio = boost::asio;

namespace kiln::admin {

namespace {

constexpr std::string_view kRequireAdmin = "SELECT kiln_require_platform_admin()";

constexpr std::string_view kWorkspaceSelect = R"sql(
SELECT w.id, w.name, w.plan, w.personal, (SELECT count(*) FROM memberships m WHERE m.workspace_id = w.id),
       kiln_rfc3339(w.created_at), kiln_rfc3339(w.deleted_at)
  FROM workspaces w)sql";
// Ids are UUIDv7, so id order is creation order: the cursor is the last id of the page.
constexpr std::string_view kWorkspaceFilter = R"sql(
 WHERE ($1::text IS NULL OR strpos(lower(w.name), lower($1)) > 0)
   AND ($2::uuid IS NULL OR w.id < $2)
 ORDER BY w.id DESC
 LIMIT $3)sql";
constexpr std::string_view kWorkspaceById = " WHERE w.id = $1";
constexpr std::string_view kWorkspaceSetPlan = R"sql(
WITH changed AS (UPDATE workspaces SET plan = $2 WHERE id = $1 RETURNING id)
SELECT kiln_found(count(*), 'No such workspace.') FROM changed)sql";

constexpr std::string_view kUserSelect = R"sql(
SELECT u.id, u.email, u.username, u.name, u.is_platform_admin, u.email_verified_at IS NOT NULL,
       u.deactivated_at IS NOT NULL, (SELECT count(*) FROM memberships m WHERE m.user_id = u.id),
       kiln_rfc3339(u.created_at)
  FROM users u)sql";
constexpr std::string_view kUserFilter = R"sql(
 WHERE ($1::text IS NULL OR strpos(u.email, lower($1)) > 0 OR strpos(lower(u.name), lower($1)) > 0)
   AND ($2::uuid IS NULL OR u.id < $2)
 ORDER BY u.id DESC
 LIMIT $3)sql";
constexpr std::string_view kUserById = " WHERE u.id = $1";
constexpr std::string_view kUserUpdate = R"sql(
WITH changed AS (
    UPDATE users
       SET is_platform_admin = coalesce($2, is_platform_admin),
           deactivated_at = CASE WHEN $3::boolean IS NULL THEN deactivated_at
                                 WHEN $3::boolean THEN coalesce(deactivated_at, now()) END
     WHERE id = $1
    RETURNING id)
SELECT kiln_found(count(*), 'No such user.') FROM changed)sql";
constexpr std::string_view kUserEndSessions = R"sql(
UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'deactivated'
 WHERE user_id = $1 AND revoked_at IS NULL AND $2::boolean IS TRUE)sql";

constexpr std::string_view kPlans = R"sql(
SELECT id, name, max_members, max_api_keys, storage_bytes, max_file_bytes, max_concurrent_jobs, monthly_credits
  FROM plans ORDER BY max_members, id)sql";

constexpr std::string_view kWorkers = R"sql(
SELECT id, host, pid, array_to_json(kinds)::text, running, kiln_rfc3339(started_at), kiln_rfc3339(last_seen_at),
       id IS NOT DISTINCT FROM kiln_job_leader()
  FROM workers ORDER BY started_at, id)sql";
constexpr std::string_view kLeader =
    "SELECT worker, kiln_rfc3339(since) FROM job_leader WHERE worker = kiln_job_leader()";
constexpr std::string_view kSchedules = R"sql(
SELECT name, cron, time_zone, kiln_rfc3339(next_run_at), kiln_rfc3339(last_run_at), last_error, runs
  FROM job_schedules ORDER BY name)sql";
constexpr std::string_view kRunSchedule = R"sql(
WITH due AS (
    UPDATE job_schedules SET next_run_at = least(next_run_at, now()) WHERE name = $1 RETURNING name)
SELECT kiln_found((SELECT count(*) FROM due), 'No such schedule.'))sql";
// A full count, grouped: an operator's view, not a hot path.
constexpr std::string_view kQueues = R"sql(
SELECT queue, kind, state, count(*), count(DISTINCT workspace_id),
       CASE WHEN state IN ('available', 'scheduled', 'failed')
            THEN extract(epoch FROM now() - min(run_at) FILTER (WHERE run_at < 'infinity'))::float8 END
  FROM jobs
 WHERE state NOT IN ('succeeded', 'cancelled')
 GROUP BY queue, kind, state
 ORDER BY queue, kind, state)sql";
constexpr std::string_view kQueueRates = R"sql(
SELECT queue, kind, count(*) FILTER (WHERE state = 'succeeded'), count(*) FILTER (WHERE state = 'dead'),
       count(*) FILTER (WHERE state = 'cancelled')
  FROM jobs
 WHERE state IN ('succeeded', 'dead', 'cancelled') AND finished_at > now() - interval '1 minute'
 GROUP BY queue, kind
 ORDER BY queue, kind)sql";
constexpr std::string_view kWorkspaceLoad = R"sql(
SELECT workspace_id, count(*) FILTER (WHERE state = 'available'), count(*) FILTER (WHERE state = 'running'),
       count(*) FILTER (WHERE finished_at > now() - interval '1 minute')
  FROM jobs
 WHERE state IN ('available', 'running') OR finished_at > now() - interval '1 minute'
 GROUP BY workspace_id
 ORDER BY 2 DESC, 3 DESC, workspace_id
 LIMIT 20)sql";
constexpr std::string_view kDeadJobs = R"sql(
SELECT id, workspace_id, kind, attempt, errors->-1->>'error', kiln_rfc3339(finished_at)
  FROM jobs
 WHERE state = 'dead' AND ($1::text IS NULL OR kind = $1) AND ($2::uuid IS NULL OR id < $2)
 ORDER BY id DESC
 LIMIT $3)sql";
constexpr std::string_view kRetryDead = R"sql(
WITH retried AS (
    UPDATE jobs j
       SET state = 'available', run_at = now(), finished_at = NULL, max_attempts = greatest(max_attempts, attempt + 1)
      FROM (SELECT workspace_id, id FROM jobs
             WHERE state = 'dead' AND ($1::uuid[] IS NULL OR id = ANY($1)) AND ($2::text IS NULL OR kind = $2)
             LIMIT 10000
               FOR UPDATE) d
     WHERE j.workspace_id = d.workspace_id AND j.id = d.id
    RETURNING j.workspace_id, j.id),
audited AS (
    INSERT INTO audit_events (workspace_id, id, actor_user_id, action, target_type, target_id, ip, request_id, detail)
    SELECT workspace_id, gen_random_uuid(), $3, 'admin.job_retry', 'job', id::text, nullif($4, '')::inet, $5, '{}'
      FROM retried)
SELECT count(*) FROM retried)sql";

// Platform administrators act as themselves, outside any workspace; API keys never get here.
db::TenantScope platform(const auth::Principal& p) {
    return auth::scope_of(p, std::nullopt);
}

std::string sql(std::string_view a, std::string_view b) {
    std::string out(a);
    out += b;
    return out;
}

const std::string& workspace_page_sql() {
    static const std::string s = sql(kWorkspaceSelect, kWorkspaceFilter);
    return s;
}
const std::string& workspace_one_sql() {
    static const std::string s = sql(kWorkspaceSelect, kWorkspaceById);
    return s;
}
const std::string& user_page_sql() {
    static const std::string s = sql(kUserSelect, kUserFilter);
    return s;
}
const std::string& user_one_sql() {
    static const std::string s = sql(kUserSelect, kUserById);
    return s;
}

AdminWorkspace workspace_at(const db::Result& r, int i) {
    return {r.uuid(i, 0), r.str(i, 1), r.str(i, 2), r.boolean(i, 3), r.int64(i, 4), r.str(i, 5), r.opt_str(i, 6)};
}

AdminUser user_at(const db::Result& r, int i) {
    return {r.uuid(i, 0),    r.str(i, 1),     r.opt_str(i, 2), r.str(i, 3), r.boolean(i, 4),
            r.boolean(i, 5), r.boolean(i, 6), r.int64(i, 7),   r.str(i, 8)};
}

template <typename T, typename F>
std::vector<T> rows_of(const db::Result& r, F at) {
    std::vector<T> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(at(r, i));
    return out;
}

}  // namespace

asio::awaitable<std::vector<AdminWorkspace>> Store::workspaces(const auth::Principal& p, const Page& page) {
    std::vector<db::Query> q;
    q.push_back({kRequireAdmin, {}});
    q.push_back({workspace_page_sql(), db::params(page.q, page.after, page.limit + 1)});
    auto r = co_await db::run(pool_, platform(p), std::move(q));
    co_return rows_of<AdminWorkspace>(r[1], workspace_at);
}

asio::awaitable<AdminWorkspace> Store::workspace(const auth::Principal& p, const core::Uuid& id) {
    std::vector<db::Query> q;
    q.push_back({kRequireAdmin, {}});
    q.push_back({workspace_one_sql(), db::params(id)});
    auto r = co_await db::run(pool_, platform(p), std::move(q));
    if (r[1].empty()) throw core::Problem::not_found("No such workspace.");
    co_return workspace_at(r[1], 0);
}

asio::awaitable<AdminWorkspace> Store::set_plan(const auth::Principal& p, const core::Uuid& id, const std::string& plan,
                                                const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kRequireAdmin, {}});
    q.push_back({kWorkspaceSetPlan, db::params(id, plan)});
    q.push_back(audit::record_in(
        id, {p.user, "admin.workspace_plan", "workspace", id.str(), R"({"plan":")" + plan + "\"}"}, origin));
    q.push_back({workspace_one_sql(), db::params(id)});
    auto r = co_await db::run(pool_, platform(p), std::move(q));
    co_return workspace_at(r[3], 0);
}

asio::awaitable<std::vector<AdminUser>> Store::users(const auth::Principal& p, const Page& page) {
    std::vector<db::Query> q;
    q.push_back({kRequireAdmin, {}});
    q.push_back({user_page_sql(), db::params(page.q, page.after, page.limit + 1)});
    auto r = co_await db::run(pool_, platform(p), std::move(q));
    co_return rows_of<AdminUser>(r[1], user_at);
}

asio::awaitable<AdminUser> Store::user(const auth::Principal& p, const core::Uuid& id) {
    std::vector<db::Query> q;
    q.push_back({kRequireAdmin, {}});
    q.push_back({user_one_sql(), db::params(id)});
    auto r = co_await db::run(pool_, platform(p), std::move(q));
    if (r[1].empty()) throw core::Problem::not_found("No such user.");
    co_return user_at(r[1], 0);
}

asio::awaitable<AdminUser> Store::update_user(const auth::Principal& p, const core::Uuid& id, const UpdateUser& r,
                                              const audit::Origin& origin) {
    std::string detail = "{";
    if (r.is_platform_admin)
        detail += std::string(R"("is_platform_admin":)") + (*r.is_platform_admin ? "true" : "false");
    if (r.deactivated) {
        if (detail.size() > 1) detail += ",";
        detail += std::string(R"("deactivated":)") + (*r.deactivated ? "true" : "false");
    }
    detail += "}";
    std::vector<db::Query> q;
    q.push_back({kRequireAdmin, {}});
    q.push_back({kUserUpdate, db::params(id, r.is_platform_admin, r.deactivated)});
    q.push_back({kUserEndSessions, db::params(id, r.deactivated)});
    q.push_back(audit::record_for_user(id, {p.user, "admin.user_update", "user", id.str(), detail}, origin));
    q.push_back({user_one_sql(), db::params(id)});
    auto res = co_await db::run(pool_, platform(p), std::move(q));
    co_return user_at(res[4], 0);
}

asio::awaitable<std::vector<tenancy::PlanLimits>> Store::plans(const auth::Principal& p) {
    std::vector<db::Query> q;
    q.push_back({kRequireAdmin, {}});
    q.push_back({kPlans, {}});
    auto r = co_await db::run(pool_, platform(p), std::move(q));
    auto at = [](const db::Result& res, int i) {
        return tenancy::PlanLimits{res.str(i, 0),   res.str(i, 1),   res.int64(i, 2), res.int64(i, 3),
                                   res.int64(i, 4), res.int64(i, 5), res.int64(i, 6), res.int64(i, 7)};
    };
    co_return rows_of<tenancy::PlanLimits>(r[1], at);
}

asio::awaitable<std::vector<Worker>> Store::workers(const auth::Principal& p) {
    std::vector<db::Query> q;
    q.push_back({kRequireAdmin, {}});
    q.push_back({kWorkers, {}});
    auto r = co_await db::run(pool_, platform(p), std::move(q));
    auto at = [](const db::Result& res, int i) {
        Worker w{res.str(i, 0),   res.str(i, 1), res.int64(i, 2), {},
                 res.int64(i, 4), res.str(i, 5), res.str(i, 6),   res.boolean(i, 7)};
        const auto kinds = boost::json::parse(res.text(i, 3));
        for (const auto& k : kinds.as_array()) w.kinds.emplace_back(k.as_string());
        return w;
    };
    co_return rows_of<Worker>(r[1], at);
}

asio::awaitable<QueueList> Store::queues(const auth::Principal& p) {
    std::vector<db::Query> q;
    q.push_back({kRequireAdmin, {}});
    q.push_back({kQueues, {}});
    q.push_back({kQueueRates, {}});
    q.push_back({kWorkspaceLoad, {}});
    auto r = co_await db::run(pool_, platform(p), std::move(q));
    auto at = [](const db::Result& res, int i) {
        QueueRow row{res.str(i, 0), res.str(i, 1), res.str(i, 2), res.int64(i, 3), res.int64(i, 4), std::nullopt};
        if (!res.is_null(i, 5)) row.oldest_s = std::stod(res.str(i, 5));
        return row;
    };
    QueueList out;
    out.items = rows_of<QueueRow>(r[1], at);
    out.last_minute = rows_of<QueueRate>(r[2], [](const db::Result& res, int i) {
        return QueueRate{res.str(i, 0), res.str(i, 1), res.int64(i, 2), res.int64(i, 3), res.int64(i, 4)};
    });
    out.workspaces = rows_of<WorkspaceLoad>(r[3], [](const db::Result& res, int i) {
        return WorkspaceLoad{res.uuid(i, 0), res.int64(i, 1), res.int64(i, 2), res.int64(i, 3)};
    });
    co_return out;
}

asio::awaitable<ScheduleList> Store::schedules(const auth::Principal& p) {
    std::vector<db::Query> q;
    q.push_back({kRequireAdmin, {}});
    q.push_back({kLeader, {}});
    q.push_back({kSchedules, {}});
    auto r = co_await db::run(pool_, platform(p), std::move(q));
    ScheduleList out;
    if (!r[1].empty()) {
        out.leader = r[1].str(0, 0);
        out.leader_since = r[1].str(0, 1);
    }
    auto at = [](const db::Result& res, int i) {
        return JobSchedule{res.str(i, 0),     res.str(i, 1),     res.str(i, 2),  res.str(i, 3),
                           res.opt_str(i, 4), res.opt_str(i, 5), res.int64(i, 6)};
    };
    out.items = rows_of<JobSchedule>(r[2], at);
    co_return out;
}

asio::awaitable<void> Store::run_schedule(const auth::Principal& p, const std::string& name,
                                          const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kRequireAdmin, {}});
    q.push_back({kRunSchedule, db::params(name)});
    q.push_back(audit::record_for_user(p.user, {p.user, "admin.schedule_run", "schedule", name}, origin));
    co_await db::run(pool_, platform(p), std::move(q));
}

asio::awaitable<std::vector<DeadJob>> Store::dead_jobs(const auth::Principal& p, const Page& page) {
    std::vector<db::Query> q;
    q.push_back({kRequireAdmin, {}});
    q.push_back({kDeadJobs, db::params(page.q, page.after, page.limit + 1)});
    auto r = co_await db::run(pool_, platform(p), std::move(q));
    auto at = [](const db::Result& res, int i) {
        return DeadJob{res.uuid(i, 0),  res.uuid(i, 1),    res.str(i, 2),
                       res.int64(i, 3), res.opt_str(i, 4), res.opt_str(i, 5)};
    };
    co_return rows_of<DeadJob>(r[1], at);
}

asio::awaitable<std::int64_t> Store::retry_dead(const auth::Principal& p, const RetryDead& r,
                                                const audit::Origin& origin) {
    std::optional<std::string> ids;
    if (r.ids) {
        std::string list = "{";
        for (std::size_t i = 0; i < r.ids->size(); ++i) {
            if (i != 0) list += ',';
            list += (*r.ids)[i].str();
        }
        ids = list + "}";
    }
    std::vector<db::Query> q;
    q.push_back({kRequireAdmin, {}});
    q.push_back({kRetryDead, db::params(ids, r.kind, p.user, origin.ip, origin.request_id)});
    auto res = co_await db::run(pool_, platform(p), std::move(q));
    co_return res[1].int64(0, 0);
}

}  // namespace kiln::admin
