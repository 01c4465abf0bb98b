#include "storage/sigv4.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <stdexcept>

#include "core/crypto.hpp"

namespace kiln::storage {

namespace {

bool unreserved(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

}  // namespace

std::string uri_encode(std::string_view s, bool keep_slash) {
    static constexpr std::string_view kHex = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        if (unreserved(c) || (keep_slash && c == '/')) {
            out.push_back(c);
        } else {
            const auto u = static_cast<unsigned char>(c);
            out.push_back('%');
            out.push_back(kHex[u >> 4U]);
            out.push_back(kHex[u & 0xFU]);
        }
    }
    return out;
}

S3Location::S3Location(std::string_view endpoint, std::string bucket, bool path_style)
    : bucket_(std::move(bucket)), path_style_(path_style) {
    const auto sep = endpoint.find("://");
    if (sep == std::string_view::npos) throw std::invalid_argument("the S3 endpoint must be an http(s):// URL");
    scheme_ = std::string(endpoint.substr(0, sep));
    if (scheme_ != "http" && scheme_ != "https") throw std::invalid_argument("the S3 endpoint must be http or https");
    auto rest = endpoint.substr(sep + 3);
    if (rest.ends_with('/')) rest.remove_suffix(1);
    if (rest.empty() || rest.find_first_of("/?#@") != std::string_view::npos) {
        throw std::invalid_argument("the S3 endpoint must be scheme://host[:port] with no path");
    }
    const std::string_view default_port = scheme_ == "https" ? ":443" : ":80";
    if (rest.ends_with(default_port)) rest.remove_suffix(default_port.size());
    authority_ = std::string(rest);
    if (bucket_.empty()) throw std::invalid_argument("the S3 bucket is empty");
}

std::string S3Location::host() const {
    return path_style_ ? authority_ : bucket_ + "." + authority_;
}

std::string S3Location::path(std::string_view key) const {
    const auto encoded = uri_encode(key, true);
    return path_style_ ? "/" + bucket_ + "/" + encoded : "/" + encoded;
}

std::string S3Location::url(std::string_view key, std::string_view query) const {
    auto out = scheme_ + "://" + host() + path(key);
    if (!query.empty()) out += "?" + std::string(query);
    return out;
}

std::string presign_get_url(const S3Location& where, const S3Credentials& credentials, std::string_view region,
                            std::string_view key, std::chrono::system_clock::time_point now, std::chrono::seconds ttl) {
    const auto seconds = std::chrono::floor<std::chrono::seconds>(now);
    const auto date = fmt::format("{:%Y%m%d}", seconds);
    const auto stamp = fmt::format("{:%Y%m%dT%H%M%SZ}", seconds);
    const auto scope = fmt::format("{}/{}/s3/aws4_request", date, region);
    // Already in canonical order: the parameters sort by name.
    const auto query = fmt::format(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={}&X-Amz-Expires={}"
        "&X-Amz-SignedHeaders=host",
        uri_encode(credentials.access_key_id + "/" + scope, false), stamp, ttl.count());
    const auto path = where.path(key);
    const auto canonical = fmt::format("GET\n{}\n{}\nhost:{}\n\nhost\nUNSIGNED-PAYLOAD", path, query, where.host());
    const auto to_sign =
        fmt::format("AWS4-HMAC-SHA256\n{}\n{}\n{}", stamp, scope, core::to_hex(core::sha256(canonical)));
    auto k = core::hmac_sha256("AWS4" + credentials.secret_access_key, date);
    k = core::hmac_sha256(core::as_bytes(k), region);
    k = core::hmac_sha256(core::as_bytes(k), "s3");
    k = core::hmac_sha256(core::as_bytes(k), "aws4_request");
    const auto signature = core::to_hex(core::hmac_sha256(core::as_bytes(k), to_sign));
    return where.url(key, query + "&X-Amz-Signature=" + signature);
}

}  // namespace kiln::storage
