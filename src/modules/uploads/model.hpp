#pragma once
// The Data Uploader on the wire: projects (where files go), cycles (rounds of delivery within a
// project), sync sessions (one run copying files into a cycle) and the files a session copied.
// POST and PUT take the whole resource (an absent optional field is its default); PATCH takes
// any subset (an absent or null field stays as it is).
#include <boost/describe.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "core/uuid.hpp"

namespace kiln::uploads {

struct Project {
    core::Uuid id;
    std::string name;
    std::string description;
    std::optional<core::Uuid> storage_connection_id;  // null: the server's own blob store
    std::string bucket;
    std::string base_prefix;
    bool is_active = true;
    std::optional<core::Uuid> created_by;
    std::string created_at;
    std::string updated_at;
};
BOOST_DESCRIBE_STRUCT(Project, (),
                      (id, name, description, storage_connection_id, bucket, base_prefix, is_active, created_by,
                       created_at, updated_at))

struct ProjectList {
    std::vector<Project> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(ProjectList, (), (items, next_cursor))

struct ProjectInput {
    std::string name;
    std::optional<std::string> description;
    std::optional<core::Uuid> storage_connection_id;
    std::optional<std::string> bucket;
    std::optional<std::string> base_prefix;
    std::optional<bool> is_active;
};
BOOST_DESCRIBE_STRUCT(ProjectInput, (), (name, description, storage_connection_id, bucket, base_prefix, is_active))

struct ProjectPatch {
    std::optional<std::string> name;
    std::optional<std::string> description;
    std::optional<core::Uuid> storage_connection_id;
    std::optional<std::string> bucket;
    std::optional<std::string> base_prefix;
    std::optional<bool> is_active;
};
BOOST_DESCRIBE_STRUCT(ProjectPatch, (), (name, description, storage_connection_id, bucket, base_prefix, is_active))

struct Cycle {
    core::Uuid id;
    core::Uuid project_id;
    std::string cycle_name;
    std::int64_t cycle_number = 0;
    std::string s3_prefix;
    std::string status;  // planned | active | completed
    std::string description;
    boost::json::value metadata;  // an object
    std::optional<std::string> started_at;
    std::optional<std::string> completed_at;
    std::optional<core::Uuid> created_by;
    std::string created_at;
    std::string updated_at;
};
BOOST_DESCRIBE_STRUCT(Cycle, (),
                      (id, project_id, cycle_name, cycle_number, s3_prefix, status, description, metadata, started_at,
                       completed_at, created_by, created_at, updated_at))

struct CycleList {
    std::vector<Cycle> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(CycleList, (), (items, next_cursor))

struct CycleInput {
    core::Uuid project_id;
    std::string cycle_name;
    std::int64_t cycle_number = 0;
    std::optional<std::string> s3_prefix;
    std::optional<std::string> status;
    std::optional<std::string> description;
    std::optional<boost::json::value> metadata;
    std::optional<std::string> started_at;
    std::optional<std::string> completed_at;
};
BOOST_DESCRIBE_STRUCT(CycleInput, (),
                      (project_id, cycle_name, cycle_number, s3_prefix, status, description, metadata, started_at,
                       completed_at))

// A cycle stays in its project: PUT and PATCH take no project_id.
struct CycleReplace {
    std::string cycle_name;
    std::int64_t cycle_number = 0;
    std::optional<std::string> s3_prefix;
    std::optional<std::string> status;
    std::optional<std::string> description;
    std::optional<boost::json::value> metadata;
    std::optional<std::string> started_at;
    std::optional<std::string> completed_at;
};
BOOST_DESCRIBE_STRUCT(CycleReplace, (),
                      (cycle_name, cycle_number, s3_prefix, status, description, metadata, started_at, completed_at))

struct CyclePatch {
    std::optional<std::string> cycle_name;
    std::optional<std::int64_t> cycle_number;
    std::optional<std::string> s3_prefix;
    std::optional<std::string> status;
    std::optional<std::string> description;
    std::optional<boost::json::value> metadata;
    std::optional<std::string> started_at;
    std::optional<std::string> completed_at;
};
BOOST_DESCRIBE_STRUCT(CyclePatch, (),
                      (cycle_name, cycle_number, s3_prefix, status, description, metadata, started_at, completed_at))

struct SyncSession {
    core::Uuid id;
    core::Uuid project_id;
    core::Uuid cycle_id;
    std::optional<std::string> local_directory;  // null: files come through the API
    std::int64_t max_workers = 4;
    std::int64_t times_to_retry = 3;
    std::vector<std::string> include_patterns;
    std::vector<std::string> exclude_patterns;
    bool use_find = true;
    // pending | in_progress | completed | completed_with_errors | failed | cancelled
    std::string state;
    std::int64_t files_total = 0;
    std::int64_t files_done = 0;
    std::int64_t files_failed = 0;
    std::int64_t files_skipped = 0;
    std::int64_t bytes_total = 0;
    std::int64_t bytes_done = 0;
    std::optional<core::Uuid> job_id;
    std::optional<core::Uuid> created_by;
    std::string created_at;
    std::string updated_at;
    std::optional<std::string> started_at;
    std::optional<std::string> finished_at;
    std::optional<std::string> error;  // why it failed, or what its scan could not read
};
BOOST_DESCRIBE_STRUCT(SyncSession, (),
                      (id, project_id, cycle_id, local_directory, max_workers, times_to_retry, include_patterns,
                       exclude_patterns, use_find, state, files_total, files_done, files_failed, files_skipped,
                       bytes_total, bytes_done, job_id, created_by, created_at, updated_at, started_at, finished_at,
                       error))

struct SyncSessionList {
    std::vector<SyncSession> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(SyncSessionList, (), (items, next_cursor))

// GET /sync-sessions/stats: the live sessions a filter selects, summed up for a dashboard
// (docs/uploads.md, "Statistics"). Counters come from the sessions, not from their files.
struct SessionStatsStates {
    std::int64_t total = 0;
    std::int64_t pending = 0;
    std::int64_t in_progress = 0;
    std::int64_t completed = 0;
    std::int64_t completed_with_errors = 0;
    std::int64_t failed = 0;
    std::int64_t cancelled = 0;
};
BOOST_DESCRIBE_STRUCT(SessionStatsStates, (),
                      (total, pending, in_progress, completed, completed_with_errors, failed, cancelled))

struct SessionStatsFiles {
    std::int64_t total = 0;
    std::int64_t done = 0;  // uploaded
    std::int64_t skipped = 0;
    std::int64_t failed = 0;
};
BOOST_DESCRIBE_STRUCT(SessionStatsFiles, (), (total, done, skipped, failed))

struct SessionStatsBytes {
    std::int64_t total = 0;
    std::int64_t done = 0;
};
BOOST_DESCRIBE_STRUCT(SessionStatsBytes, (), (total, done))

struct SessionStatsProject {
    core::Uuid project_id;
    std::string name;
    std::int64_t sessions = 0;
    std::int64_t files_done = 0;
    std::int64_t bytes_done = 0;
};
BOOST_DESCRIBE_STRUCT(SessionStatsProject, (), (project_id, name, sessions, files_done, bytes_done))

struct SessionStats {
    SessionStatsStates sessions;
    SessionStatsFiles files;
    SessionStatsBytes bytes;
    // Null while nothing has been measured (no file finished, no session finished with both times).
    std::optional<double> success_rate;  // (done + skipped) / (done + skipped + failed)
    std::optional<double> throughput_bytes_per_second;
    std::optional<double> average_duration_s;
    std::vector<SessionStatsProject> by_project;  // most sessions first, at most 100
};
BOOST_DESCRIBE_STRUCT(SessionStats, (),
                      (sessions, files, bytes, success_rate, throughput_bytes_per_second, average_duration_s,
                       by_project))

struct SyncSessionInput {
    core::Uuid cycle_id;
    std::optional<std::string> local_directory;
    std::optional<std::int64_t> max_workers;
    std::optional<std::int64_t> times_to_retry;
    std::optional<std::vector<std::string>> include_patterns;
    std::optional<std::vector<std::string>> exclude_patterns;
    std::optional<bool> use_find;
};
BOOST_DESCRIBE_STRUCT(SyncSessionInput, (),
                      (cycle_id, local_directory, max_workers, times_to_retry, include_patterns, exclude_patterns,
                       use_find))

// A session stays in its cycle; its state and counters belong to its sync job.
struct SyncSessionReplace {
    std::optional<std::string> local_directory;
    std::optional<std::int64_t> max_workers;
    std::optional<std::int64_t> times_to_retry;
    std::optional<std::vector<std::string>> include_patterns;
    std::optional<std::vector<std::string>> exclude_patterns;
    std::optional<bool> use_find;
};
BOOST_DESCRIBE_STRUCT(SyncSessionReplace, (),
                      (local_directory, max_workers, times_to_retry, include_patterns, exclude_patterns, use_find))

struct UploadFile {
    core::Uuid id;
    core::Uuid session_id;
    std::string relative_path;
    std::string object_key;
    std::int64_t size_bytes = 0;
    std::optional<std::string> sha256;
    std::string status;  // pending | uploading | uploaded | skipped | failed
    std::int64_t attempts = 0;
    std::optional<std::string> error;
    std::optional<std::string> started_at;
    std::optional<std::string> finished_at;
    std::string created_at;
    std::string updated_at;
    std::optional<core::Uuid> file_id;  // uploaded through the API: the file (GET /files/{id})
    std::int64_t bytes_sent = 0;        // pending: how far a lane is into sending it (large files)
};
BOOST_DESCRIBE_STRUCT(UploadFile, (),
                      (id, session_id, relative_path, object_key, size_bytes, sha256, status, attempts, error,
                       started_at, finished_at, created_at, updated_at, file_id, bytes_sent))

// POST /sync-sessions/{id}/files: a file uploaded through the API (POST /files, tus) joins a
// pending session that reads no directory.
struct SessionFileInput {
    core::Uuid file_id;
    std::optional<std::string> relative_path;  // default: the file's name
};
BOOST_DESCRIBE_STRUCT(SessionFileInput, (), (file_id, relative_path))

struct UploadFileList {
    std::vector<UploadFile> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(UploadFileList, (), (items, next_cursor))

// POST /uploads/start, the seed's way to start a session.
struct UploadStartInput {
    core::Uuid session_id;
};
BOOST_DESCRIBE_STRUCT(UploadStartInput, (), (session_id))

// GET /uploads/status/{job_id} (and POST /uploads/start's answer): a sync as the seed reported
// it, from its session.
struct UploadStatus {
    core::Uuid job_id;
    core::Uuid session_id;
    std::string status;     // the session's state
    std::int64_t progress;  // percent: of bytes, or of files when they have none
    std::int64_t files_total = 0;
    std::int64_t files_done = 0;
    std::int64_t files_skipped = 0;
    std::int64_t files_failed = 0;
    std::int64_t bytes_total = 0;
    std::int64_t bytes_done = 0;
    std::optional<std::string> error;
    std::optional<std::string> started_at;
    std::optional<std::string> finished_at;
};
BOOST_DESCRIBE_STRUCT(UploadStatus, (),
                      (job_id, session_id, status, progress, files_total, files_done, files_skipped, files_failed,
                       bytes_total, bytes_done, error, started_at, finished_at))

UploadStatus status_of(const SyncSession& s);

// The rules beyond types, one entry per bad field (local_directory is checked apart: it needs
// the file system).
void validate(const ProjectInput& p, core::Validator& v);
void validate(const ProjectPatch& p, core::Validator& v);
void validate(const CycleInput& c, core::Validator& v);
void validate(const CycleReplace& c, core::Validator& v);
void validate(const CyclePatch& c, core::Validator& v);
void validate(const SyncSessionReplace& s, core::Validator& v);

// A key prefix inside a bucket: no leading '/', no empty, '.' or '..' segment, at most 500 bytes.
std::optional<std::string> prefix_problem(std::string_view prefix);
bool is_session_state(std::string_view s);
bool is_file_status(std::string_view s);

}  // namespace kiln::uploads
