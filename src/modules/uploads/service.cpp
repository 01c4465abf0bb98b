#include "modules/uploads/service.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include "auth/scope.hpp"
#include "core/page.hpp"
#include "core/time.hpp"
#include "db/error.hpp"
#include "jobs/store.hpp"
#include "modules/uploads/jobs.hpp"
#include "modules/uploads/local_directory.hpp"
#include "storage/key.hpp"
#include "storage/model.hpp"

namespace asio = boost::asio;

namespace kiln::uploads {

namespace {

constexpr const char* kProject = "upload_project";
constexpr const char* kCycle = "upload_cycle";
constexpr const char* kSession = "upload_sync_session";

bool violates(const db::Error& e, std::string_view constraint) {
    return e.sqlstate() == "23505" && e.constraint() == constraint;
}

core::Problem project_name_taken() {
    return core::Problem::conflict("Another live project of this workspace has that name.");
}

core::Problem cycle_number_taken() {
    return core::Problem::conflict("Another live cycle of this project has that cycle_number.");
}

// An optional id from the query string: a malformed one is the parameter's 422 entry.
std::optional<core::Uuid> id_param(const std::optional<std::string>& text, const char* name, core::Validator& v) {
    if (!text) return std::nullopt;
    auto id = core::Uuid::parse(*text);
    if (!id) v.add(name, "must be a UUID");
    return id;
}

std::string detail_name(std::string_view key, const std::optional<std::string>& value) {
    boost::json::object o;
    if (value) o[key] = *value;
    return boost::json::serialize(o);
}

ProjectChanges changes_of(ProjectInput r) {
    // PUT and POST: the whole resource, absent optional fields at their defaults.
    ProjectChanges c;
    c.name = std::move(r.name);
    c.description = r.description.value_or("");
    c.set_connection = true;
    c.storage_connection_id = r.storage_connection_id;
    c.bucket = r.bucket.value_or("");
    c.base_prefix = r.base_prefix.value_or("");
    c.is_active = r.is_active.value_or(true);
    return c;
}

ProjectChanges changes_of(ProjectPatch r) {
    ProjectChanges c;
    c.name = std::move(r.name);
    c.description = std::move(r.description);
    c.set_connection = r.storage_connection_id.has_value();
    c.storage_connection_id = r.storage_connection_id;
    c.bucket = std::move(r.bucket);
    c.base_prefix = std::move(r.base_prefix);
    c.is_active = r.is_active;
    return c;
}

template <typename C>
CycleChanges cycle_changes(C r, bool partial) {
    CycleChanges c;
    c.cycle_name = std::move(r.cycle_name);
    c.cycle_number = r.cycle_number;
    c.s3_prefix = partial ? std::move(r.s3_prefix) : std::optional<std::string>(r.s3_prefix.value_or(""));
    c.status = partial ? std::move(r.status) : std::optional<std::string>(r.status.value_or("planned"));
    c.description = partial ? std::move(r.description) : std::optional<std::string>(r.description.value_or(""));
    if (r.metadata) {
        c.metadata_json = boost::json::serialize(*r.metadata);
    } else if (!partial) {
        c.metadata_json = "{}";
    }
    c.set_started_at = !partial || r.started_at.has_value();
    c.started_at = std::move(r.started_at);
    c.set_completed_at = !partial || r.completed_at.has_value();
    c.completed_at = std::move(r.completed_at);
    return c;
}

std::optional<std::string> json_of(const std::optional<std::vector<std::string>>& list, bool partial) {
    if (list) return boost::json::serialize(boost::json::value_from(*list));
    if (partial) return std::nullopt;
    return "[]";
}

}  // namespace

Service::Service(Store& store, SyncStore& sync, core::ThreadPool& blocking, std::vector<std::string> import_roots,
                 std::function<void()> jobs_enqueued)
    : store_(store),
      sync_(sync),
      blocking_(blocking),
      roots_(std::move(import_roots)),
      jobs_enqueued_(std::move(jobs_enqueued)) {}

// ---- projects ----

asio::awaitable<Project> Service::create_project(auth::Principal p, ProjectInput r, audit::Origin origin) {
    core::Validator v;
    validate(r, v);
    v.throw_if_failed();
    const auto id = core::Uuid::v7();
    const auto scope = auth::scope_of(p, p.workspace, "admin");
    const audit::Event e{p.user, "upload_project.create", kProject, id.str(), detail_name("name", r.name)};
    const auto c = changes_of(std::move(r));
    try {
        co_return co_await store_.create_project(scope, id, c, e, origin);
    } catch (const db::Error& err) {
        if (!violates(err, "upload_projects_name")) throw;
    }
    throw project_name_taken();
}

asio::awaitable<ProjectList> Service::list_projects(auth::Principal p, ListQuery q) {
    core::Validator v;
    const auto page = core::parse_page(q.limit, q.cursor, v);
    v.throw_if_failed();
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    auto rows = co_await store_.list_projects(scope, page.before, page.limit + 1);
    co_return core::paged<ProjectList>(std::move(rows), page);
}

asio::awaitable<Project> Service::get_project(auth::Principal p, core::Uuid id) {
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    co_return co_await store_.get_project(scope, id);
}

asio::awaitable<Project> Service::save_project(auth::Principal p, core::Uuid id, ProjectChanges c, audit::Event e,
                                               audit::Origin origin) {
    const auto scope = auth::scope_of(p, p.workspace, "admin");
    try {
        co_return co_await store_.update_project(scope, id, c, e, origin);
    } catch (const db::Error& err) {
        if (!violates(err, "upload_projects_name")) throw;
    }
    throw project_name_taken();
}

asio::awaitable<Project> Service::replace_project(auth::Principal p, core::Uuid id, ProjectInput r,
                                                  audit::Origin origin) {
    core::Validator v;
    validate(r, v);
    v.throw_if_failed();
    const audit::Event e{p.user, "upload_project.update", kProject, id.str(), detail_name("name", r.name)};
    auto c = changes_of(std::move(r));
    co_return co_await save_project(p, id, std::move(c), e, origin);
}

asio::awaitable<Project> Service::patch_project(auth::Principal p, core::Uuid id, ProjectPatch r,
                                                audit::Origin origin) {
    core::Validator v;
    validate(r, v);
    v.throw_if_failed();
    const audit::Event e{p.user, "upload_project.update", kProject, id.str(), detail_name("name", r.name)};
    auto c = changes_of(std::move(r));
    co_return co_await save_project(p, id, std::move(c), e, origin);
}

asio::awaitable<void> Service::remove_project(auth::Principal p, core::Uuid id, audit::Origin origin) {
    const auto scope = auth::scope_of(p, p.workspace, "admin");
    const audit::Event e{p.user, "upload_project.delete", kProject, id.str()};
    co_await store_.remove_project(scope, id, e, origin);
}

// ---- cycles ----

asio::awaitable<Cycle> Service::create_cycle(auth::Principal p, CycleInput r, audit::Origin origin) {
    core::Validator v;
    validate(r, v);
    v.throw_if_failed();
    const auto id = core::Uuid::v7();
    const auto project = r.project_id;
    const auto scope = auth::scope_of(p, p.workspace, "admin");
    const audit::Event e{p.user, "upload_cycle.create", kCycle, id.str(), detail_name("cycle_name", r.cycle_name)};
    CycleReplace body{std::move(r.cycle_name), r.cycle_number,           std::move(r.s3_prefix),
                      std::move(r.status),     std::move(r.description), std::move(r.metadata),
                      std::move(r.started_at), std::move(r.completed_at)};
    const auto c = cycle_changes(std::move(body), false);
    try {
        co_return co_await store_.create_cycle(scope, id, project, c, e, origin);
    } catch (const db::Error& err) {
        if (!violates(err, "upload_cycles_number")) throw;
    }
    throw cycle_number_taken();
}

asio::awaitable<CycleList> Service::list_cycles(auth::Principal p, ListQuery q) {
    core::Validator v;
    const auto page = core::parse_page(q.limit, q.cursor, v);
    const auto project = id_param(q.project_id, "project_id", v);
    v.throw_if_failed();
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    auto rows = co_await store_.list_cycles(scope, project, page.before, page.limit + 1);
    co_return core::paged<CycleList>(std::move(rows), page);
}

asio::awaitable<Cycle> Service::get_cycle(auth::Principal p, core::Uuid id) {
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    co_return co_await store_.get_cycle(scope, id);
}

asio::awaitable<Cycle> Service::save_cycle(auth::Principal p, core::Uuid id, CycleChanges c, audit::Event e,
                                           audit::Origin origin) {
    const auto scope = auth::scope_of(p, p.workspace, "admin");
    try {
        co_return co_await store_.update_cycle(scope, id, c, e, origin);
    } catch (const db::Error& err) {
        if (!violates(err, "upload_cycles_number")) throw;
    }
    throw cycle_number_taken();
}

asio::awaitable<Cycle> Service::replace_cycle(auth::Principal p, core::Uuid id, CycleReplace r, audit::Origin origin) {
    core::Validator v;
    validate(r, v);
    v.throw_if_failed();
    const audit::Event e{p.user, "upload_cycle.update", kCycle, id.str(), detail_name("cycle_name", r.cycle_name)};
    auto c = cycle_changes(std::move(r), false);
    co_return co_await save_cycle(p, id, std::move(c), e, origin);
}

asio::awaitable<Cycle> Service::patch_cycle(auth::Principal p, core::Uuid id, CyclePatch r, audit::Origin origin) {
    core::Validator v;
    validate(r, v);
    v.throw_if_failed();
    const audit::Event e{p.user, "upload_cycle.update", kCycle, id.str(), detail_name("cycle_name", r.cycle_name)};
    auto c = cycle_changes(std::move(r), true);
    co_return co_await save_cycle(p, id, std::move(c), e, origin);
}

asio::awaitable<void> Service::remove_cycle(auth::Principal p, core::Uuid id, audit::Origin origin) {
    const auto scope = auth::scope_of(p, p.workspace, "admin");
    const audit::Event e{p.user, "upload_cycle.delete", kCycle, id.str()};
    co_await store_.remove_cycle(scope, id, e, origin);
}

// ---- sync sessions ----

asio::awaitable<SessionChanges> Service::session_changes(const auth::Principal& p, SyncSessionReplace r, bool partial,
                                                         core::Validator& v) {
    // The file system is looked at only for a caller who may change sessions (the token's role;
    // the statement checks it live again): a viewer cannot probe what exists inside the roots.
    if (r.local_directory && p.role == "viewer") {
        throw core::Problem::forbidden("Your role in this workspace (viewer) does not allow this.");
    }
    validate(r, v);
    SessionChanges c;
    c.set_local_directory = !partial || r.local_directory.has_value();
    if (r.local_directory) {
        auto check = [path = *r.local_directory, roots = roots_] { return check_local_directory(path, roots); };
        const auto checked = co_await blocking_.run(std::move(check));
        if (checked.problem) {
            v.add("local_directory", *checked.problem);
        } else {
            c.local_directory = checked.resolved;
        }
    }
    c.max_workers = partial ? r.max_workers : std::optional<std::int64_t>(r.max_workers.value_or(4));
    c.times_to_retry = partial ? r.times_to_retry : std::optional<std::int64_t>(r.times_to_retry.value_or(3));
    c.include_json = json_of(r.include_patterns, partial);
    c.exclude_json = json_of(r.exclude_patterns, partial);
    c.use_find = partial ? r.use_find : std::optional<bool>(r.use_find.value_or(true));
    co_return c;
}

asio::awaitable<SyncSession> Service::create_session(auth::Principal p, SyncSessionInput r, audit::Origin origin) {
    core::Validator v;
    SyncSessionReplace body{
        std::move(r.local_directory),  r.max_workers, r.times_to_retry, std::move(r.include_patterns),
        std::move(r.exclude_patterns), r.use_find};
    const auto c = co_await session_changes(p, std::move(body), false, v);
    v.throw_if_failed();
    const auto id = core::Uuid::v7();
    const auto scope = auth::scope_of(p, p.workspace, "member");
    const audit::Event e{p.user, "upload_sync_session.create", kSession, id.str(),
                         detail_name("local_directory", c.local_directory)};
    co_return co_await store_.create_session(scope, id, r.cycle_id, c, e, origin);
}

asio::awaitable<SyncSessionList> Service::list_sessions(auth::Principal p, ListQuery q) {
    core::Validator v;
    const auto page = core::parse_page(q.limit, q.cursor, v);
    SessionFilter f;
    f.cycle_id = id_param(q.cycle_id, "cycle_id", v);
    f.project_id = id_param(q.project_id, "project_id", v);
    if (q.state && !is_session_state(*q.state))
        v.add("state", "must be pending, in_progress, completed, completed_with_errors, failed or cancelled");
    f.state = q.state;
    v.throw_if_failed();
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    auto rows = co_await store_.list_sessions(scope, f, page.before, page.limit + 1);
    co_return core::paged<SyncSessionList>(std::move(rows), page);
}

asio::awaitable<SessionStats> Service::session_stats(auth::Principal p, SessionStatsQuery q) {
    core::Validator v;
    SessionStatsFilter f;
    f.project_id = id_param(q.project_id, "project_id", v);
    f.cycle_id = id_param(q.cycle_id, "cycle_id", v);
    constexpr const char* kNotATime = "must be an RFC 3339 date-time (2026-12-01T09:00:00Z)";
    if (q.since && !core::is_rfc3339(*q.since)) v.add("since", kNotATime);
    if (q.until && !core::is_rfc3339(*q.until)) v.add("until", kNotATime);
    f.since = std::move(q.since);
    f.until = std::move(q.until);
    v.throw_if_failed();
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    co_return co_await store_.session_stats(scope, f);
}

asio::awaitable<SyncSession> Service::get_session(auth::Principal p, core::Uuid id) {
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    co_return co_await store_.get_session(scope, id);
}

asio::awaitable<SyncSession> Service::update_session(auth::Principal p, core::Uuid id, SyncSessionReplace r,
                                                     bool partial, audit::Origin origin) {
    core::Validator v;
    const auto c = co_await session_changes(p, std::move(r), partial, v);
    v.throw_if_failed();
    const auto scope = auth::scope_of(p, p.workspace, "member");
    const audit::Event e{p.user, "upload_sync_session.update", kSession, id.str(),
                         detail_name("local_directory", c.local_directory)};
    co_return co_await store_.update_session(scope, id, c, e, origin);
}

asio::awaitable<void> Service::remove_session(auth::Principal p, core::Uuid id, audit::Origin origin) {
    const auto scope = auth::scope_of(p, p.workspace, "member");
    const audit::Event e{p.user, "upload_sync_session.delete", kSession, id.str()};
    co_await store_.remove_session(scope, id, e, origin);
}

asio::awaitable<UploadFileList> Service::list_files(auth::Principal p, core::Uuid session, ListQuery q) {
    core::Validator v;
    const auto page = core::parse_page(q.limit, q.cursor, v);
    if (q.state && !is_file_status(*q.state))
        v.add("status", "must be pending, uploading, uploaded, skipped or failed");
    v.throw_if_failed();
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    auto rows = co_await store_.list_files(scope, session, q.state, page.before, page.limit + 1);
    co_return core::paged<UploadFileList>(std::move(rows), page);
}

// ---- the sync ----

asio::awaitable<SyncSession> Service::start_sync(auth::Principal p, core::Uuid id, bool retry, audit::Origin origin) {
    const auto scope = auth::scope_of(p, p.workspace, "member");
    // max_workers only changes while the session is pending, and the start below refuses any
    // session that is not (or, retrying, that is): what is read here is what runs.
    const auto session = co_await store_.get_session(scope, id);
    auto jobs = sync_jobs(id, static_cast<unsigned>(session.max_workers));
    const auto parent = jobs.front();
    jobs.erase(jobs.begin());
    auto enqueue = jobs::enqueue_batch(parent, jobs);
    enqueue.pop_back();  // the parent as a job; the session is answered instead
    const audit::Event e{p.user, retry ? "upload_sync_session.retry" : "upload_sync_session.start", kSession, id.str(),
                         detail_name("job_id", parent.id.str())};
    auto started = co_await sync_.start(scope, id, parent.id, retry, std::move(enqueue), e, origin);
    if (jobs_enqueued_) jobs_enqueued_();
    co_return started;
}

asio::awaitable<SyncSession> Service::cancel_sync(auth::Principal p, core::Uuid id, audit::Origin origin) {
    const auto scope = auth::scope_of(p, p.workspace, "member");
    const audit::Event e{p.user, "upload_sync_session.cancel", kSession, id.str()};
    co_return co_await sync_.cancel(scope, id, e, origin);
}

asio::awaitable<UploadFile> Service::add_file(auth::Principal p, core::Uuid session, SessionFileInput r,
                                              audit::Origin origin) {
    if (r.relative_path) {
        core::Validator v;
        try {
            storage::validate_key(*r.relative_path);
        } catch (const storage::InvalidKey& e) {
            v.add("relative_path", e.what());
        }
        v.throw_if_failed();
    }
    const auto scope = auth::scope_of(p, p.workspace, "member");
    const audit::Event e{p.user, "upload_sync_session.add_file", kSession, session.str(),
                         detail_name("file_id", r.file_id.str())};
    try {
        co_return co_await sync_.add_file(scope, session, r.file_id, r.relative_path, e, origin);
    } catch (const db::Error& failure) {
        if (failure.sqlstate() != "23505") throw;
    }
    throw core::Problem::conflict("The session already has a file at that relative_path.");
}

asio::awaitable<SyncSession> Service::session_of_job(auth::Principal p, core::Uuid job) {
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    auto found = co_await sync_.by_job(scope, job);
    if (!found) throw core::Problem::not_found("No sync session runs as this job.");
    co_return std::move(*found);
}

}  // namespace kiln::uploads
