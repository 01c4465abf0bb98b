#pragma once
// Workspaces and their members on the wire. Roles: owner > admin > member > viewer
// (docs/permissions.md).
#include <boost/describe.hpp>
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

}  // namespace kiln::tenancy
