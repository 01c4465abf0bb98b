#include "storage/dir_sync.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace kiln::storage {
namespace {

using namespace std::chrono_literals;

// An fsync stand-in the test holds open until released, counting the calls per directory.
class HeldSync {
public:
    void operator()(const std::filesystem::path& dir) {
        std::unique_lock lock(mutex_);
        ++calls_;
        ++inside_;
        changed_.notify_all();
        changed_.wait(lock, [this] { return released_ > 0; });
        --released_;
        --inside_;
        if (fail_next_) {
            fail_next_ = false;
            throw std::runtime_error("syncing " + dir.string() + ": I/O error");
        }
    }
    void release(bool fail = false) {
        const std::lock_guard lock(mutex_);
        ++released_;
        fail_next_ = fail;
        changed_.notify_all();
    }
    // Waits until a call is inside the fsync.
    bool wait_inside(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [this] { return inside_ > 0; });
    }
    int calls() const {
        const std::lock_guard lock(mutex_);
        return calls_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    int calls_ = 0;
    int inside_ = 0;
    int released_ = 0;
    bool fail_next_ = false;
};

// Polls `condition` until it holds or `timeout` passes.
template <typename F>
bool eventually(F condition, std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::yield();
    }
    return true;
}

TEST(DirSyncs, OneFsyncCoversTheRenamesThatArrivedWhileAnotherRan) {
    HeldSync held;
    DirSyncs syncs([&held](const std::filesystem::path& d) { held(d); });
    const std::filesystem::path dir = "/blobs/a";
    auto first = std::async(std::launch::async, [&] { syncs.after_rename(dir); });
    ASSERT_TRUE(held.wait_inside(5000ms));
    // Three renames land while the first fsync runs: it started before them, so it does not count.
    std::vector<std::future<void>> later;
    later.reserve(3);
    for (int i = 0; i < 3; ++i) later.push_back(std::async(std::launch::async, [&] { syncs.after_rename(dir); }));
    ASSERT_TRUE(eventually([&] { return syncs.waiting(dir) == 3; }));
    held.release();
    first.get();
    // One of them syncs for all three.
    ASSERT_TRUE(eventually([&] { return held.calls() == 2; }));
    held.release();
    for (auto& f : later) f.get();
    EXPECT_EQ(held.calls(), 2);
    EXPECT_EQ(syncs.waiting(dir), 0U);
}

TEST(DirSyncs, OtherDirectoriesDoNotWait) {
    HeldSync held;
    std::atomic<int> other_calls{0};
    DirSyncs syncs([&](const std::filesystem::path& d) {
        if (d == "/blobs/b") {
            ++other_calls;
            return;
        }
        held(d);
    });
    auto first = std::async(std::launch::async, [&] { syncs.after_rename("/blobs/a"); });
    ASSERT_TRUE(held.wait_inside(5000ms));
    syncs.after_rename("/blobs/b");  // returns although /blobs/a's fsync is still held
    EXPECT_EQ(other_calls.load(), 1);
    held.release();
    first.get();
}

TEST(DirSyncs, AFailedFsyncFailsItsCallerAndTheWaitersTryAgain) {
    HeldSync held;
    DirSyncs syncs([&held](const std::filesystem::path& d) { held(d); });
    const std::filesystem::path dir = "/blobs/a";
    auto first = std::async(std::launch::async, [&] { syncs.after_rename(dir); });
    ASSERT_TRUE(held.wait_inside(5000ms));
    auto second = std::async(std::launch::async, [&] { syncs.after_rename(dir); });
    ASSERT_TRUE(eventually([&] { return syncs.waiting(dir) == 1; }));
    held.release(true);
    EXPECT_THROW(first.get(), std::runtime_error);
    ASSERT_TRUE(eventually([&] { return held.calls() == 2; }));
    held.release();
    second.get();
    EXPECT_EQ(held.calls(), 2);
}

TEST(DirSyncs, ARenameAfterAnFsyncStartedGetsItsOwn) {
    int calls = 0;
    DirSyncs syncs([&calls](const std::filesystem::path&) { ++calls; });
    syncs.after_rename("/blobs/a");
    syncs.after_rename("/blobs/a");
    EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace kiln::storage
