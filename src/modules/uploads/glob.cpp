#include "modules/uploads/glob.hpp"

#include <fnmatch.h>

#include <string>
#include <vector>

namespace kiln::uploads {

namespace {

std::vector<std::string_view> segments(std::string_view path) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        const auto end = path.find('/', start);
        out.push_back(path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) return out;
        start = end + 1;
    }
}

bool segment_match(std::string_view pattern, std::string_view segment) {
    // fnmatch needs NUL-terminated strings; segments are short.
    const std::string pat(pattern);
    const std::string seg(segment);
    return ::fnmatch(pat.c_str(), seg.c_str(), FNM_PATHNAME) == 0;
}

// Wildcard matching over segments, `**` standing for any number of them. Only the last `**` seen
// is ever backtracked to (letting it take one more segment): an earlier one could only take fewer
// segments than a later one may, so retrying it finds nothing new. Trying every way to spread the
// path over the `**`s instead is exponential in their number (a member's pattern may hold 50).
bool match_segments(const std::vector<std::string_view>& pattern, const std::vector<std::string_view>& path) {
    constexpr auto kNone = std::string_view::npos;
    std::size_t p = 0;
    std::size_t s = 0;
    std::size_t star = kNone;  // the pattern index of the last `**` met
    std::size_t star_s = 0;    // the path segment where that `**` began taking segments
    while (s < path.size()) {
        if (p < pattern.size() && pattern[p] == "**") {
            star = p++;
            star_s = s;
        } else if (p < pattern.size() && segment_match(pattern[p], path[s])) {
            ++p;
            ++s;
        } else if (star != kNone) {
            p = star + 1;
            s = ++star_s;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == "**") ++p;
    return p == pattern.size();
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
    return match_segments(segments(pattern), segments(path));
}

}  // namespace kiln::uploads
