#pragma once
// All SQL of the platform-admin routes. Every batch starts with kiln_require_platform_admin(),
// which checks the caller live and only then opens the platform scope (migration 0005).
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "admin/model.hpp"
#include "audit/store.hpp"
#include "auth/model.hpp"
#include "db/pool.hpp"

namespace kiln::admin {

// A validated list query: `limit` + 1 rows are asked for to know whether a page follows.
struct Page {
    std::optional<std::string> q;
    std::optional<core::Uuid> after;
    int limit = 50;
};

class Store {
public:
    explicit Store(db::Pool& pool) : pool_(pool) {}

    boost::asio::awaitable<std::vector<AdminWorkspace>> workspaces(const auth::Principal& p, const Page& page);
    // 404 when there is no such workspace.
    boost::asio::awaitable<AdminWorkspace> workspace(const auth::Principal& p, const core::Uuid& id);
    // Throws db::Error 23503 when the plan does not exist.
    boost::asio::awaitable<AdminWorkspace> set_plan(const auth::Principal& p, const core::Uuid& id,
                                                    const std::string& plan, const audit::Origin& origin);
    boost::asio::awaitable<std::vector<AdminUser>> users(const auth::Principal& p, const Page& page);
    boost::asio::awaitable<AdminUser> user(const auth::Principal& p, const core::Uuid& id);
    // Deactivating ends every session of the account.
    boost::asio::awaitable<AdminUser> update_user(const auth::Principal& p, const core::Uuid& id, const UpdateUser& r,
                                                  const audit::Origin& origin);
    boost::asio::awaitable<std::vector<tenancy::PlanLimits>> plans(const auth::Principal& p);

    boost::asio::awaitable<std::vector<Worker>> workers(const auth::Principal& p);
    boost::asio::awaitable<QueueList> queues(const auth::Principal& p);
    boost::asio::awaitable<ScheduleList> schedules(const auth::Principal& p);
    // Makes the schedule due now (the leader fires it at its next look); KL404 when unknown.
    boost::asio::awaitable<void> run_schedule(const auth::Principal& p, const std::string& name,
                                              const audit::Origin& origin);
    // `page.q` filters by kind.
    boost::asio::awaitable<std::vector<DeadJob>> dead_jobs(const auth::Principal& p, const Page& page);
    // Audited in each affected workspace.
    boost::asio::awaitable<std::int64_t> retry_dead(const auth::Principal& p, const RetryDead& r,
                                                    const audit::Origin& origin);

private:
    db::Pool& pool_;
};

}  // namespace kiln::admin
