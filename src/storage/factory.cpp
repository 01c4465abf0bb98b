#include "storage/factory.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#include <stdexcept>

#include "storage/local.hpp"

namespace kiln::storage {

std::filesystem::path local_root(const core::StorageConfig& config, const std::string& home) {
    if (!config.local_root.empty()) return config.local_root;
    if (!home.empty()) return std::filesystem::path(home) / "blobs";
    return std::filesystem::path(".kiln") / "blobs";
}

S3Options s3_options(const core::StorageConfig& config) {
    if (config.s3_secret_access_key.empty()) {
        throw core::ConfigError(
            "config storage.s3_secret_access_key: required when storage.backend is s3 (set "
            "KILN_STORAGE_S3_SECRET_ACCESS_KEY or storage.s3_secret_access_key_file)");
    }
    S3Options o;
    o.endpoint = config.s3_endpoint;
    o.region = config.s3_region;
    o.bucket = config.s3_bucket;
    o.credentials = {config.s3_access_key_id, config.s3_secret_access_key};
    o.path_style = config.s3_path_style;
    o.part_size = std::uint64_t{config.s3_part_size_mb} << 20U;
    return o;
}

std::unique_ptr<BlobStore> make_blob_store(const core::StorageConfig& config, const std::string& home,
                                           core::ThreadPool& blocking, http::Client& client) {
    if (config.backend == "s3") return std::make_unique<S3BlobStore>(s3_options(config), client);
    return std::make_unique<LocalBlobStore>(local_root(config, home), blocking);
}

namespace {
const boost::asio::execution_context* context_of(const boost::asio::any_io_executor& ex) {
    return &boost::asio::query(ex, boost::asio::execution::context);
}
}  // namespace

void BlobStores::attach(const std::vector<boost::asio::any_io_executor>& executors) {
    std::vector<Entry> made;  // a failure part way leaves nothing attached
    for (const auto& ex : executors) {
        Entry e;
        e.context = context_of(ex);
        e.client = std::make_unique<http::Client>(ex);
        e.store = make_blob_store(config_, home_, blocking_, *e.client);
        made.push_back(std::move(e));
    }
    entries_ = std::move(made);
}

BlobStore& BlobStores::at(const boost::asio::any_io_executor& ex) const {
    const auto* context = context_of(ex);
    for (const auto& e : entries_) {
        if (e.context == context) return *e.store;
    }
    throw std::logic_error("no blob store for this thread's io_context");
}

S3Options s3_options(const ConnectionAccess& connection, const SecretBox& box,
                     const std::vector<std::string>& allowed_hosts) {
    if (!host_allowed(connection.endpoint, allowed_hosts)) {
        throw StorageError(
            "the connection's endpoint names a host this server does not connect to "
            "(storage.connection_hosts)");
    }
    auto secret = box.open(connection.secret);
    if (!secret) {
        throw StorageError(
            "the connection's secret does not open under this server's storage.master_key (was the key changed?)");
    }
    S3Options o;
    o.endpoint = connection.endpoint;
    o.region = connection.region;
    o.bucket = connection.bucket;
    o.credentials = {connection.access_key_id, std::move(*secret)};
    o.path_style = connection.path_style;
    return o;
}

std::unique_ptr<S3BlobStore> make_blob_store(const ConnectionAccess& connection, const SecretBox& box,
                                             const std::vector<std::string>& allowed_hosts, http::Client& client) {
    return std::make_unique<S3BlobStore>(s3_options(connection, box, allowed_hosts), client);
}

}  // namespace kiln::storage
