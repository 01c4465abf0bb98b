#include "tenancy/store.hpp"

namespace asio = boost::asio;

namespace kiln::tenancy {

namespace {

constexpr std::string_view kWorkspaceList = R"sql(
SELECT w.id, w.name, w.plan, w.personal, m.role, kiln_rfc3339(w.created_at)
  FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
 WHERE m.user_id = kiln_current_user() AND w.deleted_at IS NULL
 ORDER BY w.created_at, w.id)sql";
constexpr std::string_view kWorkspaceGet = R"sql(
SELECT w.id, w.name, w.plan, w.personal, m.role, kiln_rfc3339(w.created_at)
  FROM workspaces w JOIN memberships m ON m.workspace_id = w.id AND m.user_id = kiln_current_user()
 WHERE w.id = kiln_current_workspace() AND w.deleted_at IS NULL)sql";
constexpr std::string_view kWorkspaceInsert = R"sql(
INSERT INTO workspaces (id, name, created_by) VALUES (kiln_current_workspace(), $1, kiln_current_user()))sql";
constexpr std::string_view kOwnerInsert = R"sql(
INSERT INTO memberships (workspace_id, user_id, role) VALUES (kiln_current_workspace(), kiln_current_user(), 'owner'))sql";
constexpr std::string_view kWorkspaceUpdate = R"sql(
UPDATE workspaces SET name = coalesce($1, name) WHERE id = kiln_current_workspace() AND deleted_at IS NULL)sql";
constexpr std::string_view kWorkspaceDelete = "SELECT kiln_workspace_delete()";
constexpr std::string_view kMemberList = R"sql(
SELECT m.user_id, u.email, u.name, u.username, m.role, kiln_rfc3339(m.created_at)
  FROM memberships m JOIN users u ON u.id = m.user_id
 WHERE m.workspace_id = kiln_current_workspace()
 ORDER BY m.created_at, m.user_id
 LIMIT 1000)sql";
constexpr std::string_view kMemberGet = R"sql(
SELECT m.user_id, u.email, u.name, u.username, m.role, kiln_rfc3339(m.created_at)
  FROM memberships m JOIN users u ON u.id = m.user_id
 WHERE m.workspace_id = kiln_current_workspace() AND m.user_id = $1)sql";
constexpr std::string_view kCheckGrant = "SELECT kiln_check_grant($1)";
constexpr std::string_view kManagedUserInsert = R"sql(
INSERT INTO users (id, email, username, name, password_hash, must_change_password, managed_by_workspace_id,
                   default_workspace_id)
VALUES ($1, $2, $3, $4, $5, true, kiln_current_workspace(), kiln_current_workspace()))sql";
constexpr std::string_view kMemberInsert = R"sql(
INSERT INTO memberships (workspace_id, user_id, role) VALUES (kiln_current_workspace(), $1, $2))sql";
constexpr std::string_view kManagedUserUpdate = R"sql(
UPDATE users SET name = coalesce($2, name), username = coalesce($3, username)
 WHERE id = $1 AND managed_by_workspace_id = kiln_current_workspace()
RETURNING id)sql";
constexpr std::string_view kManagedUserDeactivate = "SELECT kiln_managed_user_deactivate($1)";
constexpr std::string_view kMemberSetRole = "SELECT kiln_member_set_role($1, $2)";
constexpr std::string_view kMemberRemove = "SELECT kiln_member_remove($1)";

constexpr std::string_view kManagedUserReactivate = R"sql(
WITH changed AS (
    UPDATE users SET deactivated_at = NULL WHERE id = $1 AND managed_by_workspace_id = kiln_current_workspace()
    RETURNING id)
SELECT kiln_found(count(*), 'No such managed user.') FROM changed)sql";

// A key must expire in the future; no row back means it would not.
constexpr std::string_view kApiKeyInsert = R"sql(
INSERT INTO api_keys (workspace_id, id, name, prefix, key_hash, role, created_by, expires_at)
SELECT kiln_current_workspace(), $1, $2, $3, $4, $5, kiln_current_user(), $6::timestamptz
 WHERE $6::timestamptz IS NULL OR $6::timestamptz > now()
RETURNING id, name, prefix, role, created_by, kiln_rfc3339(created_at), kiln_rfc3339(expires_at),
          kiln_rfc3339(last_used_at))sql";
// Live keys only: their number is bounded by the plan, so one page holds them all.
constexpr std::string_view kApiKeyList = R"sql(
SELECT id, name, prefix, role, created_by, kiln_rfc3339(created_at), kiln_rfc3339(expires_at),
       kiln_rfc3339(last_used_at)
  FROM api_keys
 WHERE workspace_id = kiln_current_workspace() AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
 ORDER BY created_at DESC, id DESC)sql";
constexpr std::string_view kApiKeyRevoke = R"sql(
WITH changed AS (
    UPDATE api_keys SET revoked_at = now()
     WHERE workspace_id = kiln_current_workspace() AND id = $1 AND revoked_at IS NULL
    RETURNING id)
