#include "mail/sender.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"

namespace asio = boost::asio;

namespace kiln::mail {

namespace {

constexpr std::string_view kChannel = "kiln_mail";

void log_failure(const char* what, const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        core::log::error(what, {{"error", ex.what()}});
    } catch (...) {
        core::log::error(what, {});
    }
}

}  // namespace

void Sender::start(const asio::any_io_executor& ex) {
    wake_timer_.emplace(ex);
    retry_timer_.emplace(ex);
    done_timer_.emplace(ex);
    running_ = 2;
    auto done = [this](std::exception_ptr e) {
        if (e) log_failure("mail sender stopped by an error", e);
        finished();
    };
    asio::co_spawn(ex, deliver_loop(), done);
    asio::co_spawn(ex, listen_loop(), done);
}

void Sender::finished() {
    --running_;
    done_timer_->cancel();
}

void Sender::wake() {
    woken_ = true;
    wake_timer_->cancel();
}

asio::awaitable<void> Sender::stop() {
    stopping_ = true;
    wake_timer_->cancel();
    retry_timer_->cancel();
    if (listener_) listener_->cancel();
    while (running_ > 0) {
        done_timer_->expires_after(std::chrono::hours(1));
        co_await done_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

asio::awaitable<void> Sender::deliver_loop() {
    while (!stopping_) {
        std::size_t claimed = 0;
        std::exception_ptr failure;
        try {
            claimed = co_await service_.deliver_due();
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) log_failure("mail delivery pass failed", failure);
        if (stopping_) break;
        if (claimed >= config_.batch_size || woken_) {
            woken_ = false;
            continue;
        }
        wake_timer_->expires_after(std::chrono::milliseconds(config_.poll_interval_ms));
        co_await wake_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
        woken_ = false;
    }
}

// Keeps one LISTEN connection open, reconnecting with a growing pause; a notification (or a
// reconnection, which may have missed some) starts a delivery pass.
asio::awaitable<void> Sender::listen_loop() {
    auto pause = std::chrono::milliseconds(500);
    while (!stopping_) {
        std::exception_ptr failure;
        try {
            listener_ = co_await db::Listener::open(conninfo_, std::string(kChannel), blocking_);
        } catch (...) {
            failure = std::current_exception();
        }
        if (stopping_) break;
        if (failure) {
            log_failure("mail listener cannot connect; polling meanwhile", failure);
            retry_timer_->expires_after(pause);
            co_await retry_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
            pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(30));
            continue;
        }
        pause = std::chrono::milliseconds(500);
        wake();
        for (;;) {
            const bool notified = co_await listener_->wait();
            if (!notified || stopping_) break;
            wake();
        }
        listener_.reset();
    }
    listener_.reset();
}

}  // namespace kiln::mail
