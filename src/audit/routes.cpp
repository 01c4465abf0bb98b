// /api/v1/audit-events: the workspace's audit trail, for its admins and owners.
#include "audit/routes.hpp"

#include "http/json.hpp"

namespace asio = boost::asio;

namespace kiln::audit {

namespace {

struct Deps {
    const Authenticate* authenticate;
    Service* service;
};

asio::awaitable<http::Response> do_list(Deps d, http::Request& req) {
    const auto who = (*d.authenticate)(req.header_value("Authorization"));
    // Member by member: g++ 12 mangles an aggregate braced from temporaries inside a coroutine.
    AuditQuery q;
    q.action = req.query_param("action");
    q.actor = req.query_param("actor");
    q.since = req.query_param("since");
    q.until = req.query_param("until");
    q.limit = req.query_param("limit");
    q.cursor = req.query_param("cursor");
    auto list = co_await d.service->list(who, q);
    co_return http::json_response(200, http::to_json(list));
}

}  // namespace

void add_routes(http::Router& router, Authenticate authenticate, Service& service) {
    // Routes live as long as the router; the function is kept with them.
    auto kept = std::make_shared<Authenticate>(std::move(authenticate));
    const Deps d{kept.get(), &service};
    router.add({.method = http::Verb::get,
                .path = "/api/v1/audit-events",
                .summary = "The workspace's audit trail, newest first (admins, owners); filters: action, actor, "
                           "since, until; keyset pagination with limit and cursor",
                .tag = "audit",
                .response = http::json_body<AuditEventList>(),
                .handler = [d, kept](http::Request& r) { return do_list(d, r); }});
}

}  // namespace kiln::audit
