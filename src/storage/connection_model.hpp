#pragma once
// Storage connections on the wire: a workspace's own S3-compatible bucket. The secret access
// key goes in (create, rotate) and never comes out: answers say only that one is set.
#include <boost/describe.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"
#include "core/uuid.hpp"

namespace kiln::storage {

struct StorageConnection {
    core::Uuid id;
    std::string name;
    std::string endpoint;
    std::string region;
    std::string bucket;
    std::string access_key_id_last4;  // enough to tell keys apart, not to use one
    bool secret_set = true;
    bool path_style = true;
    std::optional<core::Uuid> created_by;
    std::string created_at;
    std::string updated_at;
};
BOOST_DESCRIBE_STRUCT(StorageConnection, (),
                      (id, name, endpoint, region, bucket, access_key_id_last4, secret_set, path_style, created_by,
                       created_at, updated_at))

struct StorageConnectionList {
    std::vector<StorageConnection> items;
    std::optional<std::string> next_cursor;
};
BOOST_DESCRIBE_STRUCT(StorageConnectionList, (), (items, next_cursor))

struct CreateStorageConnection {
    std::string name;
    std::string endpoint;               // http(s)://host[:port], a host storage.connection_hosts allows
    std::optional<std::string> region;  // default us-east-1
    std::string bucket;
    std::string access_key_id;
    std::string secret_access_key;
    std::optional<bool> path_style;  // default true: endpoint/bucket/key
};
BOOST_DESCRIBE_STRUCT(CreateStorageConnection, (),
                      (name, endpoint, region, bucket, access_key_id, secret_access_key, path_style))

// Absent (or null) fields stay as they are; a secret_access_key replaces the sealed one.
struct UpdateStorageConnection {
    std::optional<std::string> name;
    std::optional<std::string> endpoint;
    std::optional<std::string> region;
    std::optional<std::string> bucket;
    std::optional<std::string> access_key_id;
    std::optional<std::string> secret_access_key;
    std::optional<bool> path_style;
};
BOOST_DESCRIBE_STRUCT(UpdateStorageConnection, (),
                      (name, endpoint, region, bucket, access_key_id, secret_access_key, path_style))

// POST /storage-connections/{id}/test: whether a probe object could be written, read back and
// removed; `error` says why not, in the store's words (never a credential).
struct ConnectionTestResult {
    bool ok = false;
    std::int64_t latency_ms = 0;
    std::optional<std::string> error;
};
BOOST_DESCRIBE_STRUCT(ConnectionTestResult, (), (ok, latency_ms, error))

// The rules, each returning what is wrong (nullopt: fine), for one 422 entry per field.
std::optional<std::string> name_problem(std::string_view name);
// http(s)://host[:port] with an optional trailing '/', nothing else (no credentials, path, query).
std::optional<std::string> endpoint_problem(std::string_view endpoint);
// S3's bucket naming rules (general purpose buckets).
std::optional<std::string> bucket_problem(std::string_view bucket);
std::optional<std::string> region_problem(std::string_view region);
std::optional<std::string> access_key_id_problem(std::string_view key);
std::optional<std::string> secret_problem(std::string_view secret);
// Whether a well-formed endpoint's host (and port) matches one of storage.connection_hosts:
// "host" (any port), "host:port"; a "*" label matches any one label ("s3.*.amazonaws.com"), a
// leading one any names under the rest ("*.r2.cloudflarestorage.com"); compared in lower case.
bool host_allowed(std::string_view endpoint, const std::vector<std::string>& patterns);

// `message` with every occurrence of `secret` replaced by "[redacted]": a store's error may quote
// what it was sent, and the secret never leaves through it.
std::string redact(std::string message, const std::string& secret);

// All rules over a request, plus the allow-list, one entry per bad field.
void validate(const CreateStorageConnection& c, const std::vector<std::string>& hosts, core::Validator& v);
void validate(const UpdateStorageConnection& c, const std::vector<std::string>& hosts, core::Validator& v);

}  // namespace kiln::storage
