#include "storage/dir_sync.hpp"

#include <exception>

namespace kiln::storage {

void DirSyncs::after_rename(const std::filesystem::path& dir) {
    std::unique_lock lock(mutex_);
    const auto it = dirs_.try_emplace(dir.string()).first;
    Dir& d = it->second;
    ++d.users;
    const std::uint64_t mine = ++d.renamed;
    std::exception_ptr failure;
    while (d.synced < mine) {
        if (d.syncing) {
            ++d.waiting;
            changed_.wait(lock);
            --d.waiting;
            continue;
        }
        // Covers every rename reported before it starts, this one included.
        d.syncing = true;
        const std::uint64_t covers = d.renamed;
        lock.unlock();
        try {
            sync_(dir);
        } catch (...) {
            failure = std::current_exception();
        }
        lock.lock();
        d.syncing = false;
        if (!failure && covers > d.synced) d.synced = covers;
        changed_.notify_all();
        if (failure) break;
    }
    if (--d.users == 0) dirs_.erase(it);
    if (failure) std::rethrow_exception(failure);
}

std::size_t DirSyncs::waiting(const std::filesystem::path& dir) const {
    const std::lock_guard lock(mutex_);
    const auto it = dirs_.find(dir.string());
    return it == dirs_.end() ? 0 : it->second.waiting;
}

}  // namespace kiln::storage
