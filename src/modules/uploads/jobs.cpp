#include "modules/uploads/jobs.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <unordered_set>

#include "core/log.hpp"
#include "http/client.hpp"
#include "http/json.hpp"
#include "modules/uploads/local_directory.hpp"
#include "modules/uploads/scan.hpp"
#include "modules/uploads/transfer.hpp"
#include "storage/factory.hpp"
#include "storage/fd_io.hpp"
#include "storage/key.hpp"

namespace asio = boost::asio;

namespace kiln::uploads {

namespace {

using Clock = std::chrono::steady_clock;

// A lane reports the session's progress as an event at most this often (and at its last file):
// with many lanes, each flush is a statement on the one session row, so not too often.
constexpr auto kEventEvery = std::chrono::milliseconds(1000);
// Lanes hold their lease by heartbeats; the timeout only bounds a lane that hangs.
constexpr int kLaneTimeoutMs = 24 * 3600 * 1000;
constexpr int kScanTimeoutMs = 3600 * 1000;
// A file at least this large reports how far its sending is at each of the transfer's ticks.
constexpr std::uint64_t kSendingFrom = std::uint64_t{8} << 20U;
// Files of the directory below kSendingFrom go to the transfer engine this many at a time; it
// does the small ones among them in one trip to its pool (transfer.cpp: take_group).
constexpr std::size_t kGroupOf = 16;
// Keys a listing may hold beyond twice the files synced before it is not worth reading.
constexpr std::size_t kListSlack = 1000;

db::TenantScope scope_of(const jobs::Context& ctx) {
    db::TenantScope s;
    s.workspace_id = ctx.workspace();
    return s;
}

// Where a project's files go: its key prefix, under the workspace's own folder when they go to
// the server's blob store (which every workspace shares).
std::string key_prefix(const SyncPlan& plan, const core::Uuid& workspace) {
    std::string prefix;
    if (!plan.connection) prefix = "ws/" + workspace.str() + "/uploads/" + plan.project.str() + "/";
    if (!plan.prefix.empty()) prefix += plan.prefix + "/";
    return prefix;
}

// Where a lane writes a blob it stages: a file, written on the blocking pool.
class FileSink final : public storage::Sink {
public:
    FileSink(int fd, core::ThreadPool& pool) : fd_(fd), pool_(pool) {}
    asio::awaitable<void> write(std::string_view data) override {
        auto put = [fd = fd_, data] { storage::write_all(fd, data, "staging"); };
        co_await pool_.run(std::move(put));
    }

private:
    int fd_;
    core::ThreadPool& pool_;
};

// A blob copied from the server's S3 store into a temporary file for the transfer engine, which
// reads files; removed with this.
struct StagedFile {
    std::filesystem::path path;
    StagedFile() = default;
    StagedFile(const StagedFile&) = delete;
    StagedFile& operator=(const StagedFile&) = delete;
    ~StagedFile() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove(path, ec);
    }
};

// One piece of work at a time beside a lane, which does not wait for it (a batch of outcomes
// being made durable and recorded, a file's progress). The work must hold only what outlives it;
// the lane waits for it before it ends all the same (wait()).
class Behind {
public:
    explicit Behind(const asio::any_io_executor& ex) : state_(std::make_shared<State>(ex)) {}

