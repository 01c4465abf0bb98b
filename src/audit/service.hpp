#pragma once
// Reading the audit trail: filters and keyset pagination over the caller's workspace.
#include <boost/asio/awaitable.hpp>

#include "audit/model.hpp"
#include "auth/model.hpp"
#include "db/pool.hpp"

namespace kiln::audit {

// The query string as given; validated by Service::list (422 per bad parameter).
struct AuditQuery {
    std::optional<std::string> action;
    std::optional<std::string> actor;
    std::optional<std::string> since;
    std::optional<std::string> until;
    std::optional<std::string> limit;
    std::optional<std::string> cursor;
};

class Service {
public:
    explicit Service(db::Pool& pool) : pool_(pool) {}
    // Admins and owners of the token's workspace; newest first.
    boost::asio::awaitable<AuditEventList> list(auth::Principal p, const AuditQuery& q);

private:
    db::Pool& pool_;
};

}  // namespace kiln::audit
