#pragma once
// Runs jobs in this process: claims batches as slots free up (woken by LISTEN/NOTIFY, with a
// polling fallback), runs each handler, records the outcome with the job's lease token, renews
// leases with heartbeats, and hands unfinished jobs back on shutdown. Everything of one Worker
// runs on one single-threaded executor, so its state needs no locks.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/config.hpp"
#include "core/thread_pool.hpp"
#include "db/listener.hpp"
#include "db/notifier.hpp"
#include "jobs/metrics.hpp"
#include "jobs/registry.hpp"
#include "jobs/scheduler.hpp"
#include "jobs/store.hpp"

namespace kiln::jobs {

// The session advisory lock the leader holds ("kiln" + 1; kiln_job_leader() in migration 0026
// looks for it in pg_locks as classid 107, objid 1768713729).
inline constexpr std::int64_t kLeaderLock = 0x6b696c6e01;

class Worker {
public:
    Worker(Store& store, const Registry& registry, const core::JobsConfig& config, core::ThreadPool& blocking,
           std::string conninfo, JobMetrics& metrics);

    const std::string& id() const noexcept { return id_; }
    // Whether this worker holds the leader lock now (it fires the cron schedules).
    bool leader() const noexcept { return leader_; }
    void start(const boost::asio::any_io_executor& ex);
    // On the same executor: stops claiming, lets running jobs finish for the grace period, then
    // cancels the rest and hands their leases back so that other workers take them at once.
    boost::asio::awaitable<void> stop();
    // On the same executor: there may be work (a claim follows at once).
    void wake();
    // Before the notifier starts and after start(): new work and cancel requests reach this
    // worker through the process's one LISTEN connection.
    void listen(db::Notifier& notifier);

private:
    struct Running {
        Lease lease;
        std::shared_ptr<Context> context;
        bool cancel_requested = false;
        bool settled = false;  // the outcome is recorded (timed out) or no longer ours (lease lost)
        std::unique_ptr<boost::asio::steady_timer> deadline;
        std::string kind;
        std::chrono::steady_clock::time_point started;
        bool child = false;
        // Succeeded, waiting for complete_loop to record it: the slot stays taken until then, so
        // that a worker never has more jobs `running` in the database than it has slots.
        bool completing = false;
        // Its claim may have left work this worker could not take (it took all it asked for, a
        // workspace's share or plan cap ran out, or its kind has a concurrency cap): its slot
        // freeing wakes the claim loop. Other slots freeing do not, so an idle worker does not
        // follow every job with an empty claim.
        // A job whose success committed effects is set too: they may have started or enqueued
        // jobs (a sync's scan starts its lanes), claimed then without waiting for the notification.
        bool refill = false;
    };
    // A success waiting to be recorded with others in one statement.
    struct Completion {
        Lease lease;
        std::string result;
        std::string kind;
        std::chrono::steady_clock::time_point started;
    };

    boost::asio::awaitable<void> claim_loop();
    boost::asio::awaitable<void> heartbeat_loop();
    boost::asio::awaitable<void> maintain_loop();
    boost::asio::awaitable<void> lead_loop();
    boost::asio::awaitable<void> complete_loop();
    boost::asio::awaitable<void> lead(db::Listener& lock);
    boost::asio::awaitable<void> run(Claimed job, bool refill);
    // A slot was given back (see Running::refill).
    void freed(bool refill);
    boost::asio::awaitable<void> settle(Running& r, std::exception_ptr failure, const boost::json::value& result);
    boost::asio::awaitable<void> time_out(core::Uuid token);
    std::chrono::milliseconds backoff(int attempt) const;
    void count(const std::string& kind, std::chrono::steady_clock::time_point started, std::string_view outcome);
    std::vector<Lease> leases() const;
    void spawn(boost::asio::awaitable<void> task, const char* what);
    void finished();

    Store& store_;
    const Registry& registry_;
    const core::JobsConfig& config_;
    JobMetrics& metrics_;
    core::ThreadPool& blocking_;
    std::string conninfo_;
    std::string id_;
    std::string host_;
    boost::asio::any_io_executor ex_;
    std::optional<boost::asio::steady_timer> wake_timer_;
    std::optional<boost::asio::steady_timer> heartbeat_timer_;
    std::optional<boost::asio::steady_timer> maintain_timer_;
    std::optional<boost::asio::steady_timer> done_timer_;
    std::optional<boost::asio::steady_timer> lead_timer_;
    std::optional<boost::asio::steady_timer> complete_timer_;
    std::vector<Completion> completions_;
    Scheduler scheduler_;
    bool leader_ = false;
    std::vector<db::Listener*> listeners_;   // the leader lock's connection, cancelled on stop
    std::map<core::Uuid, Running> running_;  // by lease token
    std::size_t starting_ = 0;               // claimed and spawned, not yet in running_
    std::optional<core::Uuid> cursor_;
    bool woken_ = false;
    // Woken while every slot was taken: whatever it was for waits for the next slot to free.
    bool missed_ = false;
    bool stopping_ = false;
    bool heartbeats_done_ = false;
    int tasks_ = 0;  // loops and jobs still running on ex_
};

}  // namespace kiln::jobs
