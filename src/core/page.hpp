#pragma once
// Keyset pagination by id (UUIDv7, newest first): `?limit=` and `?cursor=` in, `next_cursor` out.
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "core/uuid.hpp"

namespace kiln::core {

struct Page {
    int limit = 50;
    std::optional<Uuid> before;  // the last id of the previous page
};

// ?limit= (1–200, default 50) and ?cursor= (an id this server gave); what is wrong goes to `v`.
inline Page parse_page(const std::optional<std::string>& limit, const std::optional<std::string>& cursor,
                       Validator& v) {
    constexpr int kMaxPage = 200;
    Page page;
    if (limit) {
        const auto* end = limit->data() + limit->size();
        const auto [ptr, ec] = std::from_chars(limit->data(), end, page.limit);
        if (ec != std::errc{} || ptr != end || page.limit < 1 || page.limit > kMaxPage) {
            v.add("limit", "must be a whole number from 1 to 200");
        }
    }
    if (cursor) {
        page.before = Uuid::parse(*cursor);
        if (!page.before) v.add("cursor", "is not a cursor this server gave");
    }
    return page;
}

// `rows` were asked for with limit + 1: drops the extra row and returns the next page's cursor.
template <typename Row>
std::optional<std::string> cut_page(std::vector<Row>& rows, int limit) {
    if (rows.size() <= static_cast<std::size_t>(limit)) return std::nullopt;
    rows.resize(static_cast<std::size_t>(limit));
    return rows.back().id.str();
}

// A list answer (`items` and `next_cursor`) from rows asked for with page.limit + 1.
template <typename List, typename Row>
List paged(std::vector<Row> rows, const Page& page) {
    List out;
    out.next_cursor = cut_page(rows, page.limit);
    out.items = std::move(rows);
    return out;
}

}  // namespace kiln::core
