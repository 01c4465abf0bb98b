#pragma once
// Files through the API: uploads streamed into the blob store under the plan's limits, reads,
// deletes. Viewers read; members upload; the uploader or an admin deletes.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "audit/store.hpp"
#include "auth/model.hpp"
#include "core/thread_pool.hpp"
#include "storage/blob_store.hpp"
#include "storage/factory.hpp"
#include "storage/store.hpp"

namespace kiln::storage {

// What put() stored: the bytes' size, SHA-256 and sniffed type.
struct Stored {
    std::int64_t size = 0;
    std::string sha256;
    std::string content_type;
};

// The file name as kept: the last path segment, control characters and invalid UTF-8 replaced,
// at most 255 bytes (cut on a character boundary); "file" when nothing is left.
std::string sanitize_name(std::string_view raw);

class FileService {
public:
    FileService(FileStore& store, BlobStores& blobs, core::ThreadPool& cpu) : store_(store), blobs_(blobs), cpu_(cpu) {}

    // Checks the caller may upload (member) and reserves the file's id and key.
    boost::asio::awaitable<Upload> begin_upload(const auth::Principal& p);
    // Streams `source` into the blob store: past the plan's file size it stops with a 413.
    boost::asio::awaitable<Stored> put(const Upload& upload, Source& source);
    // The file becomes ready if it fits the storage quota (else 402 `storage_bytes`, and the blob
    // is removed). `tus`: the resumable upload it completes, whose reservation it takes over.
    boost::asio::awaitable<File> finish_upload(const auth::Principal& p, const Upload& upload, const Stored& stored,
                                               std::string name, std::string declared_type, const audit::Origin& origin,
                                               std::optional<core::Uuid> tus = std::nullopt);
    // Best effort after a failed upload: the row and the blob go.
    boost::asio::awaitable<void> abandon(const auth::Principal& p, const Upload& upload);

    boost::asio::awaitable<FileList> list(const auth::Principal& p, FileListQuery q);
    boost::asio::awaitable<File> get(const auth::Principal& p, core::Uuid id);
    boost::asio::awaitable<void> remove(const auth::Principal& p, core::Uuid id, const audit::Origin& origin);
    boost::asio::awaitable<Usage> usage(const auth::Principal& p, core::Uuid workspace);

    struct Content {
        File file;
        std::optional<std::string> redirect;  // a presigned URL (S3): the client fetches from there
        std::string key;
    };
    boost::asio::awaitable<Content> content(const auth::Principal& p, core::Uuid id);
    // Streams the blob (or a range of it) into `sink`.
    boost::asio::awaitable<void> read(const std::string& key, std::optional<ByteRange> range, Sink& sink);

    static constexpr std::chrono::seconds kPresignTtl{300};

private:
    FileStore& store_;
    BlobStores& blobs_;
    core::ThreadPool& cpu_;
};

}  // namespace kiln::storage
