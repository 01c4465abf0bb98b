#include "mail/service.hpp"

#include "core/log.hpp"
#include "core/problem.hpp"

namespace asio = boost::asio;

namespace kiln::mail {

asio::awaitable<std::size_t> Service::deliver_due() {
    // The lease outlasts a delivery's own deadline, so no second sender takes a message that
    // is still being sent.
    const auto lease = std::chrono::milliseconds(config_.timeout_ms) * 2 + std::chrono::seconds(30);
    const auto due = co_await store_.claim(config_.batch_size, lease);
    for (const auto& m : due) {
        std::exception_ptr failure;
        try {
            auto send = [d = &delivery_, m] { d->deliver(m); };
            co_await cpu_.run(std::move(send));
        } catch (...) {
            failure = std::current_exception();
        }
        if (!failure) {
            co_await store_.mark_sent(m.id);
            core::log::info("mail sent", {{"mail_id", m.id.str()}, {"attempt", m.attempts}});
            continue;
        }
        const auto error = core::describe(failure);
        const bool give_up = m.attempts >= static_cast<int>(config_.max_attempts);
        const auto retry_in = backoff(m.attempts, std::chrono::milliseconds(config_.retry_base_ms));
        co_await store_.mark_failed(m.id, error, give_up, retry_in);
        if (give_up) {
            core::log::error("mail given up", {{"mail_id", m.id.str()}, {"attempt", m.attempts}, {"error", error}});
        } else {
            core::log::warn("mail delivery failed; will retry", {{"mail_id", m.id.str()},
                                                                 {"attempt", m.attempts},
                                                                 {"retry_in_ms", retry_in.count()},
                                                                 {"error", error}});
        }
    }
    co_return due.size();
}

}  // namespace kiln::mail
