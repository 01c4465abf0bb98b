#pragma once
// Routes are declared once, with what OpenAPI needs to describe them; the router matches
// path and method (404, 405 with Allow), applies CORS and turns every failure into
// problem+json.
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <exception>
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
class EventStream;
class WebSocket;

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;
// A streaming route (Server-Sent Events): the server writes the 200 header when the handler
// first opens or sends on the EventStream, and keeps the connection until the handler returns,
// the client disconnects or the server shuts down (see sse.hpp).
using StreamHandler = std::function<boost::asio::awaitable<void>(Request&, EventStream&)>;
// A WebSocket route: the server answers 101 when the handler accepts, and keeps the connection
// until the handler returns (see websocket.hpp).
using WebSocketHandler = std::function<boost::asio::awaitable<void>(Request&, WebSocket&)>;

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
// What a stream route answers: `text/event-stream`, documented as such in /openapi.json.
Body event_stream_body(std::string description = {});

struct Route {
    Verb method = Verb::get;
    std::string path;  // "/api/v1/jobs/{id}"
    std::string summary;
    std::string tag;
    std::optional<Body> request;  // nullopt: takes no body
    unsigned status = 200;
    Body response;
    Handler handler;
    StreamHandler stream;        // set instead of handler: a Server-Sent Events route
    WebSocketHandler websocket;  // set instead of handler: a WebSocket route (GET, answered 101)
    std::size_t body_limit = 0;  // 0: the server's default; a WebSocket route's message limit (0: 64 KiB)
    // The handler pulls the body itself through Request::body_reader (uploads), after the header
    // alone has been matched and checked; body_limit still applies. It may also stream its answer
    // through Request::response_writer (downloads) instead of returning it.
    bool stream_body = false;
    bool hidden = false;  // left out of /openapi.json (asset routes)
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

    // The answer to a handler's exception (Problem, Unavailable, anything else), with CORS.
    Response error_response(const Request& req, std::exception_ptr error) const;
    // Adds the CORS response headers a request's Origin earns.
    void apply_cors(const Request& req, Response& res) const;

    const std::vector<Route>& routes() const noexcept { return routes_; }
    const core::CorsConfig& cors() const noexcept { return cors_; }

private:
    struct Compiled {
        std::vector<std::string> segments;  // "{name}" marks a parameter
    };
    static bool match_segments(const Compiled& c, std::string_view path,
                               std::vector<std::pair<std::string_view, std::string_view>>& params);
    std::optional<Response> preflight(const Request& req) const;

    core::CorsConfig cors_;
    std::vector<Route> routes_;
    std::vector<Compiled> compiled_;
};

}  // namespace kiln::http
