#pragma once
// Thin wrappers over libsodium for what tokens need: randomness, hashes, MACs, base64url.
#include <sodium/crypto_hash_sha256.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::core {

using Digest = std::array<std::uint8_t, 32>;

// Initialises libsodium; call once before any other crypto.
void init_crypto();

// `bytes` random bytes from the OS CSPRNG, base64url without padding.
std::string random_token(std::size_t bytes);
Digest sha256(std::string_view data);
// SHA-256 over data that arrives in pieces (a streamed upload).
class Sha256 {
public:
    Sha256();
    void update(std::string_view data);
    Digest finish();

private:
    crypto_hash_sha256_state state_{};
};
Digest hmac_sha256(std::string_view key, std::string_view data);
std::string to_hex(const Digest& d);
std::string_view as_bytes(const Digest& d);
std::string base64url_encode(std::string_view data);
// nullopt for anything but unpadded base64url.
std::optional<std::string> base64url_decode(std::string_view text);
std::string base64_encode(std::string_view data);  // standard, padded
// Standard base64 (RFC 4648 §4, padded, as base64(1) writes it); nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text);
// Compares in time that depends only on the lengths.
bool equal_constant_time(std::string_view a, std::string_view b);

}  // namespace kiln::core
