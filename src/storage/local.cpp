#include "storage/local.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "core/crypto.hpp"
#include "storage/dir_sync.hpp"
#include "storage/fd_io.hpp"
#include "storage/key.hpp"

namespace asio = boost::asio;

namespace kiln::storage {

namespace {

constexpr std::size_t kReadChunk = std::size_t{512} * 1024;  // get()
// put(): two buffers of this, one filling while the other is written.
constexpr std::size_t kChunk = std::size_t{1} << 20U;
// copy_in(): the kernel copies this much while the piece before is hashed. Each step costs two
// trips to the pool, whose threads wake in ~0.1 ms on a VM: at 1 MiB, 1 GiB spent ~0.2 s of a
// 0.9 s put in them (measured); the hash reads back kChunk at a time (cache-sized).
constexpr std::size_t kCopyStep = std::size_t{8} << 20U;
// The SHA-256 recorded at put(), so head() can report it without reading the file: its 32 bytes,
// which fit in an ext4 inode (256 bytes) beside its other attributes where the 64 hex digits
// written before did not: those took a 4 KiB block of their own, to allocate and to write at
// fsync, for every blob (~8 % of a small put, measured). Both are read.
constexpr const char* kShaAttribute = "user.kiln.sha256";
constexpr std::size_t kShaHexLength = 64;

[[noreturn]] void fail_errno(const std::string& what) {
    throw StorageError(fmt::format("{}: {}", what, std::strerror(errno)));
}

std::atomic<std::uint64_t> dir_fsync_count{0};

void fsync_dir(const std::filesystem::path& dir) {
    dir_fsync_count.fetch_add(1, std::memory_order_relaxed);
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail_errno("opening " + dir.string());
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) fail_errno("syncing " + dir.string());
}

std::optional<std::string> read_sha(int fd) {
    std::array<char, kShaHexLength> value{};
    const auto n = ::fgetxattr(fd, kShaAttribute, value.data(), value.size());
    core::Digest d{};
    if (n == static_cast<ssize_t>(d.size())) {
        std::memcpy(d.data(), value.data(), d.size());
        return core::to_hex(d);
    }
    if (n != static_cast<ssize_t>(value.size())) return std::nullopt;
    std::string hex(value.data(), value.size());
    if (!core::digest_from_hex(hex)) return std::nullopt;
    return hex;
}

void write_sha(int fd, const std::string& hex) {
    // Best effort: filesystems without user xattrs only lose head()'s sha256.
    if (const auto d = core::digest_from_hex(hex)) ::fsetxattr(fd, kShaAttribute, d->data(), d->size(), 0);
}

// Where the kernel shows this process's open files: a file made with O_TMPFILE is linked into
// place through it (linkat with AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH).
bool proc_fds() {
    static const bool available = ::access("/proc/self/fd", X_OK) == 0;
    return available;
}

std::string fd_path(int fd) {
    return fmt::format("/proc/self/fd/{}", fd);
}

// Puts a complete file in place at `target`. A named temporary file is renamed over it. An unnamed
// one (O_TMPFILE, `temp` empty) is linked there, or, when a blob is there already, linked under a
// temporary name that is renamed over it: a reader sees the old blob or the new one, whole.
void place(int fd, const std::filesystem::path& temp, const std::filesystem::path& target,
           const std::filesystem::path& dir) {
    if (!temp.empty()) {
        if (::rename(temp.c_str(), target.c_str()) != 0) fail_errno("placing a blob");
        return;
    }
    const auto self = fd_path(fd);
    if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, target.c_str(), AT_SYMLINK_FOLLOW) == 0) return;
    if (errno != EEXIST) fail_errno("placing a blob");
    const auto named = dir / (".kiln-tmp-" + core::random_token(12));
    if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, named.c_str(), AT_SYMLINK_FOLLOW) != 0) {
        fail_errno("placing a blob");
    }
    if (::rename(named.c_str(), target.c_str()) != 0) {
        const int error = errno;
        ::unlink(named.c_str());
        errno = error;
        fail_errno("placing a blob");
    }
}

// An open file, closed on the blocking pool (close may flush on network filesystems).
struct OpenFile {
    int fd = -1;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
};

std::string local_etag(const OpenFile& f, const std::optional<std::string>& sha) {
    if (sha) return "\"" + *sha + "\"";
    return fmt::format("\"{:x}-{:x}\"", f.size, f.mtime_ns);
}

OpenFile open_for_read(const std::filesystem::path& path) {
    OpenFile f;
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return f;
        fail_errno("opening a blob");
    }
    struct stat st {};
    if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(f.fd);
        f.fd = -1;
        return f;
    }
    f.size = static_cast<std::uint64_t>(st.st_size);
    f.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    return f;
}

