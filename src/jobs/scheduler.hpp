#pragma once
// The leader's cron schedules: on taking the lead it records each schedule's next run; then it
// fires those that are due, each occurrence once (docs/jobs.md, "Schedules").
#include <boost/asio/awaitable.hpp>
#include <string>

#include "jobs/registry.hpp"
#include "jobs/store.hpp"

namespace kiln::jobs {

class Scheduler {
public:
    Scheduler(Store& store, const Registry& registry) : store_(store), registry_(registry) {}

    boost::asio::awaitable<void> take_lead(std::string worker, int lock_pid);
    // Returns how many schedules fired.
    boost::asio::awaitable<int> fire_due();

private:
    Store& store_;
    const Registry& registry_;
};

}  // namespace kiln::jobs
