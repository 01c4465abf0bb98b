#include "http/event_hub.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>

#include "http/metrics.hpp"

namespace asio = boost::asio;

namespace kiln::http {

// Shared by the hub (publishers, any thread) and the subscriber (its executor). The queue and
// flags are guarded by `mutex`; `timer` is touched only on the subscriber's executor.
struct Subscription::State : std::enable_shared_from_this<Subscription::State> {
    State(const asio::any_io_executor& executor, EventFilter f, std::size_t queue_limit)
        : timer(executor, asio::steady_timer::time_point::max()), filter(f), limit(queue_limit) {}

    // Called with `mutex` held: makes a suspended next() look at the queue again.
    void wake_locked() {
        if (!waiting || wake_posted) return;
        wake_posted = true;
        asio::post(timer.get_executor(), [self = shared_from_this()] {
            {
                std::lock_guard lock(self->mutex);
                self->wake_posted = false;
            }
            self->timer.cancel();
        });
    }

    asio::steady_timer timer;
    const EventFilter filter;
    const std::size_t limit;
    mutable std::mutex mutex;
    std::vector<std::shared_ptr<const Event>> queue;  // [head, size) are pending
    std::size_t head = 0;
    bool lagging = false;
    bool closed = false;
    bool waiting = false;      // next() is suspended on `timer`
    bool wake_posted = false;  // a wake is on its way to the executor
};

Subscription::Subscription(EventHub* hub, std::shared_ptr<State> state) : hub_(hub), state_(std::move(state)) {}

Subscription::~Subscription() {
    reset();
}

Subscription::Subscription(Subscription&& other) noexcept
    : hub_(std::exchange(other.hub_, nullptr)), state_(std::move(other.state_)) {}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
    if (this != &other) {
        reset();
        hub_ = std::exchange(other.hub_, nullptr);
        state_ = std::move(other.state_);
    }
    return *this;
}

void Subscription::reset() noexcept {
    if (state_ && hub_ != nullptr) hub_->unsubscribe(state_);
    state_.reset();
    hub_ = nullptr;
}

std::shared_ptr<const Event> Subscription::try_next() {
    if (!state_) return nullptr;
    std::lock_guard lock(state_->mutex);
    auto& st = *state_;
    if (st.head == st.queue.size()) return nullptr;
    auto event = std::move(st.queue[st.head++]);
    if (st.head == st.queue.size()) {
        st.queue.clear();
        st.head = 0;
    }
    return event;
}

asio::awaitable<std::shared_ptr<const Event>> Subscription::next() {
    if (!state_) co_return nullptr;
    const auto state = state_;  // stays alive even if this Subscription is moved from while waiting
    for (;;) {
        auto event = try_next();
        if (event) co_return event;
        {
            std::lock_guard lock(state->mutex);
            if (state->head < state->queue.size()) continue;  // published since try_next
            if (state->lagging || state->closed) co_return nullptr;
            state->waiting = true;
        }
        // A publisher's wake is posted to this executor, so it cannot run before this wait starts.
        state->timer.expires_at(asio::steady_timer::time_point::max());
        co_await state->timer.async_wait(asio::as_tuple(asio::use_awaitable));  // woken or cancelled
        {
            std::lock_guard lock(state->mutex);
            state->waiting = false;
        }
        const auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) co_return nullptr;
    }
}

bool Subscription::lagging() const {
    if (!state_) return false;
    std::lock_guard lock(state_->mutex);
    return state_->lagging;
}

std::size_t Subscription::queued() const {
    if (!state_) return 0;
    std::lock_guard lock(state_->mutex);
    return state_->queue.size() - state_->head;
}

std::size_t EventHub::UuidHash::operator()(const core::Uuid& id) const noexcept {
    // UUIDv7: the low 8 bytes are random.
    std::uint64_t lo = 0;
    std::memcpy(&lo, id.bytes().data() + 8, sizeof lo);
    return static_cast<std::size_t>(lo);
}

EventHub::EventHub(std::size_t queue_limit) : queue_limit_(std::max<std::size_t>(1, queue_limit)) {}

EventHub::~EventHub() {
    close();
}

Subscription EventHub::subscribe(const asio::any_io_executor& executor, EventFilter filter) {
    auto state = std::make_shared<Subscription::State>(executor, filter, queue_limit_);
    std::lock_guard lock(mutex_);
    if (closed_) {
        state->closed = true;
        return {nullptr, std::move(state)};
    }
    by_workspace_[state->filter.workspace_id].push_back(state);
    ++count_;
    return {this, std::move(state)};
}

void EventHub::unsubscribe(const std::shared_ptr<Subscription::State>& state) {
    {
        std::lock_guard lock(mutex_);
        auto it = by_workspace_.find(state->filter.workspace_id);
        if (it != by_workspace_.end()) {
            auto& list = it->second;
            auto pos = std::find(list.begin(), list.end(), state);
            if (pos != list.end()) {
                *pos = std::move(list.back());
                list.pop_back();
                --count_;
            }
            if (list.empty()) by_workspace_.erase(it);
        }
    }
    std::lock_guard lock(state->mutex);
    state->closed = true;
    state->queue.clear();
    state->head = 0;
}

std::size_t EventHub::publish(Event event) {
    return publish(std::make_shared<const Event>(std::move(event)));
}

std::size_t EventHub::publish(std::shared_ptr<const Event> event) {
    published_.fetch_add(1, std::memory_order_relaxed);
    std::size_t delivered = 0;
    std::lock_guard lock(mutex_);
    auto it = by_workspace_.find(event->workspace_id);
    if (it == by_workspace_.end()) return 0;
    for (const auto& state : it->second) {
        if (!state->filter.matches(*event)) continue;
        std::lock_guard inner(state->mutex);
        if (state->lagging || state->closed) continue;
        if (state->queue.size() - state->head >= state->limit) {
            // Too far behind: drop what is queued and end the stream; the client resumes from
            // the persisted events with Last-Event-ID.
            state->lagging = true;
            state->queue.clear();
            state->queue.shrink_to_fit();
            state->head = 0;
            lagged_.fetch_add(1, std::memory_order_relaxed);
        } else {
            state->queue.push_back(event);
            ++delivered;
        }
        state->wake_locked();
    }
    return delivered;
}

void EventHub::close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    for (auto& [workspace, list] : by_workspace_) {
        for (const auto& state : list) {
            std::lock_guard inner(state->mutex);
            state->closed = true;
            state->wake_locked();
        }
    }
    by_workspace_.clear();
    count_ = 0;
}

std::size_t EventHub::subscribers() const {
    std::lock_guard lock(mutex_);
    return count_;
}

void EventHub::register_metrics(Metrics& metrics) const {
    metrics.add_collector([this](std::string& out) {
        out += "# HELP kiln_events_subscribers Live event subscribers (SSE and WebSocket streams).\n";
        out += "# TYPE kiln_events_subscribers gauge\n";
        out += fmt::format("kiln_events_subscribers {}\n", subscribers());
        out += "# HELP kiln_events_published_total Events published to the in-process hub.\n";
        out += "# TYPE kiln_events_published_total counter\n";
        out += fmt::format("kiln_events_published_total {}\n", published_total());
        out += "# HELP kiln_events_lagged_total Subscribers ended because their queue overflowed.\n";
        out += "# TYPE kiln_events_lagged_total counter\n";
        out += fmt::format("kiln_events_lagged_total {}\n", lagged_total());
    });
}

}  // namespace kiln::http
