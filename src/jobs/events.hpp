#pragma once
// Live job events: every process LISTENs on kiln_job_events (the jobs trigger NOTIFYs each
// event at commit) and relays what it hears to its own stream subscribers through the hub, so
// a client sees events of jobs run by any worker on any machine.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/thread_pool.hpp"
#include "db/listener.hpp"
#include "http/event_hub.hpp"

namespace kiln::jobs {

// The hub events of one kiln_job_events payload (a JSON array of events, one statement's);
// malformed ones are left out.
std::vector<http::Event> events_of_notification(std::string_view payload);

class EventRelay {
public:
    EventRelay(http::EventHub& hub, core::ThreadPool& blocking, std::string conninfo)
        : hub_(hub), blocking_(blocking), conninfo_(std::move(conninfo)) {}

    void start(const boost::asio::any_io_executor& ex);
    // On the same executor.
    boost::asio::awaitable<void> stop();

private:
    boost::asio::awaitable<void> loop();

    http::EventHub& hub_;
    core::ThreadPool& blocking_;
    std::string conninfo_;
    std::unique_ptr<db::Listener> listener_;
    std::optional<boost::asio::steady_timer> timer_;
    bool stopping_ = false;
    bool running_ = false;
};

}  // namespace kiln::jobs
