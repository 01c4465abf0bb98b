#include "admin/service.hpp"

#include <charconv>

namespace asio = boost::asio;

namespace kiln::admin {

namespace {

constexpr int kMaxLimit = 200;
constexpr std::size_t kMaxSearch = 200;

Page page_of(const ListQuery& q) {
    core::Validator v;
    Page page;
    if (q.q && !q.q->empty()) {
        if (q.q->size() > kMaxSearch) v.add("q", "must be at most 200 characters");
        page.q = q.q;
    }
    if (q.limit) {
        int n = 0;
        const auto* end = q.limit->data() + q.limit->size();
        const auto [p, ec] = std::from_chars(q.limit->data(), end, n);
        if (ec != std::errc{} || p != end || n < 1 || n > kMaxLimit) {
            v.add("limit", "must be a whole number from 1 to 200");
        } else {
            page.limit = n;
        }
    }
    if (q.cursor) {
        page.after = core::Uuid::parse(*q.cursor);
        if (!page.after) v.add("cursor", "is not a cursor this server gave");
    }
    v.throw_if_failed();
    return page;
}

// The page holds `limit` items; one more row means another page follows, after the last id.
template <typename List, typename T>
List paged(std::vector<T> rows, const Page& page) {
    List out;
    if (rows.size() > static_cast<std::size_t>(page.limit)) {
        rows.resize(static_cast<std::size_t>(page.limit));
        out.next_cursor = rows.back().id.str();
    }
    out.items = std::move(rows);
    return out;
}

}  // namespace

asio::awaitable<AdminWorkspaceList> Service::workspaces(auth::Principal p, const ListQuery& q) {
    const auto page = page_of(q);
    auto rows = co_await store_.workspaces(p, page);
    co_return paged<AdminWorkspaceList>(std::move(rows), page);
}

asio::awaitable<AdminWorkspace> Service::workspace(auth::Principal p, core::Uuid id) {
    co_return co_await store_.workspace(p, id);
}

asio::awaitable<AdminWorkspace> Service::update_workspace(auth::Principal p, core::Uuid id, UpdateWorkspace r,
                                                          audit::Origin origin) {
    if (!r.plan) co_return co_await store_.workspace(p, id);
    try {
        co_return co_await store_.set_plan(p, id, *r.plan, origin);
    } catch (const db::Error& e) {
        if (e.sqlstate() != "23503") throw;
    }
    throw core::Problem::validation({{"plan", "is not a plan (GET /api/v1/admin/plans lists them)"}});
}

asio::awaitable<AdminUserList> Service::users(auth::Principal p, const ListQuery& q) {
    const auto page = page_of(q);
    auto rows = co_await store_.users(p, page);
    co_return paged<AdminUserList>(std::move(rows), page);
}

asio::awaitable<AdminUser> Service::user(auth::Principal p, core::Uuid id) {
    co_return co_await store_.user(p, id);
}

asio::awaitable<AdminUser> Service::update_user(auth::Principal p, core::Uuid id, UpdateUser r, audit::Origin origin) {
    // Another administrator can always undo a change; nobody can lock themselves out.
    if (id == p.user && (r.is_platform_admin || r.deactivated)) {
        throw core::Problem::conflict("Administrators cannot change their own administrator or active state.");
    }
    co_return co_await store_.update_user(p, id, r, origin);
}

asio::awaitable<PlanList> Service::plans(auth::Principal p) {
    PlanList out;
    out.items = co_await store_.plans(p);
    co_return out;
}

asio::awaitable<WorkerList> Service::workers(auth::Principal p) {
    WorkerList out;
    out.items = co_await store_.workers(p);
    co_return out;
}

asio::awaitable<QueueList> Service::queues(auth::Principal p) {
    co_return co_await store_.queues(p);
}

asio::awaitable<ScheduleList> Service::schedules(auth::Principal p) {
    co_return co_await store_.schedules(p);
}

asio::awaitable<void> Service::run_schedule(auth::Principal p, std::string name, audit::Origin origin) {
    co_await store_.run_schedule(p, name, origin);
}

asio::awaitable<DeadJobList> Service::dead_jobs(auth::Principal p, const ListQuery& q) {
    const auto page = page_of(q);
    auto rows = co_await store_.dead_jobs(p, page);
    co_return paged<DeadJobList>(std::move(rows), page);
}

asio::awaitable<RetryDeadReply> Service::retry_dead(auth::Principal p, RetryDead r, audit::Origin origin) {
    constexpr std::size_t kMaxIds = 10000;
    core::Validator v;
    if (!r.ids && !r.kind) v.add("ids", "give ids, a kind, or both");
    if (r.ids && (r.ids->empty() || r.ids->size() > kMaxIds)) v.add("ids", "must hold 1 to 10000 ids");
    v.throw_if_failed();
    RetryDeadReply out;
    out.retried = co_await store_.retry_dead(p, r, origin);
    co_return out;
}

}  // namespace kiln::admin
