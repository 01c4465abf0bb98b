#pragma once
// JSON log lines on stdout: {"ts":…,"level":…,"msg":…, fields…}. Never pass a secret as a field.
#include <spdlog/common.h>
#include <boost/json/object.hpp>
#include <string_view>

namespace kiln::core::log {

void init(const std::string& level);
void write(spdlog::level::level_enum level, std::string_view msg, const boost::json::object& fields = {});
void flush();

inline void debug(std::string_view msg, const boost::json::object& fields = {}) {
    write(spdlog::level::debug, msg, fields);
}
inline void info(std::string_view msg, const boost::json::object& fields = {}) {
    write(spdlog::level::info, msg, fields);
}
inline void warn(std::string_view msg, const boost::json::object& fields = {}) {
    write(spdlog::level::warn, msg, fields);
}
inline void error(std::string_view msg, const boost::json::object& fields = {}) {
    write(spdlog::level::err, msg, fields);
}
bool enabled(spdlog::level::level_enum level);

}  // namespace kiln::core::log
