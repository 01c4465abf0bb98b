#include "modules/uploads/transfer.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <random>

#include "core/crypto.hpp"
#include "storage/fd_io.hpp"
#include "storage/key.hpp"

namespace asio = boost::asio;

namespace kiln::uploads {

namespace {

using Clock = std::chrono::steady_clock;

// A file that changed while it was being read: the attempt fails (a retry reads it again).
class FileChanged : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

[[noreturn]] void fail_errno(const std::string& what) {
    throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

struct OpenedFile {
    int fd = -1;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    // A small file is read whole in the hop that opens it (and closed there): its bytes and
    // their SHA-256. Each hop to the file pool and back costs the lane more than reading a small
    // file does, so a file the store already holds then costs two (this, the store's head).
    std::optional<std::string> bytes;
    std::string sha256;
};

// Throws unless `fd` is still a regular file.
OpenedFile stat_fd(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) fail_errno("stat");
    if (!S_ISREG(st.st_mode)) throw std::runtime_error("no longer a regular file");
    return {.fd = fd,
            .size = static_cast<std::uint64_t>(st.st_size),
            .mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

// O_NOFOLLOW: a file the scan saw as regular and that became a symlink since is not followed
// (the scan already resolved links inside the root to their targets).
OpenedFile open_file(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) fail_errno("opening " + path.string());
    try {
        return stat_fd(fd);
    } catch (...) {
        ::close(fd);
        throw;
    }
}

std::size_t read_at(int fd, char* data, std::size_t n, std::uint64_t offset) {
    return storage::read_at(fd, data, n, offset, "reading");
}

// copy_file_range of `n` bytes; fewer only when the source ends first; nullopt when the kernel
// cannot copy between these files (then the caller reads).
std::optional<std::size_t> copy_range(int from, std::uint64_t offset, int to, std::uint64_t at, std::size_t n) {
    auto in = static_cast<loff_t>(offset);
    auto out = static_cast<loff_t>(at);
    std::size_t got = 0;
    while (got < n) {
        const auto r = ::copy_file_range(from, &in, to, &out, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            const bool unsupported = errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP;
            if (got == 0 && unsupported) return std::nullopt;
            fail_errno("copying");
        }
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    return got;
}

std::string describe(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const boost::system::system_error& s) {
        if (s.code() == asio::error::operation_aborted) return "cancelled";
        return s.what();
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "unknown error";
    }
}

struct Run {
    Run(asio::any_io_executor ex, storage::BlobStore& store, core::ThreadPool& blocking, std::vector<ScannedFile> files,
        TransferOptions options, ProgressFn progress)
        : store(store),
          blocking(blocking),
          files(std::move(files)),
          options(std::move(options)),
          progress(std::move(progress)),
          wake(ex) {}

    // Not through the workers' cancellation slots: a store cancelled mid-put could not clean up
    // (every later co_await in its frame would throw). The source throws at its next read instead,
    // so the store fails the put its own way (temporary file removed, multipart upload aborted).
    void cancel() {
        if (cancelled) return;
        cancelled = true;
        for (auto& p : pauses) p->cancel();
    }

    void report(bool finished) {
        const auto now = Clock::now();
        samples.emplace_back(now, totals.bytes_sent);
        while (samples.size() > 2 && now - samples.front().first > std::chrono::seconds(3)) samples.pop_front();
        const auto dt = std::chrono::duration<double>(now - samples.front().first).count();
        totals.bytes_per_second =
            dt > 0 ? static_cast<double>(totals.bytes_sent - samples.front().second) / dt : totals.bytes_per_second;
        totals.finished = finished;
        totals.bytes_in_flight = in_flight;
        if (!progress) return;
        // A throwing callback must not end a worker (its files would go unreported) or the run
        // while workers still use the store.
        try {
            progress(totals);
        } catch (const std::exception& e) {
            spdlog::warn("uploads transfer: the progress callback failed: {}", e.what());
        }
    }

    storage::BlobStore& store;
    core::ThreadPool& blocking;
    std::vector<ScannedFile> files;
    TransferOptions options;
    ProgressFn progress;
    asio::steady_timer wake;                                  // the main loop's tick; the last worker to end cancels it
    std::vector<std::unique_ptr<asio::steady_timer>> pauses;  // each worker's backoff
    std::vector<FileResult> results;
    std::size_t next = 0;
    std::size_t running = 0;
    bool cancelled = false;
    std::uint64_t in_flight = 0;  // what the open sources (file, memory) have read
    TransferProgress totals;
    std::deque<std::pair<Clock::time_point, std::uint64_t>> samples;
};

// The file's bytes for put(): read on the blocking pool straight into the store's buffer and
// counted as sent (the store hashes them: PutResult::sha256); a file shorter than it was at open
// is an error.
class FileSource final : public storage::Source {
public:
    FileSource(Run& run, const OpenedFile& file) : run_(run), file_{.fd = file.fd, .size = file.size} {}
    FileSource(const FileSource&) = delete;
    FileSource& operator=(const FileSource&) = delete;
    ~FileSource() override { run_.in_flight -= offset_; }

    asio::awaitable<std::size_t> read(std::span<char> buffer) override {
        if (run_.cancelled) throw boost::system::system_error(asio::error::operation_aborted);
        if (offset_ == file_.size) co_return 0;
        const auto want = static_cast<std::size_t>(
            std::min<std::uint64_t>({buffer.size(), file_.size - offset_, run_.options.chunk_bytes}));
        auto work = [fd = file_.fd, data = buffer.data(), want, offset = offset_] {
            return read_at(fd, data, want, offset);
        };
        const std::size_t n = co_await run_.blocking.run(std::move(work));
        if (n < want) {
            throw FileChanged(fmt::format("the file changed while being read: it ended after {} of {} bytes",
                                          offset_ + n, file_.size));
        }
        offset_ += n;
        run_.totals.bytes_sent += n;
        run_.in_flight += n;
        co_return n;
    }

    // The local store's fast path: the kernel copies (the store hashes what it stored).
    asio::awaitable<std::optional<std::size_t>> copy_to(int fd, std::uint64_t at, std::size_t max) override {
        if (run_.cancelled) throw boost::system::system_error(asio::error::operation_aborted);
        if (offset_ == file_.size) co_return 0;
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(max, file_.size - offset_));
        auto work = [from = file_.fd, fd, want, offset = offset_, at] {
            return copy_range(from, offset, fd, at, want);
        };
        const std::optional<std::size_t> n = co_await run_.blocking.run(std::move(work));
        if (!n) co_return std::nullopt;
        if (*n < want) {
            throw FileChanged(fmt::format("the file changed while being read: it ended after {} of {} bytes",
                                          offset_ + *n, file_.size));
        }
        offset_ += *n;
        run_.totals.bytes_sent += *n;
        run_.in_flight += *n;
        co_return n;
    }

private:
    Run& run_;
    OpenedFile file_;
    std::uint64_t offset_ = 0;
};

// A small file's bytes, read whole at open (OpenedFile::bytes) with their SHA-256, for put();
// counted as sent.
class MemorySource final : public storage::Source {
public:
    MemorySource(Run& run, std::string_view bytes, std::string sha256)
        : run_(run), bytes_(bytes), sha256_(std::move(sha256)) {}
    MemorySource(const MemorySource&) = delete;
    MemorySource& operator=(const MemorySource&) = delete;
    ~MemorySource() override { run_.in_flight -= offset_; }

