#include "storage/jobs.hpp"

#include "core/log.hpp"

namespace asio = boost::asio;

namespace kiln::storage {

void add_jobs(jobs::Registry& registry, TusService& tus, const core::StorageConfig& config) {
    registry.schedule(
        {.name = "storage.sweep", .cron = config.sweep_cron, .task = [&tus]() -> asio::awaitable<void> {
             const auto report = co_await tus.sweep();
             if (report.expired > 0 || report.stale > 0) {
                 core::log::info("storage swept", {{"tus_expired", report.expired}, {"stale_uploads", report.stale}});
             }
         }});
}

}  // namespace kiln::storage
