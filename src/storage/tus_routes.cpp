// /api/v1/tus: the tus 1.0 resumable upload protocol (https://tus.io/protocols/resumable-upload)
// with the creation, termination and expiration extensions. A finished upload is a file of
// /api/v1/files.
#include "storage/tus_routes.hpp"

#include <boost/beast/http/field.hpp>
#include <charconv>
#include <limits>

#include "core/crypto.hpp"
#include "core/problem.hpp"
#include "storage/headers.hpp"

namespace asio = boost::asio;

namespace kiln::storage {

namespace {

constexpr std::string_view kVersion = "1.0.0";
constexpr std::string_view kExtensions = "creation,termination,expiration";
constexpr std::size_t kMaxMetadata = 4096;
constexpr std::string_view kOffsetType = "application/offset+octet-stream";

struct Deps {
    const auth::Service* auth;
    TusService* tus;
};

audit::Origin origin_of(const http::Request& req) {
    return {std::string(req.client_ip), req.request_id};
}

// Every request but OPTIONS names the protocol version; another one is 412 with the ones we speak.
void require_version(const http::Request& req) {
    if (req.header_value("Tus-Resumable") != kVersion) {
        throw core::Problem(412, "Precondition Failed", "This server speaks tus 1.0.0 (Tus-Resumable: 1.0.0).")
            .with_header("Tus-Version", std::string(kVersion));
    }
}

std::optional<std::int64_t> header_int(const http::Request& req, std::string_view name) {
    const auto v = req.header_value(name);
    std::int64_t out = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (v.empty() || ec != std::errc{} || p != v.data() + v.size() || out < 0) return std::nullopt;
    return out;
}

std::string encode_metadata(const TusUpload& u) {
    std::string out = "filename " + core::base64_encode(u.name);
    if (!u.declared_type.empty()) out += ",filetype " + core::base64_encode(u.declared_type);
    return out;
}

// Offset, and the expiry of an unfinished upload or the file a finished one became.
void set_state(http::Response& res, const TusUpload& u) {
    res.set("Upload-Offset", std::to_string(u.offset));
    if (u.file_id) {
        res.set("Kiln-File-Id", u.file_id->str());
    } else {
        res.set("Upload-Expires", u.expires);
    }
}

// Tus-Resumable on every answer, problems included.
template <typename Fn>
asio::awaitable<http::Response> tus_answer(Fn fn, Deps d, http::Request& req) {
    std::exception_ptr failure;
    try {
        auto res = co_await fn(d, req);
        res.set("Tus-Resumable", std::string(kVersion));
        co_return res;
    } catch (...) {
        failure = std::current_exception();  // no co_await in a handler (g++ 12)
    }
    try {
        std::rethrow_exception(failure);
    } catch (core::Problem& p) {
        p.add_header("Tus-Resumable", std::string(kVersion));
        throw;
    }
}

asio::awaitable<http::Response> do_options(Deps d, http::Request& req) {
    http::Response res{http::beast_http::status::no_content, 11};
    res.set("Tus-Version", std::string(kVersion));
    res.set("Tus-Extension", std::string(kExtensions));
    // The limit is the caller's plan: known only to a signed-in caller.
    if (!req.header_value("Authorization").empty()) {
        const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
        const auto max = co_await d.tus->max_size(who);
        res.set("Tus-Max-Size", std::to_string(max));
    }
    co_return res;
}

asio::awaitable<http::Response> do_create(Deps d, http::Request& req) {
    require_version(req);
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto length = header_int(req, "Upload-Length");
    if (!length) {
        throw core::Problem::bad_request(
            "Upload-Length is required: the upload's size in bytes (Upload-Defer-Length is not supported).");
    }
    const auto raw = req.header_value("Upload-Metadata");
    if (raw.size() > kMaxMetadata) {
        throw core::Problem::bad_request("Upload-Metadata is limited to " + std::to_string(kMaxMetadata) + " bytes.");
    }
    const auto metadata = parse_tus_metadata(raw);
    if (!metadata) {
        throw core::Problem::bad_request(
            "Upload-Metadata must be comma-separated `key base64value` pairs with distinct keys.");
    }
    std::string filename;
    std::string filetype;
    for (const auto& [k, v] : *metadata) {
        if (k == "filename" || k == "name") filename = v;
        if (k == "filetype" || k == "type") filetype = v;
    }
    const auto origin = origin_of(req);
    auto created = co_await d.tus->create(who, *length, sanitize_name(filename), filetype.substr(0, 255), origin);
    http::Response res{http::beast_http::status::created, 11};
    res.set(http::beast_http::field::location, "/api/v1/tus/" + created.upload.id.str());
    set_state(res, created.upload);
    co_return res;
}

asio::awaitable<http::Response> do_head(Deps d, http::Request& req) {
    require_version(req);
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such upload.");
    const auto u = co_await d.tus->head(who, id);
    http::Response res{http::beast_http::status::ok, 11};
    set_state(res, u);
    res.set("Upload-Length", std::to_string(u.length));
    res.set("Upload-Metadata", encode_metadata(u));
    res.set(http::beast_http::field::cache_control, "no-store");
    co_return res;
}

asio::awaitable<http::Response> do_patch(Deps d, http::Request& req) {
    require_version(req);
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such upload.");
    if (req.header_value("Content-Type") != kOffsetType) {
        throw core::Problem(415, "Unsupported Media Type", "Send the bytes as application/offset+octet-stream.");
    }
    const auto offset = header_int(req, "Upload-Offset");
    if (!offset) throw core::Problem::bad_request("Upload-Offset is required: where these bytes start.");
    const auto origin = origin_of(req);
    const auto u = co_await d.tus->append(who, id, *offset, *req.body_reader, origin);
    http::Response res{http::beast_http::status::no_content, 11};
    set_state(res, u);
    co_return res;
}

asio::awaitable<http::Response> do_delete(Deps d, http::Request& req) {
    require_version(req);
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such upload.");
    const auto origin = origin_of(req);
    co_await d.tus->terminate(who, id, origin);
    co_return http::Response{http::beast_http::status::no_content, 11};
}

}  // namespace

void add_tus_routes(http::Router& router, const auth::Service& auth, TusService& tus) {
    const Deps d{&auth, &tus};
    const http::Body none{"application/json", std::nullopt};
    const std::string headers =
        " Requests but OPTIONS carry `Tus-Resumable: 1.0.0` (else 412 with `Tus-Version`); every answer carries it.";
    router.add({.method = http::Verb::options,
                .path = "/api/v1/tus",
                .summary = "tus discovery: Tus-Version, Tus-Extension, and with credentials Tus-Max-Size (the plan's "
                           "max_file_bytes)",
                .tag = "files",
                .status = 204,
                .response = none,
                .handler = [d](http::Request& r) { return tus_answer(do_options, d, r); }});
    router.add({.method = http::Verb::post,
                .path = "/api/v1/tus",
                .summary = "Create a resumable upload (member): `Upload-Length` (reserved against the storage quota), "
                           "`Upload-Metadata` with `filename` and `filetype`; 201 with `Location`",
                .tag = "files",
                .status = 201,
                .response = none,
                .handler = [d](http::Request& r) { return tus_answer(do_create, d, r); },
                .description = "413 past the plan's max_file_bytes, 402 when the length does not fit the storage "
                               "quota beside what is stored and reserved. `Upload-Expires` says when the unfinished "
                               "upload is deleted (storage.tus_expiry_s after its last PATCH)." +
                               headers});
    router.add({.method = http::Verb::head,
                .path = "/api/v1/tus/{id}",
                .summary = "An upload's state: `Upload-Offset` (bytes durably received), `Upload-Length`, "
                           "`Upload-Expires`, or once complete `Kiln-File-Id`",
                .tag = "files",
                .response = none,
                .handler = [d](http::Request& r) { return tus_answer(do_head, d, r); },
                .description = "Another workspace's, terminated or expired upload: 404." + headers});
    router.add({.method = http::Verb::patch,
                .path = "/api/v1/tus/{id}",
                .summary =
                    "Append bytes at `Upload-Offset` (409 unless it is the upload's offset); the last byte makes "
                    "the file (`Kiln-File-Id`)",
                .tag = "files",
                .request = http::Body{"application/offset+octet-stream",
                                      boost::json::object{{"type", "string"}, {"format", "binary"}}},
                .status = 204,
                .response = none,
                .handler = [d](http::Request& r) { return tus_answer(do_patch, d, r); },
                .body_limit = std::numeric_limits<std::size_t>::max(),  // what is left of the upload, per request
                .stream_body = true,
                .description = "Streamed to the staging area; bytes that arrive before the connection drops are "
                               "kept and counted, so the client resumes with HEAD and PATCH. 413 past the upload's "
                               "length; 409 while another PATCH of the same upload runs; 415 for another content "
                               "type. The body must arrive within server.upload_timeout_ms." +
                               headers});
    router.add({.method = http::Verb::delete_,
                .path = "/api/v1/tus/{id}",
                .summary = "Terminate an upload: its staged bytes go and its reservation is given back",
                .tag = "files",
                .status = 204,
                .response = none,
                .handler = [d](http::Request& r) { return tus_answer(do_delete, d, r); },
                .description = headers.substr(1)});
}

}  // namespace kiln::storage
