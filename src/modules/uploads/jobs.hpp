#pragma once
// The sync job's kinds (docs/uploads.md, "The sync job"): a batch parent `uploads.sync` that
// settles the session once its children end, a first child `uploads.scan` that lists the files,
// and `uploads.transfer` lanes (one per max_workers) that wait for the scan, then copy the files.
#include <boost/describe/class.hpp>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/thread_pool.hpp"
#include "jobs/registry.hpp"
#include "jobs/store.hpp"
#include "modules/uploads/sync_store.hpp"
#include "storage/connection_store.hpp"

namespace kiln::uploads {

inline constexpr const char* kSyncKind = "uploads.sync";
inline constexpr const char* kScanKind = "uploads.scan";
inline constexpr const char* kTransferKind = "uploads.transfer";

// Every job of a sync names its session and the sync (the batch parent's id): a job of an
// earlier run of a restarted session finds another job_id on it and does nothing.
struct SyncArgs {
    core::Uuid session_id;
    core::Uuid sync_job;
    std::int64_t lanes = 1;  // scan: how many lanes share the files
    std::int64_t lane = 0;   // transfer: which
};
BOOST_DESCRIBE_STRUCT(SyncArgs, (), (session_id, sync_job, lanes, lane))

struct SyncDeps {
    SyncStore* store = nullptr;
    storage::ConnectionStore* connections = nullptr;
    const core::StorageConfig* storage = nullptr;
    std::string home;  // $KILN_HOME, for the server's own blob store
    core::ThreadPool* blocking = nullptr;
    std::vector<std::string> import_roots;
};

// The deps must outlive the registry's use.
void add_jobs(jobs::Registry& registry, SyncDeps deps);

// The jobs of a new run of `session` with `lanes` lanes: the parent first.
std::vector<jobs::NewJob> sync_jobs(const core::Uuid& session, unsigned lanes);

}  // namespace kiln::uploads