    asio::awaitable<std::size_t> read(std::span<char> buffer) override {
        if (run_.cancelled) throw boost::system::system_error(asio::error::operation_aborted);
        const std::size_t n = std::min(buffer.size(), bytes_.size() - offset_);
        std::memcpy(buffer.data(), bytes_.data() + offset_, n);
        offset_ += n;
        run_.totals.bytes_sent += n;
        run_.in_flight += n;
        co_return n;
    }
    // Hashed when the file was read whole (open_whole).
    std::optional<std::string> sha256() const override { return sha256_; }

private:
    Run& run_;
    std::string_view bytes_;
    std::string sha256_;
    std::size_t offset_ = 0;
};

asio::awaitable<std::string> hash_file(Run& run, const OpenedFile& file) {
    core::Sha256 sha;
    std::vector<char> buffer(std::min<std::uint64_t>(run.options.chunk_bytes, std::max<std::uint64_t>(file.size, 1)));
    std::uint64_t offset = 0;
    while (offset < file.size) {
        if (run.cancelled) throw boost::system::system_error(asio::error::operation_aborted);
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), file.size - offset));
        auto work = [fd = file.fd, data = buffer.data(), want, offset, s = &sha] {
            const std::size_t got = read_at(fd, data, want, offset);
            s->update({data, got});
            return got;
        };
        const std::size_t n = co_await run.blocking.run(std::move(work));
        if (n < want) throw FileChanged("the file changed while being read: it became shorter");
        offset += n;
    }
    co_return core::to_hex(sha.finish());
}