    bool busy() const noexcept { return state_->busy; }
    void start(asio::awaitable<void> work) {
        state_->busy = true;
        auto done = [state = state_](const std::exception_ptr& failure) {
            state->failure = failure;
            state->busy = false;
            state->idle.cancel();
        };
        asio::co_spawn(state_->idle.get_executor(), std::move(work), std::move(done));
    }
    // Until the work started last has ended; how it failed, if it did (taken: reported once).
    asio::awaitable<std::exception_ptr> wait() {
        while (state_->busy) {
            state_->idle.expires_at(asio::steady_timer::time_point::max());
            co_await state_->idle.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        co_return std::exchange(state_->failure, nullptr);
    }

private:
    struct State {
        explicit State(const asio::any_io_executor& ex) : idle(ex) {}
        asio::steady_timer idle;
        bool busy = false;
        std::exception_ptr failure;
    };
    std::shared_ptr<State> state_;
};

// A lane's file outcomes, recorded a few at a time (one statement for up to kBatch files, or
// what came in kEventEvery), each flush with a sync.progress event. 128, not 32: each statement
// also writes the session's counters and an event, so fewer, larger ones cost PostgreSQL less
// (when statements still found their rows by scanning the session's, before migration 0022, 128
// halved its CPU for 2,000 small files).
// The target's puts are made durable together just before (BlobStore::defer_durability), so a
// file is recorded `uploaded` only once it would survive a crash. A batch is made durable and
// recorded while the lane goes on with the next files (on the local store, 128 fsyncs and a
// statement: 60-130 ms that the lane used to sit out); one batch at a time, and a batch that
// failed fails the lane at the next one. Outcomes not yet recorded when the lane dies are found
// again by its next attempt: the files are still pending, and the store may already hold their
// bytes, so they are skipped.
class Outcomes {
public:
    Outcomes(const asio::any_io_executor& ex, SyncStore& store, std::shared_ptr<storage::BlobStore> target,
             db::TenantScope scope, core::Uuid session)
        : store_(store), target_(std::move(target)), scope_(scope), session_(session), behind_(ex) {}

    asio::awaitable<void> add(FileOutcome o) {
        batch_.push_back(std::move(o));
        if (batch_.size() < kBatch && Clock::now() - last_ < kEventEvery) co_return;
        co_await settled();
        recording_ = batch_.size();
        behind_.start(record(store_, target_, scope_, session_, std::exchange(batch_, {})));
        last_ = Clock::now();
    }
    // Every outcome added is recorded once this returns.
    asio::awaitable<void> flush() {
        co_await settled();
        if (batch_.empty()) co_return;
        const std::size_t n = batch_.size();
        co_await record(store_, target_, scope_, session_, std::exchange(batch_, {}));
        recorded_ += n;
        last_ = Clock::now();
    }
    // Waits for the batch in flight, whatever becomes of it (a lane that fails waits too).
    asio::awaitable<void> quiesce() { co_await behind_.wait(); }
    std::size_t recorded() const noexcept { return recorded_; }

private:
    static constexpr std::size_t kBatch = 128;

    static asio::awaitable<void> record(SyncStore& store, std::shared_ptr<storage::BlobStore> target,
                                        db::TenantScope scope, core::Uuid session, std::vector<FileOutcome> batch) {
        co_await target->sync();
        co_await store.files_done(scope, session, batch, true);
    }
    asio::awaitable<void> settled() {
        const auto failure = co_await behind_.wait();
        if (failure) std::rethrow_exception(failure);
        recorded_ += std::exchange(recording_, 0);
    }

    SyncStore& store_;
    std::shared_ptr<storage::BlobStore> target_;
    db::TenantScope scope_;
    core::Uuid session_;
    Behind behind_;
    std::vector<FileOutcome> batch_;
    std::size_t recording_ = 0;  // in the batch in flight
    Clock::time_point last_ = Clock::now();
    std::size_t recorded_ = 0;
};

// How far a lane is into a large file (SyncStore::sending), reported from the transfer's progress
// ticks without holding the transfer up: one statement at a time, later ticks skipped meanwhile.
class Sending {
public:
    Sending(const asio::any_io_executor& ex, SyncStore& store, db::TenantScope scope, core::Uuid session)
        : behind_(ex), store_(store), scope_(scope), session_(session) {}

