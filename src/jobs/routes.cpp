// /api/v1/jobs: the token's workspace's jobs (viewers read; members enqueue, cancel, retry).
#include "jobs/routes.hpp"

#include "http/json.hpp"

namespace asio = boost::asio;

namespace kiln::jobs {

namespace {

struct Deps {
    const auth::Service* auth;
    Service* jobs;
};

audit::Origin origin_of(const http::Request& req) {
    return {std::string(req.client_ip), req.request_id};
}

core::Uuid id_param(const http::Request& req) {
    auto id = core::Uuid::parse(req.param("id"));
    if (!id) throw core::Problem::not_found("No such job.");
    return *id;
}

asio::awaitable<http::Response> do_enqueue(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto body = http::bind_body<EnqueueRequest>(req);
    std::optional<std::string> key;
    if (const auto k = req.header_value("Idempotency-Key"); !k.empty()) key = std::string(k);
    const auto origin = origin_of(req);
    auto done = co_await d.jobs->enqueue(who, std::move(body), std::move(key), origin);
    co_return http::json_response(done.second ? 201 : 200, http::to_json(done.first));
}

asio::awaitable<http::Response> do_list(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    ListQuery q{req.query_param("state"), req.query_param("kind"), req.query_param("limit"), req.query_param("cursor")};
    auto list = co_await d.jobs->list(who, std::move(q));
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_get(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = id_param(req);
    auto job = co_await d.jobs->get(who, id);
    co_return http::json_response(200, http::to_json(job));
}

asio::awaitable<http::Response> do_cancel(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = id_param(req);
    const auto origin = origin_of(req);
    auto job = co_await d.jobs->cancel(who, id, origin);
    co_return http::json_response(200, http::to_json(job));
}

asio::awaitable<http::Response> do_retry(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = id_param(req);
    const auto origin = origin_of(req);
    auto job = co_await d.jobs->retry(who, id, origin);
    co_return http::json_response(200, http::to_json(job));
}

}  // namespace

void add_routes(http::Router& router, const auth::Service& auth, Service& service) {
    const Deps d{&auth, &service};
    router.add({.method = http::Verb::post,
                .path = "/api/v1/jobs",
                .summary = "Enqueue a job (member); 201 new, 200 when a live job holds its unique key or "
                           "Idempotency-Key",
                .tag = "jobs",
                .request = http::json_body<EnqueueRequest>(),
                .status = 201,
                .response = http::json_body<Job>(),
                .handler = [d](http::Request& r) { return do_enqueue(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/jobs",
                .summary = "The workspace's jobs, newest first (?state=, ?kind=, ?limit=, ?cursor=)",
                .tag = "jobs",
                .response = http::json_body<JobList>(),
                .handler = [d](http::Request& r) { return do_list(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/jobs/{id}",
                .summary = "One job: state, attempts, progress, result, errors",
                .tag = "jobs",
                .response = http::json_body<Job>(),
                .handler = [d](http::Request& r) { return do_get(d, r); }});
    router.add({.method = http::Verb::post,
                .path = "/api/v1/jobs/{id}/cancel",
                .summary = "Cancel a job (member): at once when it waits, at its handler's next check when it runs",
                .tag = "jobs",
                .response = http::json_body<Job>(),
                .handler = [d](http::Request& r) { return do_cancel(d, r); }});
    router.add({.method = http::Verb::post,
                .path = "/api/v1/jobs/{id}/retry",
                .summary = "Run a dead, failed or cancelled job again now (member)",
                .tag = "jobs",
                .response = http::json_body<Job>(),
                .handler = [d](http::Request& r) { return do_retry(d, r); }});
}

}  // namespace kiln::jobs
