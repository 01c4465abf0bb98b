#pragma once
// UUIDv7 (RFC 9562): time-ordered, so new rows land at the end of B-tree indexes.
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::core {

class Uuid {
public:
    Uuid() = default;
    static Uuid v7();
    static Uuid v7_at(std::chrono::system_clock::time_point at);
    static std::optional<Uuid> parse(std::string_view text);
    static Uuid from_bytes(const std::array<std::uint8_t, 16>& bytes) noexcept {
        Uuid id;
        id.bytes_ = bytes;
        return id;
    }

    std::string str() const;
    int version() const noexcept { return bytes_[6] >> 4; }
    const std::array<std::uint8_t, 16>& bytes() const noexcept { return bytes_; }
    bool operator==(const Uuid&) const = default;
    auto operator<=>(const Uuid&) const = default;  // NOLINT(modernize-use-nullptr): clang-tidy 14 false positive

private:
    std::array<std::uint8_t, 16> bytes_{};
};

}  // namespace kiln::core
