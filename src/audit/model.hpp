#pragma once
// The audit trail on the wire: newest first, keyset-paginated.
#include <boost/describe.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/uuid.hpp"

namespace kiln::audit {

struct AuditEvent {
    core::Uuid id;
    std::string action;
    std::optional<core::Uuid> actor_user_id;
    std::string target_type;
    std::string target_id;
    std::optional<std::string> ip;
    std::string request_id;
    boost::json::value detail;
    std::string created_at;
};
BOOST_DESCRIBE_STRUCT(AuditEvent, (),
                      (id, action, actor_user_id, target_type, target_id, ip, request_id, detail, created_at))

struct AuditEventList {
    std::vector<AuditEvent> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(AuditEventList, (), (items, next_cursor))

struct AuditFilter {
    std::optional<std::string> action;
    std::optional<core::Uuid> actor;
    std::optional<std::string> since;  // RFC 3339, inclusive
    std::optional<std::string> until;  // RFC 3339, exclusive
    int limit = 50;
    // Position after the last item of the previous page: (created_at as PostgreSQL prints it, id).
    std::optional<std::pair<std::string, core::Uuid>> after;
};

}  // namespace kiln::audit