// Starts writeback every this many bytes, so the final fsync finds little left to write and the
// disk works while the rest is read and hashed.
constexpr std::uint64_t kWriteBehind = std::uint64_t{8} << 20U;
// sync(): a batch's fsyncs go out in up to this many slices at once, of at least this many files.
constexpr std::size_t kFsyncSlices = 8;
constexpr std::size_t kFsyncsPerSlice = 16;

DirSyncs& dir_syncs() {
    static DirSyncs syncs(fsync_dir);
    return syncs;
}

}  // namespace

// Blobs written since the last sync(), when durability is deferred: each a complete file (open,
// not yet fsynced) waiting to be placed at its target.
struct Staged {
    struct Blob {
        int fd;
        std::filesystem::path temp;  // empty: an unnamed file (O_TMPFILE)
        std::filesystem::path target;
        std::filesystem::path dir;
        bool placed = false;
    };
    std::mutex mutex;
    std::vector<Blob> blobs;

    std::vector<Blob> take() {
        const std::lock_guard lock(mutex);
        return std::exchange(blobs, {});
    }
    static void discard(const std::vector<Blob>& blobs) noexcept {
        for (const auto& b : blobs) {
            if (b.fd >= 0) ::close(b.fd);
            if (!b.temp.empty()) ::unlink(b.temp.c_str());
        }
    }
};

namespace {

// A blob being written: its file exists from the first append, unnamed (O_TMPFILE) until it is
// placed, or under a temporary name where the filesystem cannot make unnamed files. Used by one
// hop at a time (the put awaits each before the next starts).
struct Pending {
    std::filesystem::path target;
    std::filesystem::path dir;
    std::filesystem::path temp;
    std::optional<std::string> declared;
    Staged* staged = nullptr;  // set: the fsync and rename are left to sync()
    int fd = -1;
    std::uint64_t written = 0;
    std::uint64_t flushed = 0;  // writeback started up to here
    core::Sha256 sha;
    bool hashing = true;  // false: `declared` is of these very bytes (put_now)

    // Unnamed, the file costs one directory entry (its own) instead of a temporary one added,
    // renamed and removed: ~15 % of a small put (measured: 2,000 files, 2 threads).
    void open() {
        if (create() >= 0) return;
        if (errno != ENOENT) fail_errno("creating a blob");
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec) throw StorageError(fmt::format("creating {}: {}", dir.string(), ec.message()));
        if (create() < 0) fail_errno("creating a blob");
    }
    int create() {
        if (proc_fds()) {
            fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
            // Not ENOENT (no directory yet): the filesystem has no unnamed files.
            if (fd >= 0 || errno == ENOENT) return fd;
        }
        temp = dir / (".kiln-tmp-" + core::random_token(12));
        fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        return fd;
    }

    void append(const char* data, std::size_t n) {
        if (fd < 0) open();
        if (n == 0) return;
        if (hashing) sha.update({data, n});
        write_all(fd, {data, n}, "writing a blob");
        wrote(n);
    }

    // Bytes the source copied in at `from`: read back (from the page cache) and hashed, so the
    // SHA-256 is of what the file holds.
    void hash_back(std::uint64_t from, std::size_t n, char* scratch) {
        for (std::size_t done = 0; done < n;) {
            const std::size_t piece = std::min(kChunk, n - done);
            if (read_at(fd, scratch, piece, from + done, "reading a blob back") < piece) {
                throw StorageError("the blob being written is shorter than what was copied into it");
            }
            sha.update({scratch, piece});
            wrote(piece);
            done += piece;
        }
    }

    void wrote(std::size_t n) {
        written += n;
        if (written - flushed >= kWriteBehind) {
            // Best effort: only a head start for the fsync, which still covers everything.
            ::sync_file_range(fd, static_cast<off_t>(flushed), static_cast<off_t>(written - flushed),
                              SYNC_FILE_RANGE_WRITE);
            flushed = written;
        }
    }

    // Hashes, checks the declared SHA-256, makes the file durable and puts it in place.
    std::string finish() {
        auto hex = hashing ? core::to_hex(sha.finish()) : *declared;
        if (declared && hex != *declared) {
            throw StorageError(fmt::format("the bytes hash to {}, not to the declared SHA-256 {}", hex, *declared));
        }
        write_sha(fd, hex);
        if (staged != nullptr) {
            const std::lock_guard lock(staged->mutex);
            staged->blobs.push_back({std::exchange(fd, -1), std::exchange(temp, {}), target, dir});
            return hex;
        }
        if (::fsync(fd) != 0) fail_errno("syncing a blob");
        place(fd, temp, target, dir);
        temp.clear();
        const int rc = ::close(std::exchange(fd, -1));
        if (rc != 0) fail_errno("closing a blob");
        dir_syncs().after_rename(dir);
        return hex;
    }

