#include "storage/s3.hpp"

#include <fmt/format.h>
#include <sodium/randombytes.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <cstring>
#include <limits>

#include "storage/key.hpp"

namespace asio = boost::asio;

namespace kiln::storage {

namespace {

constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
constexpr std::size_t kMaxParts = 10000;
constexpr std::string_view kShaHeader = "x-amz-meta-sha256";
// An XML answer held in memory (a listing page of 1,000 keys of up to 1 KiB each fits).
constexpr std::size_t kMaxAnswer = std::size_t{4} << 20U;

bool ok(const http::ClientResponse& r) {
    return r.status >= 200 && r.status < 300;
}

bool retryable(long status) {
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// XML text with its five predefined entities decoded.
std::string decode_entities(std::string_view raw) {
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        static constexpr std::pair<std::string_view, char> kEntities[] = {
            {"&quot;", '"'}, {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&apos;", '\''}};
        bool replaced = false;
        for (const auto& [entity, c] : kEntities) {
            if (raw.substr(i).starts_with(entity)) {
                out.push_back(c);
                i += entity.size() - 1;
                replaced = true;
                break;
            }
        }
        if (!replaced) out.push_back(raw[i]);
    }
    return out;
}

// The texts of every <tag>…</tag> in an S3 XML answer (at most `limit`), entities decoded.
std::vector<std::string> xml_values(std::string_view xml, std::string_view tag,
                                    std::size_t limit = std::numeric_limits<std::size_t>::max()) {
    const auto open = fmt::format("<{}>", tag);
    const auto close = fmt::format("</{}>", tag);
    std::vector<std::string> out;
    for (std::size_t at = xml.find(open); at != std::string_view::npos && out.size() < limit; at = xml.find(open, at)) {
        const auto from = at + open.size();
        const auto end = xml.find(close, from);
        if (end == std::string_view::npos) break;
        out.push_back(decode_entities(xml.substr(from, end - from)));
        at = end + close.size();
    }
    return out;
}

// The text of the first <tag>…</tag>, entities decoded.
std::optional<std::string> xml_value(std::string_view xml, std::string_view tag) {
    auto values = xml_values(xml, tag, 1);
    if (values.empty()) return std::nullopt;
    return std::move(values.front());
}

[[noreturn]] void raise(const http::ClientResponse& r, std::string_view what, const std::string& key) {
    const auto code = xml_value(r.body, "Code").value_or("");
    if (r.status == 404 && (code.empty() || code == "NoSuchKey")) throw BlobNotFound(key);
    if (r.status == 416) throw RangeNotSatisfiable(fmt::format("range not satisfiable for key {}", key));
    throw StorageError(fmt::format("S3 {} of {} failed: HTTP {} {} {}", what, key, r.status, code,
                                   xml_value(r.body, "Message").value_or("")),
                       r.status);
}

// Reads until `buffer` is full or the source ends, hashing as it goes.
// `sha`: hashes what is read, unless null (the source knows its SHA-256).
asio::awaitable<std::size_t> fill(Source& source, std::span<char> buffer, core::Sha256* sha) {
    std::size_t filled = 0;
    while (filled < buffer.size()) {
        const std::size_t n = co_await source.read(buffer.subspan(filled));
        if (n == 0) break;
        if (sha != nullptr) sha->update({buffer.data() + filled, n});
        filled += n;
    }
    co_return filled;
}

void check_declared(const std::string& hex, const std::optional<std::string>& declared) {
    if (declared && hex != *declared) {
        throw StorageError(fmt::format("the bytes hash to {}, not to the declared SHA-256 {}", hex, *declared));
    }
}

// Whether the store holds what was sent, judged by its answer to a single PUT: an ETag in MD5
// form (32 hex digits; S3 without SSE-KMS/SSE-C, MinIO, s3rver) must be the MD5 of the bytes
// sent; any other form proves nothing (false: the caller may read the object back).
bool etag_matches(const std::string& etag, const std::string& md5, const std::string& key) {
    std::string_view e = etag;
    if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
    const bool md5_form =
        e.size() == md5.size() && std::all_of(e.begin(), e.end(), [](char c) { return std::isxdigit(c) != 0; });
    if (!md5_form) return false;
    if (!std::equal(e.begin(), e.end(), md5.begin(), [](char a, char b) { return std::tolower(a) == b; })) {
        throw StorageError(fmt::format(
            "verification failed: the store's ETag for {} is {}, the MD5 of the bytes sent {}", key, etag, md5));
    }
    return true;
}

// Streams a put's source into one PUT, hashing and counting it: exactly `size` bytes.
class StreamedBody final : public http::BodySource {
public:
    StreamedBody(Source& source, std::uint64_t size) : source_(source), size_(size) {}

    asio::awaitable<std::size_t> read(std::span<char> buffer) override {
        if (total_ == size_) co_return 0;
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), size_ - total_));
        const std::size_t n = co_await source_.read(buffer.first(want));
        if (n == 0) throw StorageError(fmt::format("the source ended after {} of {} bytes", total_, size_));
        sha.update({buffer.data(), n});
        total_ += n;
        co_return n;
    }
    std::uint64_t total() const { return total_; }

