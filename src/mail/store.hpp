#pragma once
// All SQL of the outbox. Enqueueing is a statement the caller adds to its own batch, so a
// message exists iff the change that caused it committed; the sender's statements set
// kiln.mailer, the only scope that reads the outbox.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "core/crypto.hpp"
#include "db/pool.hpp"
#include "mail/model.hpp"

namespace kiln::mail {

// Queues `m` (the caller's batch commits it).
db::Query enqueue(const Message& m);
// Queues `m` only if a user token with hash `token` exists by then in the batch (the request
// named a real account): a reset request for an unknown address queues nothing.
db::Query enqueue_if_token(const Message& m, const core::Digest& token);

class Store {
public:
    explicit Store(db::Pool& pool) : pool_(pool) {}

    // Claims up to `limit` due messages (FOR UPDATE SKIP LOCKED) and leases them for `lease`:
    // no other sender takes them meanwhile, and a crash only delays them by that long.
    boost::asio::awaitable<std::vector<Outgoing>> claim(unsigned limit, std::chrono::milliseconds lease);
    // Delivered: marked sent, its body (which holds a live link) erased.
    boost::asio::awaitable<void> mark_sent(const core::Uuid& id);
    // Failed: retried after `retry_in`, or given up (status failed, body erased) when `give_up`.
    boost::asio::awaitable<void> mark_failed(const core::Uuid& id, const std::string& error, bool give_up,
                                             std::chrono::milliseconds retry_in);

private:
    db::Pool& pool_;
};

}  // namespace kiln::mail
