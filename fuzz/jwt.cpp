// Access tokens. Any byte string a client sends is refused unless it is a token the server
// signed (a fuzzer cannot forge HMAC-SHA256, so a forged one verifying means the check is
// skipped somewhere), and a token the server signed verifies to its claims and stops verifying
// when any one byte of it changes.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/jwt.hpp"

namespace {

constexpr std::int64_t kNow = 1'780'000'000;

const kiln::auth::Jwt& jwt() {
    static const kiln::auth::Jwt j(std::string(40, 'k'), std::string(40, 'p'), "kiln", "kiln-api",
                                   std::chrono::seconds(900));
    return j;
}

kiln::core::Uuid uuid_from(std::string_view bytes) {
    std::array<std::uint8_t, 16> b{};
    for (std::size_t i = 0; i < b.size() && i < bytes.size(); ++i) b[i] = static_cast<std::uint8_t>(bytes[i]);
    return kiln::core::Uuid::from_bytes(b);
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (jwt().verify(input, kNow)) __builtin_trap();

    // The input also makes claims (ids from its bytes, a role of letters from the rest: roles are
    // names such as "member"), and its first two bytes pick a byte of the signed token to change
    // and how.
    if (size < 3) return 0;
    kiln::auth::Claims claims;
    claims.user = uuid_from(input);
    claims.workspace = uuid_from(input.substr(1));
    claims.session = uuid_from(input.substr(2));
    for (const char c : input.substr(3, 16))
        claims.role.push_back(static_cast<char>('a' + static_cast<unsigned char>(c) % 26));
    const auto token = jwt().issue(claims, kNow);
    const auto back = jwt().verify(token, kNow);
    if (!back || back->user != claims.user || back->workspace != claims.workspace || back->session != claims.session ||
        back->role != claims.role || back->expires_at != kNow + 900) {
        __builtin_trap();
    }
    std::string changed = token;
    const unsigned flip = static_cast<unsigned char>(input[1]) == 0 ? 1U : static_cast<unsigned char>(input[1]);
    auto& byte = changed[static_cast<unsigned char>(input[0]) % changed.size()];
    byte = static_cast<char>(static_cast<unsigned char>(byte) ^ flip);
    if (jwt().verify(changed, kNow)) __builtin_trap();
    if (jwt().verify(token, kNow + 900)) __builtin_trap();  // expired
    return 0;
}
