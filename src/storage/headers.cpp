#include "storage/headers.hpp"

#include <algorithm>
#include <charconv>
#include <system_error>

#include "core/crypto.hpp"

namespace kiln::storage {

namespace {

std::optional<std::uint64_t> number(std::string_view s) {
    std::uint64_t v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

bool valid_key(std::string_view k) {
    return !k.empty() && std::ranges::all_of(k, [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f && c != ',';
    });
}

}  // namespace

RangeRequest parse_range(std::string_view header, std::uint64_t size) {
    if (!header.starts_with("bytes=") || header.find(',') != std::string_view::npos) return {};
    const auto spec = header.substr(6);
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) return {};
    const auto last = number(spec.substr(dash + 1));
    if (dash == 0) {  // a suffix: the last N bytes
        if (!last) return {};
        if (*last == 0 || size == 0) return {false, std::nullopt};
        return {false, ByteRange{size - std::min(*last, size), size - 1}};
    }
    const auto first = number(spec.substr(0, dash));
    if (!first || (dash + 1 < spec.size() && !last)) return {};
    if (last && *last < *first) return {};  // syntactically invalid: ignored, as RFC 9110 says
    if (*first >= size) return {false, std::nullopt};
    return {false, ByteRange{*first, std::min(last.value_or(size - 1), size - 1)}};
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_tus_metadata(std::string_view header) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!header.empty()) {
        const auto comma = header.find(',');
        auto pair = header.substr(0, comma);
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
        while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
        while (!pair.empty() && pair.back() == ' ') pair.remove_suffix(1);
        if (pair.empty()) continue;
        const auto space = pair.find(' ');
        std::string key(pair.substr(0, space));
        if (!valid_key(key)) return std::nullopt;
        std::string value;
        if (space != std::string_view::npos) {
            auto decoded = core::base64_decode(pair.substr(space + 1));
            if (!decoded) return std::nullopt;
            value = std::move(*decoded);
        }
        for (const auto& [k, v] : out) {
            if (k == key) return std::nullopt;
        }
        out.emplace_back(std::move(key), std::move(value));
    }
    return out;
}

}  // namespace kiln::storage
