#include "modules/uploads/scan.hpp"

#include <fmt/format.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <system_error>
#include <utility>

namespace asio = boost::asio;
namespace fs = std::filesystem;

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

bool match_segments(const std::vector<std::string_view>& pattern, std::size_t p,
                    const std::vector<std::string_view>& path, std::size_t s) {
    while (p < pattern.size()) {
        if (pattern[p] == "**") {
            // Collapse runs of `**`, then try every number of segments it could stand for.
            while (p + 1 < pattern.size() && pattern[p + 1] == "**") ++p;
            if (p + 1 == pattern.size()) return true;
            for (std::size_t k = s; k <= path.size(); ++k) {
                if (match_segments(pattern, p + 1, path, k)) return true;
            }
            return false;
        }
        if (s == path.size()) return false;
        // fnmatch needs NUL-terminated strings; segments are short.
        const std::string pat(pattern[p]);
        const std::string seg(path[s]);
        if (::fnmatch(pat.c_str(), seg.c_str(), FNM_PATHNAME) != 0) return false;
        ++p;
        ++s;
    }
    return s == path.size();
}

bool wanted(const ScanOptions& options, std::string_view relative) {
    auto any = [&](const std::vector<std::string>& patterns) {
        return std::any_of(patterns.begin(), patterns.end(),
                           [&](const std::string& pattern) { return glob_match(pattern, relative); });
    };
    if (!options.include.empty() && !any(options.include)) return false;
    return !any(options.exclude);
}

bool inside(const fs::path& root, const fs::path& path) {
    const auto& r = root.native();
    const auto& p = path.native();
    if (p == r) return true;
    if (r == "/") return true;
    return p.size() > r.size() && p.compare(0, r.size(), r) == 0 && p[r.size()] == '/';
}

std::string kind_of(fs::file_type type) {
    switch (type) {
        case fs::file_type::fifo:
            return "fifo";
        case fs::file_type::socket:
            return "socket";
        case fs::file_type::block:
            return "block device";
        case fs::file_type::character:
            return "character device";
        default:
            return "unknown type";
    }
}

class Walker {
public:
    Walker(fs::path root, const ScanOptions& options) : root_(std::move(root)), options_(options) {}

    ScanResult run() {
        std::vector<std::pair<fs::path, std::string>> pending{{root_, ""}};
        while (!pending.empty() && !stopped_) {
            auto [dir, prefix] = std::move(pending.back());
            pending.pop_back();
            list(dir, prefix, pending);
        }
        std::sort(result_.files.begin(), result_.files.end(),
                  [](const ScannedFile& a, const ScannedFile& b) { return a.relative < b.relative; });
        return std::move(result_);
    }

private:
    void list(const fs::path& dir, const std::string& prefix, std::vector<std::pair<fs::path, std::string>>& pending) {
        std::error_code ec;
        std::vector<fs::directory_entry> entries;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
        if (ec) {
            refuse(prefix.empty() ? "." : prefix.substr(0, prefix.size() - 1), "cannot list: " + ec.message());
            return;
        }
        std::sort(entries.begin(), entries.end());
        std::vector<std::pair<fs::path, std::string>> subdirs;
        for (const auto& entry : entries) {
            if (++seen_ > options_.max_entries) {
                stop();
                return;
            }
            const std::string relative = prefix + entry.path().filename().string();
            if (relative.size() > options_.max_path) {
                refuse(relative, fmt::format("path longer than {} bytes", options_.max_path));
                continue;
            }
            const auto status = entry.symlink_status(ec);
            if (ec) {
                refuse(relative, "cannot stat: " + ec.message());
                continue;
            }
            if (fs::is_directory(status)) {
                if (options_.recursive) subdirs.emplace_back(entry.path(), relative + "/");
                continue;
            }
            if (!wanted(options_, relative)) continue;
            fs::path target = entry.path();
            auto type = status.type();
            if (fs::is_symlink(status)) {
                // realpath(3): the whole chain resolved, so a link to a link that escapes is caught too.
                target = fs::canonical(entry.path(), ec);
                if (ec) {
                    refuse(relative, "broken symlink");
                    continue;
                }
                if (!inside(root_, target)) {
                    refuse(relative, "symlink leaves the root");
                    continue;
                }
                type = fs::status(target, ec).type();
                if (type == fs::file_type::directory) {
                    // Its target is inside the root, so it is listed under its own path anyway;
                    // not descending also keeps a link to an ancestor from looping.
                    refuse(relative, "symlink to a directory (not followed)");
                    continue;
                }
            }
            if (type != fs::file_type::regular) {
                refuse(relative, "not a regular file (" + kind_of(type) + ")");
                continue;
            }
            take(relative, target);
            if (stopped_) return;
        }
        // Depth first, in name order: the stack pops the first name last pushed.
        std::move(subdirs.rbegin(), subdirs.rend(), std::back_inserter(pending));
    }

    void take(const std::string& relative, const fs::path& path) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
            refuse(relative, fmt::format("cannot stat: {}", std::error_code(errno, std::generic_category()).message()));
            return;
        }
        if (result_.files.size() >= options_.max_files) {
            stop();
            return;
        }
        result_.files.push_back(ScannedFile{
            .relative = relative,
            .absolute = path,
            .size = static_cast<std::uint64_t>(st.st_size),
            .mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
        });
    }

    void refuse(std::string relative, std::string reason) {
        if (result_.refused.size() >= options_.max_files) {
            stop();
            return;
        }
        result_.refused.push_back({std::move(relative), std::move(reason)});
    }

    void stop() {
        stopped_ = true;
        result_.truncated = true;
    }

    fs::path root_;
    const ScanOptions& options_;
    ScanResult result_;
    std::size_t seen_ = 0;
    bool stopped_ = false;
};

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
    return match_segments(segments(pattern), 0, segments(path), 0);
}

ScanResult scan_directory(const fs::path& root, const ScanOptions& options) {
    std::error_code ec;
    auto real = fs::canonical(root, ec);
    if (ec) return ScanResult{.error = fmt::format("cannot open {}: {}", root.string(), ec.message())};
    if (!fs::is_directory(real, ec)) return ScanResult{.error = fmt::format("{} is not a directory", root.string())};
    return Walker(std::move(real), options).run();
}

asio::awaitable<ScanResult> scan(core::ThreadPool& blocking, fs::path root, ScanOptions options) {
    auto work = [root = std::move(root), options = std::move(options)] { return scan_directory(root, options); };
    co_return co_await blocking.run(std::move(work));
}

}  // namespace kiln::uploads
