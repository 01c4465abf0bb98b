#pragma once
// The deployment's blob store, from the storage.* configuration keys.
#include <boost/asio/any_io_executor.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/thread_pool.hpp"
#include "http/client.hpp"
#include "storage/blob_store.hpp"
#include "storage/connection_store.hpp"
#include "storage/s3.hpp"
#include "storage/secret_box.hpp"

namespace kiln::storage {

// storage.local_root, else $KILN_HOME/blobs, else .kiln/blobs.
std::filesystem::path local_root(const core::StorageConfig& config, const std::string& home);
// Throws core::ConfigError when the secret is missing (resolve_secrets() reads *_file first).
S3Options s3_options(const core::StorageConfig& config);
// `client` is used by the s3 backend and must outlive the store.
std::unique_ptr<BlobStore> make_blob_store(const core::StorageConfig& config, const std::string& home,
                                           core::ThreadPool& blocking, http::Client& client);

// One store per I/O thread: an S3 store must be called from its http::Client's io_context, and a
// request's coroutine stays on its connection's thread, so each thread gets its own client.
// Made empty with the services; attach() once the I/O threads exist, close() once they have
// stopped and before their io_contexts are destroyed (a client must not outlive its context).
class BlobStores {
public:
    BlobStores(const core::StorageConfig& config, std::string home, core::ThreadPool& blocking)
        : config_(config), home_(std::move(home)), blocking_(blocking) {}
    // Throws core::ConfigError for a storage.* setting found wrong; then nothing is attached.
    void attach(const std::vector<boost::asio::any_io_executor>& executors);
    void close() { entries_.clear(); }
    // The store of the io_context `ex` belongs to; std::logic_error for any other context.
    BlobStore& at(const boost::asio::any_io_executor& ex) const;
    bool presigns() const noexcept { return config_.backend == "s3"; }

private:
    struct Entry {
        const boost::asio::execution_context* context = nullptr;
        std::unique_ptr<http::Client> client;  // declared first: destroyed after the store using it
        std::unique_ptr<BlobStore> store;
    };
    const core::StorageConfig& config_;
    std::string home_;
    core::ThreadPool& blocking_;
    std::vector<Entry> entries_;
};
// A workspace's storage connection: its secret is opened here, just before the client is made.
// Throws StorageError when the endpoint's host is not (any longer) in `allowed_hosts`
// (storage.connection_hosts), or the sealed secret does not open under `box` (another master key).
S3Options s3_options(const ConnectionAccess& connection, const SecretBox& box,
                     const std::vector<std::string>& allowed_hosts);
// `client` must outlive the store; the uploader's sync jobs build theirs this way.
std::unique_ptr<S3BlobStore> make_blob_store(const ConnectionAccess& connection, const SecretBox& box,
                                             const std::vector<std::string>& allowed_hosts, http::Client& client);

}  // namespace kiln::storage
