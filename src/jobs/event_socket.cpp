#include "jobs/event_socket.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <list>

#include "core/log.hpp"
#include "core/problem.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace kiln::jobs {

namespace {

constexpr int kReplayPage = 500;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

SocketError bad(std::string detail) {
    return {.status = 400, .detail = std::move(detail)};
}

SocketError about(SocketError e, const std::optional<core::Uuid>& job) {
    if (job) {
        e.job_id = job->str();
    } else {
        e.workspace = true;
    }
    return e;
}

bool is_cancellation(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const boost::system::system_error& ex) {
        return ex.code() == asio::error::operation_aborted;
    } catch (...) {
        return false;
    }
}

// What a failed check or replay tells the client; the unexpected is logged, not shown.
SocketError error_of(const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const core::Problem& p) {
        return {.status = p.status(), .detail = p.detail().empty() ? p.title() : p.detail()};
    } catch (const core::Unavailable& e) {
        core::log::warn("dependency unavailable", {{"error", e.what()}, {"where", "job event socket"}});
        return {.status = 503, .detail = "A dependency is unavailable; try again shortly."};
    } catch (const std::exception& e) {
        core::log::error("job event socket failed", {{"error", e.what()}});
    } catch (...) {
        core::log::error("job event socket failed", {});
    }
    return {.status = 500, .detail = "An unexpected error occurred."};
}

// One connection: its reader handles the client's commands one at a time; each subscription
// (a feed) has a pump coroutine that replays, then relays live events into the socket's queue.
// Everything runs on the connection's I/O thread.
class Session {
public:
    Session(Service& jobs, http::EventHub& hub, auth::Principal who, http::WebSocket& ws)
        : jobs_(jobs),
          hub_(hub),
          who_(std::move(who)),
          ws_(ws),
          pumps_done_(ws.get_executor(), asio::steady_timer::time_point::max()) {}

    asio::awaitable<void> run();

private:
    struct Feed {
        std::optional<core::Uuid> job;  // nullopt: the workspace
        asio::cancellation_signal cancel;
        bool stopped = false;
        // A pump is not cancelled inside a query: its database connection would be dropped.
        bool in_database = false;
    };

    Feed* find(const std::optional<core::Uuid>& job);
    std::size_t active() const;
    static void stop(Feed& feed);
    asio::awaitable<void> handle(std::string text);
    asio::awaitable<void> subscribe(SocketCommand c);
    asio::awaitable<void> unsubscribe(SocketCommand c);
    asio::awaitable<void> send_error(SocketError e);
    asio::awaitable<void> report(std::exception_ptr failure, std::optional<core::Uuid> job);
    static asio::awaitable<void> pump(Session* self, Feed* feed, http::Subscription sub,
                                      std::optional<std::int64_t> after);

    Service& jobs_;
    http::EventHub& hub_;
    const auth::Principal who_;
    http::WebSocket& ws_;
    std::list<Feed> feeds_;  // a feed leaves the list when its pump has ended
    std::size_t pumps_ = 0;
    asio::steady_timer pumps_done_;
};

Session::Feed* Session::find(const std::optional<core::Uuid>& job) {
    for (auto& f : feeds_) {
        if (!f.stopped && f.job == job) return &f;
    }
    return nullptr;
}

std::size_t Session::active() const {
    return static_cast<std::size_t>(
        std::count_if(feeds_.begin(), feeds_.end(), [](const Feed& f) { return !f.stopped; }));
}

void Session::stop(Feed& feed) {
    if (feed.stopped) return;
    feed.stopped = true;
    if (!feed.in_database) feed.cancel.emit(asio::cancellation_type::terminal);
}

