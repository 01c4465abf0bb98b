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

db::TenantScope in(const auth::Principal& p, const core::Uuid& workspace, const char* min_role) {
    return {.workspace_id = workspace, .user_id = p.user, .session_id = p.session, .min_role = min_role};
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
    const db::TenantScope scope{.user_id = p.user, .session_id = p.session};
    auto r = co_await db::run(pool_, scope, kWorkspaceList);
    std::vector<Workspace> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(workspace_at(r, i));
    co_return out;
}

asio::awaitable<Workspace> Store::create(const auth::Principal& p, const core::Uuid& id, const std::string& name,
                                         const audit::Origin& origin) {
    // Not a member yet: the scope names the new workspace without asking for a role.
    const db::TenantScope scope{.workspace_id = id, .user_id = p.user, .session_id = p.session};
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

}  // namespace kiln::tenancy
