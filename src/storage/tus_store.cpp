#include "storage/tus_store.hpp"

#include "core/problem.hpp"

namespace asio = boost::asio;

namespace kiln::storage {

namespace {

// Expired unfinished uploads are gone for the client (the sweep deletes them later); a finished
// one stays visible to HEAD until then.
constexpr std::string_view kSelect = R"sql(
SELECT id, workspace_id, length, received, name, declared_type, file_id,
       to_char(expires_at AT TIME ZONE 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS "GMT"')
  FROM tus_uploads
 WHERE workspace_id = kiln_current_workspace() AND id = $1 AND (file_id IS NOT NULL OR expires_at > now()))sql";
constexpr std::string_view kCreate = "SELECT kiln_tus_create($1, $2, $3, $4, now() + make_interval(secs => $5))";
constexpr std::string_view kAdvance = "SELECT kiln_tus_advance($1, $2, $3, $4)";
constexpr std::string_view kDelete = "SELECT kiln_tus_delete($1)";
constexpr std::string_view kMaxFile = R"sql(
SELECT p.max_file_bytes FROM workspaces w JOIN plans p ON p.id = w.plan WHERE w.id = kiln_current_workspace())sql";

constexpr std::string_view kWorker = "SELECT set_config('kiln.worker', 'on', true)";
constexpr std::string_view kDeleteExpired = R"sql(
WITH doomed AS (
    DELETE FROM tus_uploads t USING (
        SELECT workspace_id, id FROM tus_uploads WHERE expires_at <= now() ORDER BY expires_at LIMIT $1) o
     WHERE t.workspace_id = o.workspace_id AND t.id = o.id
    RETURNING t.workspace_id, t.id, t.length, t.file_id),
given AS (
    UPDATE workspace_usage u SET bytes_reserved = u.bytes_reserved - s.total, updated_at = now()
      FROM (SELECT workspace_id, sum(length) AS total FROM doomed WHERE file_id IS NULL GROUP BY workspace_id) s
     WHERE u.workspace_id = s.workspace_id)
SELECT workspace_id, id FROM doomed)sql";
constexpr std::string_view kStaleFiles = R"sql(
SELECT workspace_id, id, storage_key FROM files
 WHERE status = 'uploading' AND created_at < now() - make_interval(secs => $1)
 ORDER BY created_at LIMIT $2)sql";
constexpr std::string_view kDeleteFiles = R"sql(
DELETE FROM files f USING unnest($1::uuid[], $2::uuid[]) AS d(workspace_id, id)
 WHERE f.workspace_id = d.workspace_id AND f.id = d.id AND f.status = 'uploading')sql";

TusUpload upload_at(const db::Result& r) {
    TusUpload u;
    u.id = r.uuid(0, 0);
    u.workspace = r.uuid(0, 1);
    u.length = r.int64(0, 2);
    u.offset = r.int64(0, 3);
    u.name = r.str(0, 4);
    u.declared_type = r.str(0, 5);
    if (!r.is_null(0, 6)) u.file_id = r.uuid(0, 6);
    u.expires = r.str(0, 7);
    return u;
}

std::string uuid_array(const std::vector<Swept>& v, bool workspace) {
    std::string out = "{";
    for (const auto& s : v) {
        if (out.size() > 1) out += ',';
        out += workspace ? s.workspace.str() : s.id.str();
    }
    return out + "}";
}

}  // namespace

asio::awaitable<TusUpload> TusStore::create(const db::TenantScope& scope, const core::Uuid& id, std::int64_t length,
                                            const std::string& name, const std::string& declared_type,
                                            std::int64_t expiry_s, const audit::Event& e, const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kCreate, db::params(id, length, name, declared_type, expiry_s)});
    q.push_back(audit::record(e, origin));
    q.push_back({kSelect, db::params(id)});
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return upload_at(r[2]);
}

asio::awaitable<TusUpload> TusStore::get(const db::TenantScope& scope, const core::Uuid& id) {
    auto r = co_await db::run(pool_, scope, kSelect, db::params(id));
    if (r.empty()) throw core::Problem::not_found("No such upload.");
    co_return upload_at(r);
}

asio::awaitable<std::string> TusStore::advance(const db::TenantScope& scope, const core::Uuid& id, std::int64_t from,
                                               std::int64_t to, std::int64_t expiry_s, const audit::Event* e,
                                               const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kAdvance, db::params(id, from, to, expiry_s)});
    if (e != nullptr) q.push_back(audit::record(*e, origin));
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return r[0].str(0, 0);
}

asio::awaitable<void> TusStore::remove(const db::TenantScope& scope, const core::Uuid& id, const audit::Event& e,
                                       const audit::Origin& origin) {
    std::vector<db::Query> q;
    q.push_back({kDelete, db::params(id)});
    q.push_back(audit::record(e, origin));
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<std::int64_t> TusStore::max_file_bytes(const db::TenantScope& scope) {
    auto r = co_await db::run(pool_, scope, kMaxFile, {});
    if (r.empty()) throw core::Problem::not_found("No such workspace.");
    co_return r.int64(0, 0);
}

asio::awaitable<std::vector<Swept>> TusStore::delete_expired(int limit) {
    std::vector<db::Query> q;
    q.push_back({kWorker, {}});
    q.push_back({kDeleteExpired, db::params(limit)});
    auto r = co_await db::run(pool_, {}, std::move(q));
    std::vector<Swept> out;
    out.reserve(static_cast<std::size_t>(r[1].rows()));
    for (int i = 0; i < r[1].rows(); ++i) out.push_back({r[1].uuid(i, 0), r[1].uuid(i, 1), {}});
    co_return out;
}

asio::awaitable<std::vector<Swept>> TusStore::stale_files(std::int64_t age_s, int limit) {
    std::vector<db::Query> q;
    q.push_back({kWorker, {}});
    q.push_back({kStaleFiles, db::params(age_s, limit)});
    auto r = co_await db::run(pool_, {}, std::move(q));
    std::vector<Swept> out;
    out.reserve(static_cast<std::size_t>(r[1].rows()));
    for (int i = 0; i < r[1].rows(); ++i) out.push_back({r[1].uuid(i, 0), r[1].uuid(i, 1), r[1].str(i, 2)});
    co_return out;
}

asio::awaitable<void> TusStore::delete_files(const std::vector<Swept>& files) {
    if (files.empty()) co_return;
    std::vector<db::Query> q;
    q.push_back({kWorker, {}});
    q.push_back({kDeleteFiles, db::params(uuid_array(files, true), uuid_array(files, false))});
    co_await db::run(pool_, {}, std::move(q));
}

}  // namespace kiln::storage
