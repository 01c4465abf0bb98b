#include "db/migrate.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>

namespace kiln::db {

namespace {

// Any fixed 64-bit key: every process migrating one database serialises on it.
constexpr long long kMigrationLock = 0x6b696c6e6d696772;  // "kilnmigr"

constexpr std::string_view kCreateTable = R"sql(
CREATE TABLE IF NOT EXISTS kiln_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
))sql";

constexpr std::string_view kSelectApplied = "SELECT version, name, checksum FROM kiln_migrations ORDER BY version";
constexpr std::string_view kRecord = "INSERT INTO kiln_migrations (version, name, checksum) VALUES ($1, $2, $3)";

struct ConnDeleter {
    void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;
using Res = std::unique_ptr<PGresult, ResDeleter>;

std::string message_of(PGconn* c) {
    std::string m = PQerrorMessage(c);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
}

Res exec(PGconn* c, std::string_view sql, const std::string& context) {
    Res r(PQexec(c, std::string(sql).c_str()));
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        throw MigrationError(fmt::format("{}: {}", context, message_of(c)));
    }
    return r;
}

Res exec_params(PGconn* c, std::string_view sql, const std::vector<std::string>& params, const std::string& context) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.c_str());
    Res r(PQexecParams(c, std::string(sql).c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                       nullptr, 0));
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        throw MigrationError(fmt::format("{}: {}", context, message_of(c)));
    }
    return r;
}

std::string quote_ident(PGconn* c, const std::string& name) {
    char* q = PQescapeIdentifier(c, name.c_str(), name.size());
    if (q == nullptr) throw MigrationError("cannot quote role name " + name);
    std::string out(q);
    PQfreemem(q);
    return out;
}

void ignore_notice(void* /*arg*/, const PGresult* /*res*/) {}

}  // namespace

std::string sha256_hex(std::string_view data) {
    std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(data.data()), data.size());
    std::string hex(digest.size() * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
    hex.pop_back();
    return hex;
}

std::vector<Migration> load_migrations(std::span<const core::EmbeddedFile> files) {
    std::vector<Migration> out;
    for (const auto& f : files) {
        const std::string name(f.name);
        int version = 0;
        auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), version);
        if (ec != std::errc{} || p != name.data() + 4 || name.size() < 10 || name[4] != '_' ||
            !name.ends_with(".sql") || version <= 0) {
            throw MigrationError("migration file name must look like NNNN_name.sql: " + name);
        }
        out.push_back({version, name, std::string(f.data), sha256_hex(f.data)});
    }
    std::sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
    for (std::size_t i = 1; i < out.size(); ++i) {
        if (out[i].version == out[i - 1].version) {
            throw MigrationError(fmt::format("two migrations share version {}: {} and {}", out[i].version,
                                             out[i - 1].name, out[i].name));
        }
    }
    return out;
}

std::vector<Migration> embedded_migrations() {
    return load_migrations(core::embedded_migrations());
}

int latest_version(const std::vector<Migration>& migrations) {
    return migrations.empty() ? 0 : migrations.back().version;
}

MigrateReport migrate(const std::string& owner_conninfo, const std::string& app_role,
                      const std::vector<Migration>& migrations) {
    Conn conn(PQconnectdb(owner_conninfo.c_str()));
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        throw MigrationError("cannot connect as the owner role: " + message_of(conn.get()));
    }
    PGconn* c = conn.get();
    PQsetNoticeReceiver(c, ignore_notice, nullptr);
    exec(c, fmt::format("SELECT pg_advisory_lock({})", kMigrationLock), "taking the migration lock");

    exec(c, kCreateTable, "creating kiln_migrations");
    auto role = exec_params(c, "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = $1", {app_role},
                            "checking the application role");
    if (PQntuples(role.get()) == 0) {
        throw MigrationError(
            fmt::format("application role {} does not exist; create it (LOGIN NOBYPASSRLS) first", app_role));
    }
    if (std::string_view(PQgetvalue(role.get(), 0, 0)) == "t") {
        throw MigrationError(fmt::format("application role {} is a superuser or bypasses RLS; it must not", app_role));
    }
    const std::string app = quote_ident(c, app_role);
    // The application role reads the bookkeeping, and gets data access (not DDL) on whatever
    // the owner creates from now on; RLS policies then decide which rows it sees.
    exec(c, fmt::format("GRANT SELECT ON kiln_migrations TO {}", app), "granting kiln_migrations");
    exec(c, fmt::format("GRANT USAGE ON SCHEMA public TO {}", app), "granting schema usage");
    exec(c,
         fmt::format("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}",
                     app),
         "setting default table privileges");
    exec(c, fmt::format("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {}", app),
         "setting default sequence privileges");
    exec_params(c, "SELECT set_config('kiln.app_role', $1, false)", {app_role}, "naming the application role");

    std::map<int, std::pair<std::string, std::string>> applied;
    auto rows = exec(c, kSelectApplied, "reading applied migrations");
    for (int i = 0; i < PQntuples(rows.get()); ++i) {
        applied[std::stoi(PQgetvalue(rows.get(), i, 0))] = {PQgetvalue(rows.get(), i, 1), PQgetvalue(rows.get(), i, 2)};
    }

    MigrateReport report;
    for (const auto& m : migrations) {
        if (auto it = applied.find(m.version); it != applied.end()) {
            if (it->second.second != m.checksum) {
                throw MigrationError(
                    fmt::format("migration {} was changed after it was applied (recorded sha256 {}, now {}); "
                                "applied migrations are immutable: restore it and add a new migration instead",
                                m.name, it->second.second.substr(0, 12), m.checksum.substr(0, 12)));
            }
            continue;
        }
        exec(c, "BEGIN", "starting " + m.name);
        try {
            exec(c, m.sql, "applying " + m.name);
            exec_params(c, kRecord, {std::to_string(m.version), m.name, m.checksum}, "recording " + m.name);
            exec(c, "COMMIT", "committing " + m.name);
        } catch (...) {
            PQclear(PQexec(c, "ROLLBACK"));
            throw;
        }
        report.applied.push_back(m.name);
    }
    auto current = exec(c, "SELECT coalesce(max(version), 0) FROM kiln_migrations", "reading the version");
    report.current = std::stoi(PQgetvalue(current.get(), 0, 0));
    exec(c, fmt::format("SELECT pg_advisory_unlock({})", kMigrationLock), "releasing the migration lock");
    return report;
}

}  // namespace kiln::db
