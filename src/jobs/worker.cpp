#include "jobs/worker.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <random>
#include <set>

#include "core/log.hpp"
#include "core/problem.hpp"

namespace asio = boost::asio;

namespace kiln::jobs {

namespace {

constexpr std::string_view kWorkChannel = "kiln_jobs";
constexpr std::string_view kCancelChannel = "kiln_job_cancel";
std::string hostname() {
    std::array<char, 256> buf{};
    if (gethostname(buf.data(), buf.size() - 1) != 0) return "unknown";
    return buf.data();
}

asio::awaitable<void> pause(asio::steady_timer& timer, std::chrono::milliseconds d) {
    timer.expires_after(d);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace

Worker::Worker(Store& store, const Registry& registry, const core::JobsConfig& config, core::ThreadPool& blocking,
               std::string conninfo, JobMetrics& metrics)
    : store_(store),
      registry_(registry),
      config_(config),
      metrics_(metrics),
      blocking_(blocking),
      conninfo_(std::move(conninfo)),
      host_(hostname()),
      scheduler_(store, registry) {
    id_ = host_ + ":" + std::to_string(getpid()) + ":" + core::Uuid::v7().str().substr(0, 8);
}

void Worker::spawn(asio::awaitable<void> task, const char* what) {
    ++tasks_;
    auto done = [this, what](std::exception_ptr e) {
        if (e) core::log::error(what, {{"error", core::describe(e)}});
        finished();
    };
    asio::co_spawn(ex_, std::move(task), done);
}

void Worker::finished() {
    --tasks_;
    if (done_timer_) done_timer_->cancel();
}

void Worker::freed(bool refill) {
    // A job that ended may have made room under a plan's or a kind's cap, which a claim that
    // found nothing cannot tell from an empty queue: such jobs carry `refill`.
    if (!stopping_ && (refill || missed_)) wake();
}

void Worker::start(const asio::any_io_executor& ex) {
    ex_ = ex;
    wake_timer_.emplace(ex);
    heartbeat_timer_.emplace(ex);
    maintain_timer_.emplace(ex);
    done_timer_.emplace(ex);
    lead_timer_.emplace(ex);
    complete_timer_.emplace(ex);
    spawn(claim_loop(), "job claim loop stopped by an error");
    spawn(heartbeat_loop(), "job heartbeat loop stopped by an error");
    spawn(complete_loop(), "job completion loop stopped by an error");
    spawn(maintain_loop(), "job maintenance loop stopped by an error");
    if (!registry_.schedules().empty()) spawn(lead_loop(), "job leader loop stopped by an error");
    core::log::info("job worker started", {{"worker", id_}, {"slots", config_.workers}});
}

void Worker::wake() {
    woken_ = true;
    if (wake_timer_) wake_timer_->cancel();
}

std::vector<Lease> Worker::leases() const {
    std::vector<Lease> out;
    out.reserve(running_.size());
    for (const auto& [id, r] : running_) {
        if (!r.settled) out.push_back(r.lease);
    }
    return out;
}

void Worker::count(const std::string& kind, std::chrono::steady_clock::time_point started, std::string_view outcome) {
    const std::chrono::duration<double> ran = std::chrono::steady_clock::now() - started;
    metrics_.finished(kind, outcome, ran.count());
}

std::chrono::milliseconds Worker::backoff(int attempt) const {
    thread_local std::mt19937 rng{std::random_device{}()};
    const double base = static_cast<double>(config_.retry_base_ms) * std::pow(2.0, std::max(0, attempt - 1));
    std::uniform_real_distribution<double> jitter(0.75, 1.25);
    const double ms = std::min(base * jitter(rng), 3'600'000.0);
    return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

asio::awaitable<void> Worker::claim_loop() {
    const auto kinds = registry_.names();
    std::vector<std::pair<std::string, unsigned>> caps;
    std::set<std::string, std::less<>> capped;
    for (const auto& name : kinds) {
        if (const Kind* k = registry_.find(name); k->concurrency > 0) {
            caps.emplace_back(name, k->concurrency);
            capped.insert(name);
        }
    }
    while (!stopping_) {
        woken_ = false;
        // Jobs spawned but not yet entered in running_ hold their slots too (co_spawn posts).
        const auto busy = running_.size() + starting_;
        const auto slots = config_.workers > busy ? config_.workers - busy : 0;
        std::size_t asked = 0;
        std::size_t got = 0;
        missed_ = slots == 0;
        if (slots > 0) {
            ClaimRequest c;
            c.after_workspace = cursor_;
            c.workspaces = config_.claim_workspaces;
            c.limit = static_cast<unsigned>(std::min<std::size_t>(slots, config_.claim_batch));
            c.kinds = kinds;
            c.caps = caps;
            c.worker = id_;
            c.lease = std::chrono::milliseconds(config_.lease_ms);
            asked = c.limit;
            std::vector<Claimed> claimed;
            std::exception_ptr failure;
            try {
                claimed = co_await store_.claim(c);
            } catch (...) {
                failure = std::current_exception();
            }
            if (failure) {
                core::log::warn("job claim failed; retrying", {{"error", core::describe(failure)}});
                co_await pause(*wake_timer_, std::chrono::milliseconds(config_.poll_interval_ms));
                continue;
            }
            got = claimed.size();
            metrics_.claimed(got > 0);
            const bool more = std::any_of(claimed.begin(), claimed.end(), [](const Claimed& j) { return j.more; });
            // Round robin: the next claim starts after the last workspace served; a short
            // claim means the end of the list was reached, so the next starts over.
            std::optional<core::Uuid> last;
            const bool limited = more || got == asked;
            for (auto& job : claimed) {
                if (!last || *last < job.workspace) last = job.workspace;
                ++starting_;
                const bool refill = limited || capped.contains(job.kind);
                spawn(run(std::move(job), refill), "job runner failed");
            }
            const bool had_cursor = cursor_.has_value();
            cursor_ = got == asked ? last : std::nullopt;
            if (got == 0 && had_cursor) continue;  // nothing after the cursor: look from the start
            // Claimed with slots to spare: there is more only where a workspace's share ran out.
            if ((more || (got > 0 && got == asked)) && !stopping_) continue;
        }
        if (woken_ || stopping_) continue;
        co_await pause(*wake_timer_, std::chrono::milliseconds(config_.poll_interval_ms));
    }
}

asio::awaitable<void> Worker::run(Claimed job, bool refill) {
    --starting_;
    const Kind* kind = registry_.find(job.kind);
    const Lease lease{job.workspace, job.id, job.lease};
    auto report = [this, lease](int percent, std::string message) -> asio::awaitable<void> {
        co_await store_.progress(lease, percent, message);
    };
    boost::json::value args;
    std::error_code ec;
    args = boost::json::parse(job.args_json, ec);
    boost::json::value batch;
    if (!job.batch_json.empty()) batch = boost::json::parse(job.batch_json, ec);
    auto context = std::make_shared<Context>(job.workspace, job.id, job.kind, std::move(args), job.attempt, report,
                                             batch, &blocking_);
    // By lease, not job id: should this worker claim the job again after losing its lease, the
    // two attempts stay apart.
    auto& r = running_[job.lease];
    r.lease = lease;
    r.context = context;
    r.kind = job.kind;
    r.child = job.child;
    r.refill = refill;
    r.started = std::chrono::steady_clock::now();
    metrics_.started(job.kind, job.pickup_s);
    const auto timeout = job.timeout.count() > 0 ? job.timeout : std::chrono::milliseconds(config_.default_timeout_ms);
    r.deadline = std::make_unique<asio::steady_timer>(ex_, timeout);
    r.deadline->async_wait([this, token = job.lease](boost::system::error_code e) {
        if (!e) spawn(time_out(token), "job timeout handling failed");
    });

    boost::json::value result;
    std::exception_ptr failure;
    if (kind == nullptr) {
        failure = std::make_exception_ptr(std::runtime_error("no handler for kind " + job.kind + " in this worker"));
    } else {
        try {
            result = co_await kind->handler(*context);
        } catch (...) {
            failure = std::current_exception();
        }
    }
    auto& done = running_[job.lease];
    done.deadline->cancel();
    std::exception_ptr settle_failure;
    try {
        co_await settle(done, failure, result);
    } catch (...) {
        // The outcome could not be recorded (the database is away): the lease expires and the
        // job is rescued and run again — at least once, never lost.
        settle_failure = std::current_exception();
    }
    if (settle_failure)
        core::log::warn("job outcome not recorded", {{"job", job.id.str()}, {"error", core::describe(settle_failure)}});
    const auto it = running_.find(job.lease);
    if (it != running_.end() && !it->second.completing) {
        const bool refill_after = it->second.refill;
        running_.erase(it);
        freed(refill_after);
    }
}

asio::awaitable<void> Worker::settle(Running& r, std::exception_ptr failure, const boost::json::value& result) {
    if (r.settled) co_return;
    r.settled = true;
    if (!failure) {
        auto effects = r.context->take_effects();
        if (effects.empty() && !r.child) {
            // Recorded by the completion loop with the others that finish meanwhile.
            completions_.push_back({r.lease, boost::json::serialize(result), r.kind, r.started});
            r.completing = true;
            complete_timer_->cancel();
            co_return;
        }
        const bool had_effects = !effects.empty();
        const bool ok = co_await store_.succeed(r.lease, boost::json::serialize(result), std::move(effects));
        if (ok && had_effects) r.refill = true;
        count(r.kind, r.started, ok ? "succeeded" : "lost");
        if (!ok) core::log::warn("job finished after losing its lease; result dropped", {{"job", r.lease.id.str()}});
        co_return;
    }
    bool cancelled = false;
    try {
        std::rethrow_exception(failure);
    } catch (const Cancelled&) {
        cancelled = true;
    } catch (...) {  // NOLINT(bugprone-empty-catch): any other failure fails the attempt
    }
    if (cancelled && (r.cancel_requested || stopping_)) {
        const bool ok = co_await store_.cancelled(r.lease);
        count(r.kind, r.started, ok ? "cancelled" : "lost");
        co_return;
    }
    const auto message = core::describe(failure);
    const auto state = co_await store_.fail(r.lease, message, backoff(r.context->attempt()));
    count(r.kind, r.started, state ? *state : "lost");
    core::log::info(
        "job attempt failed",
        {{"job", r.lease.id.str()}, {"attempt", r.context->attempt()}, {"state", state ? *state : "lease lost"}});
}

asio::awaitable<void> Worker::time_out(core::Uuid token) {
    const auto it = running_.find(token);
    if (it == running_.end() || it->second.settled) co_return;
    it->second.context->cancel();
    it->second.settled = true;
    // Copies: the job's runner may finish and drop its entry while this waits.
    const auto lease = it->second.lease;
    const auto kind = it->second.kind;
    const auto started = it->second.started;
    const auto retry_in = backoff(it->second.context->attempt());
    const auto state = co_await store_.fail(lease, "timed out", retry_in);
    count(kind, started, state ? "timed_out" : "lost");
    core::log::warn("job timed out", {{"job", lease.id.str()}, {"state", state ? *state : "lease lost"}});
}

// Records successes in batches: whatever finished while the previous statement ran goes in the
// next one, so a busy worker completes many jobs per round trip and an idle one waits for none.
asio::awaitable<void> Worker::complete_loop() {
    while (!heartbeats_done_ || !completions_.empty()) {
        if (completions_.empty()) {
            co_await pause(*complete_timer_, std::chrono::milliseconds(config_.poll_interval_ms));
            continue;
        }
        const auto batch = std::move(completions_);
        completions_.clear();
        std::vector<std::pair<Lease, std::string>> done;
        done.reserve(batch.size());
        for (const auto& c : batch) done.emplace_back(c.lease, c.result);
        std::vector<core::Uuid> recorded;
        std::exception_ptr failure;
        try {
            recorded = co_await store_.succeed_many(done);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            // Their leases expire and they run again: at least once, never lost.
            core::log::warn("job outcomes not recorded", {{"jobs", batch.size()}, {"error", core::describe(failure)}});
        }
        const std::set<core::Uuid> ok(recorded.begin(), recorded.end());
        bool refill = false;
        for (const auto& c : batch) {
            count(c.kind, c.started, ok.contains(c.lease.token) ? "succeeded" : "lost");
            const auto it = running_.find(c.lease.token);
            if (it == running_.end()) continue;
            refill = refill || it->second.refill;
            running_.erase(it);
        }
        done_timer_->cancel();  // stop() waits for running_ to empty
        freed(refill);
    }
}

asio::awaitable<void> Worker::heartbeat_loop() {
    const auto kinds = registry_.names();
    const int pid = static_cast<int>(getpid());
    while (!heartbeats_done_) {
        const auto held = leases();
        std::vector<std::pair<core::Uuid, bool>> live;
        std::exception_ptr failure;
        try {
            live = co_await store_.heartbeat(held, std::chrono::milliseconds(config_.lease_ms), id_, host_, pid, kinds);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            core::log::warn("job heartbeat failed", {{"error", core::describe(failure)}});
        } else {
            std::map<core::Uuid, bool> by_token(live.begin(), live.end());
            for (const auto& l : held) {
                const auto it = running_.find(l.token);
                if (it == running_.end() || it->second.settled) continue;
                const auto found = by_token.find(l.token);
                if (found == by_token.end()) {
                    // Taken back (expired and rescued): another attempt owns the job now.
                    it->second.settled = true;
                    it->second.context->cancel();
                    count(it->second.kind, it->second.started, "lost");
                    core::log::warn("job lease lost", {{"job", l.id.str()}});
                } else if (found->second && !it->second.cancel_requested) {
                    it->second.cancel_requested = true;
                    it->second.context->cancel();
                }
            }
        }
        co_await pause(*heartbeat_timer_, std::chrono::milliseconds(config_.heartbeat_ms));
    }
}

asio::awaitable<void> Worker::maintain_loop() {
    while (!stopping_) {
        std::int64_t moved = 0;
        std::exception_ptr failure;
        try {
            moved = co_await store_.maintain();
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) core::log::warn("job maintenance failed", {{"error", core::describe(failure)}});
        if (moved > 0) wake();
        co_await pause(*maintain_timer_, std::chrono::milliseconds(config_.poll_interval_ms));
    }
}

void Worker::listen(db::Notifier& notifier) {
    // New work wakes the claim loop; a cancel request for a job running here reaches its
    // handler at once (the heartbeat would find it too, later). Both arrive on the notifier's
    // executor; this worker lives on ex_.
    auto wake_here = [this] { asio::post(ex_, [this] { wake(); }); };
    notifier.subscribe(
        std::string(kWorkChannel), [wake_here](const std::vector<std::string>&) { wake_here(); }, wake_here);
    notifier.subscribe(
        std::string(kCancelChannel),
        [this](const std::vector<std::string>&) {
            asio::post(ex_, [this] {
                if (heartbeat_timer_) heartbeat_timer_->cancel();  // the heartbeat reads cancel requests now
            });
        },
        [] {});
}

// Every worker may lead; the one whose connection holds the leader lock does, until that
// connection ends (the process died, the database restarted): then another takes it within
// about a poll interval.
asio::awaitable<void> Worker::lead_loop() {
    while (!stopping_) {
        std::unique_ptr<db::Listener> lock;
        std::exception_ptr failure;
        try {
            lock = co_await db::Listener::open_locked(conninfo_, "", blocking_, kLeaderLock);
        } catch (...) {
            failure = std::current_exception();
        }
        if (stopping_) break;
        if (!lock) {
            co_await pause(*lead_timer_, std::chrono::milliseconds(config_.poll_interval_ms));
            continue;
        }
        listeners_.push_back(lock.get());
        leader_ = true;
        core::log::info("job leader", {{"worker", id_}});
        co_await lead(*lock);
        leader_ = false;
        std::erase(listeners_, lock.get());
        if (!stopping_) core::log::warn("job leadership lost", {{"worker", id_}});
    }
}

asio::awaitable<void> Worker::lead(db::Listener& lock) {
    bool recorded = false;
    for (;;) {
        std::exception_ptr failure;
        try {
            if (!recorded) co_await scheduler_.take_lead(id_, lock.backend_pid());
            recorded = true;
            co_await scheduler_.fire_due();
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) core::log::warn("job schedules not fired", {{"error", core::describe(failure)}});
        const auto waited = co_await lock.wait_for(std::chrono::milliseconds(config_.poll_interval_ms));
        if (waited == db::Listener::Waited::closed || stopping_) co_return;
    }
}

asio::awaitable<void> Worker::stop() {
    stopping_ = true;
    wake_timer_->cancel();
    maintain_timer_->cancel();
    lead_timer_->cancel();
    for (auto* l : listeners_) l->cancel();  // the leader lock's connection
    const auto grace_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.shutdown_grace_ms);
    // The heartbeat keeps running jobs' leases alive during the grace period.
    while (!running_.empty() && std::chrono::steady_clock::now() < grace_end) {
        done_timer_->expires_at(grace_end);
        co_await done_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (!running_.empty()) {
        const auto held = leases();
        for (auto& [id, r] : running_) {
            r.settled = true;
            r.context->cancel();
        }
        std::exception_ptr failure;
        try {
            co_await store_.release(held);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) core::log::warn("job leases not released; they will expire", {{"error", core::describe(failure)}});
        core::log::info("jobs handed back at shutdown", {{"jobs", held.size()}});
    }
    heartbeats_done_ = true;
    heartbeat_timer_->cancel();
    complete_timer_->cancel();
    // Handlers were told to stop; one that does not is left to the executor's end.
    const auto loops_end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (tasks_ > 0 && std::chrono::steady_clock::now() < loops_end) {
        for (auto* l : listeners_) l->cancel();
        done_timer_->expires_after(std::chrono::milliseconds(100));
        co_await done_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
    }
    core::log::info("job worker stopped", {{"worker", id_}});
}

}  // namespace kiln::jobs
