#pragma once
// A process's one LISTEN connection: every LISTENing session of a database is woken by every
// NOTIFY in it, whatever the channel, so each session more costs the database a wake-up per
// notifying commit. The parts of a process (job worker, event relay, mail sender) subscribe
// here to their channels; the connection is kept open with a growing pause between attempts.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/thread_pool.hpp"
#include "db/listener.hpp"

namespace kiln::db {

class Notifier {
public:
    // The payloads one wait brought on the channel, oldest first.
    using Heard = std::function<void(std::vector<std::string>)>;
    // The connection was (re)made: what was notified while it was down is lost, so the
    // subscriber looks for itself (and polls meanwhile).
    using Connected = std::function<void()>;

    Notifier(std::string conninfo, core::ThreadPool& blocking) : conninfo_(std::move(conninfo)), blocking_(blocking) {}

    // Before start(). The callbacks run on the notifier's executor: post to your own.
    void subscribe(std::string channel, Heard heard, Connected connected);
    void start(const boost::asio::any_io_executor& ex);
    // On the same executor. Once it returns no callback runs again.
    boost::asio::awaitable<void> stop();

private:
    struct Subscriber {
        std::string channel;
        Heard heard;
        Connected connected;
    };
    boost::asio::awaitable<void> loop();

    std::string conninfo_;
    core::ThreadPool& blocking_;
    std::vector<Subscriber> subscribers_;
    std::unique_ptr<Listener> listener_;
    std::optional<boost::asio::steady_timer> timer_;
    bool stopping_ = false;
    bool running_ = false;
};

}  // namespace kiln::db
