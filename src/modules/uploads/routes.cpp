// The Data Uploader's resources: viewers read; members run sync sessions; admins manage
// projects and cycles. docs/uploads.md.
#include "modules/uploads/routes.hpp"

#include "audit/origin.hpp"
#include "http/json.hpp"

namespace asio = boost::asio;

namespace kiln::uploads {

namespace {

struct Deps {
    const auth::Service* auth;
    Service* uploads;
};

constexpr std::string_view kNoProject = "No such project.";
constexpr std::string_view kNoCycle = "No such cycle.";
constexpr std::string_view kNoSession = "No such sync session.";

http::Response no_content() {
    return http::Response{http::beast_http::status::no_content, 11};
}

ListQuery list_query(const http::Request& req, const char* state_name) {
    return {req.query_param("limit"), req.query_param("cursor"), req.query_param("project_id"),
            req.query_param("cycle_id"), req.query_param(state_name)};
}

// ---- projects ----

asio::awaitable<http::Response> project_create(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto body = http::bind_body<ProjectInput>(req);
    const auto origin = audit::origin_of(req);
    auto made = co_await d.uploads->create_project(who, std::move(body), origin);
    co_return http::json_response(201, http::to_json(made));
}

asio::awaitable<http::Response> project_list(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto q = list_query(req, "state");
    auto list = co_await d.uploads->list_projects(who, std::move(q));
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> project_get(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNoProject);
    auto found = co_await d.uploads->get_project(who, id);
    co_return http::json_response(200, http::to_json(found));
}

asio::awaitable<http::Response> project_put(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNoProject);
    auto body = http::bind_body<ProjectInput>(req);
    const auto origin = audit::origin_of(req);
    auto changed = co_await d.uploads->replace_project(who, id, std::move(body), origin);
    co_return http::json_response(200, http::to_json(changed));
}

asio::awaitable<http::Response> project_patch(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNoProject);
    auto body = http::bind_body<ProjectPatch>(req);
    const auto origin = audit::origin_of(req);
    auto changed = co_await d.uploads->patch_project(who, id, std::move(body), origin);
    co_return http::json_response(200, http::to_json(changed));
}

asio::awaitable<http::Response> project_delete(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNoProject);
    const auto origin = audit::origin_of(req);
    co_await d.uploads->remove_project(who, id, origin);
    co_return no_content();
}

// ---- cycles ----

asio::awaitable<http::Response> cycle_create(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto body = http::bind_body<CycleInput>(req);
    const auto origin = audit::origin_of(req);
    auto made = co_await d.uploads->create_cycle(who, std::move(body), origin);
    co_return http::json_response(201, http::to_json(made));
}

asio::awaitable<http::Response> cycle_list(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto q = list_query(req, "state");
    auto list = co_await d.uploads->list_cycles(who, std::move(q));
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> cycle_get(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNoCycle);
    auto found = co_await d.uploads->get_cycle(who, id);
    co_return http::json_response(200, http::to_json(found));
}

asio::awaitable<http::Response> cycle_put(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNoCycle);
    auto body = http::bind_body<CycleReplace>(req);
    const auto origin = audit::origin_of(req);
    auto changed = co_await d.uploads->replace_cycle(who, id, std::move(body), origin);
    co_return http::json_response(200, http::to_json(changed));
}

asio::awaitable<http::Response> cycle_patch(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNoCycle);
    auto body = http::bind_body<CyclePatch>(req);
    const auto origin = audit::origin_of(req);
    auto changed = co_await d.uploads->patch_cycle(who, id, std::move(body), origin);
    co_return http::json_response(200, http::to_json(changed));
}

asio::awaitable<http::Response> cycle_delete(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNoCycle);
    const auto origin = audit::origin_of(req);
    co_await d.uploads->remove_cycle(who, id, origin);
    co_return no_content();
}

// ---- sync sessions ----

asio::awaitable<http::Response> session_create(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto body = http::bind_body<SyncSessionInput>(req);
    const auto origin = audit::origin_of(req);
    auto made = co_await d.uploads->create_session(who, std::move(body), origin);
    co_return http::json_response(201, http::to_json(made));
}

asio::awaitable<http::Response> session_list(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto q = list_query(req, "state");
    auto list = co_await d.uploads->list_sessions(who, std::move(q));
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> session_stats(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    SessionStatsQuery q{req.query_param("project_id"), req.query_param("cycle_id"), req.query_param("since"),
                        req.query_param("until")};
    auto stats = co_await d.uploads->session_stats(who, std::move(q));
    co_return http::json_response(200, http::to_json(stats));
}

asio::awaitable<http::Response> session_get(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNoSession);
    auto found = co_await d.uploads->get_session(who, id);
    co_return http::json_response(200, http::to_json(found));
}

