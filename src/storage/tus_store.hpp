#pragma once
// All SQL of resumable (tus) uploads. Every call is one round trip; the sweep's run under the
// worker scope across workspaces, the others in the caller's tenant scope.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/store.hpp"
#include "db/pool.hpp"
#include "db/transaction.hpp"
#include "storage/model.hpp"

namespace kiln::storage {

// An upload's state as HEAD reports it.
struct TusUpload {
    core::Uuid id;
    core::Uuid workspace;
    std::int64_t length = 0;
    std::int64_t offset = 0;  // bytes durably staged
    std::string name;
    std::string declared_type;
    std::optional<core::Uuid> file_id;  // once the last byte arrived and the file is ready
    std::string expires;                // RFC 9110 date (Upload-Expires)
};

// Something the sweep removed: where its bytes were (a tus staging file, or a file's blob).
struct Swept {
    core::Uuid workspace;
    core::Uuid id;
    std::string storage_key;  // files only
};

class TusStore {
public:
    explicit TusStore(db::Pool& pool) : pool_(pool) {}

    // Reserves `length` bytes of the quota (402 `storage_bytes` when they do not fit) and creates
    // the upload, expiring `expiry_s` from now, with its audit event.
    boost::asio::awaitable<TusUpload> create(const db::TenantScope& scope, const core::Uuid& id, std::int64_t length,
                                             const std::string& name, const std::string& declared_type,
                                             std::int64_t expiry_s, const audit::Event& e, const audit::Origin& origin);
    // A live upload (not expired, or completed); 404 otherwise.
    boost::asio::awaitable<TusUpload> get(const db::TenantScope& scope, const core::Uuid& id);
    // Moves the offset from `from` to `to` and pushes the expiry back (returned, as Upload-Expires);
    // 409 when the offset was no longer `from` (another writer) or the upload is gone. With an
    // event, audited.
    boost::asio::awaitable<std::string> advance(const db::TenantScope& scope, const core::Uuid& id, std::int64_t from,
                                                std::int64_t to, std::int64_t expiry_s, const audit::Event* e,
                                                const audit::Origin& origin);
    // Termination: the row goes, an unfinished upload's reservation is given back (404 if none).
    boost::asio::awaitable<void> remove(const db::TenantScope& scope, const core::Uuid& id, const audit::Event& e,
                                        const audit::Origin& origin);
    // The plan's largest file for the scope's workspace.
    boost::asio::awaitable<std::int64_t> max_file_bytes(const db::TenantScope& scope);

    // Sweep: deletes up to `limit` uploads past their expiry, giving unfinished ones' reservations
    // back, and returns them (their staging files are the caller's to remove).
    boost::asio::awaitable<std::vector<Swept>> delete_expired(int limit);
    // Sweep: up to `limit` files still 'uploading' after `age_s`, with their blobs' keys.
    boost::asio::awaitable<std::vector<Swept>> stale_files(std::int64_t age_s, int limit);
    // Sweep: deletes those rows (once their blobs are gone), if still 'uploading'.
    boost::asio::awaitable<void> delete_files(const std::vector<Swept>& files);

private:
    db::Pool& pool_;
};

}  // namespace kiln::storage
