#include "db/params.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace kiln::db {

std::string format_time(std::chrono::system_clock::time_point t) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    const auto secs = std::chrono::sys_seconds(std::chrono::seconds(us / 1'000'000 - (us % 1'000'000 < 0 ? 1 : 0)));
    const auto frac = ((us % 1'000'000) + 1'000'000) % 1'000'000;
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06}Z", secs, frac);
}

Param to_param(std::chrono::system_clock::time_point v) {
    return format_time(v);
}

}  // namespace kiln::db
