#pragma once
// The SQL of a sync (docs/uploads.md, "The sync job"): starting, cancelling and retrying a
// session through the API, and what its jobs read and record. The rules live in the SQL
// functions of migrations/0016_uploads_sync.sql, so each step is one round trip.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/store.hpp"
#include "db/pool.hpp"
#include "modules/uploads/model.hpp"

namespace kiln::uploads {

// What a sync's jobs need to know of their session.
struct SyncPlan {
    core::Uuid session;
    core::Uuid project;
    std::optional<core::Uuid> job_id;
    std::string state;
    std::optional<std::string> local_directory;
    std::vector<std::string> include;
    std::vector<std::string> exclude;
    bool use_find = true;
    unsigned max_workers = 1;
    unsigned times_to_retry = 0;
    bool scanned = false;
    std::optional<core::Uuid> connection;  // null: the server's own blob store
    std::string bucket;                    // "": the connection's
    std::string prefix;                    // project base_prefix and cycle s3_prefix, joined
};

// The scan's outcome, as recorded.
struct ScannedFiles {
    struct File {
        std::string relative;
        std::string source;  // the path read
        std::string key;
        std::uint64_t size = 0;
        bool key_absent = false;  // not in the store's listing of the prefix (none taken: false)
    };
    struct Refused {
        std::string relative;
        std::string reason;
    };
    std::vector<File> files;
    std::vector<Refused> refused;
    std::optional<std::string> error;  // the directory itself could not be read
};

// A file a lane copies: from the server's disk (`source`), or one uploaded through the API
// (`uploaded`), read from the server's blob store under `blob_key` (none: the file was deleted).
struct LaneFile {
    core::Uuid id;
    std::string relative;
    std::string source;
    std::string key;
    std::uint64_t size = 0;
    bool uploaded = false;
    std::optional<std::string> blob_key;
    bool key_absent = false;  // see ScannedFiles::File
};

// One file's end, as the transfer engine reported it.
struct FileOutcome {
    core::Uuid file;
    std::string status;  // uploaded | skipped | failed
    unsigned attempts = 0;
    std::optional<std::string> error;
    std::optional<std::string> sha256;
    std::optional<std::string> etag;
    std::uint64_t size = 0;
    std::chrono::system_clock::time_point started;
};

class SyncStore {
public:
    explicit SyncStore(db::Pool& pool) : pool_(pool) {}

    // --- requests, in the scope's workspace
    // Starts (retry: re-runs) the session under the batch whose queries are `enqueue` (its first
    // query's job is the session's job), in one transaction with the audit event.
    boost::asio::awaitable<SyncSession> start(const db::TenantScope& scope, const core::Uuid& session,
                                              const core::Uuid& job, bool retry, std::vector<db::Query> enqueue,
                                              const audit::Event& e, const audit::Origin& origin);
    boost::asio::awaitable<SyncSession> cancel(const db::TenantScope& scope, const core::Uuid& session,
                                               const audit::Event& e, const audit::Origin& origin);
    // The live session whose sync ran (or runs) as `job`; nullopt when none.
    boost::asio::awaitable<std::optional<SyncSession>> by_job(const db::TenantScope& scope, const core::Uuid& job);

    // --- the sync's jobs, in the job's workspace
    // Throws Problem 404 when the session is gone.
    boost::asio::awaitable<SyncPlan> plan(const db::TenantScope& scope, const core::Uuid& session);
    // To commit with the scan job's success (Context::commit_with), in order: record the files
    // once, share them among `lanes`, let the waiting lanes of `job` start.
    // `prefix`: the keys' start, for the files uploaded through the API.
    static std::vector<db::Query> record_scan(const core::Uuid& workspace, const core::Uuid& session,
                                              const core::Uuid& job, const ScannedFiles& scanned, unsigned lanes,
                                              const std::string& prefix);
    // A file uploaded through the API joins a pending session without local_directory, as
    // `relative` (its name when absent): 409 for another session, 422 file_id for a file that is
    // not a ready file of the workspace, 23505 when the relative path is taken.
    boost::asio::awaitable<UploadFile> add_file(const db::TenantScope& scope, const core::Uuid& session,
                                                const core::Uuid& file, const std::optional<std::string>& relative,
                                                const audit::Event& e, const audit::Origin& origin);
    // The lane's files still to copy, in path order.
    boost::asio::awaitable<std::vector<LaneFile>> lane_files(const db::TenantScope& scope, const core::Uuid& session,
                                                             unsigned lane);
    // Records files' ends (each counted once) and, with `event`, a sync.progress event.
    boost::asio::awaitable<void> files_done(const db::TenantScope& scope, const core::Uuid& session,
                                            const std::vector<FileOutcome>& done, bool event);
    // The SHA-256 a sync of this workspace recorded for a large object of this ETag and size
    // (migration 0020), if any.
    boost::asio::awaitable<std::optional<std::string>> recorded_sha256(db::TenantScope scope, std::string etag,
                                                                       std::uint64_t size);
    // How far a lane is into sending a pending file, with a sync.progress event (by value: a lane
    // starts it without waiting for it).
    boost::asio::awaitable<void> sending(db::TenantScope scope, core::Uuid session, core::Uuid file,
                                         std::int64_t bytes);
    // The session's final state, unless it was cancelled or restarted under another job.
    // `lanes_failed`: why the session fails whatever its files (a lane died).
    boost::asio::awaitable<void> finish(const db::TenantScope& scope, const core::Uuid& session, const core::Uuid& job,
                                        const std::optional<std::string>& lanes_failed);

private:
    db::Pool& pool_;
};

}  // namespace kiln::uploads