SELECT kiln_found(count(*), 'No such API key.') FROM changed)sql";
constexpr std::string_view kPlanGet = R"sql(
SELECT p.id, p.name, p.max_members, p.max_api_keys, p.storage_bytes, p.max_file_bytes, p.max_concurrent_jobs,
       p.monthly_credits,
       (SELECT count(*) FROM memberships m WHERE m.workspace_id = w.id),
       (SELECT count(*) FROM api_keys k
         WHERE k.workspace_id = w.id AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()))
  FROM workspaces w JOIN plans p ON p.id = w.plan
 WHERE w.id = kiln_current_workspace())sql";

ApiKey api_key_at(const db::Result& r, int i) {
    return {r.uuid(i, 0), r.str(i, 1), r.str(i, 2),     r.str(i, 3),
            r.uuid(i, 4), r.str(i, 5), r.opt_str(i, 6), r.opt_str(i, 7)};
}

db::TenantScope in(const auth::Principal& p, const core::Uuid& workspace, const char* min_role) {
    return auth::scope_of(p, workspace, min_role);
}

Workspace workspace_at(const db::Result& r, int i) {
    return {r.uuid(i, 0), r.str(i, 1), r.str(i, 2), r.boolean(i, 3), r.str(i, 4), r.str(i, 5)};
}

Member member_at(const db::Result& r, int i) {
    return {r.uuid(i, 0), r.str(i, 1), r.str(i, 2), r.opt_str(i, 3), r.str(i, 4), r.str(i, 5)};
}

// Audit detail naming a role; roles are validated names, safe inside the JSON as they are.
std::string role_detail(const std::string& role) {
    return R"({"role":")" + role + "\"}";
}

Workspace one_workspace(const db::Result& r) {
    if (r.empty()) throw core::Problem::not_found("No such workspace.");
    return workspace_at(r, 0);
}

}  // namespace

asio::awaitable<std::vector<Workspace>> Store::list(const auth::Principal& p) {
    const auto scope = auth::scope_of(p, std::nullopt);
    auto r = co_await db::run(pool_, scope, kWorkspaceList);
    std::vector<Workspace> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(workspace_at(r, i));
    co_return out;
}

asio::awaitable<Workspace> Store::create(const auth::Principal& p, const core::Uuid& id, const std::string& name,
                                         const audit::Origin& origin) {
    // Not a member yet: the scope names the new workspace without asking for a role.
    const auto scope = auth::scope_of(p, id);
    std::vector<db::Query> q;
    q.push_back({kWorkspaceInsert, db::params(name)});
    q.push_back({kOwnerInsert, {}});
    q.push_back(audit::record({p.user, "workspace.create", "workspace", id.str()}, origin));
    q.push_back({kWorkspaceGet, {}});
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return one_workspace(r[3]);
}

asio::awaitable<Workspace> Store::get(const auth::Principal& p, const core::Uuid& id) {
    const auto scope = in(p, id, "viewer");
    auto r = co_await db::run(pool_, scope, kWorkspaceGet);
    co_return one_workspace(r);
}

asio::awaitable<Workspace> Store::update(const auth::Principal& p, const core::Uuid& id, const UpdateWorkspace& req,
                                         const audit::Origin& origin) {
    const auto scope = in(p, id, "admin");
    std::vector<db::Query> q;
    q.push_back({kWorkspaceUpdate, db::params(req.name)});
    q.push_back(audit::record({p.user, "workspace.update", "workspace", id.str()}, origin));
    q.push_back({kWorkspaceGet, {}});
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return one_workspace(r[2]);
}