    // After a failure: the file goes (an unnamed one with its descriptor; a named one that a failed
    // rename left behind is removed).
    void discard() {
        if (fd >= 0) ::close(std::exchange(fd, -1));
        if (!temp.empty()) ::unlink(temp.c_str());
    }
};

// A blob about to be written to `target` through a file beside it, placed when complete.
Pending pending(std::filesystem::path target, std::optional<std::string> declared, Staged* staged) {
    Pending blob;
    blob.dir = target.parent_path();
    blob.target = std::move(target);
    blob.declared = std::move(declared);
    blob.staged = staged;
    return blob;
}

// Page-aligned, so the kernel copies whole pages from it (and O_DIRECT could use it).
class Buffer {
public:
    static constexpr std::size_t kAlign = 4096;
    Buffer() = default;
    explicit Buffer(std::size_t size)
        : data_(static_cast<char*>(std::aligned_alloc(kAlign, (size + kAlign - 1) / kAlign * kAlign))), size_(size) {
        if (data_ == nullptr) throw std::bad_alloc();
    }
    char* data() const noexcept { return data_.get(); }
    std::span<char> span() const noexcept { return {data_.get(), size_}; }
    bool empty() const noexcept { return size_ == 0; }

private:
    struct Free {
        void operator()(char* p) const noexcept { std::free(p); }  // NOLINT(cppcoreguidelines-no-malloc)
    };
    std::unique_ptr<char, Free> data_;
    std::size_t size_ = 0;
};

// Runs both to their end, then throws the first one's failure, if any. Not the && of Asio's
// awaitable operators: that cancels one when the other fails, and a pool job cancelled before
// it starts throws on the pool's thread, which ends the process.
template <typename T>
asio::awaitable<T> together(asio::awaitable<void> first, asio::awaitable<T> second) {
    const auto ex = co_await asio::this_coro::executor;
    auto group = asio::experimental::make_parallel_group(asio::co_spawn(ex, std::move(first), asio::deferred),
                                                         asio::co_spawn(ex, std::move(second), asio::deferred));
    auto results = co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    if (std::get<1>(results)) std::rethrow_exception(std::get<1>(results));
    if (std::get<2>(results)) std::rethrow_exception(std::get<2>(results));
    co_return std::move(std::get<3>(results));
}

// Runs every task to its end, then throws the first one's failure, if any (see together()).
asio::awaitable<void> all(std::vector<asio::awaitable<void>> tasks) {
    const auto ex = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(ex, asio::awaitable<void>{}, asio::deferred));
    std::vector<Op> ops;
    ops.reserve(tasks.size());
    for (auto& t : tasks) ops.push_back(asio::co_spawn(ex, std::move(t), asio::deferred));
    auto results = co_await asio::experimental::make_parallel_group(std::move(ops))
                       .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (const auto& failure : std::get<1>(results)) {
        if (failure) std::rethrow_exception(failure);
    }
}

// A slice of a staged batch made durable and put in place: each file fsynced (its writeback was
// started at once) and placed, then its directories fsynced.
void place_all(std::span<Staged::Blob> blobs) {
    for (const auto& b : blobs) ::sync_file_range(b.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    std::set<std::filesystem::path> dirs;
    for (auto& b : blobs) {
        if (::fsync(b.fd) != 0) fail_errno("syncing a blob");
        place(b.fd, b.temp, b.target, b.dir);
        b.placed = true;
        const int rc = ::close(std::exchange(b.fd, -1));
        if (rc != 0) fail_errno("closing a blob");
        dirs.insert(b.dir);
    }
    for (const auto& dir : dirs) dir_syncs().after_rename(dir);
}

struct Filled {
    std::size_t bytes = 0;
    bool end = false;  // the source said so
};

// Reads until `buffer` is full or the source ends: sources hand out pieces (a socket's), the disk
// gets whole buffers.
asio::awaitable<Filled> fill(Source& source, std::span<char> buffer) {
    Filled out;
    while (out.bytes < buffer.size()) {
        const std::size_t n = co_await source.read(buffer.subspan(out.bytes));
        if (n == 0) {
            out.end = true;
            break;
        }
        out.bytes += n;
    }
    co_return out;
}

// The source copies its bytes into the temporary file in the kernel (Source::copy_to: no trip
// through a user-space buffer, the same work as `cp`), and each piece is read back and hashed
// while the next is copied. False when the source cannot copy (nothing was).
asio::awaitable<bool> copy_in(core::ThreadPool& pool, Source& source, Pending& blob, std::optional<std::uint64_t> size,
                              std::uint64_t& total) {
    std::optional<std::size_t> n = co_await source.copy_to(blob.fd, 0, kCopyStep);
    if (!n) co_return false;
    Buffer scratch(kChunk);
    while (*n > 0) {
        const std::uint64_t from = total;
        total += *n;
        if (size && total > *size) throw StorageError(fmt::format("the source holds more than {} bytes", *size));
        auto hash = [&blob, data = scratch.data(), from, len = *n] { blob.hash_back(from, len, data); };
        auto hashing = pool.run(std::move(hash));
        auto copying = source.copy_to(blob.fd, total, kCopyStep);
        n = co_await together(std::move(hashing), std::move(copying));
        if (!n) throw StorageError("the source stopped copying part way");
    }
    co_return true;
}

}  // namespace

