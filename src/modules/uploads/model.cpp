#include "modules/uploads/model.hpp"

#include <algorithm>
#include <array>
#include <boost/json/serialize.hpp>

#include "core/time.hpp"
#include "storage/connection_model.hpp"

namespace kiln::uploads {

namespace {

constexpr std::size_t kMaxName = 200;
constexpr std::size_t kMaxDescription = 2000;
constexpr std::size_t kMaxPrefix = 500;
constexpr std::size_t kMaxPatterns = 100;
constexpr std::size_t kMaxPattern = 256;
constexpr std::size_t kMaxMetadata = std::size_t{16} * 1024;
constexpr std::int64_t kMaxCycleNumber = 1'000'000'000;

void check(core::Validator& v, const char* field, const std::optional<std::string>& problem) {
    if (problem) v.add(field, *problem);
}

std::optional<std::string> name_problem(std::string_view name) {
    if (name.empty() || name.size() > kMaxName) return "must be 1 to 200 characters";
    if (std::all_of(name.begin(), name.end(), [](char c) { return c == ' ' || c == '\t'; })) return "must not be blank";
    return std::nullopt;
}

std::optional<std::string> description_problem(std::string_view d) {
    if (d.size() > kMaxDescription) return "must be at most 2000 characters";
    return std::nullopt;
}

// Empty: the connection's bucket (or the server's own store).
std::optional<std::string> bucket_problem(std::string_view b) {
    if (b.empty()) return std::nullopt;
    return storage::bucket_problem(b);
}

std::optional<std::string> status_problem(std::string_view s) {
    if (s != "planned" && s != "active" && s != "completed") return "must be planned, active or completed";
    return std::nullopt;
}

std::optional<std::string> cycle_number_problem(std::int64_t n) {
    if (n < 0 || n > kMaxCycleNumber) return "must be a whole number from 0 to 1000000000";
    return std::nullopt;
}

std::optional<std::string> time_problem(std::string_view t) {
    if (!core::is_rfc3339(t)) return "must be an RFC 3339 date-time (2026-12-01T09:00:00Z)";
    return std::nullopt;
}

std::optional<std::string> metadata_problem(const boost::json::value& m) {
    if (!m.is_object()) return "must be a JSON object";
    if (boost::json::serialize(m).size() > kMaxMetadata) return "must be at most 16 KiB of JSON";
    return std::nullopt;
}

std::optional<std::string> patterns_problem(const std::vector<std::string>& patterns) {
    if (patterns.size() > kMaxPatterns) return "must hold at most 100 patterns";
    for (const auto& p : patterns) {
        if (p.empty() || p.size() > kMaxPattern || p.find('\0') != std::string::npos)
            return "each pattern must be 1 to 256 characters";
    }
    return std::nullopt;
}

template <typename P>
void validate_project_fields(const P& p, core::Validator& v) {
    if (p.description) check(v, "description", description_problem(*p.description));
    if (p.bucket) check(v, "bucket", bucket_problem(*p.bucket));
    if (p.base_prefix) check(v, "base_prefix", prefix_problem(*p.base_prefix));
}

template <typename C>
void validate_cycle_fields(const C& c, core::Validator& v) {
    if (c.s3_prefix) check(v, "s3_prefix", prefix_problem(*c.s3_prefix));
    if (c.status) check(v, "status", status_problem(*c.status));
    if (c.description) check(v, "description", description_problem(*c.description));
    if (c.metadata) check(v, "metadata", metadata_problem(*c.metadata));
    if (c.started_at) check(v, "started_at", time_problem(*c.started_at));
    if (c.completed_at) check(v, "completed_at", time_problem(*c.completed_at));
}

}  // namespace

std::optional<std::string> prefix_problem(std::string_view prefix) {
    if (prefix.size() > kMaxPrefix) return "must be at most 500 characters";
    if (prefix.empty()) return std::nullopt;
    if (prefix.front() == '/') return "must not begin with '/'";
    if (std::any_of(prefix.begin(), prefix.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
        return "must not contain control characters";
    std::string_view rest = prefix;
    if (rest.back() == '/') rest.remove_suffix(1);
    for (std::size_t start = 0; start <= rest.size();) {
        const auto slash = std::min(rest.find('/', start), rest.size());
        const auto segment = rest.substr(start, slash - start);
        if (segment.empty() || segment == "." || segment == "..") return "must not have an empty, '.' or '..' segment";
        start = slash + 1;
    }
    return std::nullopt;
}

bool is_session_state(std::string_view s) {
    static constexpr std::array<std::string_view, 6> kStates{
        "pending", "in_progress", "completed", "completed_with_errors", "failed", "cancelled"};
    return std::find(kStates.begin(), kStates.end(), s) != kStates.end();
}

bool is_file_status(std::string_view s) {
    static constexpr std::array<std::string_view, 5> kStatuses{"pending", "uploading", "uploaded", "skipped", "failed"};
    return std::find(kStatuses.begin(), kStatuses.end(), s) != kStatuses.end();
}

void validate(const ProjectInput& p, core::Validator& v) {
    check(v, "name", name_problem(p.name));
    validate_project_fields(p, v);
}

void validate(const ProjectPatch& p, core::Validator& v) {
    if (p.name) check(v, "name", name_problem(*p.name));
    validate_project_fields(p, v);
}

void validate(const CycleInput& c, core::Validator& v) {
    check(v, "cycle_name", name_problem(c.cycle_name));
    check(v, "cycle_number", cycle_number_problem(c.cycle_number));
    validate_cycle_fields(c, v);
}

void validate(const CycleReplace& c, core::Validator& v) {
    check(v, "cycle_name", name_problem(c.cycle_name));
    check(v, "cycle_number", cycle_number_problem(c.cycle_number));
    validate_cycle_fields(c, v);
}

void validate(const CyclePatch& c, core::Validator& v) {
    if (c.cycle_name) check(v, "cycle_name", name_problem(*c.cycle_name));
    if (c.cycle_number) check(v, "cycle_number", cycle_number_problem(*c.cycle_number));
    validate_cycle_fields(c, v);
}

void validate(const SyncSessionReplace& s, core::Validator& v) {
    constexpr std::int64_t kMaxWorkers = 32;
    constexpr std::int64_t kMaxRetries = 10;
    if (s.max_workers && (*s.max_workers < 1 || *s.max_workers > kMaxWorkers))
        v.add("max_workers", "must be from 1 to 32");
    if (s.times_to_retry && (*s.times_to_retry < 0 || *s.times_to_retry > kMaxRetries))
        v.add("times_to_retry", "must be from 0 to 10");
    if (s.include_patterns) check(v, "include_patterns", patterns_problem(*s.include_patterns));
    if (s.exclude_patterns) check(v, "exclude_patterns", patterns_problem(*s.exclude_patterns));
}

UploadStatus status_of(const SyncSession& s) {
    UploadStatus out{.job_id = s.job_id.value_or(core::Uuid{}), .session_id = s.id, .status = s.state, .progress = 0};
    const std::int64_t finished = s.files_done + s.files_skipped + s.files_failed;
    if (s.bytes_total > 0) {
        out.progress = s.bytes_done * 100 / s.bytes_total;
    } else if (s.files_total > 0) {
        out.progress = finished * 100 / s.files_total;
    }
    if (s.state == "completed" || s.state == "completed_with_errors") out.progress = 100;
    out.files_total = s.files_total;
    out.files_done = s.files_done;
    out.files_skipped = s.files_skipped;
    out.files_failed = s.files_failed;
    out.bytes_total = s.bytes_total;
    out.bytes_done = s.bytes_done;
    out.error = s.error;
    out.started_at = s.started_at;
    out.finished_at = s.finished_at;
    return out;
}

}  // namespace kiln::uploads