asio::awaitable<http::Response> session_update(Deps d, http::Request& req, bool partial) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNoSession);
    auto body = http::bind_body<SyncSessionReplace>(req);
    const auto origin = audit::origin_of(req);
    auto changed = co_await d.uploads->update_session(who, id, std::move(body), partial, origin);
    co_return http::json_response(200, http::to_json(changed));
}

asio::awaitable<http::Response> session_delete(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNoSession);
    const auto origin = audit::origin_of(req);
    co_await d.uploads->remove_session(who, id, origin);
    co_return no_content();
}

asio::awaitable<http::Response> session_files(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNoSession);
    auto q = list_query(req, "status");
    auto list = co_await d.uploads->list_files(who, id, std::move(q));
    co_return http::json_response(200, http::to_json(list));
}

constexpr const char* kTag = "uploads";
// ---- the sync ----

enum class SyncAction { start, retry, cancel };

asio::awaitable<http::Response> session_sync(Deps d, http::Request& req, SyncAction action) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNoSession);
    const auto origin = audit::origin_of(req);
    SyncSession session;
    if (action == SyncAction::cancel) {
        session = co_await d.uploads->cancel_sync(who, id, origin);
    } else {
        session = co_await d.uploads->start_sync(who, id, action == SyncAction::retry, origin);
    }
    co_return http::json_response(action == SyncAction::cancel ? 200 : 202, http::to_json(session));
}

asio::awaitable<http::Response> session_add_file(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNoSession);
    auto body = http::bind_body<SessionFileInput>(req);
    const auto origin = audit::origin_of(req);
    auto added = co_await d.uploads->add_file(who, id, std::move(body), origin);
    co_return http::json_response(201, http::to_json(added));
}

// The seed's routes: start by session id in the body, status by the job's id.
asio::awaitable<http::Response> upload_start(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto body = http::bind_body<UploadStartInput>(req);
    const auto origin = audit::origin_of(req);
    const auto session = co_await d.uploads->start_sync(who, body.session_id, false, origin);
    co_return http::json_response(202, http::to_json(status_of(session)));
}

asio::awaitable<http::Response> upload_status(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto job = req.uuid_param("job_id", "No sync session runs as this job.");
    const auto session = co_await d.uploads->session_of_job(who, job);
    co_return http::json_response(200, http::to_json(status_of(session)));
}

constexpr const char* kSyncNote =
    "The sync is a batch job (job_id): a scan lists the session's directory, then max_workers lanes copy the "
    "files, each retried up to times_to_retry times, skipping those the store already holds with the same size "
    "and SHA-256. Follow it with GET /api/v1/jobs/{job_id}/events (sync.progress events carry the counters, "
    "rate and ETA) or GET /api/v1/sync-sessions/{id}.";

constexpr const char* kSessionNote =
    "local_directory is a directory on the server: it must resolve (symbolic links followed) inside one of "
    "uploads.import_roots, and is stored as the path it resolves to. Without import roots (the default) any "
    "local_directory is refused (422); leave it out to upload the files through the API.";

constexpr const char* kStatsNote =
    "Sums the live sessions the filters select (since inclusive, until exclusive, RFC 3339 on created_at). "
    "files and bytes add up the sessions' counters; success_rate is (done + skipped) / (done + skipped + failed) "
    "files; throughput_bytes_per_second and average_duration_s count the finished sessions (completed, "
    "completed_with_errors, failed, cancelled) that have both started_at and finished_at. The three are null when "
    "there is nothing to measure. by_project: at most 100 projects, most sessions first. An id that is not one of "
    "this workspace's matches nothing: the answer is zeros.";

http::Route route(http::Verb method, std::string path, std::string summary) {
    http::Route r;
    r.method = method;
    r.path = std::move(path);
    r.summary = std::move(summary);
    r.tag = kTag;
    return r;
}

