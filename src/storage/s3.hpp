#pragma once
// Blobs in an S3-compatible bucket, through the Asio-driven libcurl client. libcurl signs each
// request (CURLOPT_AWS_SIGV4); large objects go up as multipart uploads, one part in memory at a
// time, and requests that fail on the way or with 5xx/429 are retried with backoff.
#include <chrono>
#include <cstdint>

#include "core/crypto.hpp"
#include "http/client.hpp"
#include "storage/blob_store.hpp"
#include "storage/sigv4.hpp"

namespace kiln::storage {

struct S3Options {
    std::string endpoint;  // http(s)://host[:port]
    std::string region = "us-east-1";
    std::string bucket;
    S3Credentials credentials;
    bool path_style = true;  // endpoint/bucket/key; false: bucket.endpoint/key
    // Objects larger than this go up in parts of this size (S3: at least 5 MiB, at most 10,000 parts).
    std::uint64_t part_size = std::uint64_t{8} << 20U;
    // Objects of a known size and SHA-256 (put() told both) up to this size go up in one PUT,
    // streamed and signed with that SHA-256 (S3 checks it): one request, and no assembly of parts
    // at the other end. S3's limit for one PUT is 5 GiB; a failed PUT is sent again whole.
    std::uint64_t max_single_put = std::uint64_t{5} << 30U;
    std::size_t list_page = 1000;  // keys per ListObjectsV2 page (S3's maximum)
    unsigned max_attempts = 4;     // per request
    std::chrono::milliseconds retry_base{200};
    std::chrono::milliseconds retry_max{10000};
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::seconds low_speed_time{60};  // a transfer slower than 1 byte/s this long fails (and is retried)
};

class S3BlobStore final : public BlobStore {
public:
    // The client's io_context is the one every call must be made from.
    S3BlobStore(S3Options options, http::Client& client);

    // A declared SHA-256 goes out as x-amz-meta-sha256 on both paths (with CreateMultipartUpload
    // for large objects) and is checked against the bytes before the object is committed.
    boost::asio::awaitable<PutResult> put(std::string key, Source& source, std::optional<std::uint64_t> size,
                                          std::optional<std::string> sha256) override;
    boost::asio::awaitable<void> get(std::string key, std::optional<ByteRange> range, Sink& sink) override;
    boost::asio::awaitable<std::optional<BlobInfo>> head(std::string key) override;
    boost::asio::awaitable<void> remove(std::string key) override;
    // ListObjects, list_page keys a page; none when S3 refuses it or there are more than max_keys.
    boost::asio::awaitable<std::optional<std::vector<std::string>>> list(std::string prefix,
                                                                         std::size_t max_keys) override;
    // Objects of the part size and larger go up as one streamed PUT (up to max_single_put) or in
    // parts, their metadata sent before their bytes.
    std::optional<std::uint64_t> sha256_declared_from() const override { return options_.part_size; }
    std::optional<std::string> presign_get(const std::string& key, std::chrono::seconds ttl) const override;

    const S3Location& location() const noexcept { return location_; }

    // One S3 request; `payload` must outlive the call. Public for the test setup (bucket creation).
    struct Call {
        std::string method;
        std::string key;    // "" addresses the bucket
        std::string query;  // canonical (see S3Location::url)
        std::string_view payload;
        bool signed_payload = true;          // false: UNSIGNED-PAYLOAD (object data: hashing it twice costs CPU)
        std::string payload_sha256;          // hex, when known: signed as is (S3 checks it against what arrives)
        http::BodySource* source = nullptr;  // instead of `payload`, sent once (no retry): source_size bytes
        std::uint64_t source_size = 0;
        std::vector<std::pair<std::string, std::string>> headers;
        http::BodySink* sink = nullptr;
        const std::uint64_t* sink_written = nullptr;  // bytes the sink took: none, and a failure may be retried
    };
    // Sends with retries (transport errors, 429, 5xx; not once a sink has received bytes, nor a source's body) and
    // returns the last response; throws StorageError when the last attempt failed below HTTP.
    boost::asio::awaitable<http::ClientResponse> send(Call call);

private:
    // Continues a put whose first part (`filled` bytes of `part`) is read; the references belong
    // to put()'s frame, which awaits this.
    boost::asio::awaitable<PutResult> put_multipart(const std::string& key, Source& source,
                                                    std::optional<std::uint64_t> size,
                                                    const std::optional<std::string>& declared, std::vector<char>& part,
                                                    std::size_t filled, core::Sha256& sha);
    boost::asio::awaitable<PutResult> put_streamed(const std::string& key, Source& source, std::uint64_t size,
                                                   const std::optional<std::string>& sha256);
    std::chrono::milliseconds backoff(unsigned attempt) const;

    S3Options options_;
    S3Location location_;
    http::Client& client_;
};

}  // namespace kiln::storage