asio::awaitable<void> Store::remove(const auth::Principal& p, const core::Uuid& id, const audit::Origin& origin) {
    const auto scope = in(p, id, "owner");
    std::vector<db::Query> q;
    q.push_back({kWorkspaceDelete, {}});
    q.push_back(audit::record({p.user, "workspace.delete", "workspace", id.str()}, origin));
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<std::vector<Member>> Store::members(const auth::Principal& p, const core::Uuid& id) {
    const auto scope = in(p, id, "viewer");
    auto r = co_await db::run(pool_, scope, kMemberList);
    std::vector<Member> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(member_at(r, i));
    co_return out;
}

asio::awaitable<Member> Store::set_role(const auth::Principal& p, const core::Uuid& id, const core::Uuid& user,
                                        const std::string& role, const audit::Origin& origin) {
    const auto scope = in(p, id, "admin");
    std::vector<db::Query> q;
    q.push_back({kMemberSetRole, db::params(user, role)});
    q.push_back(audit::record({p.user, "member.role_change", "user", user.str(), role_detail(role)}, origin));
    q.push_back({kMemberGet, db::params(user)});
    auto r = co_await db::run(pool_, scope, std::move(q));
    if (r[2].empty()) throw core::Problem::not_found("No such member.");
    co_return member_at(r[2], 0);
}

asio::awaitable<void> Store::remove_member(const auth::Principal& p, const core::Uuid& id, const core::Uuid& user,
                                           const audit::Origin& origin) {
    // Any member may leave; removing someone else needs admin (checked by kiln_member_remove).
    const auto scope = in(p, id, "viewer");
    std::vector<db::Query> q;
    q.push_back({kMemberRemove, db::params(user)});
    q.push_back(audit::record({p.user, user == p.user ? "member.leave" : "member.remove", "user", user.str()}, origin));
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<Member> Store::create_managed_user(const auth::Principal& p, const core::Uuid& workspace,
                                                   const core::Uuid& user, const CreateManagedUser& r,
                                                   const std::string& password_hash, const audit::Origin& origin) {
    const auto scope = in(p, workspace, "admin");
    std::vector<db::Query> q;
    q.push_back({kCheckGrant, db::params(r.role)});
    q.push_back(
        {kManagedUserInsert, db::params(user, auth::normalize_email(r.email), r.username, r.name, password_hash)});
    q.push_back({kMemberInsert, db::params(user, r.role)});
    q.push_back(audit::record({p.user, "user.create_managed", "user", user.str(), role_detail(r.role)}, origin));
    q.push_back({kMemberGet, db::params(user)});
    auto res = co_await db::run(pool_, scope, std::move(q));
    if (res[4].empty()) throw core::Problem::not_found("No such member.");
    co_return member_at(res[4], 0);
}

asio::awaitable<Member> Store::update_managed_user(const auth::Principal& p, const core::Uuid& workspace,
                                                   const core::Uuid& user, const UpdateManagedUser& r,
                                                   const audit::Origin& origin) {
    const auto scope = in(p, workspace, "admin");
    std::vector<db::Query> q;
    q.push_back({kManagedUserUpdate, db::params(user, r.name, r.username)});
    q.push_back(audit::record({p.user, "user.update_managed", "user", user.str()}, origin));
    q.push_back({kMemberGet, db::params(user)});
    auto res = co_await db::run(pool_, scope, std::move(q));
    if (res[0].empty() || res[2].empty()) throw core::Problem::not_found("No such managed user.");
    co_return member_at(res[2], 0);
}

asio::awaitable<void> Store::deactivate_managed_user(const auth::Principal& p, const core::Uuid& workspace,
                                                     const core::Uuid& user, const audit::Origin& origin) {
    const auto scope = in(p, workspace, "admin");
    std::vector<db::Query> q;
    q.push_back({kManagedUserDeactivate, db::params(user)});
    q.push_back(audit::record({p.user, "user.deactivate", "user", user.str()}, origin));
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<void> Store::reactivate_managed_user(const auth::Principal& p, const core::Uuid& workspace,
                                                     const core::Uuid& user, const audit::Origin& origin) {
    const auto scope = in(p, workspace, "admin");
    std::vector<db::Query> q;
    q.push_back({kManagedUserReactivate, db::params(user)});
    q.push_back(audit::record({p.user, "user.reactivate", "user", user.str()}, origin));
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<std::optional<ApiKey>> Store::create_api_key(const auth::Principal& p, const core::Uuid& workspace,
                                                             const CreateApiKey& r, const auth::NewApiKey& key,
                                                             const core::Uuid& id, const audit::Origin& origin) {
    const auto scope = in(p, workspace, "admin");
    std::vector<db::Query> q;
    q.push_back(
        {kApiKeyInsert, db::params(id, r.name, key.prefix, "\\x" + core::to_hex(key.hash), r.role, r.expires_at)});
    q.push_back(
        audit::record({p.user, "api_key.create", "api_key", id.str(), R"({"role":")" + r.role + "\"}"}, origin));
    auto res = co_await db::run(pool_, scope, std::move(q));
    if (res[0].empty()) co_return std::nullopt;
    co_return api_key_at(res[0], 0);
}

asio::awaitable<std::vector<ApiKey>> Store::api_keys(const auth::Principal& p, const core::Uuid& workspace) {
    const auto scope = in(p, workspace, "admin");
    auto r = co_await db::run(pool_, scope, kApiKeyList);
    std::vector<ApiKey> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(api_key_at(r, i));
    co_return out;
}

asio::awaitable<void> Store::revoke_api_key(const auth::Principal& p, const core::Uuid& workspace, const core::Uuid& id,
                                            const audit::Origin& origin) {
    const auto scope = in(p, workspace, "admin");
    std::vector<db::Query> q;
    q.push_back({kApiKeyRevoke, db::params(id)});
    q.push_back(audit::record({p.user, "api_key.revoke", "api_key", id.str()}, origin));
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<PlanReply> Store::plan(const auth::Principal& p, const core::Uuid& workspace) {
    const auto scope = in(p, workspace, "viewer");
    auto r = co_await db::run(pool_, scope, kPlanGet);
    if (r.empty()) throw core::Problem::not_found("No such workspace.");
    PlanReply out;
    out.plan = {r.str(0, 0),   r.str(0, 1),   r.int64(0, 2), r.int64(0, 3),
                r.int64(0, 4), r.int64(0, 5), r.int64(0, 6), r.int64(0, 7)};
    out.usage = {r.int64(0, 8), r.int64(0, 9)};
    co_return out;
}

}  // namespace kiln::tenancy
