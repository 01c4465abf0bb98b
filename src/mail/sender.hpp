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

#include "db/notifier.hpp"
#include "mail/service.hpp"

namespace kiln::mail {

class Sender {
public:
    Sender(Service& service, const core::MailConfig& config) : service_(service), config_(config) {}

    // Runs on `ex` (a single-threaded context).
    void start(const boost::asio::any_io_executor& ex);
    // After start(), before the notifier starts: the outbox's NOTIFY (or the notifier
    // reconnecting, which may have missed some) starts a delivery pass.
    void listen(db::Notifier& notifier);
    // Call on the same executor.
    boost::asio::awaitable<void> stop();

private:
    boost::asio::awaitable<void> deliver_loop();
    void wake();
    void finished();

    Service& service_;
    const core::MailConfig& config_;
    std::optional<boost::asio::steady_timer> wake_timer_;
    std::optional<boost::asio::steady_timer> done_timer_;
    bool woken_ = false;
    bool stopping_ = false;
    int running_ = 0;
};

}  // namespace kiln::mail
