// /health, /ready, /metrics and /openapi.json.
#include <fmt/format.h>
#include <boost/describe.hpp>

#include "app/app.hpp"
#include "core/log.hpp"
#include "db/health.hpp"
#include "http/openapi.hpp"

namespace asio = boost::asio;

namespace kiln::app {

struct HealthReply {
    std::string status;
};
BOOST_DESCRIBE_STRUCT(HealthReply, (), (status))

struct ReadyReply {
    std::string status;
    int schema_version = 0;
};
BOOST_DESCRIBE_STRUCT(ReadyReply, (), (status, schema_version))

namespace {

// One metric with its HELP and TYPE lines; `name` may carry labels.
void metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            std::uint64_t value) {
    const auto base = name.substr(0, name.find('{'));
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", base, help, base, type, name, value);
}

asio::awaitable<http::Response> health(http::Request& /*req*/) {
    co_return http::json_response(200, http::to_json(HealthReply{"ok"}));
}

// Ready means the database answers, holds every migration this binary knows, and lets us in
// as a role that row-level security applies to. Migrations only move forward, so once all of
// that held the check is a plain round trip.
asio::awaitable<http::Response> ready(Services* s, http::Request& /*req*/) {
    if (!s->schema_current.load(std::memory_order_relaxed)) {
        const auto status = co_await db::schema_status(s->db);
        if (status.role_bypasses_rls) {
            core::log::error("refusing to serve: the application role is superuser or BYPASSRLS",
                             {{"role", s->config.database.user}});
            throw core::Problem(503, "Service Unavailable",
                                "The database role is a superuser or bypasses row-level security; "
                                "connect as the application role.");
        }
        if (status.version < s->schema_version) {
            throw core::Problem(
                503, "Service Unavailable",
                fmt::format("The database schema is at version {}, this server needs {}; run kiln migrate.",
                            status.version, s->schema_version))
                .with_header("Retry-After", "5");
        }
        s->schema_current.store(true, std::memory_order_relaxed);
    } else {
        co_await db::ping(s->db);
    }
    co_return http::json_response(200, http::to_json(ReadyReply{"ready", s->schema_version}));
}

// The process's own figures, then the queue's depth read from the database (left out, not
// failed, when the database does not answer).
asio::awaitable<http::Response> metrics(Services* s, http::Request& /*req*/) {
    auto body = s->metrics.render();
    std::vector<jobs::QueueDepth> depth;
    bool read = false;
    try {
        depth = co_await s->jobs_store.queue_depth();
        read = true;
    } catch (const std::exception& e) {
        core::log::warn("queue depth not read for /metrics", {{"error", e.what()}});
    }
    if (read) jobs::JobMetrics::render_queue(body, depth);
    co_return http::text_response(200, body, "text/plain; version=0.0.4; charset=utf-8");
}

asio::awaitable<http::Response> openapi(std::shared_ptr<const std::string> doc, http::Request& /*req*/) {
    co_return http::text_response(200, *doc, "application/json");
}

}  // namespace

void add_system_routes(http::Router& router, Services& services) {
    Services* s = &services;
    router.add({.method = http::Verb::get,
                .path = "/health",
                .summary = "Liveness: the process is up (no I/O)",
                .tag = "system",
                .response = http::json_body<HealthReply>(),
                .handler = health});
    router.add({.method = http::Verb::get,
                .path = "/ready",
                .summary = "Readiness: the database answers and its schema is current",
                .tag = "system",
                .response = http::json_body<ReadyReply>(),
                .handler = [s](http::Request& r) { return ready(s, r); }});
    router.add({.method = http::Verb::get,
                .path = "/metrics",
                .summary = "Prometheus metrics",
                .tag = "system",
                .response = http::text_body("text/plain"),
                .handler = [s](http::Request& r) { return metrics(s, r); }});
    s->metrics.add_collector([s](std::string& out) {
        const auto st = s->db.stats();
        metric(out, "kiln_db_pool_connections", "gauge", "Database connections open (idle and in use).", st.size);
        metric(out, "kiln_db_pool_in_use", "gauge", "Database connections lent out.", st.in_use);
        metric(out, "kiln_db_pool_waiters", "gauge", "Requests waiting for a database connection.", st.waiters);
        metric(out, "kiln_db_pool_max", "gauge", "Maximum database connections.", s->db.options().max_size);
        metric(out, "kiln_db_pool_timeouts_total", "counter", "Waits for a connection that timed out.", st.timeouts);
        metric(out, "kiln_db_connect_errors_total", "counter", "Failed attempts to open a database connection.",
               st.connect_errors);
        metric(out,
               fmt::format(R"(kiln_build_info{{version="{}",schema_version="{}"}})", KILN_VERSION, s->schema_version),
               "gauge", "Build of this process.", 1);
    });
}

void add_openapi_route(http::Router& router) {
    // The document describes itself too, so it is rendered after its own route is added.
    auto doc = std::make_shared<std::string>();
    router.add({.method = http::Verb::get,
                .path = "/openapi.json",
                .summary = "This API's OpenAPI 3.1 document",
                .tag = "system",
                .response = {"application/json", boost::json::object{{"type", "object"}}},
                .handler = [doc](http::Request& r) { return openapi(doc, r); }});
    *doc = boost::json::serialize(http::openapi_document(router, "Kiln API", KILN_VERSION));
}

}  // namespace kiln::app
