#pragma once
// What /ready asks of the database.
#include <boost/asio/awaitable.hpp>
#include <cstdint>

#include "db/pool.hpp"

namespace kiln::db {

struct SchemaStatus {
    std::int64_t version = 0;        // highest applied migration
    bool role_bypasses_rls = false;  // the connected role is superuser or BYPASSRLS: refuse to serve
};

boost::asio::awaitable<SchemaStatus> schema_status(Pool& pool);
// One round trip through the pool.
boost::asio::awaitable<void> ping(Pool& pool);

}  // namespace kiln::db