    core::Sha256 sha;

private:
    Source& source_;
    std::uint64_t size_;
    std::uint64_t total_ = 0;
};

// Hands the response body to the caller's sink and counts it: once bytes went out, no retry.
class CountingSink final : public http::BodySink {
public:
    explicit CountingSink(Sink& out) : out_(out) {}
    asio::awaitable<void> write(std::string_view data) override {
        written += data.size();
        co_await out_.write(data);
    }
    std::uint64_t written = 0;

private:
    Sink& out_;
};

}  // namespace

S3BlobStore::S3BlobStore(S3Options options, http::Client& client)
    : options_(std::move(options)),
      location_(options_.endpoint, options_.bucket, options_.path_style),
      client_(client) {
    if (options_.part_size < (std::uint64_t{5} << 20U)) throw std::invalid_argument("S3 parts must be at least 5 MiB");
    if (options_.max_attempts == 0) throw std::invalid_argument("max_attempts must be at least 1");
}

std::chrono::milliseconds S3BlobStore::backoff(unsigned attempt) const {
    // Exponential, capped, with jitter over its upper half so retrying clients spread out.
    const auto shift = std::min(attempt - 1, 20U);
    const auto full = std::min(options_.retry_max.count(), options_.retry_base.count() << shift);
    const auto half = full / 2;
    return std::chrono::milliseconds(half + randombytes_uniform(static_cast<std::uint32_t>(full - half + 1)));
}

asio::awaitable<http::ClientResponse> S3BlobStore::send(Call call) {
    std::string hash = call.payload_sha256;
    if (hash.empty())
        hash = call.signed_payload ? core::to_hex(core::sha256(call.payload)) : std::string(kUnsignedPayload);
    // A source is read as it is sent: there is nothing left to send again.
    const unsigned attempts = call.source != nullptr ? 1 : options_.max_attempts;
    for (unsigned attempt = 1;; ++attempt) {
        http::ClientRequest r;
        r.method = call.method;
        r.url = location_.url(call.key, call.query);
        r.headers = call.headers;
        r.headers.emplace_back("x-amz-content-sha256", hash);
        if (call.source != nullptr) {
            r.source = call.source;
            r.body_size = call.source_size;
        } else if (!call.payload.empty() || call.method == "PUT" || call.method == "POST") {
            r.body = [data = call.payload, offset = std::size_t{0}](std::span<char> out) mutable {
                const auto n = std::min(out.size(), data.size() - offset);
                std::memcpy(out.data(), data.data() + offset, n);
                offset += n;
                return n;
            };
            r.body_size = call.payload.size();
        }
        r.sink = call.sink;
        r.max_body = kMaxAnswer;
        r.connect_timeout = options_.connect_timeout;
        r.low_speed_time = options_.low_speed_time;
        r.aws_sigv4 = "aws:amz:" + options_.region + ":s3";
        r.user_password = options_.credentials.access_key_id + ":" + options_.credentials.secret_access_key;

        std::optional<http::ClientResponse> response;
        std::string transport_error;
        try {
            response = co_await client_.perform(std::move(r));
        } catch (const http::ClientError& e) {
            transport_error = e.what();
        }
        const bool delivered = call.sink_written != nullptr && *call.sink_written > 0;
        const bool again = (!response || retryable(response->status)) && !delivered;
        if (!again || attempt >= attempts) {
            if (response) co_return std::move(*response);
            throw StorageError(fmt::format("S3 {} of {} failed after {} attempts: {}", call.method,
                                           call.key.empty() ? location_.bucket() : call.key, attempt, transport_error));
        }
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_after(backoff(attempt));
        co_await timer.async_wait(asio::use_awaitable);
    }
}

