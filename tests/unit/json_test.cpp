#include "http/json.hpp"

#include <gtest/gtest.h>

namespace kiln::http {

struct Address {
    std::string city;
    std::optional<std::string> zip;
};
BOOST_DESCRIBE_STRUCT(Address, (), (city, zip))

struct Signup {
    std::string email;
    int age = 0;
    bool admin = false;
    std::optional<core::Uuid> team;
    std::vector<std::string> tags;
    Address address;

    void validate(core::Validator& v) const {
        v.require(email.find('@') != std::string::npos, "email", "must be an email address");
        v.require(age >= 13, "age", "must be at least 13");
    }
};
BOOST_DESCRIBE_STRUCT(Signup, (), (email, age, admin, team, tags, address))

namespace {

std::vector<core::FieldError> errors_of(const json::value& v) {
    try {
        bind<Signup>(v);
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 422);
        return p.errors();
    }
    ADD_FAILURE() << "expected a 422 Problem";
    return {};
}

bool has(const std::vector<core::FieldError>& errors, const std::string& field) {
    return std::ranges::any_of(errors, [&](const core::FieldError& e) { return e.field == field; });
}

TEST(JsonBinding, BindsAValidDocument) {
    auto s = bind<Signup>(parse_json(
        R"({"email":"a@b.c","age":30,"admin":true,"team":"0190a2b4-0000-7000-8000-00000000000a","tags":["x"],"address":{"city":"Pune"}})"));
    EXPECT_EQ(s.email, "a@b.c");
    EXPECT_EQ(s.age, 30);
    EXPECT_TRUE(s.admin);
    ASSERT_TRUE(s.team);
    EXPECT_EQ(s.team->str(), "0190a2b4-0000-7000-8000-00000000000a");
    EXPECT_EQ(s.tags, std::vector<std::string>{"x"});
    EXPECT_EQ(s.address.city, "Pune");
    EXPECT_FALSE(s.address.zip);
}

TEST(JsonBinding, ReportsEveryBadFieldOnce) {
    const auto errors =
        errors_of(parse_json(R"({"email":5,"age":"old","admin":1,"team":"nope","tags":[1],"address":{}})"));
    EXPECT_TRUE(has(errors, "email"));
    EXPECT_TRUE(has(errors, "age"));
    EXPECT_TRUE(has(errors, "admin"));
    EXPECT_TRUE(has(errors, "team"));
    EXPECT_TRUE(has(errors, "tags[0]"));
    EXPECT_TRUE(has(errors, "address.city"));
    EXPECT_EQ(errors.size(), 6U);
}

TEST(JsonBinding, MissingRequiredFields) {
    const auto errors = errors_of(parse_json("{}"));
    EXPECT_TRUE(has(errors, "email"));
    EXPECT_TRUE(has(errors, "address"));
    EXPECT_FALSE(has(errors, "team")) << "optional";
}

TEST(JsonBinding, UnknownFieldsAreRefused) {
    const auto errors = errors_of(
        parse_json(R"({"email":"a@b.c","age":30,"admin":false,"tags":[],"address":{"city":"x"},"emial":"typo"})"));
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_EQ(errors[0].field, "emial");
}

TEST(JsonBinding, RulesRunAfterTypesPass) {
    const auto errors =
        errors_of(parse_json(R"({"email":"nobody","age":3,"admin":false,"tags":[],"address":{"city":"x"}})"));
    EXPECT_TRUE(has(errors, "email"));
    EXPECT_TRUE(has(errors, "age"));
}

TEST(JsonBinding, IntegerRange) {
    const auto errors =
        errors_of(parse_json(R"({"email":"a@b.c","age":99999999999,"admin":false,"tags":[],"address":{"city":"x"}})"));
    ASSERT_TRUE(has(errors, "age"));
    EXPECT_EQ(errors[0].message, "is out of range");
}

// Integers written as doubles: whole ones bind, others are "not an integer", and one beyond what
// an int64 holds is refused before any conversion (converting 1e82 was undefined behaviour, found
// by fuzz/json_bind under UBSan).
TEST(JsonBinding, IntegersWrittenAsDoubles) {
    const auto doc = [](const std::string& age) {
        return parse_json(R"({"email":"a@b.c","age":)" + age + R"(,"admin":false,"tags":[],"address":{"city":"x"}})");
    };
    EXPECT_EQ(bind<Signup>(doc("30.0")).age, 30);
    EXPECT_EQ(bind<Signup>(doc("3e1")).age, 30);
    for (const auto* bad : {"30.5", "1e82", "-1e82", "9223372036854775808.0", "1e308"}) {
        const auto errors = errors_of(doc(bad));
        ASSERT_TRUE(has(errors, "age")) << bad;
        EXPECT_EQ(errors[0].message, "must be an integer") << bad;
    }
    EXPECT_EQ(errors_of(doc("4294967296.0"))[0].message, "is out of range");  // an int64, not an int
}

TEST(JsonBinding, NotAnObject) {
    const auto errors = errors_of(parse_json("[1,2]"));
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_EQ(errors[0].field, "body");
}

TEST(JsonBinding, MalformedJsonIs400) {
    try {
        parse_json(R"({"email": )");
        FAIL();
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 400);
    }
}

TEST(JsonBinding, DeepNestingIs400) {
    EXPECT_THROW(parse_json(std::string(1000, '[') + std::string(1000, ']')), core::Problem);
}

TEST(JsonBinding, BodyNeedsJsonContentType) {
    Header h;
    h.set(beast_http::field::content_type, "text/plain");
    Request req(h, "{}");
    try {
        parse_json_body(req);
        FAIL();
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 415);
    }
    h.set(beast_http::field::content_type, "application/json; charset=utf-8");
    Request ok(h, R"({"a":1})");
    EXPECT_EQ(parse_json_body(ok).at("a").as_int64(), 1);
}

TEST(JsonBinding, EncodesDescribedStructs) {
    Signup s{"a@b.c", 30, false, std::nullopt, {"x", "y"}, {"Pune", "411001"}};
    const auto v = to_json(s);
    EXPECT_EQ(v.at("email").as_string(), "a@b.c");
    EXPECT_TRUE(v.at("team").is_null());
    EXPECT_EQ(v.at("tags").as_array().size(), 2U);
    EXPECT_EQ(v.at("address").at("zip").as_string(), "411001");
}

TEST(JsonBinding, SchemaFollowsTheStruct) {
    const auto schema = json_schema<Signup>();
    EXPECT_EQ(schema.at("type").as_string(), "object");
    EXPECT_EQ(schema.at("properties").at("age").at("type").as_string(), "integer");
    EXPECT_EQ(schema.at("properties").at("team").at("format").as_string(), "uuid");
    EXPECT_EQ(schema.at("properties").at("tags").at("items").at("type").as_string(), "string");
    EXPECT_EQ(schema.at("properties").at("address").at("properties").at("city").at("type").as_string(), "string");
    const auto& required = schema.at("required").as_array();
    EXPECT_NE(std::find(required.begin(), required.end(), json::value("email")), required.end());
    EXPECT_EQ(std::find(required.begin(), required.end(), json::value("team")), required.end());
}

}  // namespace
}  // namespace kiln::http
