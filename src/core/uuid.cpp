#include "core/uuid.hpp"

#include <sodium.h>

#include <array>
#include <atomic>
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

namespace {
// The 48-bit millisecond timestamp and 12 bits of sub-millisecond time (RFC 9562 §6.2, method 3),
// as one number: ids this process mints are strictly increasing even within a millisecond, so
// keyset pages by id list rows in the order they were made.
std::uint64_t time_fields(std::chrono::system_clock::time_point at) {
    const auto ns =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count());
    const std::uint64_t ms = ns / 1'000'000;
    const std::uint64_t fraction = (ns % 1'000'000) * 4096 / 1'000'000;
    return (ms << 12) | fraction;
}

Uuid from_time_fields(std::uint64_t fields) {
    std::array<std::uint8_t, 16> b{};
    const std::uint64_t ms = fields >> 12;
    for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
    b[6] = static_cast<std::uint8_t>(0x70 | ((fields >> 8) & 0x0F));
    b[7] = static_cast<std::uint8_t>(fields & 0xFF);
    random_bytes(b.data() + 8, 8);
    b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3F));
    return Uuid::from_bytes(b);
}
}  // namespace

Uuid Uuid::v7() {
    static std::atomic<std::uint64_t> last{0};
    auto next = time_fields(std::chrono::system_clock::now());
    auto seen = last.load(std::memory_order_relaxed);
    for (;;) {
        // Same tick or a clock step back: one past the last id keeps the order.
        if (next <= seen) next = seen + 1;
        if (last.compare_exchange_weak(seen, next, std::memory_order_relaxed)) return from_time_fields(next);
    }
}

Uuid Uuid::v7_at(std::chrono::system_clock::time_point at) {
    return from_time_fields(time_fields(at));
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