asio::awaitable<PutResult> S3BlobStore::put(std::string key, Source& source, std::optional<std::uint64_t> size,
                                            std::optional<std::string> sha256) {
    validate_key(key);
    if (sha256) validate_sha256_hex(*sha256);
    if (size && *size >= options_.part_size && *size <= options_.max_single_put) {
        co_return co_await put_streamed(key, source, *size, sha256);
    }
    // With a known small size, one byte of room shows a source that runs long.
    const std::uint64_t room = size && *size < options_.part_size ? *size + 1 : options_.part_size;
    std::vector<char> part(static_cast<std::size_t>(room));
    core::Sha256 sha;
    // One PUT for sure: a source that hashed its bytes in memory is not hashed again.
    const auto known = size && *size < options_.part_size ? source.sha256() : std::nullopt;
    const std::size_t n = co_await fill(source, part, known ? nullptr : &sha);
    if (size && n > *size) throw StorageError(fmt::format("the source holds more than {} bytes", *size));
    if (n == part.size() && !(size && *size < options_.part_size)) {
        co_return co_await put_multipart(key, source, size, sha256, part, n, sha);
    }
    if (size && n != *size) throw StorageError(fmt::format("the source ended after {} of {} bytes", n, *size));
    const auto hex = known ? *known : core::to_hex(sha.finish());
    check_declared(hex, sha256);
    const std::string_view payload(part.data(), n);
    Call call{.method = "PUT",
              .key = key,
              .query = {},
              .payload = payload,
              .signed_payload = true,
              .payload_sha256 = hex,
              .headers = {{"Content-Type", "application/octet-stream"}, {std::string(kShaHeader), hex}},
              .sink = nullptr};
    const auto r = co_await send(std::move(call));
    if (!ok(r)) raise(r, "PUT", key);
    auto etag = r.header("etag").value_or("");
    const bool checked = etag_matches(etag, core::md5_hex(payload), key);
    co_return PutResult{.size = n, .sha256 = hex, .etag = std::move(etag), .checked = checked};
}

asio::awaitable<PutResult> S3BlobStore::put_multipart(const std::string& key, Source& source,
                                                      std::optional<std::uint64_t> size,
                                                      const std::optional<std::string>& declared,
                                                      std::vector<char>& part, std::size_t filled, core::Sha256& sha) {
    Call create{.method = "POST",
                .key = key,
                .query = "uploads=",
                .payload = {},
                .signed_payload = true,
                .headers = {{"Content-Type", "application/octet-stream"}},
                .sink = nullptr};
    // Metadata is fixed when the upload is created: only a SHA-256 known before the bytes can be in it.
    if (declared) create.headers.emplace_back(kShaHeader, *declared);
    const auto created = co_await send(std::move(create));
    if (!ok(created)) raise(created, "CreateMultipartUpload", key);
    const auto upload_id = xml_value(created.body, "UploadId");
    if (!upload_id || upload_id->empty()) throw StorageError("S3 CreateMultipartUpload answered no UploadId");
    const auto id = uri_encode(*upload_id, false);

    std::uint64_t total = filled;
    std::vector<std::string> etags;
    std::string etag;
    std::string hex;
    std::exception_ptr failure;
    try {
        std::size_t n = filled;
        while (n > 0) {
            if (etags.size() == kMaxParts) throw StorageError("the object needs more than 10,000 parts");
            Call upload{.method = "PUT",
                        .key = key,
                        .query = fmt::format("partNumber={}&uploadId={}", etags.size() + 1, id),
                        .payload = std::string_view(part.data(), n),
                        .signed_payload = false,
                        .headers = {},
                        .sink = nullptr};
            const auto r = co_await send(std::move(upload));
            if (!ok(r)) raise(r, "UploadPart", key);
            auto part_etag = r.header("etag");
            if (!part_etag) throw StorageError("S3 UploadPart answered no ETag");
            etags.push_back(std::move(*part_etag));
            n = co_await fill(source, part, &sha);
            total += n;
            if (size && total > *size) throw StorageError(fmt::format("the source holds more than {} bytes", *size));
        }
        if (size && total != *size) {
            throw StorageError(fmt::format("the source ended after {} of {} bytes", total, *size));
        }
        // Before completing: a wrong declared SHA-256 must never become the object's metadata.
        hex = core::to_hex(sha.finish());
        check_declared(hex, declared);
        std::string xml = "<CompleteMultipartUpload>";
        for (std::size_t i = 0; i < etags.size(); ++i) {
            xml += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1, etags[i]);
        }
        xml += "</CompleteMultipartUpload>";
        Call complete{.method = "POST",
                      .key = key,
                      .query = "uploadId=" + id,
                      .payload = xml,
                      .signed_payload = true,
                      .headers = {{"Content-Type", "application/xml"}},
                      .sink = nullptr};
        const auto r = co_await send(std::move(complete));
        // S3 may answer 200 and put the error in the body.
        if (!ok(r) || r.body.find("<Error>") != std::string::npos) raise(r, "CompleteMultipartUpload", key);
        etag = xml_value(r.body, "ETag").value_or("");
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        // Parts of an abandoned upload are billed until aborted; the original error is what matters.
        Call abort{.method = "DELETE",
                   .key = key,
                   .query = "uploadId=" + id,
                   .payload = {},
                   .signed_payload = true,
                   .headers = {},
                   .sink = nullptr};
        try {
            co_await send(std::move(abort));
        } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch)
        }
        std::rethrow_exception(failure);
    }
    co_return PutResult{.size = total, .sha256 = hex, .etag = etag};
}

