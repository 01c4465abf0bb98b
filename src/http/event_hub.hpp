#pragma once
// In-process fan-out of live events to stream subscribers (SSE, WebSocket).
//
// Publishers (job workers, the LISTEN/NOTIFY relay) call `EventHub::publish` from any thread.
// Each subscriber has a bounded queue that its own coroutine drains with `co_await next()` on
// its own (single-threaded) executor; a publisher wakes it by posting to that executor. A
// subscriber that falls `queue_limit` events behind is marked lagging: its queue is dropped and
// `next()` returns null, so its stream ends and the client resumes with Last-Event-ID from the
// persisted events. Publishing costs O(subscribers of that workspace): subscribers are indexed
// by workspace, and one event is shared (not copied) by all of its recipients.
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/uuid.hpp"

namespace kiln::http {

class Metrics;

struct Event {
    std::int64_t id = 0;  // monotonic per workspace; the SSE `id:` a client resumes from
    core::Uuid workspace_id;
    std::optional<core::Uuid> job_id;
    std::string type;  // SSE `event:`, e.g. "job.progress"
    std::string data;  // JSON text
};

struct EventFilter {
    core::Uuid workspace_id;
    std::optional<core::Uuid> job_id;  // nullopt: every event of the workspace

    bool matches(const Event& e) const { return e.workspace_id == workspace_id && (!job_id || e.job_id == job_id); }
};

class EventHub;

// A registration with the hub; unsubscribes when destroyed. Move-only. Its `next()` must be
// awaited on the executor given to `EventHub::subscribe`, one waiter at a time.
class Subscription {
public:
    struct State;

    Subscription() = default;
    Subscription(EventHub* hub, std::shared_ptr<State> state);
    ~Subscription();
    Subscription(Subscription&& other) noexcept;
    Subscription& operator=(Subscription&& other) noexcept;
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    // The next matching event in publish order; null when the subscription has ended: it lagged
    // (see lagging()), the hub closed, or the waiting coroutine was cancelled.
    boost::asio::awaitable<std::shared_ptr<const Event>> next();
    // The next queued event without waiting; null when none is queued.
    std::shared_ptr<const Event> try_next();

    bool lagging() const;
    std::size_t queued() const;
    explicit operator bool() const noexcept { return state_ != nullptr; }

private:
    void reset() noexcept;

    EventHub* hub_ = nullptr;
    std::shared_ptr<State> state_;
};

class EventHub {
public:
    static constexpr std::size_t kDefaultQueueLimit = 256;

    explicit EventHub(std::size_t queue_limit = kDefaultQueueLimit);
    ~EventHub();
    EventHub(const EventHub&) = delete;
    EventHub& operator=(const EventHub&) = delete;

    // `executor` is where the subscriber awaits next() (its connection's I/O thread). The hub
    // must outlive its subscriptions.
    Subscription subscribe(const boost::asio::any_io_executor& executor, EventFilter filter);

    // Thread-safe; returns how many subscribers received the event.
    std::size_t publish(Event event);
    std::size_t publish(std::shared_ptr<const Event> event);

    // Ends every subscription (next() returns null) and refuses new ones.
    void close();

    std::size_t subscribers() const;
    std::uint64_t lagged_total() const noexcept { return lagged_.load(std::memory_order_relaxed); }
    std::uint64_t published_total() const noexcept { return published_.load(std::memory_order_relaxed); }
    // Adds kiln_events_* gauges and counters to /metrics; the hub must outlive `metrics`' scrapes.
    void register_metrics(Metrics& metrics) const;

private:
    friend class Subscription;
    void unsubscribe(const std::shared_ptr<Subscription::State>& state);

    struct UuidHash {
        std::size_t operator()(const core::Uuid& id) const noexcept;
    };

    const std::size_t queue_limit_;
    mutable std::mutex mutex_;
    bool closed_ = false;
    std::size_t count_ = 0;
    std::unordered_map<core::Uuid, std::vector<std::shared_ptr<Subscription::State>>, UuidHash> by_workspace_;
    std::atomic<std::uint64_t> lagged_{0};
    std::atomic<std::uint64_t> published_{0};
};

}  // namespace kiln::http
