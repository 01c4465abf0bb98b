#pragma once
// Blobs as files under one root directory. A put streams to a temporary file beside the target,
// fsyncs it and renames it into place, so a reader never sees half an object. File I/O runs on
// the blocking pool; the caller's thread only moves buffers.
#include <cstdint>
#include <filesystem>
#include <memory>

#include "core/thread_pool.hpp"
#include "storage/blob_store.hpp"

namespace kiln::storage {

struct DeferredDirs;

class LocalBlobStore final : public BlobStore {
public:
    LocalBlobStore(std::filesystem::path root, core::ThreadPool& blocking);

    boost::asio::awaitable<PutResult> put(std::string key, Source& source, std::optional<std::uint64_t> size,
                                          std::optional<std::string> sha256) override;
    boost::asio::awaitable<void> get(std::string key, std::optional<ByteRange> range, Sink& sink) override;
    boost::asio::awaitable<std::optional<BlobInfo>> head(std::string key) override;
    boost::asio::awaitable<void> remove(std::string key) override;
    // None: head() is one stat here, cheaper than walking the tree.
    boost::asio::awaitable<std::optional<std::vector<std::string>>> list(std::string prefix,
                                                                         std::size_t max_keys) override;
    std::optional<std::uint64_t> sha256_declared_from() const override { return std::nullopt; }
    std::optional<std::string> presign_get(const std::string& key, std::chrono::seconds ttl) const override;
    // A put's rename is durable once its directory is fsynced: deferred, the directories are kept
    // (shared with the puts still running on the pool) for sync().
    void defer_durability() override;
    boost::asio::awaitable<void> sync() override;

    const std::filesystem::path& root() const noexcept { return root_; }
    // Directory fsyncs done by this process's local stores (tests).
    static std::uint64_t dir_fsyncs() noexcept;

private:
    std::filesystem::path path_of(const std::string& key) const;

    std::filesystem::path root_;
    core::ThreadPool& blocking_;
    std::shared_ptr<DeferredDirs> deferred_;
};

}  // namespace kiln::storage