// Reads the open file `f` whole into the first f.size bytes of `into` (grown as needed, never
// shrunk), checks it did not change meanwhile (its size and mtime again), hashes it and closes it.
void read_whole(OpenedFile& f, std::string& into) {
    try {
        if (into.size() < f.size) into.resize(f.size);
        if (read_at(f.fd, into.data(), f.size, 0) < f.size) {
            throw FileChanged("the file changed while being read: it became shorter");
        }
        const OpenedFile after = stat_fd(f.fd);
        if (after.size != f.size || after.mtime_ns != f.mtime_ns) {
            throw FileChanged(
                fmt::format("the file changed while being read ({} bytes at open, {} now)", f.size, after.size));
        }
        f.sha256 = core::to_hex(core::sha256({into.data(), f.size}));
    } catch (...) {
        ::close(f.fd);
        throw;
    }
    ::close(std::exchange(f.fd, -1));
}

// Opens the file and, when it holds at most `whole_max` bytes, reads it whole (read_whole).
OpenedFile open_whole(const std::filesystem::path& path, std::uint64_t whole_max) {
    OpenedFile f = open_file(path);
    if (f.size > whole_max) return f;
    std::string bytes;
    read_whole(f, bytes);
    f.bytes = std::move(bytes);
    return f;
}

asio::awaitable<void> check_unchanged(Run& run, const OpenedFile& before) {
    if (before.bytes) co_return;  // read whole in one hop, checked there
    auto work = [fd = before.fd] { return stat_fd(fd); };
    const OpenedFile after = co_await run.blocking.run(std::move(work));
    if (after.size != before.size || after.mtime_ns != before.mtime_ns) {
        throw FileChanged(
            fmt::format("the file changed while being read ({} bytes at open, {} now)", before.size, after.size));
    }
}

[[noreturn]] void mismatch(const std::string& what, const std::string& sent, const std::string& reported) {
    throw std::runtime_error(
        fmt::format("verification failed: {} sent {}, the store reports {}", what, sent, reported));
}

// One try: skip when the store has the same size and SHA-256, otherwise put and verify. A file
// the store would keep without a SHA-256 unless told one (large S3 objects) is hashed first and
// put with it, so the next run can skip it — unless the caller records SHA-256s by ETag.
asio::awaitable<void> attempt_with(Run& run, FileResult& result, const OpenedFile& file, bool key_absent) {
    result.size = file.size;
    std::optional<storage::BlobInfo> existing;
    if (!key_absent) existing = co_await run.store.head(result.key);
    const auto& recorded = run.options.recorded_sha256;
    if (existing && existing->size == file.size && !existing->sha256 && !existing->etag.empty() && recorded) {
        existing->sha256 = co_await recorded(existing->etag, file.size);
    }
    const bool comparable = existing && existing->size == file.size && existing->sha256;
    const auto declared_from = run.store.sha256_declared_from();
    const bool must_declare = declared_from && file.size >= *declared_from && !recorded;
    std::optional<std::string> local;
    if (file.bytes) {
        local = file.sha256;
    } else if (comparable || must_declare) {
        local = co_await hash_file(run, file);
        co_await check_unchanged(run, file);
    }
    if (comparable && *local == *existing->sha256) {
        result.status = FileStatus::skipped;
        result.sha256 = *local;
        result.etag = existing->etag;
        co_return;
    }
    std::optional<FileSource> from_disk;
    std::optional<MemorySource> from_memory;
    storage::Source* source = nullptr;
    if (file.bytes) {
        source = &from_memory.emplace(run, *file.bytes, file.sha256);
    } else {
        source = &from_disk.emplace(run, file);
    }
    const storage::PutResult put = co_await run.store.put(result.key, *source, file.size, local);
    co_await check_unchanged(run, file);
    const std::string& sent = put.sha256;  // of the bytes read, as the store hashed them on the way
    if (put.size != file.size) mismatch("size", std::to_string(file.size), std::to_string(put.size));
    if (!put.checked) {
        // The store's answer did not prove what it holds (S3 multipart, or an ETag not in MD5 form).
        const auto stored = co_await run.store.head(result.key);
        if (!stored) throw std::runtime_error("verification failed: the object is missing after the put");
        if (stored->size != file.size) mismatch("size", std::to_string(file.size), std::to_string(stored->size));
        if (stored->sha256 && *stored->sha256 != sent) mismatch("sha256", sent, *stored->sha256);
        if (!put.etag.empty() && stored->etag != put.etag) mismatch("ETag", put.etag, stored->etag);
    }
    result.status = FileStatus::uploaded;
    result.sha256 = sent;
    result.etag = put.etag;
}

