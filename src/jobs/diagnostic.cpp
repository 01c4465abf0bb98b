#include "jobs/diagnostic.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <stdexcept>

#include "db/params.hpp"
#include "jobs/store.hpp"

namespace asio = boost::asio;

namespace kiln::jobs {

namespace {

constexpr std::int64_t kMaxSleepMs = 3'600'000;

struct SleepArgs {
    std::optional<std::int64_t> ms;  // default 1000
    void validate(core::Validator& v) const {
        if (ms && (*ms < 0 || *ms > kMaxSleepMs)) v.add("ms", "must be 0 to 3600000");
    }
};
BOOST_DESCRIBE_STRUCT(SleepArgs, (), (ms))

struct FailArgs {
    std::optional<std::string> message;
    std::optional<std::int64_t> fail_attempts;  // fail only the first n attempts
    void validate(core::Validator& v) const {
        constexpr std::size_t kMaxMessage = 2000;
        if (message && message->size() > kMaxMessage) v.add("message", "must be at most 2000 characters");
        if (fail_attempts && *fail_attempts < 0) v.add("fail_attempts", "must be 0 or more");
    }
};
BOOST_DESCRIBE_STRUCT(FailArgs, (), (message, fail_attempts))

asio::awaitable<boost::json::value> sleep_job(Context& ctx, SleepArgs args) {
    constexpr std::int64_t kSteps = 20;
    const auto ms = args.ms.value_or(1000);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto step = std::chrono::milliseconds(std::max<std::int64_t>(1, ms / kSteps));
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end) {
        if (ctx.cancelled()) throw Cancelled();
        timer.expires_after(std::min<std::chrono::nanoseconds>(step, end - std::chrono::steady_clock::now()));
        co_await timer.async_wait(asio::use_awaitable);
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
        const auto done = ms == 0 ? 100 : static_cast<int>(100 - std::max<std::int64_t>(0, left.count()) * 100 / ms);
        co_await ctx.progress(done, "slept " + std::to_string(ms - std::max<std::int64_t>(0, left.count())) + " ms");
    }
    if (ctx.cancelled()) throw Cancelled();
    co_return boost::json::object{{"slept_ms", ms}};
}

// Returns at once: the engine's own cost per job (bench/jobs). Its result says when the handler
// ran, so pickup latency can be measured to the handler's start.
asio::awaitable<boost::json::value> noop_job(Context& /*ctx*/) {
    co_return boost::json::object{{"started_at", db::format_time(std::chrono::system_clock::now())}};
}

asio::awaitable<boost::json::value> fail_job(Context& ctx, FailArgs args) {
    const auto message = args.message.value_or("failed on purpose");
    if (!args.fail_attempts || ctx.attempt() <= *args.fail_attempts) throw std::runtime_error(message);
    co_return boost::json::object{{"attempt", ctx.attempt()}};
}

// Sleeps like system.sleep, then records one row in job_effects in the transaction that
// records its success: a second success of the same job would break the table's key.
asio::awaitable<boost::json::value> effect_job(Context& ctx, SleepArgs args) {
    auto result = co_await sleep_job(ctx, args);
    ctx.commit_with(record_effect(ctx.workspace(), ctx.id(), ctx.attempt()));
    co_return result;
}

}  // namespace

void add_diagnostic_kinds(Registry& registry) {
    registry.add(typed<SleepArgs>({.name = "system.sleep", .api_enqueue = true}, sleep_job));
    registry.add(typed<FailArgs>({.name = "system.fail", .api_enqueue = true}, fail_job));
    registry.add(typed<SleepArgs>({.name = "system.effect", .api_enqueue = true}, effect_job));
    registry.add({.name = "system.noop", .handler = noop_job, .api_enqueue = true});
    // For tests of per-kind caps: at most two run at once, across all workers.
    registry.add(typed<SleepArgs>({.name = "system.capped", .api_enqueue = true, .concurrency = 2}, sleep_job));
}

}  // namespace kiln::jobs
