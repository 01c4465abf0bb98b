#include "http/router.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <stdexcept>

#include "core/log.hpp"
#include "http/body_reader.hpp"

namespace kiln::http {

namespace {

std::vector<std::string> split(std::string_view path) {
    std::vector<std::string> out;
    std::size_t start = 1;
    while (start <= path.size()) {
        const auto end = std::min(path.find('/', start), path.size());
        out.emplace_back(path.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

}  // namespace

Response problem_response(const core::Problem& p, std::string_view instance, std::string_view request_id) {
    json::object body{{"type", p.type()}, {"title", p.title()}, {"status", p.status()}};
    if (!p.detail().empty()) body["detail"] = p.detail();
    if (!instance.empty()) body["instance"] = instance;
    if (!request_id.empty()) body["request_id"] = request_id;
    if (!p.errors().empty()) {
        json::array errors;
        for (const auto& e : p.errors()) errors.push_back(json::object{{"field", e.field}, {"message", e.message}});
        body["errors"] = std::move(errors);
    }
    for (const auto& [name, value] : p.extensions()) body[name] = value;
    auto res = text_response(static_cast<unsigned>(p.status()), json::serialize(body), "application/problem+json");
    for (const auto& [name, value] : p.headers()) res.set(name, value);
    return res;
}

Body event_stream_body(std::string description) {
    json::object schema{{"type", "string"}};
    schema["description"] = description.empty()
                                ? "Server-Sent Events: `id:`, `event:` and `data:` lines per event; `: keep-alive` "
                                  "comments as heartbeats. Resume with the `Last-Event-ID` header (or the "
                                  "`last_event_id` query parameter)."
                                : std::move(description);
    return {"text/event-stream", std::move(schema)};
}

Router::Router(core::CorsConfig cors) : cors_(std::move(cors)) {}

Router& Router::add(Route route) {
    if (route.stream && !route.response.schema) route.response = event_stream_body();
    if (route.websocket) route.status = 101;  // Switching Protocols: no body to describe
    Compiled c{split(route.path)};
    routes_.push_back(std::move(route));
    compiled_.push_back(std::move(c));
    return *this;
}

bool Router::match_segments(const Compiled& c, std::string_view path,
                            std::vector<std::pair<std::string_view, std::string_view>>& params) {
    params.clear();
    std::size_t pos = 1;
    for (const auto& seg : c.segments) {
        if (pos > path.size()) return false;
        const auto end = std::min(path.find('/', pos), path.size());
        const auto part = path.substr(pos, end - pos);
        if (!seg.empty() && seg.front() == '{') {
            if (part.empty()) return false;
            params.emplace_back(std::string_view(seg).substr(1, seg.size() - 2), part);
        } else if (seg != part) {
            return false;
        }
        pos = end + 1;
    }
    return pos > path.size();
}

Router::Match Router::match(Verb method, std::string_view path) const {
    Match m;
    if (path.empty() || path.front() != '/') return m;
    std::vector<std::pair<std::string_view, std::string_view>> params;
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        if (!match_segments(compiled_[i], path, params)) continue;
        const auto route_method = routes_[i].method;
        if (route_method == method || (method == Verb::head && route_method == Verb::get)) {
            m.route = &routes_[i];
            m.index = i;
            m.params = std::move(params);
            m.allow.clear();
            return m;
        }
        if (!m.allow.empty()) m.allow += ", ";
        m.allow += std::string(beast_http::to_string(route_method));
    }
    return m;
}

void Router::apply_cors(const Request& req, Response& res) const {
    if (!cors_.enabled) return;
    const auto origin = req.header_value("Origin");
    if (origin.empty()) return;
    const bool allowed =
        std::find(cors_.allow_origins.begin(), cors_.allow_origins.end(), origin) != cors_.allow_origins.end() ||
        std::find(cors_.allow_origins.begin(), cors_.allow_origins.end(), "*") != cors_.allow_origins.end();
    res.set(beast_http::field::vary, "Origin");
    if (!allowed) return;
    res.set(beast_http::field::access_control_allow_origin, origin);
    if (cors_.allow_credentials) res.set(beast_http::field::access_control_allow_credentials, "true");
    res.set(beast_http::field::access_control_expose_headers, "X-Request-Id, Retry-After, Location");
}

std::optional<Response> Router::preflight(const Request& req) const {
    if (!cors_.enabled || req.method() != Verb::options) return std::nullopt;
    const auto requested = req.header_value("Access-Control-Request-Method");
    if (requested.empty() || req.header_value("Origin").empty()) return std::nullopt;
    auto m = match(beast_http::string_to_verb(requested), req.path);
    if (m.route == nullptr) return std::nullopt;
    Response res{beast_http::status::no_content, 11};
    std::string headers;
    for (const auto& h : cors_.allow_headers) headers += (headers.empty() ? "" : ", ") + h;
    res.set(beast_http::field::access_control_allow_methods, std::string(requested));
    res.set(beast_http::field::access_control_allow_headers, headers);
    res.set(beast_http::field::access_control_max_age, std::to_string(cors_.max_age));
    apply_cors(req, res);
    return res;
}

Response Router::error_response(const Request& req, std::exception_ptr error) const {
    std::optional<core::Problem> problem;
    try {
        std::rethrow_exception(std::move(error));
    } catch (const core::Problem& p) {
        problem = p;
    } catch (const BodyReadError& e) {
        // Never sent: the server closes the connection of a body it could not read.
        problem = core::Problem::bad_request(e.what());
    } catch (const core::Unavailable& e) {
        core::log::warn("dependency unavailable", {{"request_id", req.request_id}, {"error", e.what()}});
        problem = core::Problem::unavailable("A dependency is unavailable; try again shortly.");
        problem->add_header("Retry-After", "1");
    } catch (const std::exception& e) {
        core::log::error("unhandled exception",
                         {{"request_id", req.request_id}, {"path", req.path}, {"error", e.what()}});
        problem = core::Problem(500, "Internal Server Error",
                                "An unexpected error occurred; quote the request id when reporting it.");
    } catch (...) {
        core::log::error("unhandled exception", {{"request_id", req.request_id}, {"path", req.path}});
        problem = core::Problem(500, "Internal Server Error",
                                "An unexpected error occurred; quote the request id when reporting it.");
    }
    auto res = problem_response(*problem, req.path, req.request_id);
    apply_cors(req, res);
    return res;
}

boost::asio::awaitable<Response> Router::dispatch(Request& req, Match m) const {
    Response res;
    std::exception_ptr error;
    try {
        if (auto pre = preflight(req)) {
            res = std::move(*pre);
        } else {
            if (m.route == nullptr) {
                if (m.allow.empty()) throw core::Problem::not_found("No route matches " + std::string(req.path) + ".");
                throw core::Problem(405, "Method Not Allowed",
                                    std::string(beast_http::to_string(req.method())) + " is not allowed here.")
                    .with_header("Allow", m.allow);
            }
            if (!m.route->handler) {
                throw std::logic_error("stream or WebSocket route " + m.route->path + " dispatched as a plain request");
            }
            req.route = m.route->path;
            req.path_params = std::move(m.params);
            res = co_await m.route->handler(req);
        }
    } catch (...) {
        error = std::current_exception();
    }
    if (error) co_return error_response(req, error);
    apply_cors(req, res);
    co_return res;
}

}  // namespace kiln::http
