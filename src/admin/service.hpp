#pragma once
// Platform administration: the rules around Store (paging, validation, no self-lockout).
#include <boost/asio/awaitable.hpp>

#include "admin/store.hpp"

namespace kiln::admin {

class Service {
public:
    explicit Service(Store& store) : store_(store) {}

    boost::asio::awaitable<AdminWorkspaceList> workspaces(auth::Principal p, const ListQuery& q);
    boost::asio::awaitable<AdminWorkspace> workspace(auth::Principal p, core::Uuid id);
    boost::asio::awaitable<AdminWorkspace> update_workspace(auth::Principal p, core::Uuid id, UpdateWorkspace r,
                                                            audit::Origin origin);
    boost::asio::awaitable<AdminUserList> users(auth::Principal p, const ListQuery& q);
    boost::asio::awaitable<AdminUser> user(auth::Principal p, core::Uuid id);
    boost::asio::awaitable<AdminUser> update_user(auth::Principal p, core::Uuid id, UpdateUser r, audit::Origin origin);
    boost::asio::awaitable<PlanList> plans(auth::Principal p);
    boost::asio::awaitable<WorkerList> workers(auth::Principal p);
    boost::asio::awaitable<QueueList> queues(auth::Principal p);
    boost::asio::awaitable<ScheduleList> schedules(auth::Principal p);
    boost::asio::awaitable<void> run_schedule(auth::Principal p, std::string name, audit::Origin origin);
    boost::asio::awaitable<DeadJobList> dead_jobs(auth::Principal p, const ListQuery& q);
    boost::asio::awaitable<RetryDeadReply> retry_dead(auth::Principal p, RetryDead r, audit::Origin origin);

private:
    Store& store_;
};

}  // namespace kiln::admin
