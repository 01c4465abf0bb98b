// /api/v1/jobs: the token's workspace's jobs (viewers read; members enqueue, cancel, retry).
#include "jobs/routes.hpp"

#include "http/json.hpp"
#include "http/sse.hpp"
#include "http/websocket.hpp"
#include "jobs/event_socket.hpp"

namespace asio = boost::asio;

namespace kiln::jobs {

namespace {

struct Deps {
    const auth::Service* auth;
    Service* jobs;
    http::EventHub* hub;
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
    ListQuery q{req.query_param("state"), req.query_param("kind"), req.query_param("batch"), req.query_param("limit"),
                req.query_param("cursor")};
    auto list = co_await d.jobs->list(who, std::move(q));
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_get(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = id_param(req);
    auto job = co_await d.jobs->get(who, id);
    co_return http::json_response(200, http::to_json(job));
}

asio::awaitable<http::Response> do_stats(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto stats = co_await d.jobs->stats(who);
    co_return http::json_response(200, http::to_json(stats));
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

// EventSource and WebSocket cannot send headers: without one, a single-use ?ticket= (from POST
// /api/v1/realtime/tickets) stands for the caller. Never a long-lived token in the URL.
asio::awaitable<auth::Principal> stream_caller(Deps d, const http::Request& req) {
    auto ticket = req.query_param("ticket");  // named: no temporary inside a co_await (g++ 12)
    co_return co_await d.auth->authenticate_realtime(req.header_value("Authorization"), std::move(ticket));
}

// Subscribes first, then replays what was persisted after the client's Last-Event-ID, then
// relays live events; ids already replayed are skipped.
asio::awaitable<void> stream_events(Deps d, http::Request& req, http::EventStream& stream,
                                    std::optional<core::Uuid> job) {
    constexpr int kReplayPage = 500;
    const auto who = co_await stream_caller(d, req);
    co_await d.jobs->check_events(who, job);
    http::EventFilter filter;
    filter.workspace_id = who.workspace;
    filter.job_id = job;
    auto sub = d.hub->subscribe(stream.get_executor(), filter);
    std::int64_t after = stream.last_event_number().value_or(0);
    if (stream.last_event_id()) {
        for (;;) {
            auto page = co_await d.jobs->events_after(who, after, job, kReplayPage);
            for (const auto& e : page) {
                if (!co_await stream.send(e)) co_return;
                after = e.id;
            }
            if (page.size() < static_cast<std::size_t>(kReplayPage)) break;
        }
    }
    if (!co_await stream.open()) co_return;
    for (;;) {
        auto e = co_await sub.next();
        if (!e) co_return;
        if (e->id <= after) continue;
        if (!co_await stream.send(*e)) co_return;
    }
}

asio::awaitable<void> do_job_events(Deps d, http::Request& req, http::EventStream& stream) {
    const auto id = id_param(req);
    co_await stream_events(d, req, stream, id);
}

asio::awaitable<void> do_workspace_events(Deps d, http::Request& req, http::EventStream& stream) {
    co_await stream_events(d, req, stream, std::nullopt);
}

// Refused before the upgrade (401, 403) like the streams; then the client's commands.
asio::awaitable<void> do_socket(Deps d, http::Request& req, http::WebSocket& ws) {
    const auto who = co_await stream_caller(d, req);
    co_await d.jobs->check_events(who, std::nullopt);
    if (!co_await ws.accept()) co_return;
    co_await serve_event_socket(*d.jobs, *d.hub, who, ws);
}

constexpr const char* kTicketNote =
    "Authenticate with `Authorization: Bearer …` (access token or API key) or, where headers cannot be set "
    "(a browser's EventSource or WebSocket), with `?ticket=` from POST /api/v1/realtime/tickets: single use, "
    "short-lived; a used, expired or unknown ticket is 401. A token in the URL is not accepted.";

}  // namespace

void add_routes(http::Router& router, const auth::Service& auth, Service& service, http::EventHub& hub) {
    const Deps d{&auth, &service, &hub};
    router.add({.method = http::Verb::post,
                .path = "/api/v1/jobs",
                .summary = "Enqueue a job (member); 201 new, 200 when a live job holds its unique key or "
                           "Idempotency-Key. With `children`, a batch: the job runs once they have all ended",
                .tag = "jobs",
                .request = http::json_body<EnqueueRequest>(),
                .status = 201,
                .response = http::json_body<Job>(),
                .handler = [d](http::Request& r) { return do_enqueue(d, r); }});
    router.add(
        {.method = http::Verb::get,
         .path = "/api/v1/jobs",
         .summary = "The workspace's jobs, newest first (?state=, ?kind=, ?batch= a parent's id, ?limit=, ?cursor=)",
         .tag = "jobs",
         .response = http::json_body<JobList>(),
         .handler = [d](http::Request& r) { return do_list(d, r); }});
    // Before /jobs/{id}: routes match in the order they were added.
    router.add({.method = http::Verb::get,
                .path = "/api/v1/jobs/stats",
                .summary = "The workspace's jobs now: counts by kind and state, waiting, running, finished in the "
                           "last minute, the oldest waiting job's age",
                .tag = "jobs",
                .response = http::json_body<Stats>(),
                .handler = [d](http::Request& r) { return do_stats(d, r); }});
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
    router.add({.method = http::Verb::get,
                .path = "/api/v1/jobs/{id}/events",
                .summary = "A job's events as Server-Sent Events: state changes and progress, live; with "
                           "Last-Event-ID (or ?last_event_id=), what happened since first",
                .tag = "jobs",
                .response = http::event_stream_body("event: job.<state> or job.progress; data: the job's id, "
                                                    "kind, state, attempt and progress"),
                .stream = [d](http::Request& r, http::EventStream& s) { return do_job_events(d, r, s); },
                .description = kTicketNote});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/events",
                .summary = "Every job event of the workspace as Server-Sent Events (resumable like a job's)",
                .tag = "jobs",
                .response = http::event_stream_body("as GET /jobs/{id}/events, for all the workspace's jobs"),
                .stream = [d](http::Request& r, http::EventStream& s) { return do_workspace_events(d, r, s); },
                .description = kTicketNote});
    router.add(
        {.method = http::Verb::get,
         .path = "/api/v1/ws",
         .summary = "Job events over a WebSocket: subscribe to jobs or to the whole workspace, with replay",
         .tag = "jobs",
         .websocket = [d](http::Request& r, http::WebSocket& ws) { return do_socket(d, r, ws); },
         .description =
             std::string(kTicketNote) +
             " JSON text frames. Send `{\"type\":\"subscribe\",\"job_id\":\"…\"}` or "
             "`{\"type\":\"subscribe\",\"workspace\":true}`, "
             "optionally with `\"after\": <event id>` to replay the persisted events after it first, and "
             "`{\"type\":\"unsubscribe\", …}` with the same target. The server answers `subscribed` / `unsubscribed` "
             "(naming the target), then sends `{\"type\":\"event\",\"id\":n,\"event\":\"job.progress\",\"data\":{…}}` "
             "(the SSE routes' data), and `{\"type\":\"error\",\"status\":n,\"detail\":\"…\"}` for a bad message "
             "(another workspace's job is 404). Closes with 1008 past 32 subscriptions, 1009 for a message over 64 "
             "KiB, "
             "1013 when the client falls too far behind (reconnect, subscribe with `after`), 1001 on shutdown. "
             "A request that does not upgrade is answered 426."});
}

}  // namespace kiln::jobs
