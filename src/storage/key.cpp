#include "storage/key.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "storage/model.hpp"

namespace kiln::storage {

void validate_key(std::string_view key) {
    auto refuse = [&](std::string_view why) { throw InvalidKey(fmt::format("invalid blob key: {}", why)); };
    if (key.empty()) refuse("it is empty");
    if (key.size() > kMaxKeyBytes) refuse(fmt::format("it is longer than {} bytes", kMaxKeyBytes));
    if (key.front() == '/') refuse("it starts with '/'");
    for (const char c : key) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) refuse("it holds a control character");
    }
    std::size_t start = 0;
    while (start <= key.size()) {
        auto end = key.find('/', start);
        if (end == std::string_view::npos) end = key.size();
        const auto segment = key.substr(start, end - start);
        if (segment.empty()) refuse("it has an empty segment ('//' or a trailing '/')");
        if (segment == "." || segment == "..") refuse("it has a '.' or '..' segment");
        start = end + 1;
    }
}

void validate_sha256_hex(std::string_view hex) {
    constexpr std::size_t kHexDigits = 64;
    const bool hex_digits =
        std::all_of(hex.begin(), hex.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    if (hex.size() != kHexDigits || !hex_digits) {
        throw std::invalid_argument(fmt::format("not a SHA-256 in lowercase hex: '{}'", hex));
    }
}

}  // namespace kiln::storage