LocalBlobStore::LocalBlobStore(std::filesystem::path root, core::ThreadPool& blocking)
    : root_(std::move(root)), blocking_(blocking) {}

LocalBlobStore::~LocalBlobStore() {
    if (staged_) Staged::discard(staged_->take());
}

void LocalBlobStore::defer_durability() {
    if (!staged_) staged_ = std::make_unique<Staged>();
}

// Writeback of every staged file is started first, so that the fsyncs that follow find their data
// on its way. Then each file's fsync and rename, and one fsync per directory (shared with other
// puts through DirSyncs). The fsyncs go out in several slices at once: without a journal (ext4
// without one, as on the VMs measured) each fsync is its own synchronous write of the inode, and
// one after another a batch of 128 cost 60-130 ms that the disk would have done side by side.
asio::awaitable<void> LocalBlobStore::sync() {
    if (!staged_) co_return;
    auto blobs = staged_->take();
    if (blobs.empty()) co_return;
    const std::size_t slices = std::clamp<std::size_t>(blobs.size() / kFsyncsPerSlice, 1, kFsyncSlices);
    std::vector<asio::awaitable<void>> placing;
    placing.reserve(slices);
    for (std::size_t i = 0; i < slices; ++i) {
        const std::span<Staged::Blob> slice(
            blobs.begin() + static_cast<std::ptrdiff_t>(blobs.size() * i / slices),
            blobs.begin() + static_cast<std::ptrdiff_t>(blobs.size() * (i + 1) / slices));
        auto place = [slice] { place_all(slice); };
        placing.push_back(blocking_.run(std::move(place)));
    }
    std::exception_ptr failure;
    try {
        co_await all(std::move(placing));
    } catch (...) {
        failure = std::current_exception();
    }
    if (!failure) co_return;
    // What was not placed goes; what was is in place but maybe not durable: the caller records none.
    std::erase_if(blobs, [](const Staged::Blob& b) { return b.placed; });
    auto discard = [&blobs] { Staged::discard(blobs); };
    co_await blocking_.run(std::move(discard));
    std::rethrow_exception(failure);
}

std::uint64_t LocalBlobStore::dir_fsyncs() noexcept {
    return dir_fsync_count.load(std::memory_order_relaxed);
}

std::filesystem::path LocalBlobStore::path_of(const std::string& key) const {
    validate_key(key);
    return root_ / key;
}

