#include "db/notifier.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>

#include "core/log.hpp"

namespace asio = boost::asio;

namespace kiln::db {

void Notifier::subscribe(std::string channel, Heard heard, Connected connected) {
    subscribers_.push_back({std::move(channel), std::move(heard), std::move(connected)});
}

void Notifier::start(const asio::any_io_executor& ex) {
    timer_.emplace(ex);
    running_ = true;
    asio::co_spawn(ex, loop(), [this](const std::exception_ptr& e) {
        if (e) core::log::error("database listener stopped by an error", {});
        running_ = false;
        timer_->cancel();
    });
}

asio::awaitable<void> Notifier::stop() {
    stopping_ = true;
    if (listener_) listener_->cancel();
    timer_->cancel();
    while (running_) {
        timer_->expires_after(std::chrono::milliseconds(50));
        co_await timer_->async_wait(asio::as_tuple(asio::use_awaitable));
        if (listener_) listener_->cancel();
    }
}

asio::awaitable<void> Notifier::loop() {
    std::vector<std::string> channels;
    for (const auto& s : subscribers_) {
        if (std::find(channels.begin(), channels.end(), s.channel) == channels.end()) channels.push_back(s.channel);
    }
    auto pause = std::chrono::milliseconds(500);
    while (!stopping_ && !channels.empty()) {
        std::exception_ptr failure;
        try {
            listener_ = co_await Listener::open(conninfo_, channels, blocking_);
        } catch (...) {
            failure = std::current_exception();
        }
        if (stopping_) break;
        if (failure) {
            timer_->expires_after(pause);
            co_await timer_->async_wait(asio::as_tuple(asio::use_awaitable));
            pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(30));
            continue;
        }
        pause = std::chrono::milliseconds(500);
        for (const auto& s : subscribers_) s.connected();
        for (;;) {
            const bool heard = co_await listener_->wait();
            if (!heard || stopping_) break;
            std::map<std::string, std::vector<std::string>, std::less<>> by_channel;
            for (auto& n : listener_->take_notifications()) by_channel[n.channel].push_back(std::move(n.payload));
            for (const auto& s : subscribers_) {
                const auto it = by_channel.find(s.channel);
                if (it != by_channel.end()) s.heard(it->second);
            }
        }
        listener_.reset();
    }
    listener_.reset();
}

}  // namespace kiln::db
