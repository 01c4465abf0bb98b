#include "jobs/builtin.hpp"

#include "core/log.hpp"

namespace asio = boost::asio;

namespace kiln::jobs {

namespace {

asio::awaitable<boost::json::value> batch_job(Context& ctx) {
    co_return ctx.batch();
}

}  // namespace

void add_builtin(Registry& registry, Store& store, const core::JobsConfig& config) {
    registry.add({.name = "jobs.batch", .handler = batch_job, .api_enqueue = true});
    const std::chrono::seconds age = std::chrono::hours(config.retention_hours);
    registry.schedule(
        {.name = "jobs.retention", .cron = config.retention_cron, .task = [&store, age]() -> asio::awaitable<void> {
             const auto deleted = co_await store.retention(age);
             if (deleted > 0) core::log::info("finished jobs deleted", {{"jobs", deleted}});
         }});
}

}  // namespace kiln::jobs
