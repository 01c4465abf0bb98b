#include "jobs/events.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/log.hpp"

namespace asio = boost::asio;

namespace kiln::jobs {

namespace {

std::optional<http::Event> event_of(const boost::json::value& v) {
    const auto* o = v.if_object();
    if (o == nullptr) return std::nullopt;
    const auto* ws = o->if_contains("workspace_id");
    const auto* id = o->if_contains("id");
    const auto* type = o->if_contains("type");
    const auto* data = o->if_contains("data");
    if (ws == nullptr || !ws->is_string() || id == nullptr || !id->is_int64() || type == nullptr ||
        !type->is_string() || data == nullptr || !data->is_object()) {
        return std::nullopt;
    }
    auto workspace = core::Uuid::parse(ws->get_string());
    if (!workspace) return std::nullopt;
    http::Event e;
    e.id = id->get_int64();
    e.workspace_id = *workspace;
    if (const auto* job = data->get_object().if_contains("job_id"); job != nullptr && job->is_string()) {
        e.job_id = core::Uuid::parse(job->get_string());
    }
    e.type = std::string(type->get_string());
    e.data = boost::json::serialize(*data);
    return e;
}

}  // namespace

std::vector<http::Event> events_of_notification(std::string_view payload) {
    std::vector<http::Event> events;
    std::error_code ec;
    auto v = boost::json::parse(payload, ec);
    const auto* a = ec ? nullptr : v.if_array();
    if (a == nullptr) return events;
    events.reserve(a->size());
    for (const auto& item : *a) {
        if (auto e = event_of(item)) events.push_back(std::move(*e));
    }
    return events;
}

void EventRelay::start(const asio::any_io_executor& ex) {
    timer_.emplace(ex);
    running_ = true;
    asio::co_spawn(ex, loop(), [this](std::exception_ptr e) {
        if (e) core::log::error("job event relay stopped by an error", {});
        running_ = false;
        timer_->cancel();
    });
}

asio::awaitable<void> EventRelay::stop() {
    stopping_ = true;
    if (listener_) listener_->cancel();
    timer_->cancel();
    while (running_) {
        timer_->expires_after(std::chrono::milliseconds(50));
        co_await timer_->async_wait(asio::as_tuple(asio::use_awaitable));
        if (listener_) listener_->cancel();
    }
}

// Reconnects with a growing pause. Events committed while it was away reach clients when they
// reconnect with Last-Event-ID (they are persisted); live subscribers see a gap meanwhile.
asio::awaitable<void> EventRelay::loop() {
    auto pause = std::chrono::milliseconds(500);
    while (!stopping_) {
        std::exception_ptr failure;
        try {
            listener_ = co_await db::Listener::open(conninfo_, "kiln_job_events", blocking_);
        } catch (...) {
            failure = std::current_exception();
        }
        if (stopping_) break;
        if (failure) {
            timer_->expires_after(pause);
            co_await timer_->async_wait(asio::as_tuple(asio::use_awaitable));
            pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(30));
            continue;
        }
        pause = std::chrono::milliseconds(500);
        for (;;) {
            if (stopping_) break;
            const bool heard = co_await listener_->wait();
            if (!heard) break;
            for (const auto& payload : listener_->take_payloads()) {
                for (auto& e : events_of_notification(payload)) hub_.publish(std::move(e));
            }
        }
        listener_.reset();
    }
    listener_.reset();
}

}  // namespace kiln::jobs
