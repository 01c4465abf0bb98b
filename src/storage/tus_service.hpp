#pragma once
// Resumable uploads (tus 1.0): an upload is created with its length (reserved against the quota),
// its bytes appended by PATCH requests to a staging file on this server's disk, the offset kept in
// PostgreSQL; with the last byte it becomes a file exactly as POST /files makes one.
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "audit/store.hpp"
#include "auth/model.hpp"
#include "core/config.hpp"
#include "core/thread_pool.hpp"
#include "http/body_reader.hpp"
#include "storage/service.hpp"
#include "storage/tus_store.hpp"

namespace kiln::storage {

// storage.tus_dir, else $KILN_HOME/tus, else .kiln/tus.
std::filesystem::path tus_root(const core::StorageConfig& config, const std::string& home);

class TusService {
public:
    TusService(TusStore& store, FileService& files, core::ThreadPool& blocking, const core::StorageConfig& config,
               std::string home)
        : store_(store),
          files_(files),
          blocking_(blocking),
          config_(config),
          home_(std::move(home)),
          root_(tus_root(config, home_)) {}

    struct Created {
        TusUpload upload;
        std::optional<File> file;  // an empty upload is a file at once
    };
    // Member. 413 past the plan's max_file_bytes, 402 when the length does not fit the quota.
    boost::asio::awaitable<Created> create(const auth::Principal& p, std::int64_t length, std::string name,
                                           std::string declared_type, const audit::Origin& origin);
    boost::asio::awaitable<TusUpload> head(const auth::Principal& p, core::Uuid id);
    // Appends the body at `offset` (409 unless it is the upload's offset; 409 while another PATCH
    // of the upload runs here). What arrived is kept even when the client goes away mid-body.
    // With the last byte the file is made; the answer carries the upload as it then is.
    boost::asio::awaitable<TusUpload> append(const auth::Principal& p, core::Uuid id, std::int64_t offset,
                                             http::BodyReader& body, const audit::Origin& origin);
    boost::asio::awaitable<void> terminate(const auth::Principal& p, core::Uuid id, const audit::Origin& origin);
    // Makes the file of an upload whose bytes are all staged, as POST /files does (sniffed, hashed,
    // put into the blob store, charged): its reservation becomes the file's bytes.
    boost::asio::awaitable<File> complete(const auth::Principal& p, const TusUpload& u, const audit::Origin& origin);
    // The plan's largest file (Tus-Max-Size).
    boost::asio::awaitable<std::int64_t> max_size(const auth::Principal& p);

    struct SweepReport {
        std::size_t expired = 0;  // tus uploads deleted
        std::size_t stale = 0;    // 'uploading' files deleted with their blobs
    };
    // The storage.sweep task: expired tus uploads (staging file, row, reservation) and files left
    // 'uploading' longer than storage.stale_upload_s (blob, row). Runs on any io_context.
    boost::asio::awaitable<SweepReport> sweep();

    std::filesystem::path staging_path(const core::Uuid& workspace, const core::Uuid& id) const;

    // Bytes between durable checkpoints of a long PATCH (offset written to PostgreSQL).
    static constexpr std::int64_t kCheckpointBytes = std::int64_t{8} << 20U;

private:
    bool lock(const core::Uuid& id);
    void unlock(const core::Uuid& id);

    TusStore& store_;
    FileService& files_;
    core::ThreadPool& blocking_;
    const core::StorageConfig& config_;
    std::string home_;
    std::filesystem::path root_;
    std::mutex mutex_;
    std::set<std::string> writing_;  // uploads a PATCH is appending to in this process
};

}  // namespace kiln::storage
