#pragma once
// Access tokens: JWTs signed with HS256 under a generated key. The algorithm is pinned (the
// header's "alg" must say HS256; nothing is chosen from it), iss/aud/exp/nbf are checked and
// "kid" names the key, so a previous key keeps verifying while the tokens it signed live.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/uuid.hpp"

namespace kiln::auth {

struct Claims {
    core::Uuid user;
    core::Uuid workspace;
    core::Uuid session;
    std::string role;
    std::int64_t issued_at = 0;  // seconds since the epoch
    std::int64_t not_before = 0;
    std::int64_t expires_at = 0;
};

class Jwt {
public:
    // `key` signs and verifies; `previous_key` (may be empty) only verifies.
    Jwt(std::string key, std::string previous_key, std::string issuer, std::string audience, std::chrono::seconds ttl);

    // Signs the claims with issued_at = not_before = now and expires_at = now + ttl.
    std::string issue(Claims claims, std::int64_t now) const;
    std::optional<Claims> verify(std::string_view token, std::int64_t now) const;
    std::chrono::seconds ttl() const noexcept { return ttl_; }

private:
    struct Key {
        std::string kid;
        std::string secret;
    };
    std::vector<Key> keys_;  // the signing key first
    std::string issuer_;
    std::string audience_;
    std::chrono::seconds ttl_;
};

std::int64_t unix_now();

}  // namespace kiln::auth
