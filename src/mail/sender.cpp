#include "mail/sender.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
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
    done_timer_.emplace(ex);
    running_ = 1;
    auto done = [this](std::exception_ptr e) {
        if (e) log_failure("mail sender stopped by an error", e);
        finished();
    };
    asio::co_spawn(ex, deliver_loop(), done);
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

void Sender::listen(db::Notifier& notifier) {
    auto wake_here = [this] { asio::post(wake_timer_->get_executor(), [this] { wake(); }); };
    notifier.subscribe(
        std::string(kChannel), [wake_here](const std::vector<std::string>&) { wake_here(); }, wake_here);
}

}  // namespace kiln::mail
