#pragma once
// All SQL of the job engine. Requests act in their workspace (tenant scope); workers act
// across workspaces with kiln.worker on. Every operation is one round trip.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <mutex>
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

// Many jobs in one statement (no unique keys): e.g. one per file of a sync.
std::vector<db::Query> enqueue_many(const std::vector<NewJob>& jobs);
// A batch: `parent` waits until every child has ended, then runs with their counts
// (Context::batch()); cancelling it cancels them. The last query's result is the parent.
std::vector<db::Query> enqueue_batch(const NewJob& parent, const std::vector<NewJob>& children);
// Children enqueued with run_at "infinity" wait (`scheduled`) until this makes them available:
// work a first child must prepare (a sync's transfers wait for its scan).
db::Query start_waiting_children(const core::Uuid& parent);

// Enqueueing is part of the caller's batch: the job exists iff that batch commits (the
// caller's data, credits and jobs together). Append all of these to the batch, in order; the
// last one's result is the job (the existing one when unique_key matched a live key).
std::vector<db::Query> enqueue(const NewJob& j);

// The side effect of the diagnostic kind system.effect (committed with the job's success).
db::Query record_effect(const core::Uuid& workspace, const core::Uuid& job, int attempt);

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
    double pickup_s = 0;     // from due (run_at) to this claim
    std::string batch_json;  // a batch parent's counts; empty for other jobs
    bool child = false;      // belongs to a batch
    // Its workspace gave all its share of this claim, or the claim visited as many workspaces
    // as it may: another claim may find more. False on every job of a claim means the queue
    // (what these kinds may take) is empty for now.
    bool more = false;
};

// Unfinished jobs of a kind in one state, across workspaces (/metrics).
struct QueueDepth {
    std::string kind;
    std::string state;
    std::int64_t jobs = 0;
    std::optional<double> oldest_s;  // available jobs: how long the oldest has been due
};

struct ScheduleRow {
    std::string name;
    std::string cron;
    std::string time_zone;
    std::string next_local;  // "YYYY-MM-DD HH:MM" in time_zone
};

struct DueSchedule {
    std::string name;
    std::string local_now;
    std::int64_t runs = 0;
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
    std::vector<std::pair<std::string, unsigned>> caps;  // kinds with a global concurrency cap
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
                                                  const std::optional<core::Uuid>& batch,
                                                  const std::optional<core::Uuid>& before, int limit);
    // Both return the job as it is afterwards; KL404/KL409 become Problems.
    boost::asio::awaitable<Job> cancel(const db::TenantScope& scope, const core::Uuid& id, const audit::Event& e,
                                       const audit::Origin& origin);
    boost::asio::awaitable<Job> retry(const db::TenantScope& scope, const core::Uuid& id, const audit::Event& e,
                                      const audit::Origin& origin);
    boost::asio::awaitable<Job> enqueue(const db::TenantScope& scope, const NewJob& j, const audit::Event& e,
                                        const audit::Origin& origin);
    boost::asio::awaitable<Job> enqueue_batch(const db::TenantScope& scope, const NewJob& parent,
                                              const std::vector<NewJob>& children, const audit::Event& e,
                                              const audit::Origin& origin);

    boost::asio::awaitable<Stats> stats(const db::TenantScope& scope);
    // Persisted events after `after` (an event id), oldest first, of one job or all.
    boost::asio::awaitable<std::vector<http::Event>> events_after(const db::TenantScope& scope, std::int64_t after,
                                                                  const std::optional<core::Uuid>& job, int limit);

    // --- workers, across workspaces
    boost::asio::awaitable<std::vector<Claimed>> claim(const ClaimRequest& c);
    // False when the lease was lost (expired and taken over, or cancelled): nothing changed,
    // and none of `effects` (run in the same transaction) happened.
    boost::asio::awaitable<bool> succeed(const Lease& l, const std::string& result_json,
                                         std::vector<db::Query> effects = {});
    // Retried after `retry_in`, or dead when out of attempts. Returns the new state, or nullopt
    // when the lease was lost.
    // Many successes in one statement (jobs without effects, not in a batch: a child's success
    // locks its parent, and parents locked in different orders could deadlock). Returns the
    // lease tokens whose success was recorded; the others had lost their lease.
    boost::asio::awaitable<std::vector<core::Uuid>> succeed_many(
        const std::vector<std::pair<Lease, std::string>>& done);
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
    // leases are taken back (counted as an attempt).
    boost::asio::awaitable<std::int64_t> maintain();
    // Finished top-level jobs older than `age` are deleted with their children and events, and
    // workers silent for five minutes are forgotten (the leader's `jobs.retention` schedule).
    boost::asio::awaitable<std::int64_t> retention(std::chrono::seconds age);

    boost::asio::awaitable<std::vector<QueueDepth>> queue_depth();

    // --- the leader's schedules
    // The wall-clock minute now ("YYYY-MM-DD HH:MM") in each zone; throws for an unknown zone.
    boost::asio::awaitable<std::vector<std::string>> zone_now(const std::vector<std::string>& zones);
    // Records `worker` as the leader (its lock held by the server process `lock_pid`) and the
    // schedules with their next run (local minute in their zone), keeping a schedule's next run
    // unless its cron or zone changed.
    boost::asio::awaitable<void> lead(const std::string& worker, int lock_pid,
                                      const std::vector<ScheduleRow>& schedules);
    // Due schedules among `names`, with their zone's minute now and their run count.
    boost::asio::awaitable<std::vector<DueSchedule>> due_schedules(const std::vector<std::string>& names);
    // Moves a due schedule to its next run; false when another firing took this occurrence.
    boost::asio::awaitable<bool> advance_schedule(const std::string& name, std::int64_t runs,
                                                  const std::string& next_local);
    boost::asio::awaitable<void> schedule_ran(const std::string& name, const std::optional<std::string>& error);

    // A worker in this process is told of jobs this process enqueued (enqueue, enqueue_batch)
    // as soon as they commit, ahead of their notification. Set and cleared by the worker's
    // owner; called from any thread.
    void set_local_wake(std::function<void()> wake);
    // Tells that worker of jobs enqueued by a statement outside this store (a module's own
    // transaction that inserts jobs), once it has committed.
    void wake_local();

private:
    db::Pool& pool_;
    std::mutex wake_mutex_;
    std::function<void()> local_wake_;
};

}  // namespace kiln::jobs
