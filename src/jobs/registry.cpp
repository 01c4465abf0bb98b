#include "jobs/registry.hpp"

#include <stdexcept>

#include "jobs/cron.hpp"

namespace kiln::jobs {

boost::asio::awaitable<void> Context::progress(int percent, std::string message) {
    constexpr auto kMinInterval = std::chrono::milliseconds(100);
    const auto now = std::chrono::steady_clock::now();
    if (percent < 100 && now - last_report_ < kMinInterval) co_return;
    last_report_ = now;
    co_await report_(std::clamp(percent, 0, 100), std::move(message));
}

void Registry::add(Kind kind) {
    if (kinds_.contains(kind.name)) throw std::logic_error("job kind registered twice: " + kind.name);
    auto name = kind.name;
    kinds_.emplace(std::move(name), std::move(kind));
}

const Kind* Registry::find(std::string_view name) const {
    const auto it = kinds_.find(name);
    return it == kinds_.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::names() const {
    std::vector<std::string> out;
    out.reserve(kinds_.size());
    for (const auto& [name, kind] : kinds_) out.push_back(name);
    return out;
}

}  // namespace kiln::jobs

namespace kiln::jobs {

void Registry::schedule(Schedule s) {
    std::string error;
    if (!Cron::parse(s.cron, &error)) throw std::invalid_argument("schedule " + s.name + ": " + error);
    for (const auto& existing : schedules_) {
        if (existing.name == s.name) throw std::logic_error("schedule registered twice: " + s.name);
    }
    schedules_.push_back(std::move(s));
}

}  // namespace kiln::jobs
