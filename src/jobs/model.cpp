#include "jobs/model.hpp"

#include <algorithm>

#include "core/time.hpp"

namespace kiln::jobs {

namespace {

bool lower(char c) {
    return c >= 'a' && c <= 'z';
}
bool word(char c) {
    return lower(c) || (c >= '0' && c <= '9') || c == '_';
}

// "domain.verb": dot-separated parts of [a-z][a-z0-9_]*, at least two (what the table checks).
bool is_kind(std::string_view s) {
    int parts = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        if (!lower(s[i])) return false;
        while (i < s.size() && word(s[i])) ++i;
        ++parts;
        if (i == s.size()) break;
        if (s[i] != '.') return false;
        ++i;
        if (i == s.size()) return false;
    }
    return parts >= 2;
}

// [a-z][a-z0-9_-]{0,39}
bool is_queue(std::string_view s) {
    constexpr std::size_t kMax = 40;
    if (s.empty() || s.size() > kMax || !lower(s.front())) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return word(c) || c == '-'; });
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
    constexpr std::size_t kMaxChildren = 1000;
    if (kind.size() > kMaxKind || !is_kind(kind)) {
        v.add("kind", "must be a kind name such as \"system.sleep\"");
    }
    if (args && !args->is_object()) v.add("args", "must be an object");
    if (queue && !is_queue(*queue)) {
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
    if (!children) return;
    if (children->empty() || children->size() > kMaxChildren) {
        v.add("children", "must hold 1 to " + std::to_string(kMaxChildren) + " jobs");
    }
    if (run_at) v.add("run_at", "cannot be set for a batch (it runs when its children have ended)");
    if (unique_key) v.add("unique_key", "cannot be set for a batch");
    for (std::size_t i = 0; i < children->size() && i < kMaxChildren; ++i) {
        const auto& c = (*children)[i];
        const auto at = "children[" + std::to_string(i) + "].";
        if (c.kind.size() > kMaxKind || !is_kind(c.kind)) v.add(at + "kind", "must be a kind name");
        if (c.args && !c.args->is_object()) v.add(at + "args", "must be an object");
        if (c.queue && !is_queue(*c.queue)) v.add(at + "queue", "must be 1-40 of a-z, 0-9, _ and -");
        if (c.priority && (*c.priority < 1 || *c.priority > 4)) v.add(at + "priority", "must be 1 to 4");
        if (c.max_attempts && (*c.max_attempts < 1 || *c.max_attempts > kMaxAttempts)) {
            v.add(at + "max_attempts", "must be 1 to 100");
        }
    }
}

}  // namespace kiln::jobs
