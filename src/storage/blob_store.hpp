#pragma once
// One interface over the places blobs live: the local filesystem (development, single host) and
// S3-compatible object storage (production). Every call streams: no whole object in memory.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/model.hpp"

namespace kiln::storage {

// Where put() reads from: fills the span, returns the bytes read, 0 at the end.
class Source {
public:
    virtual ~Source() = default;
    virtual boost::asio::awaitable<std::size_t> read(std::span<char> buffer) = 0;
    // A source that is a file may instead copy its next bytes (at most `max`) into the file `fd` at
    // `offset` in the kernel (copy_file_range): the bytes read() would have given next. Returns how
    // many it copied (0 at the end), or nullopt when it cannot; the store then reads.
    virtual boost::asio::awaitable<std::optional<std::size_t>> copy_to(int /*fd*/, std::uint64_t /*offset*/,
                                                                       std::size_t /*max*/) {
        co_return std::nullopt;
    }
    // The SHA-256 (64 lowercase hex) of everything read() will give, when the source holds those
    // bytes in memory and hashed them there: a store may take it instead of hashing them again.
    virtual std::optional<std::string> sha256() const { return std::nullopt; }
};

// Where get() writes to, chunk by chunk; the next chunk waits for write() to finish.
class Sink {
public:
    virtual ~Sink() = default;
    virtual boost::asio::awaitable<void> write(std::string_view data) = 0;
};

// What a store whose calls are blocking file-system work (the local store) offers besides its
// awaitable API: head and put of bytes in hand, run on the calling thread, which must be one of
// the blocking pool's. A caller already there to read a small file does its whole transfer in that
// one hop: each hop to the pool and back wakes two threads, which costs more than the file's own
// work.
class BlockingBlobs {
public:
    virtual std::optional<BlobInfo> head_now(const std::string& key) = 0;
    // put() of `bytes` whose SHA-256 (64 lowercase hex) the caller computed from these very bytes,
    // in memory: taken as it is, not hashed again (a second pass was a sixth of the CPU of a sync
    // of small files). Its answer proves what the store holds (PutResult::checked).
    virtual PutResult put_now(const std::string& key, std::string_view bytes, const std::string& sha256) = 0;

protected:
    BlockingBlobs() = default;
    BlockingBlobs(const BlockingBlobs&) = default;
    BlockingBlobs& operator=(const BlockingBlobs&) = default;
    ~BlockingBlobs() = default;
};

// Keys are validated by validate_key (storage/key.hpp); a bad one throws InvalidKey. The Source
// and Sink must outlive the call.
class BlobStore {
public:
    virtual ~BlobStore() = default;
    // Stores the source's bytes under `key`, replacing any blob there; readers see the old blob or
    // the whole new one, never part of it. With `size`, a source that ends early or runs long fails.
    // With `sha256` (64 lowercase hex, std::invalid_argument otherwise), the caller's SHA-256 of the
    // bytes: recorded for head() whatever the size, and bytes hashing otherwise fail the put
    // (StorageError) with nothing stored.
    virtual boost::asio::awaitable<PutResult> put(std::string key, Source& source, std::optional<std::uint64_t> size,
                                                  std::optional<std::string> sha256) = 0;
    // Throws BlobNotFound, RangeNotSatisfiable.
    virtual boost::asio::awaitable<void> get(std::string key, std::optional<ByteRange> range, Sink& sink) = 0;
    virtual boost::asio::awaitable<std::optional<BlobInfo>> head(std::string key) = 0;
    // The keys under `prefix` when the store lists them cheaply and there are at most `max_keys`;
    // none otherwise (a local store, where head() is a stat; S3 refusing the listing, e.g. 403 to
    // a policy without s3:ListBucket; more keys). Lets a caller skip head() for keys not there.
    virtual boost::asio::awaitable<std::optional<std::vector<std::string>>> list(std::string prefix,
                                                                                 std::size_t max_keys) = 0;
    // Removing a missing key is not an error (as in S3).
    virtual boost::asio::awaitable<void> remove(std::string key) = 0;
    // Objects of at least this many bytes have a SHA-256 in head() only when put() was given one
    // (S3: a multipart upload's metadata goes out before its bytes); none: put() always records it.
    virtual std::optional<std::uint64_t> sha256_declared_from() const = 0;
    // From now on a put may return before its blob is durable, or even in place (never half in
    // place), until sync() returns: a caller that records many puts at once pays for their
    // durability once (the local store: the batch's files fsynced together, then renamed, then one
    // fsync per directory; instead of two fsyncs per put). Stores whose puts are durable and in
    // place when they return ignore it.
    virtual void defer_durability() {}
    // Puts every blob of the puts returned so far in place, durably; throws when that failed (then
    // any of them may be missing or lost).
    virtual boost::asio::awaitable<void> sync() { co_return; }
    // The same store's blocking calls, when it has them (see BlockingBlobs).
    virtual BlockingBlobs* blocking() { return nullptr; }
    // A URL that fetches the blob without credentials until `ttl` passes; only stores that can sign one.
    virtual std::optional<std::string> presign_get(const std::string& key, std::chrono::seconds ttl) const = 0;
};

}  // namespace kiln::storage