void add_project_routes(http::Router& router, Deps d) {
    const std::string path = "/api/v1/projects";
    auto create = route(http::Verb::post, path,
                        "Create a project (admin): where a cycle's files go (a storage connection, or the server's "
                        "own store when storage_connection_id is null)");
    create.request = http::json_body<ProjectInput>();
    create.status = 201;
    create.response = http::json_body<Project>();
    create.handler = [d](http::Request& r) { return project_create(d, r); };
    router.add(std::move(create));

    auto list = route(http::Verb::get, path, "The workspace's projects, newest first (?limit=, ?cursor=)");
    list.response = http::json_body<ProjectList>();
    list.handler = [d](http::Request& r) { return project_list(d, r); };
    router.add(std::move(list));

    auto get = route(http::Verb::get, path + "/{id}", "One project");
    get.response = http::json_body<Project>();
    get.handler = [d](http::Request& r) { return project_get(d, r); };
    router.add(std::move(get));

    auto put =
        route(http::Verb::put, path + "/{id}", "Replace a project (admin): absent optional fields take their defaults");
    put.request = http::json_body<ProjectInput>();
    put.response = http::json_body<Project>();
    put.handler = [d](http::Request& r) { return project_put(d, r); };
    router.add(std::move(put));

    auto patch = route(http::Verb::patch, path + "/{id}", "Change some fields of a project (admin)");
    patch.request = http::json_body<ProjectPatch>();
    patch.response = http::json_body<Project>();
    patch.handler = [d](http::Request& r) { return project_patch(d, r); };
    router.add(std::move(patch));

    auto del = route(http::Verb::delete_, path + "/{id}",
                     "Delete a project with its cycles and sessions (admin); 409 while a session is pending or in "
                     "progress");
    del.status = 204;
    del.response = http::Body{"application/json", std::nullopt};
    del.handler = [d](http::Request& r) { return project_delete(d, r); };
    router.add(std::move(del));
}

void add_cycle_routes(http::Router& router, Deps d) {
    const std::string path = "/api/v1/cycles";
    auto create =
        route(http::Verb::post, path, "Create a cycle of a project (admin); cycle_number is unique per project");
    create.request = http::json_body<CycleInput>();
    create.status = 201;
    create.response = http::json_body<Cycle>();
    create.handler = [d](http::Request& r) { return cycle_create(d, r); };
    router.add(std::move(create));

    auto list = route(http::Verb::get, path, "Cycles, newest first (?project_id=, ?limit=, ?cursor=)");
    list.response = http::json_body<CycleList>();
    list.handler = [d](http::Request& r) { return cycle_list(d, r); };
    router.add(std::move(list));

    auto get = route(http::Verb::get, path + "/{id}", "One cycle");
    get.response = http::json_body<Cycle>();
    get.handler = [d](http::Request& r) { return cycle_get(d, r); };
    router.add(std::move(get));

    auto put = route(http::Verb::put, path + "/{id}",
                     "Replace a cycle (admin): absent optional fields take their defaults; it stays in its project");
    put.request = http::json_body<CycleReplace>();
    put.response = http::json_body<Cycle>();
    put.handler = [d](http::Request& r) { return cycle_put(d, r); };
    router.add(std::move(put));

    auto patch = route(http::Verb::patch, path + "/{id}", "Change some fields of a cycle (admin)");
    patch.request = http::json_body<CyclePatch>();
    patch.response = http::json_body<Cycle>();
    patch.handler = [d](http::Request& r) { return cycle_patch(d, r); };
    router.add(std::move(patch));

    auto del = route(http::Verb::delete_, path + "/{id}",
                     "Delete a cycle with its sessions (admin); 409 while a session is pending or in progress");
    del.status = 204;
    del.response = http::Body{"application/json", std::nullopt};
    del.handler = [d](http::Request& r) { return cycle_delete(d, r); };
    router.add(std::move(del));
}

// Added before the other session routes: routes match in the order they were added, and
// /sync-sessions/{id} would take "stats" for an id.
void add_session_stats_route(http::Router& router, Deps d) {
    auto stats = route(http::Verb::get, "/api/v1/sync-sessions/stats",
                       "Sync sessions summed up: counts by state, files, bytes, success rate, throughput, average "
                       "duration, the busiest projects (?project_id=, ?cycle_id=, ?since=, ?until=)");
    stats.response = http::json_body<SessionStats>();
    stats.handler = [d](http::Request& r) { return session_stats(d, r); };
    stats.description = kStatsNote;
    router.add(std::move(stats));
}

