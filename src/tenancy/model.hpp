#pragma once
// Workspaces and their members on the wire. Roles: owner > admin > member > viewer
// (docs/permissions.md).
#include <boost/describe.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "core/uuid.hpp"

namespace kiln::tenancy {

bool is_role(const std::string& role);

struct Workspace {
    core::Uuid id;
    std::string name;
    std::string plan;
    bool personal = false;
    std::string role;  // the caller's
    std::string created_at;
};
BOOST_DESCRIBE_STRUCT(Workspace, (), (id, name, plan, personal, role, created_at))

struct WorkspaceList {
    std::vector<Workspace> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(WorkspaceList, (), (items, next_cursor))

struct CreateWorkspace {
    std::string name;
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(CreateWorkspace, (), (name))

struct UpdateWorkspace {
    std::optional<std::string> name;
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(UpdateWorkspace, (), (name))

struct Member {
    core::Uuid user_id;
    std::string email;
    std::string name;
    std::optional<std::string> username;
    std::string role;
    std::string joined_at;
};
BOOST_DESCRIBE_STRUCT(Member, (), (user_id, email, name, username, role, joined_at))

struct MemberList {
    std::vector<Member> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(MemberList, (), (items, next_cursor))

// A workspace admin creates an account in the workspace (seed 002's admin-managed users).
struct CreateManagedUser {
    std::string email;
    std::string name;
    std::optional<std::string> username;
    std::string role;
    // Given or generated; either way the user must change it at first sign-in.
    std::optional<std::string> temporary_password;
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(CreateManagedUser, (), (email, name, username, role, temporary_password))

struct ManagedUserReply {
    Member member;
    std::optional<std::string> temporary_password;  // only when generated: shown this once
};
BOOST_DESCRIBE_STRUCT(ManagedUserReply, (), (member, temporary_password))

struct UpdateManagedUser {
    std::optional<std::string> name;
    std::optional<std::string> username;
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(UpdateManagedUser, (), (name, username))

struct ChangeRole {
    std::string role;
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(ChangeRole, (), (role))

// API keys: a workspace's credential for programs (`Authorization: Bearer kiln_…`).
struct ApiKey {
    core::Uuid id;
    std::string name;
    std::string prefix;  // "kiln_<prefix>_…": enough to recognise a key, not to use it
    std::string role;
    core::Uuid created_by;
    std::string created_at;
    std::optional<std::string> expires_at;
    std::optional<std::string> last_used_at;
};
BOOST_DESCRIBE_STRUCT(ApiKey, (), (id, name, prefix, role, created_by, created_at, expires_at, last_used_at))

struct ApiKeyList {
    std::vector<ApiKey> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(ApiKeyList, (), (items, next_cursor))

struct CreateApiKey {
    std::string name;
    std::string role;
    std::optional<std::string> expires_at;  // RFC 3339, in the future; none: until revoked
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(CreateApiKey, (), (name, role, expires_at))

struct ApiKeyCreated {
    ApiKey api_key;
    std::string key;  // shown this once; only its hash is kept
};
BOOST_DESCRIBE_STRUCT(ApiKeyCreated, (), (api_key, key))

// A plan's limits (migration 0005); every one is enforced where it applies.
struct PlanLimits {
    std::string id;
    std::string name;
    std::int64_t max_members = 0;
    std::int64_t max_api_keys = 0;
    std::int64_t storage_bytes = 0;
    std::int64_t max_file_bytes = 0;
    std::int64_t max_concurrent_jobs = 0;
    std::int64_t monthly_credits = 0;
};
BOOST_DESCRIBE_STRUCT(PlanLimits, (),
                      (id, name, max_members, max_api_keys, storage_bytes, max_file_bytes, max_concurrent_jobs,
                       monthly_credits))

struct PlanUsage {
    std::int64_t members = 0;
    std::int64_t api_keys = 0;
};
BOOST_DESCRIBE_STRUCT(PlanUsage, (), (members, api_keys))

struct PlanReply {
    PlanLimits plan;
    PlanUsage usage;
};
BOOST_DESCRIBE_STRUCT(PlanReply, (), (plan, usage))
struct CreateInvitation {
    std::string email;
    std::string role;
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(CreateInvitation, (), (email, role))

// A pending invitation; its token is only ever in the mail.
struct Invitation {
    core::Uuid id;
    std::string email;
    std::string role;
    std::optional<core::Uuid> invited_by;
    std::string created_at;
    std::string expires_at;
};
BOOST_DESCRIBE_STRUCT(Invitation, (), (id, email, role, invited_by, created_at, expires_at))

struct InvitationList {
    std::vector<Invitation> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(InvitationList, (), (items, next_cursor))

struct AcceptInvitation {
    std::string token;
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(AcceptInvitation, (), (token))

struct AcceptedInvitation {
    core::Uuid workspace_id;
    std::string workspace_name;
    std::string role;
};
BOOST_DESCRIBE_STRUCT(AcceptedInvitation, (), (workspace_id, workspace_name, role))

// A page request: `limit` 1–200 (default 50), `cursor` the previous page's next_cursor.
struct Page {
    unsigned limit = 50;
    std::optional<core::Uuid> cursor;
};

}  // namespace kiln::tenancy