    void report(const core::Uuid& file, std::uint64_t bytes) {
        if (behind_.busy() || bytes == 0) return;
        behind_.start(record(store_, scope_, session_, file, static_cast<std::int64_t>(bytes)));
    }
    asio::awaitable<void> drain() { co_await behind_.wait(); }

private:
    // Only progress: a failure is logged, and the lane goes on.
    static asio::awaitable<void> record(SyncStore& store, db::TenantScope scope, core::Uuid session, core::Uuid file,
                                        std::int64_t bytes) {
        try {
            co_await store.sending(scope, session, file, bytes);
        } catch (...) {
            spdlog::warn("uploads sync: a file's progress was not recorded: {}",
                         core::describe(std::current_exception()));
        }
    }

    Behind behind_;
    SyncStore& store_;
    db::TenantScope scope_;
    core::Uuid session_;
};

class SyncJobs {
public:
    explicit SyncJobs(SyncDeps deps)
        : d_(std::move(deps)), box_(storage::SecretBox::from_base64(d_.storage->master_key)) {}

    asio::awaitable<boost::json::value> scan_files(jobs::Context& ctx, SyncArgs a) {
        const auto scope = scope_of(ctx);
        const SyncPlan plan = co_await d_.store->plan(scope, a.session_id);
        if (plan.job_id != a.sync_job || plan.state != "in_progress") co_return boost::json::object{{"stale", true}};
        ScannedFiles scanned;
        if (!plan.scanned && plan.local_directory) scanned = co_await list(plan, ctx.workspace());
        if (ctx.cancelled()) throw jobs::Cancelled{};
        const std::string prefix = key_prefix(plan, ctx.workspace());
        if (!scanned.files.empty()) co_await mark_absent(scope, plan, prefix, scanned.files);
        // The file list, the lanes' shares and the lanes' start commit with this job's success,
        // so a scan killed half-way records nothing and its next attempt scans again.
        for (auto& q : SyncStore::record_scan(ctx.workspace(), a.session_id, a.sync_job, scanned,
                                              static_cast<unsigned>(a.lanes), prefix)) {
            ctx.commit_with(std::move(q));
        }
        boost::json::object out{{"files", scanned.files.size()}, {"refused", scanned.refused.size()}};
        if (scanned.error) out["error"] = *scanned.error;
        co_return out;
    }

    asio::awaitable<boost::json::value> transfer_files(jobs::Context& ctx, SyncArgs a) {
        const auto scope = scope_of(ctx);
        const SyncPlan plan = co_await d_.store->plan(scope, a.session_id);
        if (plan.job_id != a.sync_job || plan.state != "in_progress") co_return boost::json::object{{"stale", true}};
        const auto files = co_await d_.store->lane_files(scope, a.session_id, static_cast<unsigned>(a.lane));
        if (files.empty()) co_return boost::json::object{{"files", 0}};
        const auto executor = co_await asio::this_coro::executor;
        http::Client client(executor);
        std::shared_ptr<storage::BlobStore> target = co_await open_target(scope, plan, client);
        target->defer_durability();
        Outcomes out(executor, *d_.store, target, scope, a.session_id);
        Sending sending(executor, *d_.store, scope, a.session_id);
        Lane lane{.ctx = ctx, .plan = plan, .scope = scope, .target = *target, .out = out, .sending = sending};
        std::exception_ptr failure;
        try {
            co_await send_files(lane, files, client);
        } catch (...) {
            failure = std::current_exception();
        }
        // Nothing started beside the lane outlives it.
        co_await sending.drain();
        if (failure) {
            co_await out.quiesce();
            std::rethrow_exception(failure);
        }
        co_await out.flush();
        if (ctx.cancelled()) throw jobs::Cancelled{};
        co_return boost::json::object{{"files", out.recorded()}};
    }

