#include "core/uuid.hpp"

#include <gtest/gtest.h>

#include <set>

namespace kiln::core {
namespace {

TEST(Uuid, V7HasVersionAndVariant) {
    const auto id = Uuid::v7();
    EXPECT_EQ(id.version(), 7);
    EXPECT_EQ(id.bytes()[8] & 0xC0, 0x80);
    const auto s = id.str();
    ASSERT_EQ(s.size(), 36U);
    EXPECT_EQ(s[14], '7');
}

TEST(Uuid, V7SortsByTime) {
    const auto t = std::chrono::system_clock::now();
    const auto earlier = Uuid::v7_at(t);
    const auto later = Uuid::v7_at(t + std::chrono::milliseconds(1));
    EXPECT_LT(earlier, later);
    EXPECT_LT(earlier.str(), later.str());
}

TEST(Uuid, V7IsUnique) {
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) seen.insert(Uuid::v7().str());
    EXPECT_EQ(seen.size(), 10000U);
}

TEST(Uuid, ParseRoundTrips) {
    const auto id = Uuid::v7();
    EXPECT_EQ(Uuid::parse(id.str()), id);
    EXPECT_EQ(Uuid::parse("0190A2B4-0000-7000-8000-00000000000A")->str(), "0190a2b4-0000-7000-8000-00000000000a");
}

TEST(Uuid, ParseRejectsMalformed) {
    EXPECT_FALSE(Uuid::parse(""));
    EXPECT_FALSE(Uuid::parse("not-a-uuid"));
    EXPECT_FALSE(Uuid::parse("0190a2b4-0000-7000-8000-00000000000"));
    EXPECT_FALSE(Uuid::parse("0190a2b4x0000-7000-8000-00000000000a"));
    EXPECT_FALSE(Uuid::parse("0190a2b4-0000-7000-8000-00000000000g"));
}

}  // namespace
}  // namespace kiln::core
