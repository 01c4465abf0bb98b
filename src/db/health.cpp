#include "db/health.hpp"

namespace kiln::db {

namespace {
constexpr std::string_view kPing = "SELECT 1";
constexpr std::string_view kSchemaStatus = R"sql(
SELECT coalesce((SELECT max(version) FROM kiln_migrations), 0),
       (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user))sql";
}  // namespace

boost::asio::awaitable<SchemaStatus> schema_status(Pool& pool) {
    auto r = co_await pool.query(kSchemaStatus);
    co_return SchemaStatus{r.int64(0, 0), r.boolean(0, 1)};
}

boost::asio::awaitable<void> ping(Pool& pool) {
    co_await pool.query(kPing);
}

}  // namespace kiln::db
