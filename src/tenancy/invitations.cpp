// The SQL of workspace invitations (a tenant table; see migration 0006 for how a token holder
// who is not a member yet reaches their one invitation).
#include "tenancy/store.hpp"

#include "mail/store.hpp"

namespace asio = boost::asio;

namespace kiln::tenancy {

namespace {

constexpr std::string_view kCheckGrant = "SELECT kiln_check_grant($1)";
constexpr std::string_view kInvitationCheck = "SELECT kiln_invitation_check($1)";
constexpr std::string_view kInvitationInsert = R"sql(
INSERT INTO invitations (workspace_id, id, email, role, token_hash, invited_by, expires_at)
VALUES (kiln_current_workspace(), $1, $2, $3, $4, kiln_current_user(), now() + make_interval(secs => $5))
RETURNING id, email, role, invited_by, kiln_rfc3339(created_at), kiln_rfc3339(expires_at))sql";
constexpr std::string_view kInvitationList = R"sql(
SELECT id, email, role, invited_by, kiln_rfc3339(created_at), kiln_rfc3339(expires_at)
  FROM invitations
 WHERE workspace_id = kiln_current_workspace() AND accepted_at IS NULL AND revoked_at IS NULL
   AND expires_at > now() AND ($1::uuid IS NULL OR id < $1::uuid)
 ORDER BY id DESC
 LIMIT $2)sql";
constexpr std::string_view kInvitationRevoke = "SELECT kiln_invitation_revoke($1)";
constexpr std::string_view kInvitationName = "SELECT set_config('kiln.invitation', $1, true)";
constexpr std::string_view kInvitationAccept = R"sql(
SELECT workspace_id, workspace_name, role FROM kiln_invitation_accept())sql";

db::TenantScope in(const auth::Principal& p, const core::Uuid& workspace, const char* min_role) {
    return auth::scope_of(p, workspace, min_role);
}

Invitation invitation_at(const db::Result& r, int i) {
    Invitation out;
    out.id = r.uuid(i, 0);
    out.email = r.str(i, 1);
    out.role = r.str(i, 2);
    if (!r.is_null(i, 3)) out.invited_by = r.uuid(i, 3);
    out.created_at = r.str(i, 4);
    out.expires_at = r.str(i, 5);
    return out;
}

}  // namespace

asio::awaitable<Invitation> Store::create_invitation(const auth::Principal& p, const core::Uuid& workspace,
                                                     const CreateInvitation& r, const core::Digest& token,
                                                     unsigned ttl_s, const mail::Message& mail,
                                                     const audit::Origin& origin) {
    const auto scope = in(p, workspace, "admin");
    const auto id = core::Uuid::v7();
    const auto email = auth::normalize_email(r.email);
    std::vector<db::Query> q;
    q.push_back({kCheckGrant, db::params(r.role)});
    q.push_back({kInvitationCheck, db::params(email)});
    q.push_back({kInvitationInsert, db::params(id, email, r.role, "\\x" + core::to_hex(token), ttl_s)});
    q.push_back(mail::enqueue(mail));
    q.push_back(
        audit::record({p.user, "invitation.create", "invitation", id.str(), R"({"role":")" + r.role + "\"}"}, origin));
    auto res = co_await db::run(pool_, scope, std::move(q));
    co_return invitation_at(res[2], 0);
}

asio::awaitable<std::vector<Invitation>> Store::invitations(const auth::Principal& p, const core::Uuid& workspace,
                                                            const Page& page) {
    const auto scope = in(p, workspace, "admin");
    auto r = co_await db::run(pool_, scope, kInvitationList, db::params(page.cursor, page.limit + 1));
    std::vector<Invitation> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(invitation_at(r, i));
    co_return out;
}

asio::awaitable<void> Store::revoke_invitation(const auth::Principal& p, const core::Uuid& workspace,
                                               const core::Uuid& id, const audit::Origin& origin) {
    const auto scope = in(p, workspace, "admin");
    std::vector<db::Query> q;
    q.push_back({kInvitationRevoke, db::params(id)});
    q.push_back(audit::record({p.user, "invitation.revoke", "invitation", id.str()}, origin));
    co_await db::run(pool_, scope, std::move(q));
}

asio::awaitable<AcceptedInvitation> Store::accept_invitation(const auth::Principal& p, const core::Digest& token,
                                                             const audit::Origin& origin) {
    // No least role: the caller is not a member yet. Accepting moves the transaction into the
    // invitation's workspace, where the audit event lands.
    const auto scope = auth::scope_of(p, p.workspace);
    std::vector<db::Query> q;
    q.push_back({kInvitationName, db::params(core::to_hex(token))});
    q.push_back({kInvitationAccept, {}});
    q.push_back(audit::record({p.user, "invitation.accept", "user", p.user.str()}, origin));
    auto r = co_await db::run(pool_, scope, std::move(q));
    co_return AcceptedInvitation{r[1].uuid(0, 0), r[1].str(0, 1), r[1].str(0, 2)};
}

}  // namespace kiln::tenancy
