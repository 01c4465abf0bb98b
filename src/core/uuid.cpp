#include "core/uuid.hpp"

#include <sodium.h>

#include <array>
#include <cstring>

namespace kiln::core {

namespace {

// Ids are minted per request and per row: refill from the OS in blocks rather than making a
// getrandom call for each. Bytes handed out are wiped from the buffer.
void random_bytes(std::uint8_t* out, std::size_t n) {
    thread_local std::array<std::uint8_t, 4096> block{};
    thread_local std::size_t used = block.size();
    if (used + n > block.size()) {
        randombytes_buf(block.data(), block.size());
        used = 0;
    }
    std::memcpy(out, block.data() + used, n);
    sodium_memzero(block.data() + used, n);
    used += n;
}

}  // namespace

Uuid Uuid::v7() {
    return v7_at(std::chrono::system_clock::now());
}

Uuid Uuid::v7_at(std::chrono::system_clock::time_point at) {
    Uuid id;
    const auto ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count());
    for (int i = 0; i < 6; ++i) id.bytes_[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
    random_bytes(id.bytes_.data() + 6, 10);
    id.bytes_[6] = static_cast<std::uint8_t>(0x70 | (id.bytes_[6] & 0x0F));
    id.bytes_[8] = static_cast<std::uint8_t>(0x80 | (id.bytes_[8] & 0x3F));
    return id;
}

namespace {
int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

std::optional<Uuid> Uuid::parse(std::string_view text) {
    if (text.size() != 36) return std::nullopt;
    Uuid id;
    std::size_t out = 0;
    for (std::size_t i = 0; i < text.size();) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-') return std::nullopt;
            ++i;
            continue;
        }
        const int hi = hex_value(text[i]);
        const int lo = hex_value(text[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        id.bytes_[out++] = static_cast<std::uint8_t>(hi * 16 + lo);
        i += 2;
    }
    return id;
}

std::string Uuid::str() const {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    s.reserve(36);
    for (std::size_t i = 0; i < bytes_.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
        s.push_back(kHex[bytes_[i] >> 4]);
        s.push_back(kHex[bytes_[i] & 0x0F]);
    }
    return s;
}

}  // namespace kiln::core
