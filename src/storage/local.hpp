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

struct Staged;

class LocalBlobStore final : public BlobStore, public BlockingBlobs {
public:
    LocalBlobStore(std::filesystem::path root, core::ThreadPool& blocking);
    LocalBlobStore(const LocalBlobStore&) = delete;
    LocalBlobStore& operator=(const LocalBlobStore&) = delete;
    ~LocalBlobStore() override;  // staged blobs not synced are discarded

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
    // Deferred, a put writes its temporary file and returns; sync() fsyncs the batch, renames each
    // into place and fsyncs their directories. Until then the blob is not in place (get and head
    // see what was there before): never half of one, and nothing that a crash could leave torn.
    void defer_durability() override;
    boost::asio::awaitable<void> sync() override;
    BlockingBlobs* blocking() override { return this; }
    std::optional<BlobInfo> head_now(const std::string& key) override;
    PutResult put_now(const std::string& key, std::string_view bytes, const std::string& sha256) override;

    const std::filesystem::path& root() const noexcept { return root_; }
    // Directory fsyncs done by this process's local stores (tests).
    static std::uint64_t dir_fsyncs() noexcept;

private:
    std::filesystem::path path_of(const std::string& key) const;

    std::filesystem::path root_;
    core::ThreadPool& blocking_;
    std::unique_ptr<Staged> staged_;
};

}  // namespace kiln::storage
