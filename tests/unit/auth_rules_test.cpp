// Field rules of accounts: the password policy, emails, names and usernames.
#include <gtest/gtest.h>

#include "auth/model.hpp"
#include "auth/password.hpp"
#include "core/crypto.hpp"

namespace kiln::auth {
namespace {

std::vector<std::string> password_errors(std::string_view password, std::string_view email = "ann@example.com",
                                         std::string_view name = "Ann Smith") {
    core::Validator v;
    check_password_policy(v, "password", password, email, name);
    std::vector<std::string> out;
    try {
        v.throw_if_failed();
    } catch (const core::Problem& p) {
        for (const auto& e : p.errors()) out.push_back(e.field + ": " + e.message);
    }
    return out;
}

TEST(PasswordPolicy, LengthIsCountedInCharacters) {
    EXPECT_EQ(password_errors("9 letters").size(), 1U);
    EXPECT_TRUE(password_errors("ten chars!").empty());
    EXPECT_TRUE(password_errors(std::string(128, 'x')).empty());
    EXPECT_EQ(password_errors(std::string(129, 'x')).size(), 1U);
    // Ten two-byte characters are ten characters.
    EXPECT_TRUE(password_errors("éééééééééé").empty());
}

TEST(PasswordPolicy, RefusesEmailNameAndLocalPart) {
    EXPECT_EQ(password_errors("ANN@example.com").size(), 1U);
    EXPECT_EQ(password_errors("Ann Smith Jr", "x@example.com", "Ann Smith Jr").size(), 1U);
    EXPECT_EQ(password_errors("my-annabelle-secret", "annabelle@example.com").size(), 1U);
    // A local part shorter than 4 characters is too common a substring to refuse.
    EXPECT_TRUE(password_errors("bob is a builder", "bob@example.com", "Robert").empty());
}

TEST(PasswordPolicy, RefusesCommonPasswordsWhateverTheCase) {
    for (const char* p : {"1234567890", "qwertyuiop", "password123", "PASSWORD123", "iloveyou12"}) {
        EXPECT_EQ(password_errors(p).size(), 1U) << p;
    }
    EXPECT_TRUE(password_errors("correct horse battery staple").empty());
}

std::vector<std::string> field_errors(void (*check)(core::Validator&, const std::string&, const std::string&),
                                      const std::string& value) {
    core::Validator v;
    check(v, "f", value);
    return v.ok() ? std::vector<std::string>{} : std::vector<std::string>{"bad"};
}

TEST(AccountFields, Emails) {
    for (const char* ok : {"a@b.co", " Ann@Example.COM ", "first.last+tag@sub.example.org"}) {
        EXPECT_TRUE(field_errors(check_email, ok).empty()) << ok;
    }
    for (const char* bad :
         {"", "ann", "@example.com", "ann@", "ann@example", "a@b@c.com", "an n@example.com", "ann@example.com."}) {
        EXPECT_FALSE(field_errors(check_email, bad).empty()) << bad;
    }
    EXPECT_EQ(normalize_email("  Ann@Example.COM "), "ann@example.com");
}

TEST(AccountFields, NamesAndUsernames) {
    EXPECT_FALSE(field_errors(check_name, "   ").empty());
    EXPECT_TRUE(field_errors(check_name, "Ann").empty());
    EXPECT_FALSE(field_errors(check_name, std::string(201, 'a')).empty());
    EXPECT_TRUE(field_errors(check_username, "ann_s.1-x").empty());
    for (const std::string& bad :
         {std::string("an"), std::string("ann smith"), std::string("ann@x"), std::string(41, 'a')}) {
        EXPECT_FALSE(field_errors(check_username, bad).empty()) << bad;
    }
}

TEST(Crypto, Base64UrlRoundTripsAndRefusesPadding) {
    const std::string raw("\x00\xff\xfe binary", 10);
    const auto enc = core::base64url_encode(raw);
    EXPECT_EQ(enc.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(core::base64url_decode(enc), raw);
    EXPECT_FALSE(core::base64url_decode("AAA="));
    EXPECT_FALSE(core::base64url_decode("a+b/"));
}

TEST(Crypto, HmacMatchesRfc4231Case2) {
    const auto mac = core::hmac_sha256("Jefe", "what do ya want for nothing?");
    EXPECT_EQ(core::to_hex(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, RandomTokensAreDistinctAndUrlSafe) {
    const auto a = core::random_token(32);
    const auto b = core::random_token(32);
    EXPECT_NE(a, b);
    EXPECT_EQ(a.size(), 43U);
    EXPECT_EQ(a.find_first_of("+/="), std::string::npos);
}

}  // namespace
}  // namespace kiln::auth