asio::awaitable<PutResult> LocalBlobStore::put(std::string key, Source& source, std::optional<std::uint64_t> size,
                                               std::optional<std::string> sha256) {
    if (sha256) validate_sha256_hex(*sha256);
    Pending blob = pending(path_of(key), std::move(sha256), staged_.get());
    std::uint64_t total = 0;
    std::string hex;
    std::exception_ptr failure;
    try {
        bool copied = false;
        if (size && *size >= kChunk) {
            auto open = [&blob] { blob.open(); };
            co_await blocking_.run(std::move(open));
            copied = co_await copy_in(blocking_, source, blob, size, total);
        }
        // Otherwise through buffers. One byte over the declared size, so a source that runs long
        // shows in the same read.
        const std::size_t capacity = size && *size < kChunk ? static_cast<std::size_t>(*size) + 1 : kChunk;
        Buffer current;
        std::size_t last = 0;  // bytes in `current` not yet written
        if (!copied) {
            current = Buffer(capacity);
            Buffer next;
            Filled filled = co_await fill(source, current.span());
            for (;;) {
                total += filled.bytes;
                if (size && total > *size) {
                    throw StorageError(fmt::format("the source holds more than {} bytes", *size));
                }
                if (filled.end) break;
                // The bytes in hand go out while the source fills the other buffer.
                if (next.empty()) next = Buffer(capacity);
                auto write = [&blob, data = current.data(), n = filled.bytes] { blob.append(data, n); };
                auto writing = blocking_.run(std::move(write));
                auto reading = fill(source, next.span());
                filled = co_await together(std::move(writing), std::move(reading));
                std::swap(current, next);
            }
            last = filled.bytes;
        }
        if (size && total != *size) {
            throw StorageError(fmt::format("the source ended after {} of {} bytes", total, *size));
        }
        // The last bytes, the fsync and the rename: a blob that fits in one buffer costs one hop.
        auto finish = [&blob, data = current.data(), n = last] {
            blob.append(data, n);
            return blob.finish();
        };
        hex = co_await blocking_.run(std::move(finish));
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        auto discard = [&blob] { blob.discard(); };
        co_await blocking_.run(std::move(discard));
        std::rethrow_exception(failure);
    }
    co_return PutResult{.size = total, .sha256 = hex, .etag = "\"" + hex + "\"", .checked = true};
}

asio::awaitable<void> LocalBlobStore::get(std::string key, std::optional<ByteRange> range, Sink& sink) {
    auto path = path_of(key);
    auto open = [path] { return open_for_read(path); };
    const OpenFile file = co_await blocking_.run(std::move(open));
    if (file.fd < 0) throw BlobNotFound(key);
    std::exception_ptr failure;
    try {
        std::uint64_t offset = 0;
        std::uint64_t end = file.size;  // exclusive
        if (range) {
            if (range->first >= file.size || (range->last && *range->last < range->first)) {
                throw RangeNotSatisfiable(fmt::format("range starts at {} of a {}-byte blob", range->first, file.size));
            }
            offset = range->first;
            if (range->last) end = std::min(end, *range->last + 1);
        }
        std::vector<char> buffer(kReadChunk);
        while (offset < end) {
            const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), end - offset));
            auto read = [fd = file.fd, data = buffer.data(), want, offset] {
                return read_at(fd, data, want, offset, "reading a blob");
            };
            const std::size_t n = co_await blocking_.run(std::move(read));
            if (n == 0) throw StorageError("the blob was truncated while being read");
            co_await sink.write({buffer.data(), n});
            offset += n;
        }
    } catch (...) {
        failure = std::current_exception();
    }
    blocking_.post([fd = file.fd] { ::close(fd); });
    if (failure) std::rethrow_exception(failure);
}

PutResult LocalBlobStore::put_now(const std::string& key, std::string_view bytes, const std::string& sha256) {
    validate_sha256_hex(sha256);
    Pending blob = pending(path_of(key), sha256, staged_.get());
    blob.hashing = false;
    try {
        blob.append(bytes.data(), bytes.size());
        auto hex = blob.finish();
        auto etag = "\"" + hex + "\"";
        return PutResult{.size = bytes.size(), .sha256 = std::move(hex), .etag = std::move(etag), .checked = true};
    } catch (...) {
        blob.discard();
        throw;
    }
}

std::optional<BlobInfo> LocalBlobStore::head_now(const std::string& key) {
    const OpenFile f = open_for_read(path_of(key));
    if (f.fd < 0) return std::nullopt;
    auto sha = read_sha(f.fd);
    ::close(f.fd);
    return BlobInfo{.size = f.size, .etag = local_etag(f, sha), .sha256 = sha};
}

asio::awaitable<std::optional<BlobInfo>> LocalBlobStore::head(std::string key) {
    validate_key(key);
    auto stat = [this, key] { return head_now(key); };
    co_return co_await blocking_.run(std::move(stat));
}

asio::awaitable<void> LocalBlobStore::remove(std::string key) {
    auto path = path_of(key);
    auto unlink = [path] {
        if (::unlink(path.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) fail_errno("removing a blob");
    };
    co_await blocking_.run(std::move(unlink));
}

asio::awaitable<std::optional<std::vector<std::string>>> LocalBlobStore::list(std::string /*prefix*/,
                                                                              std::size_t /*max_keys*/) {
    co_return std::nullopt;
}

std::optional<std::string> LocalBlobStore::presign_get(const std::string& /*key*/, std::chrono::seconds /*ttl*/) const {
    return std::nullopt;  // the files API serves local blobs itself
}

}  // namespace kiln::storage