asio::awaitable<void> Session::run() {
    std::exception_ptr failure;
    try {
        for (;;) {
            auto message = co_await ws_.read();
            if (!message) break;
            if (ws_.closing()) continue;  // what the peer sends before answering our close means nothing
            if (message->binary) {
                auto error = bad("Messages are JSON text frames.");  // named: g++ 12 and co_await temporaries
                co_await send_error(std::move(error));
                continue;
            }
            co_await handle(std::move(message->data));
        }
    } catch (...) {
        failure = std::current_exception();
    }
    // The pumps use this session: it ends after them.
    for (auto& f : feeds_) stop(f);
    while (pumps_ > 0) co_await pumps_done_.async_wait(kUseTuple);
    if (failure) std::rethrow_exception(failure);
}

asio::awaitable<void> Session::handle(std::string text) {
    auto parsed = parse_socket_command(text);
    if (const auto* error = std::get_if<SocketError>(&parsed)) {
        co_await send_error(*error);
        co_return;
    }
    const auto command = std::get<SocketCommand>(parsed);
    if (command.kind == SocketCommand::Kind::unsubscribe) {
        co_await unsubscribe(command);
    } else {
        co_await subscribe(command);
    }
}

asio::awaitable<void> Session::subscribe(SocketCommand c) {
    if (find(c.job) != nullptr) {
        SocketError twice{.status = 409, .detail = "Already subscribed."};
        twice = about(std::move(twice), c.job);
        co_await send_error(std::move(twice));
        co_return;
    }
    if (active() >= kMaxSocketSubscriptions) {
        ws_.close(http::CloseCode::policy,
                  "too many subscriptions (at most " + std::to_string(kMaxSocketSubscriptions) + ")");
        co_return;
    }
    // Another workspace's job is 404, as on every route; the session is checked again too.
    std::exception_ptr failure;
    try {
        co_await jobs_.check_events(who_, c.job);
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        co_await report(failure, c.job);
        co_return;
    }
    // Subscribed before the answer and the replay, so that no event falls between them.
    http::EventFilter filter;
    filter.workspace_id = who_.workspace;
    filter.job_id = c.job;
    auto sub = hub_.subscribe(ws_.get_executor(), filter);
    auto ack = socket_ack("subscribed", c.job);
    const bool sent = co_await ws_.send(std::move(ack));
    if (!sent) co_return;
    auto& feed = feeds_.emplace_back();
    feed.job = c.job;
    const auto it = std::prev(feeds_.end());
    ++pumps_;
    auto on_done = [this, it](const std::exception_ptr& e) {
        if (e && !is_cancellation(e)) error_of(e);  // logs it
        feeds_.erase(it);
        --pumps_;
        pumps_done_.cancel();
    };
    auto task = pump(this, &feed, std::move(sub), c.after);
    asio::co_spawn(ws_.get_executor(), std::move(task),
                   asio::bind_cancellation_slot(feed.cancel.slot(), std::move(on_done)));
}

asio::awaitable<void> Session::unsubscribe(SocketCommand c) {
    // Events of the feed are queued before this answer or not at all.
    if (auto* feed = find(c.job)) stop(*feed);
    auto ack = socket_ack("unsubscribed", c.job);
    co_await ws_.send(std::move(ack));
}

asio::awaitable<void> Session::send_error(SocketError e) {
    auto text = socket_error(e);
    co_await ws_.send(std::move(text));
}

asio::awaitable<void> Session::report(std::exception_ptr failure, std::optional<core::Uuid> job) {
    const auto e = about(error_of(failure), job);
    if (e.status == 401) {
        // Nothing more is served on a revoked session; the close frame says why.
        ws_.close(http::CloseCode::policy, "the session has ended");
        co_return;
    }
    co_await send_error(e);
}

