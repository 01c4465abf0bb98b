#pragma once
// What platform administrators see: every workspace and every account (seed 001's admin,
// seed 002's companies).
#include <boost/describe.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "core/uuid.hpp"
#include "tenancy/model.hpp"

namespace kiln::admin {

struct AdminWorkspace {
    core::Uuid id;
    std::string name;
    std::string plan;
    bool personal = false;
    std::int64_t members = 0;
    std::string created_at;
    std::optional<std::string> deleted_at;
};
BOOST_DESCRIBE_STRUCT(AdminWorkspace, (), (id, name, plan, personal, members, created_at, deleted_at))

struct AdminWorkspaceList {
    std::vector<AdminWorkspace> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(AdminWorkspaceList, (), (items, next_cursor))

struct AdminUser {
    core::Uuid id;
    std::string email;
    std::optional<std::string> username;
    std::string name;
    bool is_platform_admin = false;
    bool email_verified = false;
    bool deactivated = false;
    std::int64_t workspaces = 0;
    std::string created_at;
};
BOOST_DESCRIBE_STRUCT(AdminUser, (),
                      (id, email, username, name, is_platform_admin, email_verified, deactivated, workspaces,
                       created_at))

struct AdminUserList {
    std::vector<AdminUser> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(AdminUserList, (), (items, next_cursor))

struct PlanList {
    std::vector<tenancy::PlanLimits> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(PlanList, (), (items, next_cursor))

struct UpdateWorkspace {
    std::optional<std::string> plan;
};
BOOST_DESCRIBE_STRUCT(UpdateWorkspace, (), (plan))

struct UpdateUser {
    std::optional<bool> is_platform_admin;
    std::optional<bool> deactivated;
};
BOOST_DESCRIBE_STRUCT(UpdateUser, (), (is_platform_admin, deactivated))

// ?q= (a case-insensitive substring of name or email), ?limit= (1–200, default 50), ?cursor=.
struct ListQuery {
    std::optional<std::string> q;
    std::optional<std::string> limit;
    std::optional<std::string> cursor;
};

}  // namespace kiln::admin
