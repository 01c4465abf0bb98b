#include "storage/store.hpp"

#include "core/problem.hpp"

namespace asio = boost::asio;

namespace kiln::storage {

namespace {

constexpr std::string_view kColumns =
    "id, name, content_type, declared_type, size, sha256, created_by, kiln_rfc3339(created_at), storage_key";

std::string select_ready(std::string_view where) {
    std::string s = "SELECT ";
    s += kColumns;
    s += " FROM files WHERE workspace_id = kiln_current_workspace() AND status = 'ready' AND deleted_at IS NULL AND ";
    s += where;
    return s;
}

const std::string& get_sql() {
    static const std::string s = select_ready("id = $1");
    return s;
}

// Name filter: a case-insensitive substring, LIKE's wildcards in it taken literally.
const std::string& list_sql() {
    static const std::string s = select_ready(R"sql(($1::text IS NULL OR starts_with(content_type, $1))
   AND ($2::text IS NULL OR strpos(lower(name), lower($2)) > 0)
   AND ($3::uuid IS NULL OR id < $3)
 ORDER BY id DESC
 LIMIT $4)sql");
    return s;
}

constexpr std::string_view kBegin = R"sql(
INSERT INTO files (workspace_id, id, name, content_type, declared_type, storage_key, status, created_by)
VALUES (kiln_current_workspace(), $1, 'upload', '', '', $2, 'uploading', kiln_current_user()))sql";
constexpr std::string_view kPlanLimits = R"sql(
SELECT p.max_file_bytes FROM workspaces w JOIN plans p ON p.id = w.plan WHERE w.id = kiln_current_workspace())sql";
constexpr std::string_view kReady = "SELECT kiln_file_ready($1, $2, $3, $4, $5, $6)";
constexpr std::string_view kTusComplete = "SELECT kiln_tus_complete($1, $2)";
constexpr std::string_view kAbandon = R"sql(
DELETE FROM files WHERE workspace_id = kiln_current_workspace() AND id = $1 AND status = 'uploading')sql";
constexpr std::string_view kDelete = "SELECT kiln_file_delete($1)";
constexpr std::string_view kUsage = R"sql(
SELECT coalesce(u.bytes_stored, 0), coalesce(u.files, 0), coalesce(u.bytes_reserved, 0), p.id, p.storage_bytes, p.max_file_bytes
  FROM workspaces w JOIN plans p ON p.id = w.plan
  LEFT JOIN workspace_usage u ON u.workspace_id = w.id
 WHERE w.id = kiln_current_workspace())sql";

File file_at(const db::Result& r, int i) {
    File f;
    f.id = r.uuid(i, 0);
    f.name = r.str(i, 1);
    f.content_type = r.str(i, 2);
    f.declared_type = r.str(i, 3);
    f.size = r.int64(i, 4);
    f.sha256 = r.str(i, 5);
    f.created_by = r.uuid(i, 6);
    f.created_at = r.str(i, 7);
    return f;
}

}  // namespace

asio::awaitable<Upload> FileStore::begin(const db::TenantScope& scope, const core::Uuid& id, const std::string& key) {
    std::vector<db::Query> q;
    q.push_back({kBegin, db::params(id, key)});
    q.push_back({kPlanLimits, {}});
    auto r = co_await db::run(pool_, scope, std::move(q));
    if (r[1].empty()) throw core::Problem::not_found("No such workspace.");
    co_return Upload{id, key, r[1].int64(0, 0)};
}

asio::awaitable<File> FileStore::ready(const db::TenantScope& scope, const core::Uuid& id, std::int64_t size,
                                       const std::string& sha256, const std::string& content_type,
                                       const std::string& name, const std::string& declared_type, const audit::Event& e,
                                       const audit::Origin& origin, std::optional<core::Uuid> tus) {
    std::vector<db::Query> q;
    if (tus) q.push_back({kTusComplete, db::params(*tus, id)});
    q.push_back({kReady, db::params(id, size, sha256, content_type, name, declared_type)});
    q.push_back(audit::record(e, origin));
    q.push_back({get_sql(), db::params(id)});
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return file_at(r.back(), 0);
}

asio::awaitable<void> FileStore::abandon(const db::TenantScope& scope, const core::Uuid& id) {
    co_await db::run(pool_, scope, kAbandon, db::params(id));
}

asio::awaitable<File> FileStore::get(const db::TenantScope& scope, const core::Uuid& id) {
    auto found = co_await get_with_key(scope, id);
    co_return std::move(found.first);
}

asio::awaitable<std::pair<File, std::string>> FileStore::get_with_key(const db::TenantScope& scope,
                                                                      const core::Uuid& id) {
    auto r = co_await db::run(pool_, scope, get_sql(), db::params(id));
    if (r.empty()) throw core::Problem::not_found("No such file.");
    co_return std::pair{file_at(r, 0), r.str(0, 8)};
}

asio::awaitable<std::vector<File>> FileStore::list(const db::TenantScope& scope, const FileFilter& f) {
    auto r = co_await db::run(pool_, scope, list_sql(),
                              db::params(f.content_type_prefix, f.name_contains, f.before, f.limit));
    std::vector<File> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(file_at(r, i));
    co_return out;
}

asio::awaitable<std::string> FileStore::remove(const db::TenantScope& scope, const core::Uuid& id,
                                               const audit::Event& e, const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kDelete, db::params(id)});
    q.push_back(audit::record(e, origin));
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return r[0].str(0, 0);
}

asio::awaitable<Usage> FileStore::usage(const db::TenantScope& scope) {
    auto r = co_await db::run(pool_, scope, kUsage, {});
    if (r.empty()) throw core::Problem::not_found("No such workspace.");
    co_return Usage{r.int64(0, 0), r.int64(0, 1), r.int64(0, 2), r.str(0, 3), r.int64(0, 4), r.int64(0, 5)};
}

}  // namespace kiln::storage
