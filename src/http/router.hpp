#pragma once
// Routes are declared once, with what OpenAPI needs to describe them; the router matches
// path and method (404, 405 with Allow), applies CORS and turns every failure into
// problem+json.
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/problem.hpp"
#include "http/json.hpp"
#include "http/request.hpp"

namespace kiln::http {

class Metrics;

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

struct Body {
    std::string content_type = "application/json";
    std::optional<json::object> schema;  // nullopt: no body
};

template <Described T>
Body json_body() {
    return {"application/json", json_schema<T>()};
}
inline Body text_body(std::string content_type) {
    return {std::move(content_type), json::object{{"type", "string"}}};
}

struct Route {
    Verb method = Verb::get;
    std::string path;  // "/api/v1/jobs/{id}"
    std::string summary;
    std::string tag;
    std::optional<Body> request;  // nullopt: takes no body
    unsigned status = 200;
    Body response;
    Handler handler;
    std::size_t body_limit = 0;  // 0: the server's default
    bool hidden = false;         // left out of /openapi.json (asset routes)
    std::string description;
};

// Renders a Problem as RFC 9457 problem+json.
Response problem_response(const core::Problem& p, std::string_view instance, std::string_view request_id);

class Router {
public:
    explicit Router(core::CorsConfig cors = {});

    Router& add(Route route);

    struct Match {
        const Route* route = nullptr;
        std::size_t index = 0;
        std::vector<std::pair<std::string_view, std::string_view>> params;
        std::string allow;  // methods allowed on the path when the method did not match
    };
    // Route for a request line; Match.route is null for 404 (allow empty) and 405 (allow set).
    Match match(Verb method, std::string_view path) const;

    // Runs the request through the matched route (or the 404/405/CORS answers); never throws.
    boost::asio::awaitable<Response> dispatch(Request& req, Match match) const;

    const std::vector<Route>& routes() const noexcept { return routes_; }
    const core::CorsConfig& cors() const noexcept { return cors_; }

private:
    struct Compiled {
        std::vector<std::string> segments;  // "{name}" marks a parameter
    };
    static bool match_segments(const Compiled& c, std::string_view path,
                               std::vector<std::pair<std::string_view, std::string_view>>& params);
    void apply_cors(const Request& req, Response& res) const;
    std::optional<Response> preflight(const Request& req) const;

    core::CorsConfig cors_;
    std::vector<Route> routes_;
    std::vector<Compiled> compiled_;
};

}  // namespace kiln::http
