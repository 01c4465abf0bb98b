#include "jobs/cron.hpp"

#include <gtest/gtest.h>

namespace kiln::jobs {
namespace {

CivilMinute at(int y, int mo, int d, int h, int mi) {
    return {y, mo, d, h, mi};
}

std::string next(std::string_view expr, CivilMinute after) {
    const auto c = Cron::parse(expr);
    if (!c) return "invalid";
    const auto n = c->next(after);
    return n ? n->str() : "never";
}

TEST(Cron, EveryMinuteIsTheNextMinute) {
    EXPECT_EQ(next("* * * * *", at(2026, 12, 31, 23, 59)), "2027-01-01 00:00");
}

TEST(Cron, StepsListsAndRanges) {
    EXPECT_EQ(next("*/15 * * * *", at(2026, 1, 1, 10, 15)), "2026-01-01 10:30");
    EXPECT_EQ(next("5,35 9-17 * * *", at(2026, 1, 1, 17, 35)), "2026-01-02 09:05");
    EXPECT_EQ(next("10/20 * * * *", at(2026, 1, 1, 0, 31)), "2026-01-01 00:50");
}

TEST(Cron, NamesAndSundayAsSeven) {
    // 2026-11-22 is a Sunday.
    EXPECT_EQ(next("0 9 * * mon-fri", at(2026, 11, 21, 12, 0)), "2026-11-23 09:00");
    EXPECT_EQ(next("0 0 * * 7", at(2026, 11, 20, 0, 0)), "2026-11-22 00:00");
    EXPECT_EQ(next("0 0 1 JAN *", at(2026, 6, 1, 0, 0)), "2027-01-01 00:00");
}

TEST(Cron, EitherDayFieldMatchesWhenBothAreSet) {
    // The 13th, or any Friday: the first after 2026-11-01 is Friday the 6th.
    EXPECT_EQ(next("0 0 13 * fri", at(2026, 11, 1, 0, 0)), "2026-11-06 00:00");
}

TEST(Cron, LeapDaysAndImpossibleDates) {
    EXPECT_EQ(next("0 0 29 2 *", at(2026, 3, 1, 0, 0)), "2028-02-29 00:00");
    EXPECT_EQ(next("0 0 30 2 *", at(2026, 3, 1, 0, 0)), "never");
}

TEST(Cron, Shorthands) {
    EXPECT_EQ(next("@hourly", at(2026, 1, 1, 10, 0)), "2026-01-01 11:00");
    EXPECT_EQ(next("@daily", at(2026, 1, 1, 10, 0)), "2026-01-02 00:00");
    EXPECT_EQ(next("@weekly", at(2026, 11, 22, 0, 0)), "2026-11-29 00:00");
}

TEST(Cron, InvalidExpressionsSayWhy) {
    std::string why;
    EXPECT_FALSE(Cron::parse("* * * *", &why));
    EXPECT_NE(why.find("five fields"), std::string::npos);
    EXPECT_FALSE(Cron::parse("60 * * * *", &why));
    EXPECT_NE(why.find("minute"), std::string::npos);
    EXPECT_FALSE(Cron::parse("* * * foo *", &why));
    EXPECT_NE(why.find("month"), std::string::npos);
    EXPECT_FALSE(Cron::parse("*/0 * * * *", &why));
    EXPECT_FALSE(Cron::parse("5-1 * * * *", &why));
}

TEST(Cron, CivilMinuteRoundTrips) {
    const auto t = CivilMinute::parse("2026-03-08 02:30");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->str(), "2026-03-08 02:30");
    EXPECT_FALSE(CivilMinute::parse("2026-03-08T02:30"));
}

}  // namespace
}  // namespace kiln::jobs
