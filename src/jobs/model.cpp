#include "jobs/model.hpp"

#include <regex>

#include "core/time.hpp"

namespace kiln::jobs {

namespace {
const std::regex& kind_pattern() {
    static const std::regex re("^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$");
    return re;
}
const std::regex& queue_pattern() {
    static const std::regex re("^[a-z][a-z0-9_-]{0,39}$");
    return re;
}
}  // namespace

bool is_state(std::string_view s) {
    return s == "scheduled" || s == "available" || s == "running" || s == "succeeded" || s == "failed" || s == "dead" ||
           s == "cancelled";
}

void EnqueueRequest::validate(core::Validator& v) const {
    constexpr std::size_t kMaxKind = 100;
    constexpr std::size_t kMaxKey = 200;
    constexpr std::int64_t kMaxAttempts = 100;
    if (kind.size() > kMaxKind || !std::regex_match(kind, kind_pattern())) {
        v.add("kind", "must be a kind name such as \"system.sleep\"");
    }
    if (args && !args->is_object()) v.add("args", "must be an object");
    if (queue && !std::regex_match(*queue, queue_pattern())) {
        v.add("queue", "must be 1-40 of a-z, 0-9, _ and -, starting with a letter");
    }
    if (priority && (*priority < 1 || *priority > 4)) v.add("priority", "must be 1 (first) to 4 (last)");
    if (run_at && !core::is_rfc3339(*run_at)) v.add("run_at", "must be an RFC 3339 time");
    if (max_attempts && (*max_attempts < 1 || *max_attempts > kMaxAttempts)) {
        v.add("max_attempts", "must be 1 to 100");
    }
    if (unique_key && (unique_key->empty() || unique_key->size() > kMaxKey)) {
        v.add("unique_key", "must be 1 to 200 characters");
    }
}

}  // namespace kiln::jobs
