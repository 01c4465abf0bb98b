#include "storage/tus_service.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/this_coro.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>
#include <vector>

#include "auth/scope.hpp"
#include "core/log.hpp"
#include "core/problem.hpp"
#include "http/client.hpp"
#include "storage/factory.hpp"

namespace asio = boost::asio;

namespace kiln::storage {

namespace {

constexpr std::size_t kChunk = std::size_t{256} * 1024;
constexpr int kSweepBatch = 500;
constexpr int kSweepRounds = 100;

[[noreturn]] void fail_io(const std::string& what, const std::filesystem::path& path) {
    throw StorageError(what + " " + path.string() + ": " + std::strerror(errno));
}

// A staging file's descriptor; closed on the blocking pool's terms (a regular file's close is
// quick once it was fsynced).
class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&&) = delete;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const noexcept { return fd_; }

private:
    int fd_;
};

// Creates the empty staging file (and its directory).
struct CreateStaging {
    std::filesystem::path path;
    void operator()() const {
        std::filesystem::create_directories(path.parent_path());
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) fail_io("cannot create", path);
        ::close(fd);
    }
};

// Opens the staging file to append at `offset`: bytes past it (written by a PATCH whose offset
// never reached PostgreSQL, the process having died) are cut off. -1 when fewer than `offset`
// bytes are there (the staging data is lost).
struct OpenAt {
    std::filesystem::path path;
    std::int64_t offset;
    int operator()() const {
        const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) return -1;
            fail_io("cannot open", path);
        }
        struct stat st {};
        if (::fstat(fd, &st) != 0 || st.st_size < offset) {
            ::close(fd);
            return -1;
        }
        if (::ftruncate(fd, offset) != 0 || ::lseek(fd, offset, SEEK_SET) != offset) {
            ::close(fd);
            fail_io("cannot position", path);
        }
        return fd;
    }
};

struct WriteAll {
    int fd;
    const char* data;
    std::size_t size;
    void operator()() const {
        std::size_t done = 0;
        while (done < size) {
            const auto w = ::write(fd, data + done, size - done);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) throw StorageError(std::string("staging write failed: ") + std::strerror(errno));
            done += static_cast<std::size_t>(w);
        }
    }
};

struct Sync {
    int fd;
    void operator()() const {
        if (::fsync(fd) != 0) throw StorageError(std::string("staging fsync failed: ") + std::strerror(errno));
    }
};

struct RemoveFile {
    std::filesystem::path path;
    void operator()() const {
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
    }
};

struct OpenRead {
    std::filesystem::path path;
    int operator()() const {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) fail_io("cannot open", path);
        return fd;
    }
};

struct ReadSome {
    int fd;
    char* data;
    std::size_t size;
    std::size_t operator()() const {
        for (;;) {
            const auto n = ::read(fd, data, size);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw StorageError(std::string("staging read failed: ") + std::strerror(errno));
            return static_cast<std::size_t>(n);
        }
    }
};

// The staged bytes, read on the blocking pool, as the blob store's source.
class StagingSource final : public Source {
public:
    StagingSource(Fd fd, core::ThreadPool& blocking) : fd_(std::move(fd)), blocking_(blocking) {}
    asio::awaitable<std::size_t> read(std::span<char> buffer) override {
        const ReadSome op{fd_.get(), buffer.data(), buffer.size()};
        co_return co_await blocking_.run(op);
    }

private:
    Fd fd_;
    core::ThreadPool& blocking_;
};

}  // namespace

std::filesystem::path tus_root(const core::StorageConfig& config, const std::string& home) {
    if (!config.tus_dir.empty()) return config.tus_dir;
    if (!home.empty()) return std::filesystem::path(home) / "tus";
    return std::filesystem::path(".kiln") / "tus";
}

std::filesystem::path TusService::staging_path(const core::Uuid& workspace, const core::Uuid& id) const {
    return root_ / workspace.str() / id.str();
}

bool TusService::lock(const core::Uuid& id) {
    const std::lock_guard guard(mutex_);
    return writing_.insert(id.str()).second;
}

void TusService::unlock(const core::Uuid& id) {
    const std::lock_guard guard(mutex_);
    writing_.erase(id.str());
}

