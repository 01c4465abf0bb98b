#include "auth/api_key.hpp"

#include <sodium.h>

namespace kiln::auth {

namespace {
constexpr std::size_t kPrefixLength = 12;
constexpr std::size_t kSecretBytes = 32;
constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

bool is_prefix_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
}  // namespace

NewApiKey generate_api_key() {
    NewApiKey k;
    k.prefix.reserve(kPrefixLength);
    for (std::size_t i = 0; i < kPrefixLength; ++i) {
        k.prefix.push_back(kAlphabet[randombytes_uniform(static_cast<std::uint32_t>(kAlphabet.size()))]);
    }
    k.key = std::string(kApiKeyScheme) + k.prefix + "_" + core::random_token(kSecretBytes);
    k.hash = core::sha256(k.key);
    return k;
}

std::optional<std::string_view> api_key_prefix(std::string_view key) {
    constexpr std::size_t kMaxKey = 128;
    if (key.size() > kMaxKey || !key.starts_with(kApiKeyScheme)) return std::nullopt;
    key.remove_prefix(kApiKeyScheme.size());
    if (key.size() < kPrefixLength + 2 || key[kPrefixLength] != '_') return std::nullopt;
    const auto prefix = key.substr(0, kPrefixLength);
    for (const char c : prefix) {
        if (!is_prefix_char(c)) return std::nullopt;
    }
    return prefix;
}

std::optional<Principal> ApiKeyCache::find(const core::Digest& hash) {
    const std::lock_guard lock(mutex_);
    const auto it = entries_.find(std::string(core::as_bytes(hash)));
    if (it == entries_.end()) return std::nullopt;
    if (it->second.expires <= std::chrono::steady_clock::now()) {
        entries_.erase(it);
        return std::nullopt;
    }
    return it->second.principal;
}

void ApiKeyCache::put(const core::Digest& hash, const Principal& p) {
    const std::lock_guard lock(mutex_);
    // Bounded without bookkeeping: a full cache starts over (keys are looked up again).
    if (entries_.size() >= capacity_) entries_.clear();
    entries_[std::string(core::as_bytes(hash))] = Entry{p, std::chrono::steady_clock::now() + ttl_};
}

}  // namespace kiln::auth