    // The batch parent: every lane has ended. A lane that died (out of attempts) fails the session.
    asio::awaitable<boost::json::value> settle(jobs::Context& ctx, SyncArgs a) {
        const auto& batch = ctx.batch();
        std::optional<std::string> lanes_failed;
        const auto* dead = batch.is_object() ? batch.as_object().if_contains("dead") : nullptr;
        if (dead != nullptr && dead->to_number<std::int64_t>() > 0) {
            lanes_failed = fmt::format("{} of the sync's {} jobs failed; see GET /api/v1/jobs?batch={}",
                                       dead->to_number<std::int64_t>(),
                                       batch.as_object().at("total").to_number<std::int64_t>(), ctx.id().str());
        }
        co_await d_.store->finish(scope_of(ctx), a.session_id, ctx.id(), lanes_failed);
        co_return batch;
    }

private:
    // What a lane's sends share.
    struct Lane {
        jobs::Context& ctx;
        const SyncPlan& plan;
        const db::TenantScope& scope;
        storage::BlobStore& target;
        Outcomes& out;
        Sending& sending;
    };
    struct Send {
        const LaneFile* file;
        std::string source;  // where its bytes are read
    };

    // The lane's files in order; stops early when the job is cancelled.
    asio::awaitable<void> send_files(Lane& lane, const std::vector<LaneFile>& files, http::Client& client) {
        std::unique_ptr<storage::BlobStore> server;  // the server's own store, once a file needs it
        std::vector<Send> group;  // small files of the directory, sent together (one trip to the pool each)
        for (const auto& f : files) {
            if (lane.ctx.cancelled()) break;
            // Uploaded files need their source found, large ones report progress: one at a time.
            const bool grouped = !f.uploaded && f.size < kSendingFrom;
            if (grouped) {
                group.push_back({.file = &f, .source = f.source});
                if (group.size() < kGroupOf) continue;
            }
            const bool stopped = co_await send(lane, group);
            group.clear();
            if (stopped) co_return;
            if (grouped) continue;
            StagedFile staged;
            std::string source = f.source;
            std::optional<std::string> unreadable;
            if (f.uploaded) unreadable = co_await uploaded_source(f, client, server, staged, source);
            if (unreadable) {
                FileOutcome failed{.file = f.id,
                                   .status = "failed",
                                   .error = unreadable,
                                   .size = f.size,
                                   .started = std::chrono::system_clock::now()};
                co_await lane.out.add(std::move(failed));
                continue;
            }
            std::vector<Send> one{{.file = &f, .source = std::move(source)}};
            const bool cancelled = co_await send(lane, one);
            if (cancelled) co_return;
        }
        if (!lane.ctx.cancelled()) co_await send(lane, group);
    }

    // Transfers `files` (in one call, so the engine may do small ones in one trip to the pool) and
    // adds their outcomes; true when the job was cancelled meanwhile: the files not uploaded or
    // skipped by then stay pending (a retry copies them).
    asio::awaitable<bool> send(Lane& lane, const std::vector<Send>& files) {
        if (files.empty()) co_return false;
        // A lane's later attempts look first: its earlier one may have put files it did not record.
        const bool first_attempt = lane.ctx.attempt() == 1;
        std::vector<ScannedFile> scanned;
        scanned.reserve(files.size());
        for (const auto& s : files) {
            scanned.push_back({.relative = s.file->key,
                               .absolute = s.source,
                               .size = s.file->size,
                               .key_absent = s.file->key_absent && first_attempt});
        }
        auto& ctx = lane.ctx;
        TransferOptions options{.max_workers = 1,
                                .times_to_retry = lane.plan.times_to_retry,
                                .stop_requested = [&ctx] { return ctx.cancelled(); },
                                .recorded_sha256 =
                                    [store = d_.store, scope = lane.scope](std::string etag, std::uint64_t size) {
                                        return store->recorded_sha256(scope, std::move(etag), size);
                                    }};
        ProgressFn progress;
        if (files.size() == 1 && files.front().file->size >= kSendingFrom) {
            progress = [&sending = lane.sending, id = files.front().file->id](const TransferProgress& p) {
                if (!p.finished) sending.report(id, p.bytes_in_flight);
            };
        }
        auto report = co_await transfer(lane.target, *d_.blocking, std::move(scanned), std::move(options), progress);
        for (std::size_t i = 0; i < files.size(); ++i) {
            const auto& r = report.files[i];
            if (report.cancelled && r.status == FileStatus::failed) co_return true;
            FileOutcome o{.file = files[i].file->id,
                          .status = std::string(to_string(r.status)),
                          .attempts = r.attempts,
                          .size = r.size != 0 ? r.size : files[i].file->size,
                          .started = r.started};
            if (!r.error.empty()) o.error = r.error;
            if (!r.sha256.empty()) o.sha256 = r.sha256;
            if (!r.etag.empty()) o.etag = r.etag;
            co_await lane.out.add(std::move(o));
        }
        co_return report.cancelled;
    }

