// Access tokens: what is accepted and, mostly, what is not.
#include "auth/jwt.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/crypto.hpp"

namespace kiln::auth {
namespace {

const std::string kKey(40, 'k');
const std::string kOtherKey(40, 'o');
constexpr std::int64_t kNow = 1'800'000'000;

Claims sample() {
    return {.user = *core::Uuid::parse("0190a2b4-0000-7000-8000-000000000001"),
            .workspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-000000000002"),
            .session = *core::Uuid::parse("0190a2b4-0000-7000-8000-000000000003"),
            .role = "admin"};
}

Jwt jwt(const std::string& key = kKey, const std::string& previous = {}) {
    return {key, previous, "kiln", "kiln-api", std::chrono::seconds(900)};
}

// Re-encodes one part of a token after changing its JSON, keeping the original signature.
std::string with_part(const std::string& token, int part, const boost::json::object& replacement) {
    const auto a = token.find('.');
    const auto b = token.find('.', a + 1);
    const auto encoded = core::base64url_encode(boost::json::serialize(replacement));
    if (part == 0) return encoded + token.substr(a);
    return token.substr(0, a + 1) + encoded + token.substr(b);
}

boost::json::object part_of(const std::string& token, int part) {
    const auto a = token.find('.');
    const auto b = token.find('.', a + 1);
    const auto text = part == 0 ? token.substr(0, a) : token.substr(a + 1, b - a - 1);
    return boost::json::parse(*core::base64url_decode(text)).as_object();
}

TEST(Jwt, RoundTripsItsClaims) {
    const auto token = jwt().issue(sample(), kNow);
    const auto c = jwt().verify(token, kNow + 10);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->user, sample().user);
    EXPECT_EQ(c->workspace, sample().workspace);
    EXPECT_EQ(c->session, sample().session);
    EXPECT_EQ(c->role, "admin");
    EXPECT_EQ(c->expires_at - c->issued_at, 900);
}

TEST(Jwt, HeaderNamesAlgorithmAndKey) {
    const auto header = part_of(jwt().issue(sample(), kNow), 0);
    EXPECT_EQ(header.at("alg"), "HS256");
    EXPECT_EQ(header.at("typ"), "JWT");
    EXPECT_TRUE(header.at("kid").is_string());
}

TEST(Jwt, ExpiresExactly) {
    const auto token = jwt().issue(sample(), kNow);
    EXPECT_TRUE(jwt().verify(token, kNow + 899));
    EXPECT_FALSE(jwt().verify(token, kNow + 900));
}

TEST(Jwt, NotBeforeAllowsSmallClockSkewOnly) {
    const auto token = jwt().issue(sample(), kNow);
    EXPECT_TRUE(jwt().verify(token, kNow - 30));
    EXPECT_FALSE(jwt().verify(token, kNow - 31));
}

TEST(Jwt, RefusesAnotherKey) {
    EXPECT_FALSE(jwt(kOtherKey).verify(jwt().issue(sample(), kNow), kNow));
}

TEST(Jwt, PreviousKeyStillVerifiesAfterRotation) {
    const auto old_token = jwt(kOtherKey).issue(sample(), kNow);
    const auto rotated = jwt(kKey, kOtherKey);
    EXPECT_TRUE(rotated.verify(old_token, kNow));
    EXPECT_TRUE(rotated.verify(rotated.issue(sample(), kNow), kNow));
    // Once the previous key is dropped its tokens are refused.
    EXPECT_FALSE(jwt(kKey).verify(old_token, kNow));
}

TEST(Jwt, RefusesATamperedPayload) {
    const auto token = jwt().issue(sample(), kNow);
    auto payload = part_of(token, 1);
    payload["role"] = "owner";
    EXPECT_FALSE(jwt().verify(with_part(token, 1, payload), kNow));
}

TEST(Jwt, AlgorithmIsPinned) {
    const auto token = jwt().issue(sample(), kNow);
    for (const char* alg : {"none", "HS512", "RS256", "hs256"}) {
        auto header = part_of(token, 0);
        header["alg"] = alg;
        EXPECT_FALSE(jwt().verify(with_part(token, 0, header), kNow)) << alg;
    }
    // alg "none" with an empty signature.
    auto header = part_of(token, 0);
    header["alg"] = "none";
    auto unsigned_token = with_part(token, 0, header);
    unsigned_token = unsigned_token.substr(0, unsigned_token.rfind('.') + 1);
    EXPECT_FALSE(jwt().verify(unsigned_token, kNow));
}

TEST(Jwt, ChecksIssuerAndAudience) {
    const auto token = jwt().issue(sample(), kNow);
    EXPECT_FALSE(Jwt(kKey, {}, "someone-else", "kiln-api", std::chrono::seconds(900)).verify(token, kNow));
    EXPECT_FALSE(Jwt(kKey, {}, "kiln", "other-api", std::chrono::seconds(900)).verify(token, kNow));
}

TEST(Jwt, RefusesMalformedTokens) {
    for (const char* t : {"", ".", "..", "a.b", "a.b.c.d", "not a token", "e30.e30.", "e30.e30.e30"}) {
        EXPECT_FALSE(jwt().verify(t, kNow)) << t;
    }
}

TEST(Jwt, RefusesShortKeys) {
    EXPECT_THROW(jwt(std::string(31, 'k')), std::invalid_argument);
}

}  // namespace
}  // namespace kiln::auth
