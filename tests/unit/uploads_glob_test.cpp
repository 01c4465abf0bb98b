// The include/exclude patterns of a sync: fnmatch(3) per path segment plus `**`.
#include <gtest/gtest.h>

#include "modules/uploads/scan.hpp"

namespace kiln::uploads {
namespace {

TEST(UploadsGlob, AStarStaysWithinASegment) {
    EXPECT_TRUE(glob_match("*.txt", "a.txt"));
    EXPECT_FALSE(glob_match("*.txt", "dir/a.txt"));
    EXPECT_TRUE(glob_match("dir/*.txt", "dir/a.txt"));
    EXPECT_FALSE(glob_match("dir/*.txt", "dir/sub/a.txt"));
    EXPECT_FALSE(glob_match("a?b", "a/b"));
    EXPECT_TRUE(glob_match("a?b", "axb"));
    EXPECT_FALSE(glob_match("*", "a/b"));
}

TEST(UploadsGlob, DoubleStarSpansAnyNumberOfSegments) {
    EXPECT_TRUE(glob_match("**/*.txt", "a.txt"));
    EXPECT_TRUE(glob_match("**/*.txt", "d/a.txt"));
    EXPECT_TRUE(glob_match("**/*.txt", "d/e/f/a.txt"));
    EXPECT_FALSE(glob_match("**/*.txt", "d/e/a.jpg"));
    EXPECT_TRUE(glob_match("raw/**", "raw/a"));
    EXPECT_TRUE(glob_match("raw/**", "raw/x/y/z"));
    EXPECT_TRUE(glob_match("raw/**", "raw"));  // zero segments, as documented
    EXPECT_FALSE(glob_match("raw/**", "rawer/a"));
    EXPECT_TRUE(glob_match("a/**/b", "a/b"));
    EXPECT_TRUE(glob_match("a/**/b", "a/x/b"));
    EXPECT_TRUE(glob_match("a/**/b", "a/x/y/b"));
    EXPECT_FALSE(glob_match("a/**/b", "a/x/c"));
    EXPECT_TRUE(glob_match("**", "anything/at/all"));
    EXPECT_TRUE(glob_match("**/**/x", "x"));
    EXPECT_TRUE(glob_match("**/cache/**", "a/b/cache/c/d"));
    // Inside a segment `**` is just two stars.
    EXPECT_TRUE(glob_match("a**b", "axxb"));
    EXPECT_FALSE(glob_match("a**b", "a/b"));
}

TEST(UploadsGlob, ClassesEscapesAndDots) {
    EXPECT_TRUE(glob_match("[abc].jpg", "b.jpg"));
    EXPECT_FALSE(glob_match("[abc].jpg", "d.jpg"));
    EXPECT_TRUE(glob_match("[!a].jpg", "b.jpg"));
    EXPECT_FALSE(glob_match("[!a].jpg", "a.jpg"));
    EXPECT_TRUE(glob_match("img[0-9][0-9].png", "img42.png"));
    EXPECT_TRUE(glob_match("\\*.txt", "*.txt"));
    EXPECT_FALSE(glob_match("\\*.txt", "a.txt"));
    EXPECT_TRUE(glob_match("*", ".hidden"));  // no FNM_PERIOD
    EXPECT_TRUE(glob_match("**/.git/**", "src/.git/objects/ab"));
    EXPECT_TRUE(glob_match("exact/name.bin", "exact/name.bin"));
    EXPECT_FALSE(glob_match("exact/name.bin", "exact/name.bin2"));
    EXPECT_FALSE(glob_match("exact", "exact/more"));
}

}  // namespace
}  // namespace kiln::uploads
