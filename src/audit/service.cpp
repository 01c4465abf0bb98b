#include "audit/service.hpp"
#include "auth/scope.hpp"
#include "core/time.hpp"

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

AuditFilter filter_of(const AuditQuery& q) {
    core::Validator v;
    AuditFilter f;
    f.action = q.action;
    f.since = q.since;
    f.until = q.until;
    if (q.since && !core::is_rfc3339(*q.since)) v.add("since", "must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z");
    if (q.until && !core::is_rfc3339(*q.until)) v.add("until", "must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z");
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
    const auto scope = auth::scope_of(p, p.workspace, "admin");
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