asio::awaitable<std::int64_t> TusService::max_size(const auth::Principal& p) {
    co_return co_await store_.max_file_bytes(auth::scope_of(p, p.workspace, "viewer"));
}

asio::awaitable<TusService::Created> TusService::create(const auth::Principal& p, std::int64_t length, std::string name,
                                                        std::string declared_type, const audit::Origin& origin) {
    const auto scope = auth::scope_of(p, p.workspace, "member");
    const auto max = co_await store_.max_file_bytes(scope);
    if (length > max) {
        throw core::Problem::plan_limit("max_file_bytes",
                                        "The plan allows files of at most " + std::to_string(max) + " bytes.", 413);
    }
    const auto id = core::Uuid::v7();
    const CreateStaging make{staging_path(p.workspace, id)};
    co_await blocking_.run(make);
    const audit::Event e{p.user, "tus.create", "tus_upload", id.str(),
                         boost::json::serialize(boost::json::object{{"length", length}, {"name", name}})};
    std::exception_ptr failure;
    try {
        Created out;
        out.upload = co_await store_.create(scope, id, length, name, declared_type,
                                            static_cast<std::int64_t>(config_.tus_expiry_s), e, origin);
        if (length == 0) {
            out.file = co_await complete(p, out.upload, origin);
            out.upload.file_id = out.file->id;
        }
        co_return out;
    } catch (...) {
        failure = std::current_exception();
    }
    const RemoveFile drop{make.path};
    co_await blocking_.run(drop);
    std::rethrow_exception(failure);
}

asio::awaitable<TusUpload> TusService::head(const auth::Principal& p, core::Uuid id) {
    co_return co_await store_.get(auth::scope_of(p, p.workspace, "member"), id);
}

asio::awaitable<TusUpload> TusService::append(const auth::Principal& p, core::Uuid id, std::int64_t offset,
                                              http::BodyReader& body, const audit::Origin& origin) {
    const auto scope = auth::scope_of(p, p.workspace, "member");
    auto u = co_await store_.get(scope, id);
    if (offset != u.offset) {
        throw core::Problem::conflict("Upload-Offset is " + std::to_string(offset) + " but the upload has " +
                                      std::to_string(u.offset) + " bytes; HEAD it and resume from there.");
    }
    if (u.file_id) co_return u;  // complete already: nothing more to take
    const auto remaining = static_cast<std::uint64_t>(u.length - u.offset);
    if (const auto declared = body.content_length(); declared && *declared > remaining) {
        throw core::Problem(413, "Content Too Large",
                            "The upload has " + std::to_string(remaining) + " bytes left (Upload-Length).");
    }
    body.restrict(remaining);
    if (!lock(id)) throw core::Problem::conflict("Another PATCH of this upload is in progress.");
    struct Unlock {
        TusService* self = nullptr;
        core::Uuid id;
        ~Unlock() { self->unlock(id); }
    } const unlock_on_exit{this, id};

    const OpenAt open{staging_path(u.workspace, id), offset};
    Fd fd(co_await blocking_.run(open));
    if (fd.get() < 0) {
        throw core::Problem(410, "Gone",
                            "This upload's staged bytes are not on this server any more; create a new upload.");
    }
    std::vector<char> buffer(kChunk);
    std::int64_t written = offset;
    std::int64_t durable = offset;
    std::exception_ptr failure;
    try {
        for (;;) {
            const auto n = co_await body.read(std::span<char>(buffer));
            if (n == 0) break;
            const WriteAll write{fd.get(), buffer.data(), n};
            co_await blocking_.run(write);
            written += static_cast<std::int64_t>(n);
            if (written - durable >= kCheckpointBytes) {
                const Sync sync{fd.get()};
                co_await blocking_.run(sync);
                u.expires = co_await store_.advance(scope, id, durable, written,
                                                    static_cast<std::int64_t>(config_.tus_expiry_s), nullptr, origin);
                durable = written;
            }
        }
    } catch (...) {
        failure = std::current_exception();  // the client left, stalled, or sent too much: keep what came
    }
    // What arrived is made durable and counted, interrupted or not, with one audit event per PATCH.
    const audit::Event e{p.user, "tus.append", "tus_upload", id.str(),
                         boost::json::serialize(boost::json::object{
                             {"from", offset}, {"to", written}, {"interrupted", failure != nullptr}})};
    // Except a body past the upload's length (413): that request is refused whole, and the next
    // PATCH cuts its bytes off the staging file.
    bool keep = true;
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const core::Problem&) {
            keep = false;
        } catch (...) {  // NOLINT(bugprone-empty-catch): the client left or stalled; keep what came
        }
    }
    std::exception_ptr recorded;
    if (keep) {
        try {
            const Sync sync{fd.get()};
            co_await blocking_.run(sync);
            u.expires = co_await store_.advance(scope, id, durable, written,
                                                static_cast<std::int64_t>(config_.tus_expiry_s), &e, origin);
            u.offset = written;
        } catch (...) {
            recorded = std::current_exception();
        }
    }
    if (failure) std::rethrow_exception(failure);
    if (recorded) std::rethrow_exception(recorded);
    if (u.offset == u.length) {
        const auto file = co_await complete(p, u, origin);
        u.file_id = file.id;
    }
    co_return u;
}

