#pragma once
// Lists the files a sync uploads: a directory tree (or its top level), filtered by glob patterns,
// regular files only, never through a symlink that leaves the root. Every problem is a value in
// the result (a refused entry or `error`), never an exception: one odd file must not stop a sync.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/thread_pool.hpp"
#include "modules/uploads/glob.hpp"

namespace kiln::uploads {

struct ScanOptions {
    bool recursive = true;                // the seed's use_find; false: the root's own files only
    std::vector<std::string> include;     // none: every file; otherwise a file must match one
    std::vector<std::string> exclude;     // a file matching one is left out
    std::size_t max_files = 100'000;      // files taken; more sets `truncated`
    std::size_t max_entries = 1'000'000;  // directory entries looked at (excluded ones too)
    std::size_t max_path = 1024;          // bytes of a relative path (the storage key limit)
};

struct ScannedFile {
    std::string relative;            // '/'-separated, from the root
    std::filesystem::path absolute;  // what to open (a symlink inside the root: its target)
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;  // since the epoch
    // For the transfer: the store's listing did not have the key, so it is put without a head().
    bool key_absent = false;
};

struct RefusedEntry {
    std::string relative;
    std::string reason;  // "symlink leaves the root", "not a regular file (fifo)", …
};

struct ScanResult {
    std::vector<ScannedFile> files;  // sorted by relative path
    std::vector<RefusedEntry> refused;
    bool truncated = false;            // a bound stopped the walk
    std::optional<std::string> error;  // the root itself could not be listed
};

// Blocking: filesystem I/O. Call it through scan() from a coroutine.
ScanResult scan_directory(const std::filesystem::path& root, const ScanOptions& options);

// Runs scan_directory on the blocking pool.
boost::asio::awaitable<ScanResult> scan(core::ThreadPool& blocking, std::filesystem::path root, ScanOptions options);

}  // namespace kiln::uploads