// The file opened (and, when small, read) in the attempt's first hop; with a store that has
// blocking calls, a small file's whole attempt is done there too.
struct FirstHop {
    OpenedFile file;
    std::optional<FileStatus> done;  // skipped or uploaded, with sha256 and etag
    std::string sha256;
    std::string etag;
};

// attempt_with()'s decisions for a small file read whole, on the pool thread. Left to it: a blob
// of the same size without a SHA-256 when the caller may have recorded one (a database lookup).
FirstHop first_hop(const std::filesystem::path& path, std::uint64_t whole_max, storage::BlockingBlobs* now,
                   const std::string& key, bool key_absent, bool recorded) {
    if (now == nullptr) return FirstHop{.file = open_whole(path, whole_max)};
    FirstHop hop{.file = open_file(path)};
    OpenedFile& f = hop.file;
    if (f.size > whole_max) return hop;
    // The bytes go to the store from this thread: read into its own buffer, not a new one a file
    // (malloc, free and memset of a buffer per file were a third of the engine's own CPU for 2,000
    // small files; kiln's user CPU for them 90 → 80 ms, medians of nine runs). At most whole_max
    // bytes a pool thread.
    thread_local std::string buffer;
    read_whole(f, buffer);
    const std::string_view bytes(buffer.data(), f.size);
    std::optional<storage::BlobInfo> existing;
    if (!key_absent) existing = now->head_now(key);
    if (existing && existing->size == f.size) {
        if (!existing->sha256 && recorded) {
            f.bytes = std::string(bytes);  // for attempt_with, on the lane's thread
            return hop;
        }
        if (existing->sha256 == f.sha256) {
            hop.done = FileStatus::skipped;
            hop.sha256 = f.sha256;
            hop.etag = existing->etag;
            return hop;
        }
    }
    const storage::PutResult put = now->put_now(key, bytes, f.sha256);
    if (put.size != f.size) mismatch("size", std::to_string(f.size), std::to_string(put.size));
    hop.done = FileStatus::uploaded;
    hop.sha256 = put.sha256;
    hop.etag = put.etag;
    return hop;
}

// A file's first hop done ahead, with others of its group (see worker): its outcome or failure.
struct Ahead {
    std::optional<FirstHop> hop;
    std::exception_ptr failure;
};

asio::awaitable<void> attempt(Run& run, FileResult& result, std::filesystem::path path, bool key_absent, Ahead* ahead) {
    FirstHop hop;
    if (ahead != nullptr) {
        if (ahead->failure) std::rethrow_exception(ahead->failure);
        hop = std::move(*ahead->hop);
        ahead->hop.reset();
    } else {
        auto open = [path, whole_max = run.options.chunk_bytes, now = run.store.blocking(), key = result.key,
                     key_absent, recorded = static_cast<bool>(run.options.recorded_sha256)] {
            return first_hop(path, whole_max, now, key, key_absent, recorded);
        };
        hop = co_await run.blocking.run(std::move(open));
    }
    const OpenedFile& file = hop.file;
    if (hop.done) {
        result.size = file.size;
        result.status = *hop.done;
        result.sha256 = std::move(hop.sha256);
        result.etag = std::move(hop.etag);
        if (result.status == FileStatus::uploaded) run.totals.bytes_sent += file.size;
        co_return;
    }
    std::exception_ptr failure;
    try {
        co_await attempt_with(run, result, file, key_absent);
    } catch (...) {
        failure = std::current_exception();
    }
    if (file.fd >= 0) run.blocking.post([fd = file.fd] { ::close(fd); });
    if (failure) std::rethrow_exception(failure);
}

