#pragma once
// Job kinds: each domain registers its handlers (its jobs.cpp) with their defaults. A handler is
// a coroutine given the job's context; what it returns is the job's result. It throws to fail
// the attempt (retried with backoff until max_attempts, then dead).
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/thread_pool.hpp"
#include "core/uuid.hpp"
#include "db/connection.hpp"
#include "http/json.hpp"

namespace kiln::jobs {

class Context;
using Handler = std::function<boost::asio::awaitable<boost::json::value>(Context&)>;

struct Kind {
    std::string name;  // "domain.verb", e.g. "images.resize"
    Handler handler;
    unsigned max_attempts = 0;             // 0: jobs.default_max_attempts
    std::chrono::milliseconds timeout{0};  // 0: jobs.default_timeout_ms
    bool api_enqueue = false;              // may be enqueued with POST /jobs
    // At most this many of the kind run at once across all workers (0: no cap), e.g. for a
    // provider's rate limit.
    unsigned concurrency = 0;
    // Checks a job's args when it is enqueued (422 naming the field, "args.…"); set by typed().
    std::function<void(const boost::json::value&, const std::string& prefix)> check_args;
};

// A built-in task run on a cron schedule by the one worker that leads (docs/jobs.md).
struct Schedule {
    std::string name;  // "domain.task"
    std::string cron;  // five fields; see jobs/cron.hpp
    std::string time_zone = "UTC";
    std::function<boost::asio::awaitable<void>()> task;
};

// What a handler sees of its job.
class Context {
public:
    Context(core::Uuid workspace, core::Uuid id, std::string kind, boost::json::value args, int attempt,
            std::function<boost::asio::awaitable<void>(int, std::string)> report, boost::json::value batch = nullptr,
            core::ThreadPool* cpu = nullptr)
        : workspace_(workspace),
          id_(id),
          kind_(std::move(kind)),
          args_(std::move(args)),
          attempt_(attempt),
          report_(std::move(report)),
          batch_(std::move(batch)),
          cpu_(cpu) {}

    const core::Uuid& workspace() const noexcept { return workspace_; }
    const core::Uuid& id() const noexcept { return id_; }
    const std::string& kind() const noexcept { return kind_; }
    const boost::json::value& args() const noexcept { return args_; }
    int attempt() const noexcept { return attempt_; }
    // For a batch parent, how its children ended: {total, succeeded, dead, cancelled}; null
    // for other jobs.
    const boost::json::value& batch() const noexcept { return batch_; }

    // Statements committed in the same transaction as this attempt's success, and only if it
    // still holds its lease: a side effect recorded here happens exactly once. `sql` must be a
    // constant (it is referenced, not copied).
    void commit_with(db::Query q) { effects_.push_back(std::move(q)); }
    std::vector<db::Query> take_effects() { return std::move(effects_); }

    // Runs CPU-heavy work (decoding an image, hashing a file) on the CPU pool, so the worker's
    // thread keeps serving the other jobs' I/O meanwhile.
    template <typename F>
    boost::asio::awaitable<std::invoke_result_t<F>> on_cpu(F fn) {
        if (cpu_ == nullptr) co_return fn();
        co_return co_await cpu_->run(std::move(fn));
    }

    // Records progress (0–100 and a short message); subscribers see it live. Reports closer
    // than 100 ms to the previous one are dropped, except 100 %.
    boost::asio::awaitable<void> progress(int percent, std::string message);

    // Set when the job is cancelled, times out or the worker shuts down past its grace period:
    // the handler should stop at its next check. Throwing Cancelled ends the attempt as such.
    bool cancelled() const noexcept { return cancelled_.load(); }
    void cancel() noexcept { cancelled_.store(true); }

private:
    core::Uuid workspace_;
    core::Uuid id_;
    std::string kind_;
    boost::json::value args_;
    int attempt_;
    std::function<boost::asio::awaitable<void>(int, std::string)> report_;
    boost::json::value batch_;
    core::ThreadPool* cpu_;
    std::vector<db::Query> effects_;
    std::atomic<bool> cancelled_{false};
    std::chrono::steady_clock::time_point last_report_{};
};

// A handler throws this when it saw cancelled(): the job ends `cancelled`, not failed.
struct Cancelled : std::exception {
    const char* what() const noexcept override { return "cancelled"; }
};

// Args decoded into a described struct, as request bodies are: unknown fields, wrong types and
// the struct's own validate() (which names fields without a prefix) are refused with one entry
// per field under `prefix`.
template <http::Described Args>
Args decode_args(const boost::json::value& args, const std::string& prefix) {
    Args out{};
    core::Validator v;
    http::detail::decode_object(args, out, prefix, v);
    if constexpr (http::SelfValidating<Args>) {
        if (v.ok()) {
            core::Validator own;
            out.validate(own);
            for (const auto& e : own.errors()) v.add(http::detail::join(prefix, e.field), e.message);
        }
    }
    v.throw_if_failed();
    return out;
}

// A kind whose handler takes typed args: `typed<SleepArgs>({.name = …}, sleep)` with
// `awaitable<json::value> sleep(Context&, SleepArgs)`. Bad args are refused at enqueue.
template <http::Described Args, typename F>
Kind typed(Kind kind, F handler) {
    kind.check_args = [](const boost::json::value& args, const std::string& prefix) {
        decode_args<Args>(args, prefix);
    };
    kind.handler = [handler](Context& ctx) -> boost::asio::awaitable<boost::json::value> {
        auto args = decode_args<Args>(ctx.args(), "args");
        co_return co_await handler(ctx, std::move(args));
    };
    return kind;
}

class Registry {
public:
    void add(Kind kind);
    const Kind* find(std::string_view name) const;
    std::vector<std::string> names() const;
    // Throws std::invalid_argument when the cron expression is not valid.
    void schedule(Schedule s);
    const std::vector<Schedule>& schedules() const noexcept { return schedules_; }

private:
    std::map<std::string, Kind, std::less<>> kinds_;
    std::vector<Schedule> schedules_;
};

}  // namespace kiln::jobs
