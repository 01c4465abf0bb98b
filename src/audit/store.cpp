#include "audit/store.hpp"

#include <boost/json/parse.hpp>

namespace kiln::audit {

namespace {

constexpr std::string_view kAuditInsert = R"sql(
INSERT INTO audit_events (workspace_id, id, actor_user_id, action, target_type, target_id, ip, request_id, detail)
VALUES (kiln_current_workspace(), $1, $2, $3, $4, $5, nullif($6, '')::inet, $7, $8::jsonb))sql";

constexpr std::string_view kAuditInsertForSession = R"sql(
INSERT INTO audit_events (workspace_id, id, actor_user_id, action, target_type, target_id, ip, request_id, detail)
SELECT s.active_workspace_id, $2, $3, $4, $5, $6, nullif($7, '')::inet, $8, $9::jsonb
  FROM auth_sessions s WHERE s.id = $1)sql";

constexpr std::string_view kAuditInsertInWorkspace = R"sql(
INSERT INTO audit_events (workspace_id, id, actor_user_id, action, target_type, target_id, ip, request_id, detail)
VALUES ($1, $2, $3, $4, $5, $6, nullif($7, '')::inet, $8, $9::jsonb))sql";

constexpr std::string_view kAuditInsertForUser = R"sql(
INSERT INTO audit_events (workspace_id, id, actor_user_id, action, target_type, target_id, ip, request_id, detail)
SELECT u.default_workspace_id, $2, $3, $4, $5, $6, nullif($7, '')::inet, $8, $9::jsonb
  FROM users u WHERE u.id = $1 AND u.default_workspace_id IS NOT NULL)sql";

constexpr std::string_view kAuditList = R"sql(
SELECT id, action, actor_user_id, target_type, target_id, host(ip), request_id, detail::text,
       kiln_rfc3339(created_at), created_at::text
  FROM audit_events
 WHERE workspace_id = kiln_current_workspace()
   AND ($1::text IS NULL OR action = $1)
   AND ($2::uuid IS NULL OR actor_user_id = $2)
   AND ($3::timestamptz IS NULL OR created_at >= $3::timestamptz)
   AND ($4::timestamptz IS NULL OR created_at < $4::timestamptz)
   AND ($5::timestamptz IS NULL OR (created_at, id) < ($5::timestamptz, $6::uuid))
 ORDER BY created_at DESC, id DESC
 LIMIT $7)sql";

}  // namespace

boost::asio::awaitable<std::vector<std::pair<AuditEvent, std::pair<std::string, core::Uuid>>>> list(
    db::Pool& pool, const db::TenantScope& scope, const AuditFilter& f) {
    std::optional<std::string> after_time;
    std::optional<core::Uuid> after_id;
    if (f.after) {
        after_time = f.after->first;
        after_id = f.after->second;
    }
    auto r = co_await db::run(pool, scope, kAuditList,
                              db::params(f.action, f.actor, f.since, f.until, after_time, after_id, f.limit + 1));
    std::vector<std::pair<AuditEvent, std::pair<std::string, core::Uuid>>> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        AuditEvent e;
        e.id = r.uuid(i, 0);
        e.action = r.str(i, 1);
        if (!r.is_null(i, 2)) e.actor_user_id = r.uuid(i, 2);
        e.target_type = r.str(i, 3);
        e.target_id = r.str(i, 4);
        e.ip = r.opt_str(i, 5);
        e.request_id = r.str(i, 6);
        e.detail = boost::json::parse(r.text(i, 7));
        e.created_at = r.str(i, 8);
        out.emplace_back(std::move(e), std::pair{r.str(i, 9), r.uuid(i, 0)});
    }
    co_return out;
}

db::Query record(const Event& e, const Origin& origin) {
    return {kAuditInsert, db::params(core::Uuid::v7(), e.actor, e.action, e.target_type, e.target_id, origin.ip,
                                     origin.request_id, e.detail_json)};
}

db::Query record_for_session(const core::Uuid& session, const Event& e, const Origin& origin) {
    return {kAuditInsertForSession, db::params(session, core::Uuid::v7(), e.actor, e.action, e.target_type, e.target_id,
                                               origin.ip, origin.request_id, e.detail_json)};
}

db::Query record_in(const core::Uuid& workspace, const Event& e, const Origin& origin) {
    return {kAuditInsertInWorkspace, db::params(workspace, core::Uuid::v7(), e.actor, e.action, e.target_type,
                                                e.target_id, origin.ip, origin.request_id, e.detail_json)};
}

db::Query record_for_user(const core::Uuid& user, const Event& e, const Origin& origin) {
    return {kAuditInsertForUser, db::params(user, core::Uuid::v7(), e.actor, e.action, e.target_type, e.target_id,
                                            origin.ip, origin.request_id, e.detail_json)};
}

}  // namespace kiln::audit
