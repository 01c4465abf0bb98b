#pragma once
// One delivery pass over the outbox: claim what is due, deliver each message on the CPU pool,
// record the outcome (sent; retry with backoff; given up after mail.max_attempts). The job
// engine (issue 5) will run this as a job kind; until then the Sender calls it.
#include <boost/asio/awaitable.hpp>
#include <cstddef>

#include "core/config.hpp"
#include "core/thread_pool.hpp"
#include "mail/delivery.hpp"
#include "mail/store.hpp"

namespace kiln::mail {

class Service {
public:
    Service(Store& store, const Delivery& delivery, core::ThreadPool& cpu, const core::MailConfig& config)
        : store_(store), delivery_(delivery), cpu_(cpu), config_(config) {}

    // Returns how many messages were claimed (a full batch means more may be due).
    boost::asio::awaitable<std::size_t> deliver_due();

private:
    Store& store_;
    const Delivery& delivery_;
    core::ThreadPool& cpu_;
    const core::MailConfig& config_;
};

}  // namespace kiln::mail
