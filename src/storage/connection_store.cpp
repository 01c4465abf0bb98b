#include "storage/connection_store.hpp"

#include <sodium/utils.h>

#include "db/sql.hpp"
#include "db/transaction.hpp"

namespace asio = boost::asio;

namespace kiln::storage {

namespace {

constexpr std::string_view kColumns = R"sql(
id, name, endpoint, region, bucket, right(access_key_id, 4), path_style, created_by, kiln_rfc3339(created_at),
kiln_rfc3339(updated_at))sql";

// Live connections only: a deleted one is as absent as another workspace's.
const std::string& get_sql() {
    static const std::string s = db::tenant_select(kColumns, "storage_connections", "deleted_at IS NULL AND id = $1");
    return s;
}
const std::string& list_sql() {
    static const std::string s =
        db::tenant_select(kColumns, "storage_connections",
                          "deleted_at IS NULL AND ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2");
    return s;
}
const std::string& insert_sql() {
    static const std::string s = std::string(R"sql(
INSERT INTO storage_connections (workspace_id, id, name, endpoint, region, bucket, access_key_id, secret_nonce,
                                 secret_ciphertext, path_style, created_by)
VALUES (kiln_current_workspace(), $1, $2, $3, $4, $5, $6, decode($7, 'hex'), decode($8, 'hex'), $9,
        kiln_current_user())
RETURNING )sql") + std::string(kColumns);
    return s;
}
const std::string& update_sql() {
    static const std::string s = std::string(R"sql(
UPDATE storage_connections
   SET name = coalesce($2, name), endpoint = coalesce($3, endpoint), region = coalesce($4, region),
       bucket = coalesce($5, bucket), access_key_id = coalesce($6, access_key_id),
       secret_nonce = coalesce(decode($7, 'hex'), secret_nonce),
       secret_ciphertext = coalesce(decode($8, 'hex'), secret_ciphertext),
       path_style = coalesce($9, path_style), updated_at = now()
 WHERE workspace_id = kiln_current_workspace() AND id = $1 AND deleted_at IS NULL
RETURNING )sql") + std::string(kColumns);
    return s;
}

constexpr std::string_view kRequire = "SELECT kiln_storage_connection_require($1)";
// 409 while a live Data Uploader project uses the connection (migration 0014).
constexpr std::string_view kUnused = "SELECT kiln_storage_connection_unused($1)";
constexpr std::string_view kAccess = R"sql(
SELECT id, endpoint, region, bucket, access_key_id, encode(secret_nonce, 'hex'), encode(secret_ciphertext, 'hex'),
       path_style
  FROM storage_connections
 WHERE workspace_id = kiln_current_workspace() AND id = $1 AND deleted_at IS NULL)sql";
constexpr std::string_view kDelete = R"sql(
UPDATE storage_connections SET deleted_at = now(), updated_at = now(), secret_nonce = NULL, secret_ciphertext = NULL
 WHERE workspace_id = kiln_current_workspace() AND id = $1 AND deleted_at IS NULL)sql";

std::string hex(const std::string& bytes) {
    std::string out(bytes.size() * 2 + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    out.pop_back();
    return out;
}

std::string unhex(std::string_view text) {
    std::string out(text.size() / 2, '\0');
    std::size_t len = 0;
    sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr, &len,
                   nullptr);
    out.resize(len);
    return out;
}

std::optional<std::string> hex_of(const std::optional<Sealed>& s, std::string Sealed::*part) {
    if (!s) return std::nullopt;
    return hex((*s).*part);
}

StorageConnection connection_at(const db::Result& r, int i) {
    StorageConnection c;
    c.id = r.uuid(i, 0);
    c.name = r.str(i, 1);
    c.endpoint = r.str(i, 2);
    c.region = r.str(i, 3);
    c.bucket = r.str(i, 4);
    c.access_key_id_last4 = r.str(i, 5);
    c.path_style = r.boolean(i, 6);
    if (!r.is_null(i, 7)) c.created_by = r.uuid(i, 7);
    c.created_at = r.str(i, 8);
    c.updated_at = r.str(i, 9);
    return c;
}

}  // namespace

asio::awaitable<StorageConnection> ConnectionStore::create(const db::TenantScope& scope, const NewConnection& c,
                                                           const audit::Event& e, const audit::Origin& origin) {
    std::vector<db::Query> q;
    const auto& a = c.access;
    q.push_back({insert_sql(), db::params(a.id, c.name, a.endpoint, a.region, a.bucket, a.access_key_id,
                                          hex(a.secret.nonce), hex(a.secret.ciphertext), a.path_style)});
    q.push_back(audit::record(e, origin));
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return connection_at(r[0], 0);
}

asio::awaitable<std::vector<StorageConnection>> ConnectionStore::list(const db::TenantScope& scope,
                                                                      const std::optional<core::Uuid>& before,
                                                                      int limit) {
    auto r = co_await db::run(pool_, scope, list_sql(), db::params(before, limit));
    std::vector<StorageConnection> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(connection_at(r, i));
    co_return out;
}

asio::awaitable<StorageConnection> ConnectionStore::get(const db::TenantScope& scope, const core::Uuid& id) {
    auto r = co_await db::run(pool_, scope, get_sql(), db::params(id));
    if (r.empty()) throw core::Problem::not_found("No such storage connection.");
    co_return connection_at(r, 0);
}

asio::awaitable<ConnectionAccess> ConnectionStore::access(const db::TenantScope& scope, const core::Uuid& id) {
    auto r = co_await db::run(pool_, scope, kAccess, db::params(id));
    if (r.empty()) throw core::Problem::not_found("No such storage connection.");
    ConnectionAccess a;
    a.id = r.uuid(0, 0);
    a.endpoint = r.str(0, 1);
    a.region = r.str(0, 2);
    a.bucket = r.str(0, 3);
    a.access_key_id = r.str(0, 4);
    a.secret = {unhex(r.text(0, 5)), unhex(r.text(0, 6))};
    a.path_style = r.boolean(0, 7);
    co_return a;
}

asio::awaitable<StorageConnection> ConnectionStore::update(const db::TenantScope& scope, const core::Uuid& id,
                                                           const ConnectionChanges& c, const audit::Event& e,
                                                           const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kRequire, db::params(id)});
    q.push_back({update_sql(),
                 db::params(id, c.name, c.endpoint, c.region, c.bucket, c.access_key_id,
                            hex_of(c.secret, &Sealed::nonce), hex_of(c.secret, &Sealed::ciphertext), c.path_style)});
    q.push_back(audit::record(e, origin));
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return connection_at(r[1], 0);
}

asio::awaitable<void> ConnectionStore::remove(const db::TenantScope& scope, const core::Uuid& id, const audit::Event& e,
                                              const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kRequire, db::params(id)});
    q.push_back({kUnused, db::params(id)});
    q.push_back({kDelete, db::params(id)});
    q.push_back(audit::record(e, origin));
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<void> ConnectionStore::record(const db::TenantScope& scope, const audit::Event& e,
                                              const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back(audit::record(e, origin));
    co_await db::run(pool_, scope, std::move(q));
}

}  // namespace kiln::storage
