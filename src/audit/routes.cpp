// /api/v1/audit-events: the workspace's audit trail, for its admins and owners.
#include "audit/routes.hpp"

#include "http/json.hpp"

namespace asio = boost::asio;

namespace kiln::audit {

namespace {

// `authenticate` is the handler's own capture, which lives as long as the router.
asio::awaitable<http::Response> do_list(const Authenticate& authenticate, Service* service, http::Request& req) {
    const auto who = co_await authenticate(req.header_value("Authorization"));
    const AuditQuery q{req.query_param("action"), req.query_param("actor"), req.query_param("since"),
                       req.query_param("until"),  req.query_param("limit"), req.query_param("cursor")};
    auto list = co_await service->list(who, q);
    co_return http::json_response(200, http::to_json(list));
}

}  // namespace

void add_routes(http::Router& router, Authenticate authenticate, Service& service) {
    Service* s = &service;
    router.add({.method = http::Verb::get,
                .path = "/api/v1/audit-events",
                .summary = "The workspace's audit trail, newest first (admins, owners); filters: action, actor, "
                           "since, until; keyset pagination with limit and cursor",
                .tag = "audit",
                .response = http::json_body<AuditEventList>(),
                .handler = [authenticate = std::move(authenticate), s](http::Request& r) {
                    return do_list(authenticate, s, r);
                }});
}

}  // namespace kiln::audit
