#pragma once
// Jobs on the wire. States: scheduled (waits for run_at), available (may be claimed), running
// (leased to a worker), succeeded, failed (waits to be retried), dead (out of attempts),
// cancelled. docs/jobs.md.
#include <boost/describe.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "core/uuid.hpp"

namespace kiln::jobs {

struct Progress {
    std::int64_t percent = 0;
    std::string message;
    boost::json::value detail;
};
BOOST_DESCRIBE_STRUCT(Progress, (), (percent, message, detail))

// How a batch's children ended so far.
struct BatchCounts {
    std::int64_t total = 0;
    std::int64_t succeeded = 0;
    std::int64_t dead = 0;
    std::int64_t cancelled = 0;
};
BOOST_DESCRIBE_STRUCT(BatchCounts, (), (total, succeeded, dead, cancelled))

struct Job {
    core::Uuid id;
    std::string kind;
    std::string queue;
    boost::json::value args;
    std::int64_t priority = 2;
    std::string state;
    std::int64_t attempt = 0;
    std::int64_t max_attempts = 0;
    Progress progress;
    boost::json::value result;
    boost::json::value errors;  // [{attempt, error, at}], one per failed attempt
    std::optional<std::string> unique_key;
    bool cancel_requested = false;
    std::optional<std::string> run_at;  // null: a batch parent waiting for its children
    std::string created_at;
    std::optional<std::string> attempted_at;
    std::optional<std::string> finished_at;
    std::optional<core::Uuid> parent_id;  // the batch this job belongs to
    std::optional<BatchCounts> batch;     // a batch parent's children
};
BOOST_DESCRIBE_STRUCT(Job, (),
                      (id, kind, queue, args, priority, state, attempt, max_attempts, progress, result, errors,
                       unique_key, cancel_requested, run_at, created_at, attempted_at, finished_at, parent_id, batch))

struct JobList {
    std::vector<Job> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(JobList, (), (items, next_cursor))

// One child of a batch enqueued with POST /jobs.
struct ChildRequest {
    std::string kind;
    std::optional<boost::json::value> args;
    std::optional<std::string> queue;
    std::optional<std::int64_t> priority;
    std::optional<std::int64_t> max_attempts;
};
BOOST_DESCRIBE_STRUCT(ChildRequest, (), (kind, args, queue, priority, max_attempts))

struct EnqueueRequest {
    std::string kind;
    std::optional<boost::json::value> args;  // an object; {} when absent
    std::optional<std::string> queue;
    std::optional<std::int64_t> priority;
    std::optional<std::string> run_at;  // RFC 3339; in the past or absent: now
    std::optional<std::int64_t> max_attempts;
    std::optional<std::string> unique_key;
    // Makes this job a batch parent: it runs once all of these have ended.
    std::optional<std::vector<ChildRequest>> children;
    void validate(core::Validator& v) const;
};
BOOST_DESCRIBE_STRUCT(EnqueueRequest, (), (kind, args, queue, priority, run_at, max_attempts, unique_key, children))

// GET /jobs?state=&kind=&limit=&cursor=, as given (validated by the service).
struct ListQuery {
    std::optional<std::string> state;
    std::optional<std::string> kind;
    std::optional<std::string> batch;  // a parent's id: its children
    std::optional<std::string> limit;
    std::optional<std::string> cursor;
};

struct KindStats {
    std::string kind;
    std::string state;
    std::int64_t count = 0;
};
BOOST_DESCRIBE_STRUCT(KindStats, (), (kind, state, count))

// GET /jobs/stats: the workspace's jobs now.
struct Stats {
    std::vector<KindStats> by_kind;  // one row per kind and state
    std::int64_t waiting = 0;        // available now
    std::int64_t running = 0;
    std::int64_t finished_last_minute = 0;
    std::optional<double> oldest_waiting_s;  // how long the oldest available job has waited
};
BOOST_DESCRIBE_STRUCT(Stats, (), (by_kind, waiting, running, finished_last_minute, oldest_waiting_s))

bool is_state(std::string_view s);

}  // namespace kiln::jobs
