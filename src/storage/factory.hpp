#pragma once
// The deployment's blob store, from the storage.* configuration keys.
#include <filesystem>
#include <memory>
#include <string>

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

// A workspace's storage connection: its secret is opened here, just before the client is made.
// Throws StorageError when the endpoint's host is not (any longer) in `allowed_hosts`
// (storage.connection_hosts), or the sealed secret does not open under `box` (another master key).
S3Options s3_options(const ConnectionAccess& connection, const SecretBox& box,
                     const std::vector<std::string>& allowed_hosts);
// `client` must outlive the store; the uploader's sync jobs build theirs this way.
std::unique_ptr<S3BlobStore> make_blob_store(const ConnectionAccess& connection, const SecretBox& box,
                                             const std::vector<std::string>& allowed_hosts, http::Client& client);

}  // namespace kiln::storage