asio::awaitable<void> Session::pump(Session* self, Feed* feed, http::Subscription sub,
                                    std::optional<std::int64_t> after) {
    std::int64_t last = after.value_or(0);
    if (after) {
        for (;;) {
            std::vector<http::Event> page;
            std::exception_ptr failure;
            feed->in_database = true;
            try {
                page = co_await self->jobs_.events_after(self->who_, last, feed->job, kReplayPage);
            } catch (...) {
                failure = std::current_exception();
            }
            feed->in_database = false;
            if (feed->stopped) co_return;
            if (failure) {
                feed->stopped = true;  // the error names the subscription: it has ended
                co_await self->report(failure, feed->job);
                co_return;
            }
            for (const auto& e : page) {
                auto text = socket_event(e);
                const bool sent = co_await self->ws_.send(std::move(text));
                if (!sent || feed->stopped) co_return;
                last = e.id;
            }
            if (page.size() < static_cast<std::size_t>(kReplayPage)) break;
        }
    }
    for (;;) {
        auto e = co_await sub.next();
        if (!e || feed->stopped) break;
        if (e->id <= last) continue;  // replayed already
        auto text = socket_event(*e);
        const bool sent = co_await self->ws_.send(std::move(text));
        if (!sent) co_return;
    }
    // Its queue overflowed because the client reads too slowly: it resumes from the persisted events.
    if (sub.lagging()) {
        self->ws_.close(http::CloseCode::try_again_later, "too far behind: reconnect and subscribe with after");
    }
}

}  // namespace

std::variant<SocketCommand, SocketError> parse_socket_command(std::string_view text) {
    std::error_code ec;
    const auto value = json::parse(text, ec);
    const auto* o = ec ? nullptr : value.if_object();
    if (o == nullptr) return bad(R"(A message is a JSON object with a "type".)");
    const auto* type = o->if_contains("type");
    const auto* type_text = type != nullptr ? type->if_string() : nullptr;
    SocketCommand c;
    if (type_text != nullptr && *type_text == "subscribe") {
        c.kind = SocketCommand::Kind::subscribe;
    } else if (type_text != nullptr && *type_text == "unsubscribe") {
        c.kind = SocketCommand::Kind::unsubscribe;
    } else {
        return bad(R"("type" must be "subscribe" or "unsubscribe".)");
    }
    const auto* job = o->if_contains("job_id");
    const auto* workspace = o->if_contains("workspace");
    if ((job == nullptr) == (workspace == nullptr)) return bad(R"(Name either "job_id" or "workspace": true.)");
    if (workspace != nullptr) {
        if (!workspace->is_bool() || !workspace->get_bool()) return bad(R"("workspace" must be true.)");
    } else {
        if (!job->is_string()) return bad(R"("job_id" must be a string.)");
        std::string id(job->get_string());
        c.job = core::Uuid::parse(id);
        // As on the routes: an id that names no job of the workspace, well-formed or not, is 404.
        if (!c.job) return SocketError{.status = 404, .detail = "No such job.", .job_id = std::move(id)};
    }
    if (const auto* after = o->if_contains("after"); after != nullptr && c.kind == SocketCommand::Kind::subscribe) {
        if (!after->is_int64() || after->get_int64() < 0) {
            return about(bad(R"("after" must be a non-negative event id.)"), c.job);
        }
        c.after = after->get_int64();
    }
    return c;
}

std::string socket_event(const http::Event& e) {
    std::string out;
    out.reserve(e.data.size() + e.type.size() + 48);
    out += R"({"type":"event","id":)";
    out += std::to_string(e.id);
    out += R"(,"event":)";
    out += json::serialize(json::value(e.type));
    out += R"(,"data":)";
    out += e.data.empty() ? std::string_view("null") : std::string_view(e.data);  // JSON text already
    out += '}';
    return out;
}

std::string socket_ack(std::string_view type, const std::optional<core::Uuid>& job) {
    json::object o{{"type", type}};
    if (job) {
        o["job_id"] = job->str();
    } else {
        o["workspace"] = true;
    }
    return json::serialize(o);
}

std::string socket_error(const SocketError& e) {
    json::object o{{"type", "error"}, {"status", e.status}, {"detail", e.detail}};
    if (e.job_id) o["job_id"] = *e.job_id;
    if (e.workspace) o["workspace"] = true;
    return json::serialize(o);
}

asio::awaitable<void> serve_event_socket(Service& jobs, http::EventHub& hub, auth::Principal who, http::WebSocket& ws) {
    Session session(jobs, hub, std::move(who), ws);
    co_await session.run();
}

}  // namespace kiln::jobs