    // Lists the target's key prefix once, so the lanes put new files without a HEAD each. Only a
    // saving: a store that cannot list (local) or refuses to (S3 without s3:ListBucket), or a
    // prefix holding many more keys than the sync, leaves every file to be looked up.
    asio::awaitable<void> mark_absent(const db::TenantScope& scope, const SyncPlan& plan, const std::string& prefix,
                                      std::vector<ScannedFiles::File>& files) {
        std::optional<std::vector<std::string>> listed;
        std::exception_ptr failure;
        try {
            const auto executor = co_await asio::this_coro::executor;
            http::Client client(executor);
            auto target = co_await open_target(scope, plan, client);
            listed = co_await target->list(prefix, files.size() * 2 + kListSlack);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) spdlog::warn("uploads sync: listing {} failed: {}", prefix, core::describe(failure));
        if (!listed) co_return;
        const std::unordered_set<std::string> present(listed->begin(), listed->end());
        for (auto& f : files) f.key_absent = !present.contains(f.key);
    }

    // Where a lane reads a file uploaded through the API (`source`): the blob's own file on a
    // local store, else a staged copy; the reason it cannot be read, if so.
    asio::awaitable<std::optional<std::string>> uploaded_source(const LaneFile& f, http::Client& client,
                                                                std::unique_ptr<storage::BlobStore>& server,
                                                                StagedFile& staged, std::string& source) {
        if (!f.blob_key) co_return "the uploaded file was deleted before the sync read it";
        if (d_.storage->backend != "s3") {
            source = (storage::local_root(*d_.storage, d_.home) / *f.blob_key).string();
            co_return std::nullopt;
        }
        if (!server) server = storage::make_blob_store(*d_.storage, d_.home, *d_.blocking, client);
        std::exception_ptr failure;
        try {
            co_await stage(*server, *f.blob_key, staged);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) co_return "reading the uploaded file: " + core::describe(failure);
        source = staged.path.string();
        co_return std::nullopt;
    }

    // Copies a blob of the server's store into a new temporary file (`out.path`).
    asio::awaitable<void> stage(storage::BlobStore& server, const std::string& key, StagedFile& out) {
        out.path = std::filesystem::temp_directory_path() / ("kiln-sync-" + core::Uuid::v7().str());
        auto open = [path = out.path] {
            const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            return std::pair<int, int>{fd, fd < 0 ? errno : 0};  // errno is the pool thread's
        };
        const auto opened = co_await d_.blocking->run(std::move(open));
        const int fd = opened.first;
        if (fd < 0) throw std::runtime_error(std::string("staging: ") + std::strerror(opened.second));
        std::exception_ptr failure;
        try {
            FileSink sink(fd, *d_.blocking);
            co_await server.get(key, std::nullopt, sink);
        } catch (...) {
            failure = std::current_exception();
        }
        ::close(fd);
        if (failure) std::rethrow_exception(failure);
    }

