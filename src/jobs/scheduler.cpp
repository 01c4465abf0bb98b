#include "jobs/scheduler.hpp"

#include "core/log.hpp"
#include "jobs/cron.hpp"

namespace asio = boost::asio;

namespace kiln::jobs {

namespace {

std::optional<std::string> next_after(const Schedule& s, const std::string& local_now) {
    const auto cron = Cron::parse(s.cron);
    const auto now = CivilMinute::parse(local_now);
    if (!cron || !now) return std::nullopt;
    const auto next = cron->next(*now);
    if (!next) return std::nullopt;
    return next->str();
}

}  // namespace

asio::awaitable<void> Scheduler::take_lead(std::string worker, int lock_pid) {
    const auto& schedules = registry_.schedules();
    std::vector<std::string> zones;
    zones.reserve(schedules.size());
    for (const auto& s : schedules) zones.push_back(s.time_zone);
    const auto now = co_await store_.zone_now(zones);
    std::vector<ScheduleRow> rows;
    for (std::size_t i = 0; i < schedules.size() && i < now.size(); ++i) {
        const auto next = next_after(schedules[i], now[i]);
        if (!next) {
            core::log::warn("schedule never runs", {{"schedule", schedules[i].name}, {"cron", schedules[i].cron}});
            continue;
        }
        rows.push_back({schedules[i].name, schedules[i].cron, schedules[i].time_zone, *next});
    }
    co_await store_.lead(worker, lock_pid, rows);
}

asio::awaitable<int> Scheduler::fire_due() {
    const auto& schedules = registry_.schedules();
    if (schedules.empty()) co_return 0;
    std::vector<std::string> names;
    names.reserve(schedules.size());
    for (const auto& s : schedules) names.push_back(s.name);
    const auto due = co_await store_.due_schedules(names);
    int fired = 0;
    for (const auto& d : due) {
        const auto it =
            std::find_if(schedules.begin(), schedules.end(), [&](const auto& s) { return s.name == d.name; });
        if (it == schedules.end()) continue;
        const auto next = next_after(*it, d.local_now);
        if (!next) continue;
        // Taken before it runs: should this leader die mid-task, the occurrence is not repeated.
        const bool mine = co_await store_.advance_schedule(d.name, d.runs, *next);
        if (!mine) continue;
        ++fired;
        std::optional<std::string> error;
        try {
            co_await it->task();
        } catch (const std::exception& e) {
            error = e.what();
        }
        if (error) core::log::warn("scheduled task failed", {{"schedule", d.name}, {"error", *error}});
        co_await store_.schedule_ran(d.name, error);
    }
    co_return fired;
}

}  // namespace kiln::jobs
