#pragma once
// All SQL of the job engine. Requests act in their workspace (tenant scope); workers act
// across workspaces with kiln.worker on. Every operation is one round trip.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "audit/store.hpp"
#include "db/pool.hpp"
#include "http/event_hub.hpp"
#include "jobs/model.hpp"

namespace kiln::jobs {

// A job to insert, already validated; defaults applied.
struct NewJob {
    core::Uuid id;
    std::string kind;
    std::string queue = "default";
    std::string args_json = "{}";
    int priority = 2;
    std::optional<std::string> run_at;
    int max_attempts = 5;
    int timeout_ms = 300000;
    std::optional<std::string> unique_key;
    int unique_window_s = 24 * 3600;
};

// Enqueueing is part of the caller's batch: the job exists iff that batch commits (the
// caller's data, credits and jobs together). Append all of these to the batch, in order; the
// last one's result is the job (the existing one when unique_key matched a live key).
std::vector<db::Query> enqueue(const NewJob& j);

// A claimed job, leased to this worker until renewed or finished.
struct Claimed {
    core::Uuid workspace;
    core::Uuid id;
    std::string kind;
    std::string args_json;
    int attempt = 0;
    int max_attempts = 0;
    std::chrono::milliseconds timeout{0};
    core::Uuid lease;
    double pickup_s = 0;  // from due (run_at) to this claim
};

struct Lease {
    core::Uuid workspace;
    core::Uuid id;
    core::Uuid token;
};

struct ClaimRequest {
    std::optional<core::Uuid> after_workspace;  // round-robin cursor
    unsigned workspaces = 16;
    unsigned limit = 32;
    std::vector<std::string> kinds;
    std::string worker;
    std::chrono::milliseconds lease{30000};
};

class Store {
public:
    explicit Store(db::Pool& pool) : pool_(pool) {}

    // --- requests, in the scope's workspace
    Job job_at(const db::Result& r, int i) const;
    boost::asio::awaitable<Job> get(const db::TenantScope& scope, const core::Uuid& id);
    boost::asio::awaitable<std::vector<Job>> list(const db::TenantScope& scope, const std::optional<std::string>& state,
                                                  const std::optional<std::string>& kind,
                                                  const std::optional<core::Uuid>& before, int limit);
    // Both return the job as it is afterwards; KL404/KL409 become Problems.
    boost::asio::awaitable<Job> cancel(const db::TenantScope& scope, const core::Uuid& id, const audit::Event& e,
                                       const audit::Origin& origin);
    boost::asio::awaitable<Job> retry(const db::TenantScope& scope, const core::Uuid& id, const audit::Event& e,
                                      const audit::Origin& origin);
    boost::asio::awaitable<Job> enqueue(const db::TenantScope& scope, const NewJob& j, const audit::Event& e,
                                        const audit::Origin& origin);

    boost::asio::awaitable<Stats> stats(const db::TenantScope& scope);
    // Persisted events after `after` (an event id), oldest first, of one job or all.
    boost::asio::awaitable<std::vector<http::Event>> events_after(const db::TenantScope& scope, std::int64_t after,
                                                                  const std::optional<core::Uuid>& job, int limit);

    // --- workers, across workspaces
    boost::asio::awaitable<std::vector<Claimed>> claim(const ClaimRequest& c);
    // False when the lease was lost (expired and taken over, or cancelled): nothing changed.
    boost::asio::awaitable<bool> succeed(const Lease& l, const std::string& result_json);
    // Retried after `retry_in`, or dead when out of attempts. Returns the new state, or nullopt
    // when the lease was lost.
    boost::asio::awaitable<std::optional<std::string>> fail(const Lease& l, const std::string& error,
                                                            std::chrono::milliseconds retry_in);
    boost::asio::awaitable<bool> cancelled(const Lease& l);
    boost::asio::awaitable<void> progress(const Lease& l, int percent, const std::string& message);
    // Extends the leases still held; returns, of those, the ones still held (by lease token) and
    // whether each has a cancel request. Registers the worker too.
    boost::asio::awaitable<std::vector<std::pair<core::Uuid, bool>>> heartbeat(const std::vector<Lease>& leases,
                                                                               std::chrono::milliseconds lease,
                                                                               const std::string& worker,
                                                                               const std::string& host, int pid,
                                                                               const std::vector<std::string>& kinds);
    // Hands unfinished jobs back at shutdown (the attempt does not count).
    boost::asio::awaitable<void> release(const std::vector<Lease>& leases);
    // Housekeeping any worker may run: due retries and scheduled jobs become available, expired
    // leases are taken back (counted as an attempt), dead workers are forgotten.
    // Finished jobs older than `retention` are deleted with their events.
    boost::asio::awaitable<std::int64_t> maintain(std::chrono::seconds retention = std::chrono::hours(24 * 7));

private:
    db::Pool& pool_;
};

}  // namespace kiln::jobs
