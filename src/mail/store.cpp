#include "mail/store.hpp"

#include "db/transaction.hpp"

namespace asio = boost::asio;

namespace kiln::mail {

namespace {

constexpr std::string_view kOutboxInsert = R"sql(
INSERT INTO mail_outbox (id, recipient, subject, body) VALUES ($1, $2, $3, $4))sql";
constexpr std::string_view kOutboxInsertIfToken = R"sql(
INSERT INTO mail_outbox (id, recipient, subject, body)
SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM user_tokens WHERE token_hash = $5))sql";

constexpr std::string_view kMailer = "SELECT set_config('kiln.mailer', 'on', true)";
constexpr std::string_view kOutboxClaim = R"sql(
WITH due AS (
    SELECT id FROM mail_outbox
     WHERE status = 'pending' AND next_attempt_at <= now()
     ORDER BY next_attempt_at, id
     LIMIT $1
       FOR UPDATE SKIP LOCKED)
UPDATE mail_outbox m
   SET attempts = m.attempts + 1, next_attempt_at = now() + make_interval(secs => $2 / 1000.0)
  FROM due WHERE m.id = due.id
RETURNING m.id, m.recipient, m.subject, m.body, m.attempts)sql";
constexpr std::string_view kOutboxSent = R"sql(
UPDATE mail_outbox SET status = 'sent', sent_at = now(), body = '', last_error = NULL
 WHERE id = $1 AND status = 'pending')sql";
constexpr std::string_view kOutboxFailed = R"sql(
UPDATE mail_outbox
   SET last_error = left($2, 1000),
       status = CASE WHEN $3 THEN 'failed' ELSE 'pending' END,
       body = CASE WHEN $3 THEN '' ELSE body END,
       next_attempt_at = now() + make_interval(secs => $4 / 1000.0)
 WHERE id = $1 AND status = 'pending')sql";

std::string bytea(const core::Digest& d) {
    return "\\x" + core::to_hex(d);
}

}  // namespace

db::Query enqueue(const Message& m) {
    return {kOutboxInsert, db::params(core::Uuid::v7(), m.to, m.subject, m.body)};
}

db::Query enqueue_if_token(const Message& m, const core::Digest& token) {
    return {kOutboxInsertIfToken, db::params(core::Uuid::v7(), m.to, m.subject, m.body, bytea(token))};
}

asio::awaitable<std::vector<Outgoing>> Store::claim(unsigned limit, std::chrono::milliseconds lease) {
    std::vector<db::Query> q;
    q.push_back({kMailer, {}});
    q.push_back({kOutboxClaim, db::params(limit, lease.count())});
    const db::TenantScope unscoped;  // named: no aggregate temporary inside a co_await (g++ 12)
    auto r = co_await db::run(pool_, unscoped, std::move(q));
    std::vector<Outgoing> out;
    const auto& rows = r[1];
    out.reserve(static_cast<std::size_t>(rows.rows()));
    for (int i = 0; i < rows.rows(); ++i) {
        Outgoing o;
        o.id = rows.uuid(i, 0);
        o.message = {rows.str(i, 1), rows.str(i, 2), rows.str(i, 3)};
        o.attempts = static_cast<int>(rows.int64(i, 4));
        out.push_back(std::move(o));
    }
    co_return out;
}

asio::awaitable<void> Store::mark_sent(const core::Uuid& id) {
    std::vector<db::Query> q;
    q.push_back({kMailer, {}});
    q.push_back({kOutboxSent, db::params(id)});
    const db::TenantScope unscoped;
    co_await db::run(pool_, unscoped, std::move(q));
}

asio::awaitable<void> Store::mark_failed(const core::Uuid& id, const std::string& error, bool give_up,
                                         std::chrono::milliseconds retry_in) {
    std::vector<db::Query> q;
    q.push_back({kMailer, {}});
    q.push_back({kOutboxFailed, db::params(id, error, give_up, retry_in.count())});
    const db::TenantScope unscoped;
    co_await db::run(pool_, unscoped, std::move(q));
}

}  // namespace kiln::mail
