#pragma once
// All SQL of files and storage usage. Every call is one round trip in the caller's tenant scope.
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "audit/store.hpp"
#include "db/pool.hpp"
#include "db/transaction.hpp"
#include "storage/model.hpp"

namespace kiln::storage {

struct FileFilter {
    std::optional<std::string> content_type_prefix;
    std::optional<std::string> name_contains;
    std::optional<core::Uuid> before;  // keyset cursor: ids below this one
    int limit = 50;
};

class FileStore {
public:
    explicit FileStore(db::Pool& pool) : pool_(pool) {}

    // Reserves the id and key of a new file ('uploading') and returns the plan's file size limit.
    boost::asio::awaitable<Upload> begin(const db::TenantScope& scope, const core::Uuid& id, const std::string& key);
    // Marks the upload ready and counts it against the quota, with its audit event; a plan limit
    // Problem (storage_bytes) when it does not fit. With `tus`, that resumable upload's
    // reservation becomes the file in the same transaction (404 if it is gone).
    boost::asio::awaitable<File> ready(const db::TenantScope& scope, const core::Uuid& id, std::int64_t size,
                                       const std::string& sha256, const std::string& content_type,
                                       const std::string& name, const std::string& declared_type, const audit::Event& e,
                                       const audit::Origin& origin, std::optional<core::Uuid> tus = std::nullopt);
    // Forgets an upload that failed (its row only; the caller removes the blob).
    boost::asio::awaitable<void> abandon(const db::TenantScope& scope, const core::Uuid& id);

    boost::asio::awaitable<File> get(const db::TenantScope& scope, const core::Uuid& id);
    // A ready file and its blob's key.
    boost::asio::awaitable<std::pair<File, std::string>> get_with_key(const db::TenantScope& scope,
                                                                      const core::Uuid& id);
    boost::asio::awaitable<std::vector<File>> list(const db::TenantScope& scope, const FileFilter& f);
    // Soft-deletes and returns the blob's key (404, or 403 for someone else's file below admin).
    boost::asio::awaitable<std::string> remove(const db::TenantScope& scope, const core::Uuid& id,
                                               const audit::Event& e, const audit::Origin& origin);
    boost::asio::awaitable<Usage> usage(const db::TenantScope& scope);

private:
    db::Pool& pool_;
};

}  // namespace kiln::storage