asio::awaitable<File> TusService::complete(const auth::Principal& p, const TusUpload& u, const audit::Origin& origin) {
    if (u.file_id) throw core::Problem::conflict("The upload is complete already.");
    const auto path = staging_path(u.workspace, u.id);
    const auto upload = co_await files_.begin_upload(p);
    std::exception_ptr failure;
    try {
        const OpenRead open{path};
        StagingSource source(Fd(co_await blocking_.run(open)), blocking_);
        const auto stored = co_await files_.put(upload, source);
        if (stored.size != u.length) {
            throw StorageError("staged " + std::to_string(stored.size) + " bytes of an upload of " +
                               std::to_string(u.length));
        }
        auto file = co_await files_.finish_upload(p, upload, stored, u.name, u.declared_type, origin, u.id);
        const RemoveFile drop{path};
        co_await blocking_.run(drop);
        co_return file;
    } catch (...) {
        failure = std::current_exception();
    }
    co_await files_.abandon(p, upload);
    std::rethrow_exception(failure);
}

asio::awaitable<void> TusService::terminate(const auth::Principal& p, core::Uuid id, const audit::Origin& origin) {
    const audit::Event e{p.user, "tus.delete", "tus_upload", id.str()};
    co_await store_.remove(auth::scope_of(p, p.workspace, "member"), id, e, origin);
    const RemoveFile drop{staging_path(p.workspace, id)};
    co_await blocking_.run(drop);
}

asio::awaitable<TusService::SweepReport> TusService::sweep() {
    SweepReport report;
    for (int round = 0; round < kSweepRounds; ++round) {
        const auto expired = co_await store_.delete_expired(kSweepBatch);
        for (const auto& s : expired) {
            const RemoveFile drop{staging_path(s.workspace, s.id)};
            co_await blocking_.run(drop);
        }
        report.expired += expired.size();
        if (expired.size() < static_cast<std::size_t>(kSweepBatch)) break;
    }
    // This thread's own store: the sweep runs on the job worker's io_context, which the request
    // threads' stores (BlobStores) do not serve.
    http::Client client(co_await asio::this_coro::executor);
    const auto blobs = make_blob_store(config_, home_, blocking_, client);
    for (int round = 0; round < kSweepRounds; ++round) {
        const auto stale = co_await store_.stale_files(static_cast<std::int64_t>(config_.stale_upload_s), kSweepBatch);
        std::vector<Swept> gone;
        for (const auto& s : stale) {
            try {
                co_await blobs->remove(s.storage_key);
                gone.push_back(s);
            } catch (const std::exception& ex) {
                core::log::warn("stale upload's blob not removed", {{"file", s.id.str()}, {"error", ex.what()}});
            }
        }
        co_await store_.delete_files(gone);
        report.stale += gone.size();
        if (stale.size() < static_cast<std::size_t>(kSweepBatch) || gone.empty()) break;
    }
    co_return report;
}

}  // namespace kiln::storage
