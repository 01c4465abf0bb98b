#include "core/uuid.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

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

// Keyset pages list rows by id: ids made one after another, even in the same millisecond and
// from several threads, must sort in the order they were made.
TEST(Uuid, V7IncreasesWithinAMillisecond) {
    std::vector<Uuid> ids(10000);
    for (auto& id : ids) id = Uuid::v7();
    for (std::size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]) << "at " << i;
    const auto ms_of = [](const Uuid& id) {
        return std::vector<std::uint8_t>(id.bytes().begin(), id.bytes().begin() + 6);
    };
    int same_ms = 0;
    for (std::size_t i = 1; i < ids.size(); ++i) same_ms += ms_of(ids[i - 1]) == ms_of(ids[i]) ? 1 : 0;
    EXPECT_GT(same_ms, 0) << "ids in a row share their millisecond, the case that needs the fraction";
    EXPECT_EQ(ids.back().version(), 7);
    EXPECT_EQ(ids.back().bytes()[8] & 0xC0, 0x80);
}

TEST(Uuid, V7AcrossThreadsStaysOrderedPerThread) {
    std::vector<std::vector<Uuid>> per_thread(4, std::vector<Uuid>(5000));
    std::vector<std::thread> threads;
    threads.reserve(per_thread.size());
    for (auto& ids : per_thread) {
        threads.emplace_back([&ids] {
            for (auto& id : ids) id = Uuid::v7();
        });
    }
    for (auto& t : threads) t.join();
    std::set<Uuid> all;
    for (const auto& ids : per_thread) {
        for (std::size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]);
        all.insert(ids.begin(), ids.end());
    }
    EXPECT_EQ(all.size(), 20000U);
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
