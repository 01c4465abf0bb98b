#pragma once
// What the blob stores return, and the errors they throw; files on the wire.
#include <boost/describe.hpp>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/uuid.hpp"

namespace kiln::storage {

struct PutResult {
    std::uint64_t size = 0;
    std::string sha256;  // hex, of the bytes stored
    std::string etag;    // as the store reports it (S3: quoted, MD5 or multipart form)
    // The bytes the store holds are known to be the ones sent (local: written here; S3: an MD5
    // ETag equal to the MD5 of what was sent), so reading the object back would prove nothing more.
    bool checked = false;
};

struct BlobInfo {
    std::uint64_t size = 0;
    std::string etag;
    std::optional<std::string> sha256;  // when the store recorded it at put()
};

// Bytes first..last inclusive, as in an HTTP Range; no `last` means to the end.
struct ByteRange {
    std::uint64_t first = 0;
    std::optional<std::uint64_t> last;
};

// A key the stores refuse (empty, absolute, `..`, control characters, too long).
class InvalidKey : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

class BlobNotFound : public std::runtime_error {
public:
    explicit BlobNotFound(const std::string& key) : std::runtime_error("no blob at key " + key) {}
};

// The range starts at or past the end of the blob.
class RangeNotSatisfiable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The backend failed (I/O error, S3 error answer, retries exhausted); `status` is S3's HTTP status, if any.
class StorageError : public std::runtime_error {
public:
    explicit StorageError(const std::string& what, long status = 0) : std::runtime_error(what), status(status) {}
    long status;
};

// A file uploaded through the API (POST /api/v1/files).
struct File {
    core::Uuid id;
    std::string name;           // the uploaded file name, sanitized (no directories)
    std::string content_type;   // sniffed from the bytes (libmagic)
    std::string declared_type;  // what the client declared for the part ("" when nothing)
    std::int64_t size = 0;
    std::string sha256;  // hex
    core::Uuid created_by;
    std::string created_at;
};
BOOST_DESCRIBE_STRUCT(File, (), (id, name, content_type, declared_type, size, sha256, created_by, created_at))

struct FileList {
    std::vector<File> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(FileList, (), (items, next_cursor))

struct FileListQuery {
    std::optional<std::string> content_type;  // a prefix: "image/" or "image/png"
    std::optional<std::string> name;          // a case-insensitive substring
    std::optional<std::string> limit;
    std::optional<std::string> cursor;
};

// GET /workspaces/{id}/usage.
struct Usage {
    std::int64_t bytes_stored = 0;
    std::int64_t files = 0;
    std::int64_t bytes_reserved = 0;  // promised to unfinished resumable (tus) uploads
    std::string plan;
    std::int64_t storage_bytes = 0;   // the plan's quota
    std::int64_t max_file_bytes = 0;  // the plan's largest file
};
BOOST_DESCRIBE_STRUCT(Usage, (), (bytes_stored, files, bytes_reserved, plan, storage_bytes, max_file_bytes))

// A file whose bytes are being received: its row exists as 'uploading'.
struct Upload {
    core::Uuid id;
    std::string key;
    std::int64_t max_file_bytes = 0;
};

}  // namespace kiln::storage