    // Blocking (realpath, directory walk): on the blocking pool. The directory is checked again
    // as the job reads it: the tree may have changed since the session was created.
    asio::awaitable<ScannedFiles> list(const SyncPlan& plan, const core::Uuid& workspace) {
        ScannedFiles out;
        auto check_fn = [path = *plan.local_directory, roots = d_.import_roots] {
            return check_local_directory(path, roots);
        };
        const auto check = co_await d_.blocking->run(std::move(check_fn));
        if (!check.resolved) {
            out.error = "local_directory: " + check.problem.value_or("refused");
            co_return out;
        }
        ScanOptions options{.recursive = plan.use_find, .include = plan.include, .exclude = plan.exclude};
        auto result = co_await scan(*d_.blocking, *check.resolved, std::move(options));
        if (result.error) out.error = "local_directory: " + *result.error;
        if (result.truncated) out.error = "the directory has more files than a sync takes; the first ones are listed";
        const std::string prefix = key_prefix(plan, workspace);
        out.files.reserve(result.files.size());
        for (auto& f : result.files) {
            if (prefix.size() + f.relative.size() > storage::kMaxKeyBytes) {
                out.refused.push_back({std::move(f.relative), "its key would be over 1024 bytes"});
                continue;
            }
            out.files.push_back({f.relative, f.absolute.string(), prefix + f.relative, f.size});
        }
        for (auto& r : result.refused) out.refused.push_back({std::move(r.relative), std::move(r.reason)});
        co_return out;
    }

    asio::awaitable<std::unique_ptr<storage::BlobStore>> open_target(const db::TenantScope& scope, const SyncPlan& plan,
                                                                     http::Client& client) {
        if (!plan.connection) co_return storage::make_blob_store(*d_.storage, d_.home, *d_.blocking, client);
        if (!box_) throw std::runtime_error("this server has no storage.master_key to open the connection's secret");
        auto access = co_await d_.connections->access(scope, *plan.connection);
        if (!plan.bucket.empty()) access.bucket = plan.bucket;
        co_return storage::make_blob_store(access, *box_, d_.storage->connection_hosts, client);
    }

    SyncDeps d_;
    std::optional<storage::SecretBox> box_;
};

jobs::NewJob new_job(const char* kind, const SyncArgs& args, int timeout_ms) {
    jobs::NewJob j;
    j.id = core::Uuid::v7();
    j.kind = kind;
    j.args_json = boost::json::serialize(http::to_json(args));
    j.timeout_ms = timeout_ms;
    return j;
}

}  // namespace

void add_jobs(jobs::Registry& registry, SyncDeps deps) {
    auto sync = std::make_shared<SyncJobs>(std::move(deps));
    registry.add(jobs::typed<SyncArgs>({.name = kSyncKind},
                                       [sync](jobs::Context& ctx, SyncArgs a) { return sync->settle(ctx, a); }));
    registry.add(jobs::typed<SyncArgs>({.name = kScanKind, .timeout = std::chrono::milliseconds(kScanTimeoutMs)},
                                       [sync](jobs::Context& ctx, SyncArgs a) { return sync->scan_files(ctx, a); }));
    registry.add(
        jobs::typed<SyncArgs>({.name = kTransferKind, .timeout = std::chrono::milliseconds(kLaneTimeoutMs)},
                              [sync](jobs::Context& ctx, SyncArgs a) { return sync->transfer_files(ctx, a); }));
}

std::vector<jobs::NewJob> sync_jobs(const core::Uuid& session, unsigned lanes) {
    std::vector<jobs::NewJob> out;
    const core::Uuid parent = core::Uuid::v7();
    SyncArgs args{.session_id = session, .sync_job = parent, .lanes = lanes};
    out.push_back(new_job(kSyncKind, args, 300'000));
    out.back().id = parent;
    out.push_back(new_job(kScanKind, args, kScanTimeoutMs));
    for (unsigned i = 0; i < lanes; ++i) {
        args.lane = i;
        out.push_back(new_job(kTransferKind, args, kLaneTimeoutMs));
        out.back().run_at = "infinity";  // until the scan has shared out the files
    }
    return out;
}

}  // namespace kiln::uploads
