#pragma once
// Jobs through the API: the token's workspace, viewers read, members enqueue, cancel and retry.
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <utility>

#include "auth/model.hpp"
#include "core/config.hpp"
#include "jobs/registry.hpp"
#include "jobs/store.hpp"

namespace kiln::jobs {

class Service {
public:
    Service(Store& store, const Registry& registry, const core::JobsConfig& config)
        : store_(store), registry_(registry), config_(config) {}

    // The job, and whether it is new (false: a live job already held the unique key).
    boost::asio::awaitable<std::pair<Job, bool>> enqueue(auth::Principal p, EnqueueRequest r,
                                                         std::optional<std::string> idempotency_key,
                                                         audit::Origin origin);
    boost::asio::awaitable<JobList> list(auth::Principal p, ListQuery q);
    boost::asio::awaitable<Job> get(auth::Principal p, core::Uuid id);
    boost::asio::awaitable<Stats> stats(auth::Principal p);
    boost::asio::awaitable<Job> cancel(auth::Principal p, core::Uuid id, audit::Origin origin);
    boost::asio::awaitable<Job> retry(auth::Principal p, core::Uuid id, audit::Origin origin);

    // Checks the caller may read the workspace's events (and that the job is theirs: 404),
    // before a stream opens.
    boost::asio::awaitable<void> check_events(auth::Principal p, std::optional<core::Uuid> job);
    // Persisted events after `after`, oldest first, at most `limit`.
    boost::asio::awaitable<std::vector<http::Event>> events_after(auth::Principal p, std::int64_t after,
                                                                  std::optional<core::Uuid> job, int limit);

private:
    NewJob new_job(const Kind& kind, const std::string& name, const std::optional<boost::json::value>& args,
                   const std::optional<std::string>& queue, const std::optional<std::int64_t>& priority,
                   const std::optional<std::int64_t>& max_attempts) const;
    boost::asio::awaitable<Job> enqueue_batch(auth::Principal p, const Kind& kind, EnqueueRequest r,
                                              audit::Origin origin);

    Store& store_;
    const Registry& registry_;
    const core::JobsConfig& config_;
};

}  // namespace kiln::jobs
