#pragma once
// S3 addressing and the SigV4 pieces libcurl does not do: URL building (path or virtual-host
// style) and presigned URLs (query-string signing, written out from AWS's specification).
#include <chrono>
#include <string>
#include <string_view>

namespace kiln::storage {

// AWS's UriEncode: every byte but A-Z a-z 0-9 - . _ ~ as %XX (upper case); '/' kept if asked.
std::string uri_encode(std::string_view s, bool keep_slash);

struct S3Credentials {
    std::string access_key_id;
    std::string secret_access_key;
};

// Where a bucket's objects are addressed. Throws std::invalid_argument for an endpoint that is
// not http(s)://host[:port][/].
class S3Location {
public:
    S3Location(std::string_view endpoint, std::string bucket, bool path_style);
    // The Host header value: the endpoint's authority, with the bucket in front for virtual-host style.
    std::string host() const;
    // The encoded path of an object ("" for the bucket itself).
    std::string path(std::string_view key) const;
    // `query` must be canonical already (sorted, encoded, "name=" for empty values): libcurl
    // signs the URL as given.
    std::string url(std::string_view key, std::string_view query = {}) const;
    const std::string& bucket() const noexcept { return bucket_; }

private:
    std::string scheme_;
    std::string authority_;  // host[:port], default ports dropped (clients send Host without them)
    std::string bucket_;
    bool path_style_;
};

// A presigned GET URL (X-Amz-SignedHeaders=host, UNSIGNED-PAYLOAD) valid for `ttl` from `now`.
std::string presign_get_url(const S3Location& where, const S3Credentials& credentials, std::string_view region,
                            std::string_view key, std::chrono::system_clock::time_point now, std::chrono::seconds ttl);

}  // namespace kiln::storage