std::chrono::milliseconds backoff(const TransferOptions& o, unsigned attempt) {
    const auto shift = std::min(attempt - 1, 20U);
    const auto full = std::min<std::int64_t>(o.retry_base.count() << shift, o.retry_max.count());
    // Jitter over the upper half, so files that failed together do not retry together.
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_int_distribution<std::int64_t> dist(full / 2, std::max<std::int64_t>(full, 1));
    return std::chrono::milliseconds(dist(rng));
}

// Never throws: every outcome ends in the file's result.
// `ahead`: the first attempt's first hop, done with the file's group (the first attempt only).
asio::awaitable<void> upload_one(Run& run, std::size_t index, asio::steady_timer& pause, Ahead* ahead) {
    FileResult& result = run.results[index];
    const ScannedFile& file = run.files[index];
    const auto t0 = Clock::now();
    if (result.started == std::chrono::system_clock::time_point{}) result.started = std::chrono::system_clock::now();
    result.size = file.size;
    bool key_ok = true;
    try {
        storage::validate_key(result.key);
    } catch (const storage::InvalidKey& e) {
        result.error = e.what();
        key_ok = false;
    }
    while (key_ok) {
        if (run.cancelled) {
            result.error = "cancelled";
            break;
        }
        ++result.attempts;
        std::exception_ptr failure;
        try {
            Ahead* first = result.attempts == 1 ? ahead : nullptr;
            co_await attempt(run, result, file.absolute, file.key_absent, first);
        } catch (...) {
            failure = std::current_exception();
        }
        if (!failure) {
            result.error.clear();
            break;
        }
        result.status = FileStatus::failed;
        result.error = run.cancelled ? "cancelled" : describe(failure);
        if (run.cancelled || result.attempts > run.options.times_to_retry) break;
        pause.expires_after(backoff(run.options, result.attempts));
        const auto waited = co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        if (std::get<0>(waited) || run.cancelled) {
            result.error = "cancelled";
            break;
        }
    }
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
}

void tally(Run& run, std::size_t index) {
    const auto& r = run.results[index];
    switch (r.status) {
        case FileStatus::uploaded:
            ++run.totals.files_uploaded;
            run.totals.bytes_done += r.size;
            break;
        case FileStatus::skipped:
            ++run.totals.files_skipped;
            run.totals.bytes_done += r.size;
            break;
        case FileStatus::failed:
            ++run.totals.files_failed;
            break;
    }
    run.report(false);
}

// The files a worker takes next: one, or a run of up to kGroup small ones (as scanned, at most
// kGroupBytes together, and no more than its share of what is left, so that every worker has
// files), whose first hops are then done in one trip to the pool: each trip wakes two threads,
// which costs more than a small file's work. On a store with blocking calls a first hop is most
// of the time the whole attempt; on S3 it reads the file, so the worker has the next PUT's bytes
// in hand as soon as the last one is answered.
constexpr std::size_t kGroup = 16;
constexpr std::uint64_t kGroupBytes = std::uint64_t{2} << 20U;

std::vector<std::size_t> take_group(Run& run) {
    std::vector<std::size_t> group{run.next++};
    const auto small = [&run](std::size_t i) { return run.files[i].size <= run.options.chunk_bytes; };
    if (!small(group.front())) return group;
    const std::size_t left = run.files.size() - group.front();
    const std::size_t workers = std::max<std::size_t>(run.options.max_workers, 1);
    const std::size_t share = std::min(kGroup, (left + workers - 1) / workers);
    std::uint64_t bytes = run.files[group.front()].size;
    while (group.size() < share && run.next < run.files.size() && small(run.next) &&
           bytes + run.files[run.next].size <= kGroupBytes) {
        bytes += run.files[run.next].size;
        group.push_back(run.next++);
    }
    return group;
}

