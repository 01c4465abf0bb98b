#include "pg_fixture.hpp"

#include <fmt/format.h>

#include "core/crypto.hpp"

namespace kiln::testing {

AdminConnection::AdminConnection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) {
        ADD_FAILURE() << "cannot connect: " << PQerrorMessage(conn_);
    }
}

AdminConnection::~AdminConnection() {
    PQfinish(conn_);
}

std::string AdminConnection::exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    const auto st = PQresultStatus(r);
    std::string out;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        ADD_FAILURE() << "SQL failed: " << PQerrorMessage(conn_) << "\n" << sql;
    } else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) {
        out = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
    return out;
}

void PgTest::seed_member(const core::Uuid& user, const core::Uuid& workspace, const core::Uuid& session,
                         const std::string& role) {
    AdminConnection su(superuser_conninfo());
    su.exec(fmt::format(R"sql(
        INSERT INTO users (id, email, name, password_hash) VALUES ('{0}', '{0}@example.com', 'M', 'x');
        INSERT INTO workspaces (id, name) VALUES ('{1}', 'W') ON CONFLICT (id) DO NOTHING;
        INSERT INTO memberships (workspace_id, user_id, role) VALUES ('{1}', '{0}', '{3}');
        INSERT INTO auth_sessions (id, user_id, active_workspace_id, expires_at)
             VALUES ('{2}', '{0}', '{1}', now() + interval '1 day');)sql",
                        user.str(), workspace.str(), session.str(), role));
}

void PgTest::SetUp() {
    core::init_crypto();
    config_ = core::Config::load("");
    config_.resolve_secrets();
    const char* tmpl = std::getenv("KILN_TEST_TEMPLATE");
    ASSERT_NE(tmpl, nullptr) << "KILN_TEST_TEMPLATE is not set: run the integration tests through scripts/test";
    database_ = "kiln_t_" + core::random_token(9);
    for (auto& c : database_)
        c = std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
    AdminConnection admin(maintenance_conninfo());
    admin.exec(
        fmt::format(R"(CREATE DATABASE "{}" TEMPLATE "{}" OWNER "{}")", database_, tmpl, config_.database.owner_user));
    config_.database.name = database_;
}

void PgTest::TearDown() {
    io_.stop();
    AdminConnection admin(maintenance_conninfo());
    for (const auto& db : extra_databases_) admin.exec(fmt::format(R"(DROP DATABASE IF EXISTS "{}" WITH (FORCE))", db));
    if (!database_.empty()) admin.exec(fmt::format(R"(DROP DATABASE IF EXISTS "{}" WITH (FORCE))", database_));
}

// Databases are created and dropped by the cluster's superuser: DROP … WITH (FORCE) must be able
// to end the application role's sessions, which the owner role cannot.
std::string PgTest::maintenance_conninfo(const std::string& database) const {
    auto db = config_.database;
    const char* user = std::getenv("KILN_PG_SUPERUSER");
    const char* password_file = std::getenv("KILN_PG_SUPERUSER_PASSWORD_FILE");
    if (user == nullptr || password_file == nullptr) {
        ADD_FAILURE() << "KILN_PG_SUPERUSER(_PASSWORD_FILE) not set: run the tests through scripts/test";
        return {};
    }
    db.owner_user = user;
    db.owner_password.clear();
    db.owner_password_file = password_file;
    core::Config c;
    c.database = db;
    c.resolve_secrets();
    return core::conninfo(c.database, true, database);
}

std::string PgTest::create_empty_database() {
    auto name = database_ + "_" + std::to_string(extra_databases_.size());
    AdminConnection admin(maintenance_conninfo());
    admin.exec(fmt::format(R"(CREATE DATABASE "{}" TEMPLATE template0 OWNER "{}")", name, config_.database.owner_user));
    extra_databases_.push_back(name);
    return name;
}

db::PoolOptions PgTest::pool_options(bool pipeline, unsigned max_size) const {
    return {.conninfo = app_conninfo(),
            .max_size = max_size,
            .acquire_timeout = std::chrono::milliseconds(2000),
            .statement_timeout = std::chrono::milliseconds(10000),
            .health_check_after = std::chrono::milliseconds(30000),
            .pipeline = pipeline};
}

}  // namespace kiln::testing
