#include "storage/local.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/crypto.hpp"
#include "storage/key.hpp"

namespace asio = boost::asio;

namespace kiln::storage {

namespace {

constexpr std::size_t kChunk = std::size_t{512} * 1024;
// The SHA-256 recorded at put(), so head() can report it without reading the file.
constexpr const char* kShaAttribute = "user.kiln.sha256";
constexpr std::size_t kShaHexLength = 64;

[[noreturn]] void fail_errno(const std::string& what) {
    throw StorageError(fmt::format("{}: {}", what, std::strerror(errno)));
}

void write_all(int fd, const char* data, std::size_t n) {
    while (n > 0) {
        const auto w = ::write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            fail_errno("writing a blob");
        }
        data += w;
        n -= static_cast<std::size_t>(w);
    }
}

void fsync_dir(const std::filesystem::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail_errno("opening " + dir.string());
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) fail_errno("syncing " + dir.string());
}

std::optional<std::string> read_sha(int fd) {
    std::array<char, kShaHexLength> value{};
    const auto n = ::fgetxattr(fd, kShaAttribute, value.data(), value.size());
    if (n != static_cast<ssize_t>(value.size())) return std::nullopt;
    return std::string(value.data(), value.size());
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

}  // namespace

LocalBlobStore::LocalBlobStore(std::filesystem::path root, core::ThreadPool& blocking)
    : root_(std::move(root)), blocking_(blocking) {}

std::filesystem::path LocalBlobStore::path_of(const std::string& key) const {
    validate_key(key);
    return root_ / key;
}

asio::awaitable<PutResult> LocalBlobStore::put(std::string key, Source& source, std::optional<std::uint64_t> size,
                                               std::optional<std::string> sha256) {
    const auto target = path_of(key);
    if (sha256) validate_sha256_hex(*sha256);
    const auto dir = target.parent_path();
    const auto temp = dir / (".kiln-tmp-" + core::random_token(12));
    auto open_temp = [dir, temp] {
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec) throw StorageError(fmt::format("creating {}: {}", dir.string(), ec.message()));
        const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) fail_errno("creating a blob");
        return fd;
    };
    const int fd = co_await blocking_.run(std::move(open_temp));

    core::Sha256 sha;
    std::uint64_t total = 0;
    std::string hex;
    std::exception_ptr failure;
    try {
        std::vector<char> buffer(kChunk);
        for (;;) {
            const std::size_t n = co_await source.read(buffer);
            if (n == 0) break;
            total += n;
            if (size && total > *size) throw StorageError(fmt::format("the source holds more than {} bytes", *size));
            sha.update({buffer.data(), n});
            auto write = [fd, data = buffer.data(), n] { write_all(fd, data, n); };
            co_await blocking_.run(std::move(write));
        }
        if (size && total != *size) {
            throw StorageError(fmt::format("the source ended after {} of {} bytes", total, *size));
        }
        hex = core::to_hex(sha.finish());
        if (sha256 && hex != *sha256) {
            throw StorageError(fmt::format("the bytes hash to {}, not to the declared SHA-256 {}", hex, *sha256));
        }
    } catch (...) {
        failure = std::current_exception();
    }
    auto finish = [fd, temp, target, dir, hex, failed = failure != nullptr] {
        if (!failed) {
            // Best effort: filesystems without user xattrs only lose head()'s sha256.
            ::fsetxattr(fd, kShaAttribute, hex.data(), hex.size(), 0);
            if (::fsync(fd) != 0) {
                ::close(fd);
                ::unlink(temp.c_str());
                fail_errno("syncing a blob");
            }
        }
        ::close(fd);
        if (failed) {
            ::unlink(temp.c_str());
            return;
        }
        if (::rename(temp.c_str(), target.c_str()) != 0) {
            const int saved = errno;
            ::unlink(temp.c_str());
            errno = saved;
            fail_errno("placing a blob");
        }
        fsync_dir(dir);
    };
    co_await blocking_.run(std::move(finish));
    if (failure) std::rethrow_exception(failure);
    co_return PutResult{.size = total, .sha256 = hex, .etag = "\"" + hex + "\""};
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
        std::vector<char> buffer(kChunk);
        while (offset < end) {
            const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), end - offset));
            auto read = [fd = file.fd, data = buffer.data(), want, offset] {
                ssize_t n = 0;
                do {
                    n = ::pread(fd, data, want, static_cast<off_t>(offset));
                } while (n < 0 && errno == EINTR);
                if (n < 0) fail_errno("reading a blob");
                return static_cast<std::size_t>(n);
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

asio::awaitable<std::optional<BlobInfo>> LocalBlobStore::head(std::string key) {
    auto path = path_of(key);
    auto stat = [path]() -> std::optional<BlobInfo> {
        const OpenFile f = open_for_read(path);
        if (f.fd < 0) return std::nullopt;
        auto sha = read_sha(f.fd);
        ::close(f.fd);
        return BlobInfo{.size = f.size, .etag = local_etag(f, sha), .sha256 = sha};
    };
    co_return co_await blocking_.run(std::move(stat));
}

asio::awaitable<void> LocalBlobStore::remove(std::string key) {
    auto path = path_of(key);
    auto unlink = [path] {
        if (::unlink(path.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) fail_errno("removing a blob");
    };
    co_await blocking_.run(std::move(unlink));
}

std::optional<std::string> LocalBlobStore::presign_get(const std::string& /*key*/, std::chrono::seconds /*ttl*/) const {
    return std::nullopt;  // the files API serves local blobs itself
}

}  // namespace kiln::storage
