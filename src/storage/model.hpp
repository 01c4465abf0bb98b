#pragma once
// What the blob stores return, and the errors they throw.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace kiln::storage {

struct PutResult {
    std::uint64_t size = 0;
    std::string sha256;  // hex, of the bytes stored
    std::string etag;    // as the store reports it (S3: quoted, MD5 or multipart form)
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

}  // namespace kiln::storage
