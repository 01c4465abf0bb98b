// The include/exclude patterns of a sync: fnmatch(3) per path segment plus `**`.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "modules/uploads/glob.hpp"

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

// Patterns are a member's input: forty `**` (a 201-character pattern, within the 256 allowed)
// against a 1,000-segment path must not try every way of spreading the path over them (that
// recursion did not end in any useful time; the matcher now backtracks only to the last `**`).
TEST(UploadsGlob, ManyDoubleStarsOnADeepPathDoNotBacktrackExponentially) {
    std::string pattern;
    for (int i = 0; i < 40; ++i) pattern += "**/a/";
    std::string path;
    for (int i = 0; i < 1000; ++i) path += "a/";
    EXPECT_FALSE(glob_match(pattern + "b", path + "c"));
    EXPECT_TRUE(glob_match(pattern + "b", path + "b"));
    EXPECT_FALSE(glob_match(pattern + "b", "a/a/b"));  // fewer segments than the pattern needs
    EXPECT_TRUE(glob_match("**/x/**/y/**", "x/q/y"));
    EXPECT_FALSE(glob_match("**/x/**/y/**", "y/q/x"));
}

// Every way of spreading a path over the `**`s (the definition, as a table over pattern and path
// positions) against the matcher, for every pattern of up to five segments drawn from
// {a, b, *, a*, **} and every path of up to four segments drawn from {a, b, ab}.
bool by_definition(const std::vector<std::string>& pattern, const std::vector<std::string>& path) {
    // can[p][s]: pattern[p..] matches path[s..]
    std::vector<std::vector<bool>> can(pattern.size() + 1, std::vector<bool>(path.size() + 1, false));
    can[pattern.size()][path.size()] = true;
    for (std::size_t p = pattern.size(); p-- > 0;) {
        for (std::size_t s = path.size() + 1; s-- > 0;) {
            if (pattern[p] == "**") {
                can[p][s] = can[p + 1][s] || (s < path.size() && can[p][s + 1]);
            } else {
                can[p][s] = s < path.size() && glob_match(pattern[p], path[s]) && can[p + 1][s + 1];
            }
        }
    }
    return can[0][0];
}

std::string joined(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& part : parts) out += (out.empty() ? "" : "/") + part;
    return out;
}

template <typename Visit>
void every_sequence(const std::vector<std::string>& alphabet, std::size_t max_len, std::vector<std::string>& seq,
                    const Visit& visit) {
    visit(seq);
    if (seq.size() == max_len) return;
    for (const auto& token : alphabet) {
        seq.push_back(token);
        every_sequence(alphabet, max_len, seq, visit);
        seq.pop_back();
    }
}

TEST(UploadsGlob, MatchesWhatTheDefinitionMatchesForEverySmallPatternAndPath) {
    std::vector<std::string> pattern;
    std::vector<std::string> path;
    int compared = 0;
    int matched = 0;
    every_sequence({"a", "b", "*", "a*", "**"}, 5, pattern, [&](const std::vector<std::string>& globs) {
        if (globs.empty()) return;
        every_sequence({"a", "b", "ab"}, 4, path, [&](const std::vector<std::string>& segs) {
            if (segs.empty()) return;
            const bool expected = by_definition(globs, segs);
            ASSERT_EQ(glob_match(joined(globs), joined(segs)), expected)
                << joined(globs) << " against " << joined(segs);
            ++compared;
            matched += expected ? 1 : 0;
        });
    });
    EXPECT_EQ(compared, 3905 * 120);
    EXPECT_GT(matched, 0);
    EXPECT_LT(matched, compared);
}

}  // namespace
}  // namespace kiln::uploads
