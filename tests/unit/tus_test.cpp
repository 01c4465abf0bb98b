// Upload-Metadata as tus 1.0 defines it: comma-separated `key base64value` pairs.
#include <gtest/gtest.h>

#include "storage/headers.hpp"

namespace kiln::storage {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(TusMetadata, PairsDecodeAndAValueMayBeAbsent) {
    // "world_domination_plan.pdf", "application/pdf" as the spec's example has them.
    EXPECT_EQ(parse_tus_metadata("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential"),
              (Pairs{{"filename", "world_domination_plan.pdf"}, {"is_confidential", ""}}));
    EXPECT_EQ(parse_tus_metadata("filename YS5iaW4=, filetype YXBwbGljYXRpb24vcGRm"),
              (Pairs{{"filename", "a.bin"}, {"filetype", "application/pdf"}}));
    EXPECT_EQ(parse_tus_metadata(""), Pairs{});
    EXPECT_EQ(parse_tus_metadata("name 8J+Ygi50eHQ="), (Pairs{{"name", "\xF0\x9F\x98\x82.txt"}}));
}

TEST(TusMetadata, MalformedIsRefused) {
    EXPECT_FALSE(parse_tus_metadata("filename not base64!"));
    EXPECT_FALSE(parse_tus_metadata("filename YQ"));  // unpadded
    EXPECT_FALSE(parse_tus_metadata("filename YQ==,filename Yg=="));
    EXPECT_FALSE(parse_tus_metadata("fil\x01name YQ=="));
}

}  // namespace
}  // namespace kiln::storage
