#pragma once
// The Data Uploader through the API, in the token's workspace: viewers read everything; members
// create, change and delete sync sessions; admins and owners manage projects and cycles.
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audit/store.hpp"
#include "auth/model.hpp"
#include "core/thread_pool.hpp"
#include "modules/uploads/store.hpp"
#include "modules/uploads/sync_store.hpp"

namespace kiln::uploads {

// Query parameters as they came (validated here, one 422 entry per bad one).
struct ListQuery {
    std::optional<std::string> limit;
    std::optional<std::string> cursor;
    std::optional<std::string> project_id;
    std::optional<std::string> cycle_id;
    std::optional<std::string> state;  // sessions: a state; files: a status
};

// GET /sync-sessions/stats's query parameters as they came.
struct SessionStatsQuery {
    std::optional<std::string> project_id;
    std::optional<std::string> cycle_id;
    std::optional<std::string> since;
    std::optional<std::string> until;
};

class Service {
public:
    // `import_roots`: uploads.import_roots (empty: no server path is accepted). `jobs_enqueued`:
    // called once a start has committed its jobs, so that this process's worker claims them
    // without waiting for their notification.
    Service(Store& store, SyncStore& sync, core::ThreadPool& blocking, std::vector<std::string> import_roots,
            std::function<void()> jobs_enqueued = {});

    boost::asio::awaitable<Project> create_project(auth::Principal p, ProjectInput r, audit::Origin origin);
    boost::asio::awaitable<ProjectList> list_projects(auth::Principal p, ListQuery q);
    boost::asio::awaitable<Project> get_project(auth::Principal p, core::Uuid id);
    boost::asio::awaitable<Project> replace_project(auth::Principal p, core::Uuid id, ProjectInput r,
                                                    audit::Origin origin);
    boost::asio::awaitable<Project> patch_project(auth::Principal p, core::Uuid id, ProjectPatch r,
                                                  audit::Origin origin);
    boost::asio::awaitable<void> remove_project(auth::Principal p, core::Uuid id, audit::Origin origin);

    boost::asio::awaitable<Cycle> create_cycle(auth::Principal p, CycleInput r, audit::Origin origin);
    boost::asio::awaitable<CycleList> list_cycles(auth::Principal p, ListQuery q);
    boost::asio::awaitable<Cycle> get_cycle(auth::Principal p, core::Uuid id);
    boost::asio::awaitable<Cycle> replace_cycle(auth::Principal p, core::Uuid id, CycleReplace r, audit::Origin origin);
    boost::asio::awaitable<Cycle> patch_cycle(auth::Principal p, core::Uuid id, CyclePatch r, audit::Origin origin);
    boost::asio::awaitable<void> remove_cycle(auth::Principal p, core::Uuid id, audit::Origin origin);

    boost::asio::awaitable<SyncSession> create_session(auth::Principal p, SyncSessionInput r, audit::Origin origin);
    boost::asio::awaitable<SyncSessionList> list_sessions(auth::Principal p, ListQuery q);
    // Viewers may read; a malformed parameter is its 422 entry, another workspace's id matches nothing.
    boost::asio::awaitable<SessionStats> session_stats(auth::Principal p, SessionStatsQuery q);
    boost::asio::awaitable<SyncSession> get_session(auth::Principal p, core::Uuid id);
    // PUT: absent fields take their defaults; PATCH (`partial`): absent fields stay.
    boost::asio::awaitable<SyncSession> update_session(auth::Principal p, core::Uuid id, SyncSessionReplace r,
                                                       bool partial, audit::Origin origin);
    boost::asio::awaitable<void> remove_session(auth::Principal p, core::Uuid id, audit::Origin origin);

    boost::asio::awaitable<UploadFileList> list_files(auth::Principal p, core::Uuid session, ListQuery q);

    // The sync (docs/uploads.md, "The sync job"), members: start a pending session; copy again
    // what a finished one did not (failed files, or all that a cancel left); cancel.
    boost::asio::awaitable<SyncSession> start_sync(auth::Principal p, core::Uuid id, bool retry, audit::Origin origin);
    boost::asio::awaitable<SyncSession> cancel_sync(auth::Principal p, core::Uuid id, audit::Origin origin);
    // A file uploaded through the API joins a pending session that reads no directory (member).
    boost::asio::awaitable<UploadFile> add_file(auth::Principal p, core::Uuid session, SessionFileInput r,
                                                audit::Origin origin);
    // The session whose sync is `job` (404 for any other job id).
    boost::asio::awaitable<SyncSession> session_of_job(auth::Principal p, core::Uuid job);

private:
    // The update of a project or a cycle once its input is checked (PUT and PATCH alike): a
    // name or number already taken is 409.
    boost::asio::awaitable<Project> save_project(auth::Principal p, core::Uuid id, ProjectChanges c, audit::Event e,
                                                 audit::Origin origin);
    boost::asio::awaitable<Cycle> save_cycle(auth::Principal p, core::Uuid id, CycleChanges c, audit::Event e,
                                             audit::Origin origin);
    // The session changes of `r`, its local_directory checked against the import roots (on the
    // CPU pool) and replaced by the path it resolves to; every bad field goes to `v`.
    boost::asio::awaitable<SessionChanges> session_changes(const auth::Principal& p, SyncSessionReplace r, bool partial,
                                                           core::Validator& v);

    Store& store_;
    SyncStore& sync_;
    core::ThreadPool& blocking_;  // file system checks
    std::vector<std::string> roots_;
    std::function<void()> jobs_enqueued_;
};

}  // namespace kiln::uploads