asio::awaitable<std::vector<Ahead>> first_hops(Run& run, const std::vector<std::size_t>& group) {
    struct Job {
        std::filesystem::path path;
        std::string key;
        bool key_absent;
    };
    std::vector<Job> jobs;
    jobs.reserve(group.size());
    const auto now = std::chrono::system_clock::now();
    for (const auto i : group) {
        jobs.push_back({run.files[i].absolute, run.results[i].key, run.files[i].key_absent});
        run.results[i].started = now;
    }
    auto hops = [jobs = std::move(jobs), whole_max = run.options.chunk_bytes, blocking = run.store.blocking(),
                 recorded = static_cast<bool>(run.options.recorded_sha256)] {
        std::vector<Ahead> out(jobs.size());
        for (std::size_t i = 0; i < jobs.size(); ++i) {
            try {
                out[i].hop = first_hop(jobs[i].path, whole_max, blocking, jobs[i].key, jobs[i].key_absent, recorded);
            } catch (...) {
                out[i].failure = std::current_exception();
            }
        }
        return out;
    };
    co_return co_await run.blocking.run(std::move(hops));
}

asio::awaitable<void> worker(std::shared_ptr<Run> run, std::size_t id) {
    while (!run->cancelled && run->next < run->files.size()) {
        const auto group = take_group(*run);
        std::vector<Ahead> ahead;
        if (group.size() > 1) ahead = co_await first_hops(*run, group);
        for (std::size_t g = 0; g < group.size(); ++g) {
            Ahead* pre = ahead.empty() ? nullptr : &ahead[g];
            co_await upload_one(*run, group[g], *run->pauses[id], pre);
            tally(*run, group[g]);
        }
        // A file that grew past the whole-read size since the scan and was then not attempted
        // (cancelled, bad key) still has its descriptor.
        for (auto& a : ahead) {
            if (a.hop && a.hop->file.fd >= 0) run->blocking.post([fd = a.hop->file.fd] { ::close(fd); });
        }
    }
}

}  // namespace

std::string_view to_string(FileStatus status) {
    switch (status) {
        case FileStatus::uploaded:
            return "uploaded";
        case FileStatus::skipped:
            return "skipped";
        case FileStatus::failed:
            break;
    }
    return "failed";
}

asio::awaitable<TransferReport> transfer(storage::BlobStore& store, core::ThreadPool& blocking,
                                         std::vector<ScannedFile> files, TransferOptions options, ProgressFn progress) {
    // The loop below must keep waiting for the workers after a cancellation has been delivered.
    co_await asio::this_coro::throw_if_cancelled(false);
    const auto ex = co_await asio::this_coro::executor;
    auto run = std::make_shared<Run>(ex, store, blocking, std::move(files), std::move(options), std::move(progress));
    run->results.resize(run->files.size());
    for (std::size_t i = 0; i < run->files.size(); ++i) {
        run->results[i].relative = run->files[i].relative;
        run->results[i].key = run->options.prefix + run->files[i].relative;
        run->results[i].size = run->files[i].size;
        run->totals.bytes_total += run->files[i].size;
    }
    run->totals.files_total = run->files.size();
    run->report(false);

    const std::size_t workers = std::min(std::max<std::size_t>(run->options.max_workers, 1), run->files.size());
    for (std::size_t i = 0; i < workers; ++i) run->pauses.push_back(std::make_unique<asio::steady_timer>(ex));
    for (std::size_t i = 0; i < workers; ++i) {
        ++run->running;
        auto done = [run](const std::exception_ptr&) {
            if (--run->running == 0) run->wake.cancel();
        };
        asio::co_spawn(ex, worker(run, i), std::move(done));
    }
    const auto interval = std::max(run->options.progress_interval, std::chrono::milliseconds(1));
    while (run->running > 0) {
        run->wake.expires_after(interval);
        co_await run->wake.async_wait(asio::as_tuple(asio::use_awaitable));
        const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
        bool stop = state.cancelled() != asio::cancellation_type::none;
        if (stop) co_await asio::this_coro::reset_cancellation_state();
        if (!stop && run->options.stop_requested) stop = run->options.stop_requested();
        if (stop) run->cancel();
        if (run->running > 0) run->report(false);
    }
    TransferReport report;
    report.cancelled = run->cancelled;
    for (std::size_t i = 0; i < run->results.size(); ++i) {
        auto& r = run->results[i];
        if (i >= run->next) {
            r.status = FileStatus::failed;
            r.error = "cancelled";
            ++run->totals.files_failed;
        }
    }
    run->report(true);
    report.files = std::move(run->results);
    report.totals = run->totals;
    co_return report;
}

}  // namespace kiln::uploads
