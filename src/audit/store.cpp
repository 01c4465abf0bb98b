#include "audit/store.hpp"

namespace kiln::audit {

namespace {

constexpr std::string_view kAuditInsert = R"sql(
INSERT INTO audit_events (workspace_id, id, actor_user_id, action, target_type, target_id, ip, request_id, detail)
VALUES (kiln_current_workspace(), $1, $2, $3, $4, $5, nullif($6, '')::inet, $7, $8::jsonb))sql";

constexpr std::string_view kAuditInsertForSession = R"sql(
INSERT INTO audit_events (workspace_id, id, actor_user_id, action, target_type, target_id, ip, request_id, detail)
SELECT s.active_workspace_id, $2, $3, $4, $5, $6, nullif($7, '')::inet, $8, $9::jsonb
  FROM auth_sessions s WHERE s.id = $1)sql";

}  // namespace

db::Query record(const Event& e, const Origin& origin) {
    return {kAuditInsert, db::params(core::Uuid::v7(), e.actor, e.action, e.target_type, e.target_id, origin.ip,
                                     origin.request_id, e.detail_json)};
}

db::Query record_for_session(const core::Uuid& session, const Event& e, const Origin& origin) {
    return {kAuditInsertForSession, db::params(session, core::Uuid::v7(), e.actor, e.action, e.target_type, e.target_id,
                                               origin.ip, origin.request_id, e.detail_json)};
}

}  // namespace kiln::audit
