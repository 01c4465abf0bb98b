#pragma once
// Audit events are written by the statement batch of the mutation they record, so that the
// event exists iff the change committed. Callers append one of these queries to their batch.
#include <string>

#include <boost/asio/awaitable.hpp>

#include "audit/model.hpp"
#include "core/uuid.hpp"
#include "db/connection.hpp"
#include "db/transaction.hpp"

namespace kiln::audit {

// Who did it, from where: taken from the request.
struct Origin {
    std::string ip;  // may be empty
    std::string request_id;
};

struct Event {
    std::optional<core::Uuid> actor;
    std::string action;  // "auth.login", "workspace.update", …
    std::string target_type;
    std::string target_id;
    std::string detail_json = "{}";
};

// An event in the transaction's current workspace (kiln.workspace_id).
db::Query record(const Event& e, const Origin& origin);
// An event in the workspace of a session (sign-in events, before a workspace is set).
db::Query record_for_session(const core::Uuid& session, const Event& e, const Origin& origin);

// An event in a named workspace (platform administrators act outside any workspace).
db::Query record_in(const core::Uuid& workspace, const Event& e, const Origin& origin);

// An event in a user's default workspace (a platform administrator changed the account).
db::Query record_for_user(const core::Uuid& user, const Event& e, const Origin& origin);

// One page of the events of the scope's workspace, newest first; `limit` + 1 rows are asked
// for so the caller knows whether another page follows. Each row's last element is its
// cursor position. Throws db::Error 22007/22008 for a malformed time or cursor.
boost::asio::awaitable<std::vector<std::pair<AuditEvent, std::pair<std::string, core::Uuid>>>> list(
    db::Pool& pool, const db::TenantScope& scope, const AuditFilter& filter);

}  // namespace kiln::audit