// Without a known SHA-256 the body goes unsigned (UNSIGNED-PAYLOAD) and the object has no SHA-256
// metadata: the bytes are read once, where declaring it would read them twice.
asio::awaitable<PutResult> S3BlobStore::put_streamed(const std::string& key, Source& source, std::uint64_t size,
                                                     const std::optional<std::string>& sha256) {
    StreamedBody body(source, size);
    Call call{.method = "PUT",
              .key = key,
              .query = {},
              .payload = {},
              .signed_payload = sha256.has_value(),
              .payload_sha256 = sha256.value_or(""),
              .source = &body,
              .source_size = size,
              .headers = {{"Content-Type", "application/octet-stream"}},
              .sink = nullptr};
    if (sha256) call.headers.emplace_back(kShaHeader, *sha256);
    const auto r = co_await send(std::move(call));
    if (!ok(r)) raise(r, "PUT", key);
    const auto hex = core::to_hex(body.sha.finish());
    if (sha256 && hex != *sha256) {
        // S3 refuses a body that does not hash to the signed SHA-256; a store that does not check
        // (s3rver) must not keep the object under the wrong metadata.
        Call undo;
        undo.method = "DELETE";
        undo.key = key;
        try {
            co_await send(std::move(undo));
        } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): the mismatch is what matters
        }
        check_declared(hex, sha256);
    }
    co_return PutResult{.size = body.total(), .sha256 = hex, .etag = r.header("etag").value_or("")};
}

asio::awaitable<void> S3BlobStore::get(std::string key, std::optional<ByteRange> range, Sink& sink) {
    validate_key(key);
    std::vector<std::pair<std::string, std::string>> headers;
    if (range) {
        const auto last = range->last ? std::to_string(*range->last) : std::string();
        headers.emplace_back("Range", fmt::format("bytes={}-{}", range->first, last));
    }
    CountingSink counting(sink);
    Call call{.method = "GET",
              .key = key,
              .query = {},
              .payload = {},
              .signed_payload = true,
              .headers = std::move(headers),
              .sink = &counting,
              .sink_written = &counting.written};
    const auto r = co_await send(std::move(call));
    if (!ok(r)) raise(r, "GET", key);
}

asio::awaitable<std::optional<BlobInfo>> S3BlobStore::head(std::string key) {
    validate_key(key);
    Call call;  // no query, payload, headers or body
    call.method = "HEAD";
    call.key = key;
    const auto r = co_await send(std::move(call));
    if (r.status == 404) co_return std::nullopt;
    if (!ok(r)) raise(r, "HEAD", key);
    BlobInfo info;
    info.size = std::stoull(r.header("content-length").value_or("0"));
    info.etag = r.header("etag").value_or("");
    info.sha256 = r.header(kShaHeader);
    co_return info;
}

asio::awaitable<std::optional<std::vector<std::string>>> S3BlobStore::list(std::string prefix, std::size_t max_keys) {
    std::vector<std::string> keys;
    for (;;) {
        Call call;  // GET on the bucket, no payload
        call.method = "GET";
        // ListObjects (version 1), each page after the last key seen (`marker`): what every
        // S3 implementation has. (s3rver fails a truncated version 2 page under OpenSSL 3: its
        // continuation tokens need DES.) Canonical: parameters sorted, values encoded.
        if (!keys.empty()) call.query = "marker=" + uri_encode(keys.back(), false) + "&";
        call.query += fmt::format("max-keys={}&prefix={}", options_.list_page, uri_encode(prefix, false));
        const auto r = co_await send(std::move(call));
        if (!ok(r)) co_return std::nullopt;
        auto page = xml_values(r.body, "Key");
        if (page.empty()) break;
        for (auto& key : page) keys.push_back(std::move(key));
        if (keys.size() > max_keys) co_return std::nullopt;
        if (xml_value(r.body, "IsTruncated").value_or("false") != "true") break;
    }
    co_return keys;
}

asio::awaitable<void> S3BlobStore::remove(std::string key) {
    validate_key(key);
    Call call;  // no query, payload, headers or body
    call.method = "DELETE";
    call.key = key;
    const auto r = co_await send(std::move(call));
    if (!ok(r) && r.status != 404) raise(r, "DELETE", key);
}

std::optional<std::string> S3BlobStore::presign_get(const std::string& key, std::chrono::seconds ttl) const {
    validate_key(key);
    if (ttl < std::chrono::seconds(1) || ttl > std::chrono::days(7)) {
        throw std::invalid_argument("a presigned URL lives from 1 second to 7 days");
    }
    return presign_get_url(location_, options_.credentials, options_.region, key, std::chrono::system_clock::now(),
                           ttl);
}

}  // namespace kiln::storage
