#pragma once
// API keys on the wire: "kiln_<prefix>_<secret>". The prefix (12 of [a-z0-9]) finds the stored
// row; the SHA-256 of the whole key must match the stored hash. Keys are 256-bit random, so a
// fast hash is enough (there is nothing to brute-force, unlike a password).
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/model.hpp"
#include "core/crypto.hpp"

namespace kiln::auth {

inline constexpr std::string_view kApiKeyScheme = "kiln_";

struct NewApiKey {
    std::string key;
    std::string prefix;
    core::Digest hash{};
};

NewApiKey generate_api_key();

// The prefix of a well-formed key; nullopt for anything else.
std::optional<std::string_view> api_key_prefix(std::string_view key);

// Recently verified keys, so that a key costs no extra round trip on every request. Only the
// lookup is cached: each request still checks the key live (revocation, expiry, role) in its
// own first batch, so an entry can never outlive a revocation.
class ApiKeyCache {
public:
    explicit ApiKeyCache(std::chrono::seconds ttl = std::chrono::seconds(30), std::size_t capacity = 10000)
        : ttl_(ttl), capacity_(capacity) {}

    std::optional<Principal> find(const core::Digest& hash);
    void put(const core::Digest& hash, const Principal& p);

private:
    struct Entry {
        Principal principal;
        std::chrono::steady_clock::time_point expires;
    };
    std::chrono::seconds ttl_;
    std::size_t capacity_;
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace kiln::auth
