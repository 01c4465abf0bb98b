#include "audit/service.hpp"

#include <charconv>

#include "audit/store.hpp"
#include "core/crypto.hpp"

namespace asio = boost::asio;

namespace kiln::audit {

namespace {

constexpr int kMaxLimit = 200;

std::string cursor_of(const std::pair<std::string, core::Uuid>& at) {
    return core::base64url_encode(at.first + "|" + at.second.str());
}

std::optional<std::pair<std::string, core::Uuid>> parse_cursor(const std::string& text) {
    auto raw = core::base64url_decode(text);
    if (!raw) return std::nullopt;
    const auto bar = raw->rfind('|');
    if (bar == std::string::npos) return std::nullopt;
    auto id = core::Uuid::parse(std::string_view(*raw).substr(bar + 1));
    if (!id) return std::nullopt;
    return std::pair{raw->substr(0, bar), *id};
}

// RFC 3339 date-time: 2026-11-24T00:12:56Z, with optional fraction and a Z or ±hh:mm offset.
// PostgreSQL alone would also take "yesterday" or "now".
bool is_rfc3339(std::string_view s) {
    auto digits = [&](std::size_t at, std::size_t n) {
        if (at + n > s.size()) return false;
        for (std::size_t i = at; i < at + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
        }
        return true;
    };
    if (s.size() < 20 || !digits(0, 4) || s[4] != '-' || !digits(5, 2) || s[7] != '-' || !digits(8, 2) ||
        (s[10] != 'T' && s[10] != 't') || !digits(11, 2) || s[13] != ':' || !digits(14, 2) || s[16] != ':' ||
        !digits(17, 2)) {
        return false;
    }
    std::size_t i = 19;
    if (i < s.size() && s[i] == '.') {
        const std::size_t start = ++i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        if (i == start) return false;
    }
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) return i + 1 == s.size();
    return i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && digits(i + 1, 2) && s[i + 3] == ':' && digits(i + 4, 2);
}

AuditFilter filter_of(const AuditQuery& q) {
    core::Validator v;
    AuditFilter f;
    f.action = q.action;
    f.since = q.since;
    f.until = q.until;
    if (q.since && !is_rfc3339(*q.since)) v.add("since", "must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z");
    if (q.until && !is_rfc3339(*q.until)) v.add("until", "must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z");
    if (q.actor) {
        f.actor = core::Uuid::parse(*q.actor);
        if (!f.actor) v.add("actor", "must be a user id (UUID)");
    }
    if (q.limit) {
        int n = 0;
        const auto* end = q.limit->data() + q.limit->size();
        const auto parsed = std::from_chars(q.limit->data(), end, n);
        if (parsed.ec != std::errc{} || parsed.ptr != end || n < 1 || n > kMaxLimit) {
            v.add("limit", "must be an integer from 1 to 200");
        } else {
            f.limit = n;
        }
    }
    if (q.cursor) {
        f.after = parse_cursor(*q.cursor);
        if (!f.after) v.add("cursor", "is not a cursor this API gave out");
    }
    v.throw_if_failed();
    return f;
}

}  // namespace

asio::awaitable<AuditEventList> Service::list(auth::Principal p, const AuditQuery& q) {
    const auto filter = filter_of(q);
    const db::TenantScope scope{
        .workspace_id = p.workspace, .user_id = p.user, .session_id = p.session, .min_role = "admin"};
    std::vector<std::pair<AuditEvent, std::pair<std::string, core::Uuid>>> rows;
    try {
        rows = co_await audit::list(pool_, scope, filter);
    } catch (const db::Error& e) {
        // An out-of-range time, or a forged cursor.
        if (e.sqlstate().rfind("22", 0) != 0) throw;
        throw core::Problem::validation({{"cursor", "since, until or cursor holds a time out of range"}});
    }
    AuditEventList out;
    const bool more = rows.size() > static_cast<std::size_t>(filter.limit);
    if (more) rows.pop_back();
    if (more && !rows.empty()) out.next_cursor = cursor_of(rows.back().second);
    out.items.reserve(rows.size());
    for (auto& r : rows) out.items.push_back(std::move(r.first));
    co_return out;
}

}  // namespace kiln::audit
