#pragma once
// Storage connections through the API, in the token's workspace: viewers and members list and
// read them (never a secret), admins and owners create, change, delete and test them.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "audit/store.hpp"
#include "auth/model.hpp"
#include "core/config.hpp"
#include "storage/connection_store.hpp"
#include "storage/secret_box.hpp"

namespace kiln::storage {

struct ConnectionListQuery {
    std::optional<std::string> limit;
    std::optional<std::string> cursor;
};

// How long a connection test may take: one attempt, no retries, so a wrong endpoint answers soon.
struct ProbeLimits {
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::seconds low_speed_time{10};
};

class ConnectionService {
public:
    // Without storage.master_key, reading and deleting work; creating, changing and testing
    // answer 503 (there is nothing to seal or open secrets with).
    ConnectionService(ConnectionStore& store, const core::StorageConfig& config, ProbeLimits limits = {});

    boost::asio::awaitable<StorageConnection> create(auth::Principal p, CreateStorageConnection r,
                                                     audit::Origin origin);
    boost::asio::awaitable<StorageConnectionList> list(auth::Principal p, ConnectionListQuery q);
    boost::asio::awaitable<StorageConnection> get(auth::Principal p, core::Uuid id);
    boost::asio::awaitable<StorageConnection> update(auth::Principal p, core::Uuid id, UpdateStorageConnection r,
                                                     audit::Origin origin);
    boost::asio::awaitable<void> remove(auth::Principal p, core::Uuid id, audit::Origin origin);
    // Writes, reads back and removes a small object under .kiln-probe/ with the connection's
    // credentials, from the calling coroutine's io_context (which must be single-threaded).
    boost::asio::awaitable<ConnectionTestResult> test(auth::Principal p, core::Uuid id, audit::Origin origin);

private:
    const SecretBox& box() const;

    ConnectionStore& store_;
    std::vector<std::string> hosts_;
    std::optional<SecretBox> box_;
    ProbeLimits limits_;
};

}  // namespace kiln::storage
