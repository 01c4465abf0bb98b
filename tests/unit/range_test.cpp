// The Range header of GET /files/{id}/content (RFC 9110 §14.1.2, one range only).
#include <gtest/gtest.h>

#include <string>

#include "storage/headers.hpp"

namespace kiln::storage {
namespace {

std::string shown(const RangeRequest& r) {
    if (r.whole) return "whole";
    if (!r.range) return "416";
    return std::to_string(r.range->first) + "-" + (r.range->last ? std::to_string(*r.range->last) : "end");
}

TEST(RangeHeader, FirstLastOpenAndSuffixRanges) {
    EXPECT_EQ(shown(parse_range("bytes=0-9", 100)), "0-9");
    EXPECT_EQ(shown(parse_range("bytes=10-", 100)), "10-99");
    EXPECT_EQ(shown(parse_range("bytes=90-200", 100)), "90-99");  // the end is clipped
    EXPECT_EQ(shown(parse_range("bytes=-10", 100)), "90-99");
    EXPECT_EQ(shown(parse_range("bytes=-1000", 100)), "0-99");
    EXPECT_EQ(shown(parse_range("bytes=99-99", 100)), "99-99");
}

TEST(RangeHeader, UnsatisfiableRangesAre416) {
    EXPECT_EQ(shown(parse_range("bytes=100-", 100)), "416");
    EXPECT_EQ(shown(parse_range("bytes=-0", 100)), "416");
    EXPECT_EQ(shown(parse_range("bytes=-5", 0)), "416");
    EXPECT_EQ(shown(parse_range("bytes=0-", 0)), "416");
}

TEST(RangeHeader, WhatIsNotOneValidRangeMeansTheWholeFile) {
    EXPECT_EQ(shown(parse_range("", 100)), "whole");
    EXPECT_EQ(shown(parse_range("items=0-9", 100)), "whole");
    EXPECT_EQ(shown(parse_range("bytes=0-9,20-29", 100)), "whole");  // no multipart/byteranges
    EXPECT_EQ(shown(parse_range("bytes=9-0", 100)), "whole");        // last before first
    EXPECT_EQ(shown(parse_range("bytes=-", 100)), "whole");
    EXPECT_EQ(shown(parse_range("bytes=5", 100)), "whole");
    EXPECT_EQ(shown(parse_range("bytes=a-9", 100)), "whole");
    EXPECT_EQ(shown(parse_range("bytes=0-9x", 100)), "whole");
    EXPECT_EQ(shown(parse_range("bytes=+1-9", 100)), "whole");
    EXPECT_EQ(shown(parse_range("bytes=0-99999999999999999999", 100)), "whole");  // overflows
}

}  // namespace
}  // namespace kiln::storage
