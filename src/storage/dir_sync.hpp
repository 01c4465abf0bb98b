#pragma once
// Directory fsyncs shared between the renames they cover. A rename into a directory is durable once
// an fsync of that directory that started after the rename has succeeded, whoever called it: with
// several puts landing in one directory at once, one fsync covers all the renames done before it
// started, and the callers that arrive while it runs wait for it, then share the next one.
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace kiln::storage {

class DirSyncs {
public:
    using SyncFn = std::function<void(const std::filesystem::path&)>;
    explicit DirSyncs(SyncFn sync) : sync_(std::move(sync)) {}

    // Blocking. Call after a rename into `dir` has returned: returns once an fsync of `dir` that
    // started after that point has succeeded; throws what a failed fsync of its own threw (a caller
    // whose covering fsync failed, done by another, tries one itself).
    void after_rename(const std::filesystem::path& dir);

    // Callers waiting for another's fsync of `dir` (tests).
    std::size_t waiting(const std::filesystem::path& dir) const;

private:
    struct Dir {
        std::uint64_t renamed = 0;  // renames reported so far
        std::uint64_t synced = 0;   // every rename up to this one is durable
        bool syncing = false;
        std::size_t waiting = 0;
        std::size_t users = 0;  // callers inside after_rename: the entry goes when the last leaves
    };
    SyncFn sync_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::map<std::string, Dir> dirs_;
};

}  // namespace kiln::storage
