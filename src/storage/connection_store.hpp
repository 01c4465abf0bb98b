#pragma once
// All SQL of storage connections, in the scope's workspace. The secret arrives here sealed and
// leaves sealed: this layer never sees a plaintext secret.
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "audit/store.hpp"
#include "db/pool.hpp"
#include "storage/connection_model.hpp"
#include "storage/secret_box.hpp"

namespace kiln::storage {

// What a client for the connection is built from (the secret still sealed).
struct ConnectionAccess {
    core::Uuid id;
    std::string endpoint;
    std::string region;
    std::string bucket;
    std::string access_key_id;
    Sealed secret;
    bool path_style = true;
};

// A connection to insert, validated, its secret sealed.
struct NewConnection {
    ConnectionAccess access;
    std::string name;
};

// What changes; absent fields stay.
struct ConnectionChanges {
    std::optional<std::string> name;
    std::optional<std::string> endpoint;
    std::optional<std::string> region;
    std::optional<std::string> bucket;
    std::optional<std::string> access_key_id;
    std::optional<Sealed> secret;
    std::optional<bool> path_style;
};

class ConnectionStore {
public:
    explicit ConnectionStore(db::Pool& pool) : pool_(pool) {}

    // A second live connection with the same name: db::Error 23505 on storage_connections_name.
    boost::asio::awaitable<StorageConnection> create(const db::TenantScope& scope, const NewConnection& c,
                                                     const audit::Event& e, const audit::Origin& origin);
    // Newest first; `limit` rows after `before` (an id), if given.
    boost::asio::awaitable<std::vector<StorageConnection>> list(const db::TenantScope& scope,
                                                                const std::optional<core::Uuid>& before, int limit);
    // 404 unless live in the scope's workspace.
    boost::asio::awaitable<StorageConnection> get(const db::TenantScope& scope, const core::Uuid& id);
    boost::asio::awaitable<ConnectionAccess> access(const db::TenantScope& scope, const core::Uuid& id);
    boost::asio::awaitable<StorageConnection> update(const db::TenantScope& scope, const core::Uuid& id,
                                                     const ConnectionChanges& c, const audit::Event& e,
                                                     const audit::Origin& origin);
    // Soft: the row stays (deleted_at), its sealed secret is erased. 409 while a live project of
    // the Data Uploader uses it.
    boost::asio::awaitable<void> remove(const db::TenantScope& scope, const core::Uuid& id, const audit::Event& e,
                                        const audit::Origin& origin);
    // An audit event alone (a connection test changes nothing of ours).
    boost::asio::awaitable<void> record(const db::TenantScope& scope, const audit::Event& e,
                                        const audit::Origin& origin);

private:
    db::Pool& pool_;
};

}  // namespace kiln::storage
