#include "auth/jwt.hpp"

#include <boost/json.hpp>
#include <stdexcept>

#include "core/crypto.hpp"

namespace json = boost::json;

namespace kiln::auth {

namespace {

// Tolerated clock difference between servers, for "nbf" only; "exp" is exact.
constexpr std::int64_t kSkew = 30;

std::string kid_of(const std::string& secret) {
    return core::to_hex(core::sha256("kiln-jwt-kid:" + secret)).substr(0, 16);
}

std::string sign(const std::string& secret, std::string_view signing_input) {
    return core::base64url_encode(core::as_bytes(core::hmac_sha256(secret, signing_input)));
}

std::optional<json::object> decode_object(std::string_view part) {
    auto text = core::base64url_decode(part);
    if (!text) return std::nullopt;
    boost::system::error_code ec;
    auto v = json::parse(*text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

std::optional<std::string> string_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return std::string(v->get_string());
}

std::optional<std::int64_t> int_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || !v->is_int64()) return std::nullopt;
    return v->get_int64();
}

std::optional<core::Uuid> uuid_at(const json::object& o, std::string_view key) {
    auto s = string_at(o, key);
    return s ? core::Uuid::parse(*s) : std::nullopt;
}

}  // namespace

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Jwt::Jwt(std::string key, std::string previous_key, std::string issuer, std::string audience, std::chrono::seconds ttl)
    : issuer_(std::move(issuer)), audience_(std::move(audience)), ttl_(ttl) {
    if (key.size() < 32) throw std::invalid_argument("the JWT signing key must be at least 32 characters");
    keys_.push_back({kid_of(key), std::move(key)});
    if (!previous_key.empty()) keys_.push_back({kid_of(previous_key), std::move(previous_key)});
}

std::string Jwt::issue(Claims c, std::int64_t now) const {
    const auto& key = keys_.front();
    const json::object header{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", key.kid}};
    const json::object payload{
        {"iss", issuer_},           {"aud", audience_}, {"sub", c.user.str()}, {"wid", c.workspace.str()},
        {"sid", c.session.str()},   {"role", c.role},   {"iat", now},          {"nbf", now},
        {"exp", now + ttl_.count()}};
    std::string input =
        core::base64url_encode(json::serialize(header)) + "." + core::base64url_encode(json::serialize(payload));
    std::string signature = sign(key.secret, input);
    return input + "." + signature;
}

std::optional<Claims> Jwt::verify(std::string_view token, std::int64_t now) const {
    const auto first = token.find('.');
    const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
    const auto header = decode_object(token.substr(0, first));
    if (!header || string_at(*header, "alg") != "HS256") return std::nullopt;
    const auto kid = string_at(*header, "kid");
    const Key* key = nullptr;
    for (const auto& k : keys_) {
        if (kid == k.kid) key = &k;
    }
    if (key == nullptr) return std::nullopt;
    const auto input = token.substr(0, second);
    if (!core::equal_constant_time(sign(key->secret, input), token.substr(second + 1))) return std::nullopt;

    const auto payload = decode_object(token.substr(first + 1, second - first - 1));
    if (!payload || string_at(*payload, "iss") != issuer_ || string_at(*payload, "aud") != audience_) {
        return std::nullopt;
    }
    Claims c;
    const auto user = uuid_at(*payload, "sub");
    const auto workspace = uuid_at(*payload, "wid");
    const auto session = uuid_at(*payload, "sid");
    const auto role = string_at(*payload, "role");
    const auto iat = int_at(*payload, "iat");
    const auto nbf = int_at(*payload, "nbf");
    const auto exp = int_at(*payload, "exp");
    if (!user || !workspace || !session || !role || !iat || !nbf || !exp) return std::nullopt;
    if (*exp <= now || *nbf > now + kSkew) return std::nullopt;
    c.user = *user;
    c.workspace = *workspace;
    c.session = *session;
    c.role = *role;
    c.issued_at = *iat;
    c.not_before = *nbf;
    c.expires_at = *exp;
    return c;
}

}  // namespace kiln::auth
