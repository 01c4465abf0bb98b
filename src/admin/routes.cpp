// /api/v1/admin/…: every workspace and account, for platform administrators only (403 for
// anyone else, API keys included).
#include "admin/routes.hpp"

#include "audit/origin.hpp"
#include "http/json.hpp"

namespace asio = boost::asio;

namespace kiln::admin {

namespace {

struct Deps {
    const auth::Service* auth;
    Service* admin;
};

ListQuery list_query(const http::Request& req) {
    return {req.query_param("q"), req.query_param("limit"), req.query_param("cursor")};
}

asio::awaitable<http::Response> do_workspaces(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto q = list_query(req);
    auto list = co_await d.admin->workspaces(who, q);
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_workspace(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    auto ws = co_await d.admin->workspace(who, id);
    co_return http::json_response(200, http::to_json(ws));
}

asio::awaitable<http::Response> do_update_workspace(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such workspace.");
    auto body = http::bind_body<UpdateWorkspace>(req);
    const auto origin = audit::origin_of(req);
    auto ws = co_await d.admin->update_workspace(who, id, std::move(body), origin);
    co_return http::json_response(200, http::to_json(ws));
}

asio::awaitable<http::Response> do_users(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto q = list_query(req);
    auto list = co_await d.admin->users(who, q);
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_user(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such user.");
    auto user = co_await d.admin->user(who, id);
    co_return http::json_response(200, http::to_json(user));
}

asio::awaitable<http::Response> do_update_user(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such user.");
    auto body = http::bind_body<UpdateUser>(req);
    const auto origin = audit::origin_of(req);
    auto user = co_await d.admin->update_user(who, id, body, origin);
    co_return http::json_response(200, http::to_json(user));
}

asio::awaitable<http::Response> do_plans(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto list = co_await d.admin->plans(who);
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_workers(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto list = co_await d.admin->workers(who);
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_queues(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto list = co_await d.admin->queues(who);
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_schedules(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto list = co_await d.admin->schedules(who);
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_run_schedule(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto origin = audit::origin_of(req);
    std::string name(req.param("name"));
    co_await d.admin->run_schedule(who, name, origin);
    co_return http::json_response(202, boost::json::object{{"name", name}, {"due", true}});
}

asio::awaitable<http::Response> do_dead_jobs(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const ListQuery q{req.query_param("kind"), req.query_param("limit"), req.query_param("cursor")};
    auto list = co_await d.admin->dead_jobs(who, q);
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_retry_dead(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto body = http::bind_body<RetryDead>(req);
    const auto origin = audit::origin_of(req);
    auto reply = co_await d.admin->retry_dead(who, std::move(body), origin);
    co_return http::json_response(200, http::to_json(reply));
}

}  // namespace

void add_routes(http::Router& router, const auth::Service& auth, Service& service) {
    const Deps d{&auth, &service};
    router.add({.method = http::Verb::get,
                .path = "/api/v1/admin/workspaces",
                .summary = "Every workspace, newest first (platform administrators; ?q=, ?limit=, ?cursor=)",
                .tag = "admin",
                .response = http::json_body<AdminWorkspaceList>(),
                .handler = [d](http::Request& r) { return do_workspaces(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/admin/workspaces/{id}",
                .summary = "Any workspace, deleted ones included (platform administrators)",
                .tag = "admin",
                .response = http::json_body<AdminWorkspace>(),
                .handler = [d](http::Request& r) { return do_workspace(d, r); }});
    router.add({.method = http::Verb::patch,
                .path = "/api/v1/admin/workspaces/{id}",
                .summary = "Change a workspace's plan (platform administrators)",
                .tag = "admin",
                .request = http::json_body<UpdateWorkspace>(),
                .response = http::json_body<AdminWorkspace>(),
                .handler = [d](http::Request& r) { return do_update_workspace(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/admin/users",
                .summary = "Every account, newest first (platform administrators; ?q=, ?limit=, ?cursor=)",
                .tag = "admin",
                .response = http::json_body<AdminUserList>(),
                .handler = [d](http::Request& r) { return do_users(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/admin/users/{id}",
                .summary = "Any account (platform administrators)",
                .tag = "admin",
                .response = http::json_body<AdminUser>(),
                .handler = [d](http::Request& r) { return do_user(d, r); }});
    router.add({.method = http::Verb::patch,
                .path = "/api/v1/admin/users/{id}",
                .summary = "Grant or take platform administration, deactivate (sessions end) or reactivate an "
                           "account (platform administrators; not their own)",
                .tag = "admin",
                .request = http::json_body<UpdateUser>(),
                .response = http::json_body<AdminUser>(),
                .handler = [d](http::Request& r) { return do_update_user(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/admin/plans",
                .summary = "The plans and their limits (platform administrators)",
                .tag = "admin",
                .response = http::json_body<PlanList>(),
                .handler = [d](http::Request& r) { return do_plans(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/admin/workers",
                .summary = "The worker processes seen in the last five minutes: host, pid, kinds, running jobs, "
                           "last heartbeat (platform administrators)",
                .tag = "admin",
                .response = http::json_body<WorkerList>(),
                .handler = [d](http::Request& r) { return do_workers(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/admin/queues",
                .summary = "Unfinished jobs across workspaces by queue, kind and state, with the oldest waiting "
                           "one's age (platform administrators)",
                .tag = "admin",
                .response = http::json_body<QueueList>(),
                .handler = [d](http::Request& r) { return do_queues(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/admin/schedules",
                .summary = "The cron schedules the leading worker fires, and which worker leads (platform "
                           "administrators)",
                .tag = "admin",
                .response = http::json_body<ScheduleList>(),
                .handler = [d](http::Request& r) { return do_schedules(d, r); }});
    router.add({.method = http::Verb::post,
                .path = "/api/v1/admin/schedules/{name}/run",
                .summary = "Run a schedule now: the leader fires it within a poll interval (platform administrators)",
                .tag = "admin",
                .status = 202,
                .handler = [d](http::Request& r) { return do_run_schedule(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/admin/dead-jobs",
                .summary = "Dead jobs across workspaces, newest first (?kind=, ?limit=, ?cursor=; platform "
                           "administrators)",
                .tag = "admin",
                .response = http::json_body<DeadJobList>(),
                .handler = [d](http::Request& r) { return do_dead_jobs(d, r); }});
    router.add({.method = http::Verb::post,
                .path = "/api/v1/admin/dead-jobs/retry",
                .summary = "Retry dead jobs by id and/or kind, at most 10,000 per call (platform administrators)",
                .tag = "admin",
                .request = http::json_body<RetryDead>(),
                .response = http::json_body<RetryDeadReply>(),
                .handler = [d](http::Request& r) { return do_retry_dead(d, r); }});
}

}  // namespace kiln::admin
