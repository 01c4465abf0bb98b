#pragma once
// GET /api/v1/ws: job events over a WebSocket (docs/jobs.md, "WebSocket"). JSON text frames:
// the client subscribes to jobs or to the whole workspace (optionally replaying the persisted
// events after an id), the server answers each command and relays the events of its
// subscriptions, as the SSE routes do.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "auth/model.hpp"
#include "core/uuid.hpp"
#include "http/event_hub.hpp"
#include "http/websocket.hpp"
#include "jobs/service.hpp"

namespace kiln::jobs {

// Subscriptions one connection may hold; one more closes it with 1008.
constexpr std::size_t kMaxSocketSubscriptions = 32;

struct SocketCommand {
    enum class Kind { subscribe, unsubscribe };
    Kind kind = Kind::subscribe;
    std::optional<core::Uuid> job;      // nullopt: the whole workspace
    std::optional<std::int64_t> after;  // subscribe: replay the persisted events after this id first
};

struct SocketError {
    int status = 400;  // as HTTP would answer: 400 malformed, 404 no such job, 409 already subscribed
    std::string detail;
    // The subscription the error is about, when the message named one (the job id as sent).
    std::optional<std::string> job_id;
    bool workspace = false;
};

// A client's message, or what is wrong with it.
std::variant<SocketCommand, SocketError> parse_socket_command(std::string_view text);

// What the server sends.
std::string socket_event(const http::Event& e);  // {"type":"event","id":…,"event":…,"data":{…}}
std::string socket_ack(std::string_view type, const std::optional<core::Uuid>& job);  // (un)subscribed
std::string socket_error(const SocketError& e);

// Serves an accepted WebSocket for `who` until it closes.
boost::asio::awaitable<void> serve_event_socket(Service& jobs, http::EventHub& hub, auth::Principal who,
                                                http::WebSocket& ws);

}  // namespace kiln::jobs
