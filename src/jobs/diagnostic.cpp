#include "jobs/diagnostic.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <stdexcept>

#include "db/params.hpp"

namespace asio = boost::asio;

namespace kiln::jobs {

namespace {

std::int64_t int_arg(const boost::json::value& args, std::string_view name, std::int64_t fallback) {
    const auto* obj = args.if_object();
    const auto* v = obj != nullptr ? obj->if_contains(name) : nullptr;
    if (v == nullptr) return fallback;
    if (const auto* i = v->if_int64()) return *i;
    if (const auto* u = v->if_uint64()) return static_cast<std::int64_t>(*u);
    throw std::invalid_argument(std::string(name) + " must be an integer");
}

asio::awaitable<boost::json::value> sleep_job(Context& ctx) {
    constexpr std::int64_t kMaxMs = 3'600'000;
    constexpr std::int64_t kSteps = 20;
    const auto ms = std::clamp<std::int64_t>(int_arg(ctx.args(), "ms", 1000), 0, kMaxMs);
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

asio::awaitable<boost::json::value> fail_job(Context& ctx) {
    const auto* obj = ctx.args().if_object();
    const auto* m = obj != nullptr ? obj->if_contains("message") : nullptr;
    const std::string message = m != nullptr && m->is_string() ? std::string(m->get_string()) : "failed on purpose";
    const auto fail_attempts = int_arg(ctx.args(), "fail_attempts", -1);
    if (fail_attempts < 0 || ctx.attempt() <= fail_attempts) throw std::runtime_error(message);
    co_return boost::json::object{{"attempt", ctx.attempt()}};
}

}  // namespace

void add_diagnostic_kinds(Registry& registry) {
    registry.add({.name = "system.sleep", .handler = sleep_job, .api_enqueue = true});
    registry.add({.name = "system.fail", .handler = fail_job, .api_enqueue = true});
    registry.add({.name = "system.noop", .handler = noop_job, .api_enqueue = true});
}

}  // namespace kiln::jobs
