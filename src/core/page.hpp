#pragma once
// Keyset pagination's shared rules: `?limit=` is a whole number from 1 to 200, and a store asked
// for limit + 1 rows tells by the extra one whether another page follows.
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "core/problem.hpp"

namespace kiln::core {

constexpr int kMaxPageLimit = 200;

// The `?limit=` value, or `fallback` without one; an error for "limit" in `v` when it is not 1–200.
inline int page_limit(const std::optional<std::string>& limit, Validator& v, int fallback = 50) {
    if (!limit) return fallback;
    int n = 0;
    const auto* end = limit->data() + limit->size();
    const auto [ptr, ec] = std::from_chars(limit->data(), end, n);
    if (ec != std::errc{} || ptr != end || n < 1 || n > kMaxPageLimit) {
        v.add("limit", "must be a whole number from 1 to 200");
        return fallback;
    }
    return n;
}

// Cuts `rows` (limit + 1 were asked for) to `limit`; the next page starts after the last kept id.
template <typename T>
std::optional<std::string> cut_page(std::vector<T>& rows, int limit) {
    if (rows.size() <= static_cast<std::size_t>(limit)) return std::nullopt;
    rows.resize(static_cast<std::size_t>(limit));
    return rows.back().id.str();
}

}  // namespace kiln::core
