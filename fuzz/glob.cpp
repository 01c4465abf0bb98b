// The include/exclude matcher against its definition: a `**` segment stands for any number of
// path segments, every other pattern segment is fnmatch(3) on one path segment. The input is
// "<pattern>\n<path>", sized as a session allows (a pattern of at most 256 bytes).
#include <fnmatch.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "modules/uploads/glob.hpp"

namespace {

std::vector<std::string> split(std::string_view s) {
    std::vector<std::string> out;
    for (;;) {
        const auto slash = s.find('/');
        out.emplace_back(s.substr(0, slash));
        if (slash == std::string_view::npos) return out;
        s.remove_prefix(slash + 1);
    }
}

// can[p][s]: pattern[p..] matches path[s..].
bool by_definition(const std::vector<std::string>& pattern, const std::vector<std::string>& path) {
    std::vector<std::vector<char>> can(pattern.size() + 1, std::vector<char>(path.size() + 1, 0));
    can[pattern.size()][path.size()] = 1;
    for (std::size_t p = pattern.size(); p-- > 0;) {
        for (std::size_t s = path.size() + 1; s-- > 0;) {
            if (pattern[p] == "**") {
                can[p][s] = static_cast<char>(can[p + 1][s] != 0 || (s < path.size() && can[p][s + 1] != 0));
            } else {
                can[p][s] = static_cast<char>(s < path.size() &&
                                              ::fnmatch(pattern[p].c_str(), path[s].c_str(), FNM_PATHNAME) == 0 &&
                                              can[p + 1][s + 1] != 0);
            }
        }
    }
    return can[0][0] != 0;
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto newline = input.find('\n');
    if (newline == std::string_view::npos || newline == 0 || newline > 256) return -1;
    const auto pattern = input.substr(0, newline);
    const auto path = input.substr(newline + 1);
    if (path.empty() || path.size() > 4096 || pattern.find('\0') != std::string_view::npos ||
        path.find('\0') != std::string_view::npos) {
        return -1;
    }
    if (kiln::uploads::glob_match(pattern, path) != by_definition(split(pattern), split(path))) __builtin_trap();
    return 0;
}
