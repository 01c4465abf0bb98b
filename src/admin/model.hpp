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

struct Worker {
    std::string id;
    std::string host;
    std::int64_t pid = 0;
    std::vector<std::string> kinds;
    std::int64_t running = 0;
    std::string started_at;
    std::string last_seen_at;
    bool leader = false;  // fires the cron schedules
};
BOOST_DESCRIBE_STRUCT(Worker, (), (id, host, pid, kinds, running, started_at, last_seen_at, leader))

struct WorkerList {
    std::vector<Worker> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(WorkerList, (), (items, next_cursor))

// A cron schedule the leader fires (GET /admin/schedules).
struct JobSchedule {
    std::string name;
    std::string cron;
    std::string time_zone;
    std::string next_run_at;
    std::optional<std::string> last_run_at;
    std::optional<std::string> last_error;
    std::int64_t runs = 0;
};
BOOST_DESCRIBE_STRUCT(JobSchedule, (), (name, cron, time_zone, next_run_at, last_run_at, last_error, runs))

struct ScheduleList {
    std::optional<std::string> leader;  // the worker that leads now, if any
    std::optional<std::string> leader_since;
    std::vector<JobSchedule> items;
};
BOOST_DESCRIBE_STRUCT(ScheduleList, (), (leader, leader_since, items))

// One row of GET /admin/queues: jobs of a queue and kind in one state, across workspaces.
struct QueueRow {
    std::string queue;
    std::string kind;
    std::string state;
    std::int64_t jobs = 0;
    std::int64_t workspaces = 0;
    std::optional<double> oldest_s;  // age of the oldest (by run_at), for waiting states
};
BOOST_DESCRIBE_STRUCT(QueueRow, (), (queue, kind, state, jobs, workspaces, oldest_s))

// Jobs of a queue and kind that finished in the last minute, by how they ended.
struct QueueRate {
    std::string queue;
    std::string kind;
    std::int64_t succeeded = 0;
    std::int64_t dead = 0;
    std::int64_t cancelled = 0;
};
BOOST_DESCRIBE_STRUCT(QueueRate, (), (queue, kind, succeeded, dead, cancelled))

// The busiest workspaces now (most jobs waiting), with what they finished in the last minute.
struct WorkspaceLoad {
    core::Uuid workspace_id;
    std::int64_t waiting = 0;
    std::int64_t running = 0;
    std::int64_t finished_last_minute = 0;
};
BOOST_DESCRIBE_STRUCT(WorkspaceLoad, (), (workspace_id, waiting, running, finished_last_minute))

struct QueueList {
    std::vector<QueueRow> items;
    std::vector<QueueRate> last_minute;     // throughput by queue and kind
    std::vector<WorkspaceLoad> workspaces;  // the 20 with the most waiting
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(QueueList, (), (items, last_minute, workspaces, next_cursor))

struct DeadJob {
    core::Uuid id;
    core::Uuid workspace_id;
    std::string kind;
    std::int64_t attempt = 0;
    std::optional<std::string> last_error;
    std::optional<std::string> finished_at;
};
BOOST_DESCRIBE_STRUCT(DeadJob, (), (id, workspace_id, kind, attempt, last_error, finished_at))

struct DeadJobList {
    std::vector<DeadJob> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(DeadJobList, (), (items, next_cursor))

// Retry dead jobs: the given ids, or every dead job of `kind` (at most 10,000 per call).
struct RetryDead {
    std::optional<std::vector<core::Uuid>> ids;
    std::optional<std::string> kind;
};
BOOST_DESCRIBE_STRUCT(RetryDead, (), (ids, kind))

struct RetryDeadReply {
    std::int64_t retried = 0;
};
BOOST_DESCRIBE_STRUCT(RetryDeadReply, (), (retried))

// ?q= (a case-insensitive substring of name or email), ?limit= (1–200, default 50), ?cursor=.
struct ListQuery {
    std::optional<std::string> q;
    std::optional<std::string> limit;
    std::optional<std::string> cursor;
};

}  // namespace kiln::admin