void add_session_routes(http::Router& router, Deps d) {
    const std::string path = "/api/v1/sync-sessions";
    auto create = route(http::Verb::post, path, "Create a sync session in a cycle (member); it starts pending");
    create.request = http::json_body<SyncSessionInput>();
    create.status = 201;
    create.response = http::json_body<SyncSession>();
    create.handler = [d](http::Request& r) { return session_create(d, r); };
    create.description = kSessionNote;
    router.add(std::move(create));

    auto list = route(http::Verb::get, path,
                      "Sync sessions, newest first (?cycle_id=, ?project_id=, ?state=, ?limit=, ?cursor=)");
    list.response = http::json_body<SyncSessionList>();
    list.handler = [d](http::Request& r) { return session_list(d, r); };
    router.add(std::move(list));

    auto get = route(http::Verb::get, path + "/{id}", "One sync session with its counters");
    get.response = http::json_body<SyncSession>();
    get.handler = [d](http::Request& r) { return session_get(d, r); };
    router.add(std::move(get));

    auto put = route(http::Verb::put, path + "/{id}",
                     "Replace a pending sync session's settings (member); 409 once it has started");
    put.request = http::json_body<SyncSessionReplace>();
    put.response = http::json_body<SyncSession>();
    put.handler = [d](http::Request& r) { return session_update(d, r, false); };
    put.description = kSessionNote;
    router.add(std::move(put));

    auto patch = route(http::Verb::patch, path + "/{id}",
                       "Change some settings of a pending sync session (member); 409 once it has started");
    patch.request = http::json_body<SyncSessionReplace>();
    patch.response = http::json_body<SyncSession>();
    patch.handler = [d](http::Request& r) { return session_update(d, r, true); };
    patch.description = kSessionNote;
    router.add(std::move(patch));

    auto del = route(http::Verb::delete_, path + "/{id}", "Delete a sync session (member); 409 while in progress");
    del.status = 204;
    del.response = http::Body{"application/json", std::nullopt};
    del.handler = [d](http::Request& r) { return session_delete(d, r); };
    router.add(std::move(del));

    auto files = route(http::Verb::get, path + "/{id}/files",
                       "The files of a sync session, newest first (?status=, ?limit=, ?cursor=)");
    files.response = http::json_body<UploadFileList>();
    files.handler = [d](http::Request& r) { return session_files(d, r); };
    router.add(std::move(files));

    auto add = route(http::Verb::post, path + "/{id}/files",
                     "Add a file uploaded through the API (POST /files or tus) to a pending session that has no "
                     "local_directory (member); 201 with its row");
    add.request = http::json_body<SessionFileInput>();
    add.status = 201;
    add.response = http::json_body<UploadFile>();
    add.handler = [d](http::Request& r) { return session_add_file(d, r); };
    router.add(std::move(add));

    struct Action {
        const char* suffix;
        SyncAction action;
        const char* summary;
    };
    for (const Action& a :
         {Action{"/start", SyncAction::start,
                 "Start a pending sync session (member): 202 with the session, its job_id the sync's job"},
          Action{"/retry-failed", SyncAction::retry,
                 "Copy again what a finished session did not (member): its failed files, or all a cancel left"},
          Action{"/cancel", SyncAction::cancel,
                 "Cancel a pending or running sync session (member); files not copied stay pending"}}) {
        auto r = route(http::Verb::post, path + "/{id}" + a.suffix, a.summary);
        r.status = a.action == SyncAction::cancel ? 200 : 202;
        r.response = http::json_body<SyncSession>();
        r.handler = [d, action = a.action](http::Request& req) { return session_sync(d, req, action); };
        r.description = kSyncNote;
        router.add(std::move(r));
    }
}

void add_upload_routes(http::Router& router, Deps d) {
    auto start = route(http::Verb::post, "/api/v1/uploads/start",
                       "Start a pending sync session by id (the seed's route; member)");
    start.request = http::json_body<UploadStartInput>();
    start.status = 202;
    start.response = http::json_body<UploadStatus>();
    start.handler = [d](http::Request& r) { return upload_start(d, r); };
    start.description = kSyncNote;
    router.add(std::move(start));

    auto status =
        route(http::Verb::get, "/api/v1/uploads/status/{job_id}", "A sync's status by its job id (the seed's route)");
    status.response = http::json_body<UploadStatus>();
    status.handler = [d](http::Request& r) { return upload_status(d, r); };
    router.add(std::move(status));
}

}  // namespace

void add_routes(http::Router& router, const auth::Service& auth, Service& service) {
    const Deps d{&auth, &service};
    add_project_routes(router, d);
    add_cycle_routes(router, d);
    add_session_stats_route(router, d);
    add_session_routes(router, d);
    add_upload_routes(router, d);
}

}  // namespace kiln::uploads
