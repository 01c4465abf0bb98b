#include "jobs/service.hpp"

#include <boost/json/serialize.hpp>
#include <limits>

#include "auth/scope.hpp"
#include "core/page.hpp"

namespace asio = boost::asio;

namespace kiln::jobs {

NewJob Service::new_job(const Kind& kind, const std::string& name, const std::optional<boost::json::value>& args,
                        const std::optional<std::string>& queue, const std::optional<std::int64_t>& priority,
                        const std::optional<std::int64_t>& max_attempts) const {
    NewJob j;
    j.id = core::Uuid::v7();
    j.kind = name;
    j.queue = queue.value_or("default");
    j.args_json = args ? boost::json::serialize(*args) : "{}";
    j.priority = static_cast<int>(priority.value_or(2));
    j.max_attempts = static_cast<int>(
        max_attempts.value_or(kind.max_attempts != 0 ? kind.max_attempts : config_.default_max_attempts));
    j.timeout_ms = static_cast<int>(kind.timeout.count() != 0 ? kind.timeout.count() : config_.default_timeout_ms);
    return j;
}

asio::awaitable<Job> Service::enqueue_batch(auth::Principal p, const Kind& kind, EnqueueRequest r,
                                            audit::Origin origin) {
    core::Validator v;
    std::vector<NewJob> children;
    children.reserve(r.children->size());
    for (std::size_t i = 0; i < r.children->size(); ++i) {
        const auto& c = (*r.children)[i];
        const Kind* child = registry_.find(c.kind);
        if (child == nullptr || !child->api_enqueue) {
            v.add("children[" + std::to_string(i) + "].kind", "is not a kind that can be enqueued here");
            continue;
        }
        if (child->check_args) {
            try {
                child->check_args(c.args.value_or(boost::json::object{}), "children[" + std::to_string(i) + "].args");
            } catch (const core::Problem& bad) {
                for (const auto& e : bad.errors()) v.add(e.field, e.message);
                continue;
            }
        }
        children.push_back(new_job(*child, c.kind, c.args, c.queue, c.priority, c.max_attempts));
    }
    v.throw_if_failed();
    const auto parent = new_job(kind, r.kind, r.args, r.queue, r.priority, r.max_attempts);
    const auto scope = auth::scope_of(p, p.workspace, "member");
    const audit::Event e{p.user, "job.enqueue", "job", parent.id.str(),
                         R"({"kind":")" + parent.kind + R"(","children":)" + std::to_string(children.size()) + "}"};
    co_return co_await store_.enqueue_batch(scope, parent, children, e, origin);
}

asio::awaitable<std::pair<Job, bool>> Service::enqueue(auth::Principal p, EnqueueRequest r,
                                                       std::optional<std::string> idempotency_key,
                                                       audit::Origin origin) {
    const Kind* kind = registry_.find(r.kind);
    if (kind == nullptr || !kind->api_enqueue) {
        throw core::Problem::validation({{"kind", "is not a kind that can be enqueued here"}});
    }
    if (kind->check_args) kind->check_args(r.args.value_or(boost::json::object{}), "args");
    if (r.children) {
        if (idempotency_key) throw core::Problem::validation({{"Idempotency-Key", "cannot be used for a batch"}});
        auto job = co_await enqueue_batch(p, *kind, std::move(r), origin);
        co_return std::pair{std::move(job), true};
    }
    if (idempotency_key && (idempotency_key->empty() || idempotency_key->size() > 200)) {
        throw core::Problem::validation({{"Idempotency-Key", "must be 1 to 200 characters"}});
    }
    NewJob j = new_job(*kind, r.kind, r.args, r.queue, r.priority, r.max_attempts);
    j.run_at = r.run_at;
    j.unique_key = r.unique_key;
    if (!j.unique_key && idempotency_key) j.unique_key = "idempotency:" + *idempotency_key;
    const auto scope = auth::scope_of(p, p.workspace, "member");
    const audit::Event e{p.user, "job.enqueue", "job", j.id.str(), R"({"kind":")" + j.kind + "\"}"};
    Job job;
    try {
        job = co_await store_.enqueue(scope, j, e, origin);
    } catch (const db::Error& err) {
        if (err.sqlstate().rfind("22", 0) != 0) throw;  // a time out of range
    }
    if (job.kind.empty()) throw core::Problem::validation({{"run_at", "is out of range"}});
    const bool created = job.id == j.id;
    co_return std::pair{std::move(job), created};
}

asio::awaitable<JobList> Service::list(auth::Principal p, ListQuery q) {
    core::Validator v;
    if (q.state && !is_state(*q.state))
        v.add("state", "must be one of scheduled, available, running, succeeded, failed, dead, cancelled");
    std::optional<core::Uuid> batch;
    if (q.batch) {
        batch = core::Uuid::parse(*q.batch);
        if (!batch) v.add("batch", "must be a job id");
    }
    const auto page = core::parse_page(q.limit, q.cursor, v);
    v.throw_if_failed();
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    auto rows = co_await store_.list(scope, q.state, q.kind, batch, page.before, page.limit + 1);
    co_return core::paged<JobList>(std::move(rows), page);
}

asio::awaitable<Job> Service::get(auth::Principal p, core::Uuid id) {
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    co_return co_await store_.get(scope, id);
}

asio::awaitable<void> Service::check_events(auth::Principal p, std::optional<core::Uuid> job) {
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    if (job) {
        co_await store_.get(scope, *job);
    } else {
        co_await store_.events_after(scope, std::numeric_limits<std::int64_t>::max(), std::nullopt, 1);
    }
}

asio::awaitable<std::vector<http::Event>> Service::events_after(auth::Principal p, std::int64_t after,
                                                                std::optional<core::Uuid> job, int limit) {
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    co_return co_await store_.events_after(scope, after, job, limit);
}

asio::awaitable<Stats> Service::stats(auth::Principal p) {
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    co_return co_await store_.stats(scope);
}

asio::awaitable<Job> Service::cancel(auth::Principal p, core::Uuid id, audit::Origin origin) {
    const auto scope = auth::scope_of(p, p.workspace, "member");
    const audit::Event e{p.user, "job.cancel", "job", id.str()};
    co_return co_await store_.cancel(scope, id, e, origin);
}

asio::awaitable<Job> Service::retry(auth::Principal p, core::Uuid id, audit::Origin origin) {
    const auto scope = auth::scope_of(p, p.workspace, "member");
    const audit::Event e{p.user, "job.retry", "job", id.str()};
    co_return co_await store_.retry(scope, id, e, origin);
}

}  // namespace kiln::jobs
