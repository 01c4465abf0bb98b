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
#include "storage/s3.hpp"

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
class BlobStores {
public:
    BlobStores(const core::StorageConfig& config, const std::string& home, core::ThreadPool& blocking,
               const std::vector<boost::asio::any_io_executor>& executors);
    // The store of the io_context `ex` belongs to; std::logic_error for any other context.
    BlobStore& at(const boost::asio::any_io_executor& ex) const;
    bool presigns() const noexcept { return presigns_; }

private:
    struct Entry {
        const boost::asio::execution_context* context = nullptr;
        std::unique_ptr<http::Client> client;  // declared first: destroyed after the store using it
        std::unique_ptr<BlobStore> store;
    };
    std::vector<Entry> entries_;
    bool presigns_ = false;
};

}  // namespace kiln::storage
