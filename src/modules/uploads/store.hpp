#pragma once
// All SQL of the Data Uploader, in the scope's workspace. Every change is one batch: a require
// function first (404 for an id that is not live here, 422 for a body field naming one, 409 when
// a rule forbids it), then the statement, then its audit event.
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "audit/store.hpp"
#include "db/pool.hpp"
#include "modules/uploads/model.hpp"

namespace kiln::uploads {

// What a change sets: absent fields stay. A nullable column comes with `set_…` so that it can
// be set to null.
struct ProjectChanges {
    std::optional<std::string> name;
    std::optional<std::string> description;
    bool set_connection = false;
    std::optional<core::Uuid> storage_connection_id;
    std::optional<std::string> bucket;
    std::optional<std::string> base_prefix;
    std::optional<bool> is_active;
};

struct CycleChanges {
    std::optional<std::string> cycle_name;
    std::optional<std::int64_t> cycle_number;
    std::optional<std::string> s3_prefix;
    std::optional<std::string> status;
    std::optional<std::string> description;
    std::optional<std::string> metadata_json;
    bool set_started_at = false;
    std::optional<std::string> started_at;
    bool set_completed_at = false;
    std::optional<std::string> completed_at;
};

struct SessionChanges {
    bool set_local_directory = false;
    std::optional<std::string> local_directory;
    std::optional<std::int64_t> max_workers;
    std::optional<std::int64_t> times_to_retry;
    std::optional<std::string> include_json;  // a JSON array of strings
    std::optional<std::string> exclude_json;
    std::optional<bool> use_find;
};

struct SessionFilter {
    std::optional<core::Uuid> cycle_id;
    std::optional<core::Uuid> project_id;
    std::optional<std::string> state;
};

// Which sessions the statistics sum: all live ones of the workspace, narrowed by each given
// field (`since` inclusive, `until` exclusive, both RFC 3339 on created_at).
struct SessionStatsFilter {
    std::optional<core::Uuid> project_id;
    std::optional<core::Uuid> cycle_id;
    std::optional<std::string> since;
    std::optional<std::string> until;
};

// A second live project with the same name: db::Error 23505 on upload_projects_name; a second
// live cycle with the same number in a project: 23505 on upload_cycles_number.
class Store {
public:
    explicit Store(db::Pool& pool) : pool_(pool) {}

    boost::asio::awaitable<Project> create_project(const db::TenantScope& scope, const core::Uuid& id,
                                                   const ProjectChanges& c, const audit::Event& e,
                                                   const audit::Origin& origin);
    // Newest first; `limit` rows after `before` (an id), if given.
    boost::asio::awaitable<std::vector<Project>> list_projects(const db::TenantScope& scope,
                                                               const std::optional<core::Uuid>& before, int limit);
    boost::asio::awaitable<Project> get_project(const db::TenantScope& scope, const core::Uuid& id);
    boost::asio::awaitable<Project> update_project(const db::TenantScope& scope, const core::Uuid& id,
                                                   const ProjectChanges& c, const audit::Event& e,
                                                   const audit::Origin& origin);
    // With its cycles and sessions; 409 while one of its sessions is pending or in progress.
    boost::asio::awaitable<void> remove_project(const db::TenantScope& scope, const core::Uuid& id,
                                                const audit::Event& e, const audit::Origin& origin);

    boost::asio::awaitable<Cycle> create_cycle(const db::TenantScope& scope, const core::Uuid& id,
                                               const core::Uuid& project, const CycleChanges& c, const audit::Event& e,
                                               const audit::Origin& origin);
    boost::asio::awaitable<std::vector<Cycle>> list_cycles(const db::TenantScope& scope,
                                                           const std::optional<core::Uuid>& project,
                                                           const std::optional<core::Uuid>& before, int limit);
    boost::asio::awaitable<Cycle> get_cycle(const db::TenantScope& scope, const core::Uuid& id);
    boost::asio::awaitable<Cycle> update_cycle(const db::TenantScope& scope, const core::Uuid& id,
                                               const CycleChanges& c, const audit::Event& e,
                                               const audit::Origin& origin);
    boost::asio::awaitable<void> remove_cycle(const db::TenantScope& scope, const core::Uuid& id, const audit::Event& e,
                                              const audit::Origin& origin);

    boost::asio::awaitable<SyncSession> create_session(const db::TenantScope& scope, const core::Uuid& id,
                                                       const core::Uuid& cycle, const SessionChanges& c,
                                                       const audit::Event& e, const audit::Origin& origin);
    boost::asio::awaitable<std::vector<SyncSession>> list_sessions(const db::TenantScope& scope, const SessionFilter& f,
                                                                   const std::optional<core::Uuid>& before, int limit);
    // One statement; an id that is not the workspace's matches nothing (zeros, not 404).
    boost::asio::awaitable<SessionStats> session_stats(const db::TenantScope& scope, const SessionStatsFilter& f);
    boost::asio::awaitable<SyncSession> get_session(const db::TenantScope& scope, const core::Uuid& id);
    // 409 unless the session is still pending.
    boost::asio::awaitable<SyncSession> update_session(const db::TenantScope& scope, const core::Uuid& id,
                                                       const SessionChanges& c, const audit::Event& e,
                                                       const audit::Origin& origin);
    // 409 while the session is in progress.
    boost::asio::awaitable<void> remove_session(const db::TenantScope& scope, const core::Uuid& id,
                                                const audit::Event& e, const audit::Origin& origin);

    // 404 unless the session is live here.
    boost::asio::awaitable<std::vector<UploadFile>> list_files(const db::TenantScope& scope, const core::Uuid& session,
                                                               const std::optional<std::string>& status,
                                                               const std::optional<core::Uuid>& before, int limit);

private:
    db::Pool& pool_;
};

// For the sync's store: a session's or a file's read (`where` after the workspace condition)
// and its row.
std::string session_select(std::string_view where);
SyncSession session_row(const db::Result& r, int i);
std::string file_select(std::string_view where);
UploadFile file_row(const db::Result& r, int i);
// A column's JSON array of strings (to_jsonb of a text[]).
std::vector<std::string> strings_of(std::string_view json_text);

}  // namespace kiln::uploads
