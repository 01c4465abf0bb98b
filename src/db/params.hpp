#pragma once
// Statement parameters, always sent separately from the SQL text, in PostgreSQL's text format.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/uuid.hpp"

namespace kiln::db {

using Param = std::optional<std::string>;
using Params = std::vector<Param>;

inline Param to_param(std::nullopt_t) {
    return std::nullopt;
}
inline Param to_param(std::string v) {
    return v;
}
inline Param to_param(std::string_view v) {
    return std::string(v);
}
inline Param to_param(const char* v) {
    return std::string(v);
}
inline Param to_param(bool v) {
    return std::string(v ? "t" : "f");
}
inline Param to_param(const core::Uuid& v) {
    return v.str();
}
Param to_param(std::chrono::system_clock::time_point v);
template <typename T>
requires std::is_integral_v<T> || std::is_floating_point_v<T> Param to_param(T v) {
    return std::to_string(v);
}
template <typename T>
Param to_param(const std::optional<T>& v) {
    if (!v) return std::nullopt;
    return to_param(*v);
}

template <typename... Args>
Params params(Args&&... args) {
    Params out;
    out.reserve(sizeof...(args));
    (out.push_back(to_param(std::forward<Args>(args))), ...);
    return out;
}

// RFC 3339 in UTC with microseconds, as PostgreSQL's timestamptz accepts and returns it.
std::string format_time(std::chrono::system_clock::time_point t);

}  // namespace kiln::db
