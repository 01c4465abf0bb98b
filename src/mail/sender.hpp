#pragma once
// Runs delivery passes while `kiln serve` runs: at once when the outbox NOTIFYs (a committed
// insert), else every mail.poll_interval_ms, and again at once after a full batch. One
// start()/stop() pair; stop() waits for the pass in progress to finish.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>

#include "db/listener.hpp"
#include "mail/service.hpp"

namespace kiln::mail {

class Sender {
public:
    Sender(Service& service, core::ThreadPool& blocking, std::string conninfo, const core::MailConfig& config)
        : service_(service), blocking_(blocking), conninfo_(std::move(conninfo)), config_(config) {}

    // Both loops run on `ex` (a single-threaded context: no locks needed between them).
    void start(const boost::asio::any_io_executor& ex);
    // Call on the same executor.
    boost::asio::awaitable<void> stop();

private:
    boost::asio::awaitable<void> deliver_loop();
    boost::asio::awaitable<void> listen_loop();
    void wake();
    void finished();

    Service& service_;
    core::ThreadPool& blocking_;
    std::string conninfo_;
    const core::MailConfig& config_;
    std::optional<boost::asio::steady_timer> wake_timer_;
    std::optional<boost::asio::steady_timer> retry_timer_;
    std::optional<boost::asio::steady_timer> done_timer_;
    std::unique_ptr<db::Listener> listener_;
    bool woken_ = false;
    bool stopping_ = false;
    int running_ = 0;
};

}  // namespace kiln::mail
