// /api/v1/files: uploads streamed into the blob store, listing, metadata, content, deletion;
// /api/v1/workspaces/{id}/usage.
#include "storage/routes.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <cctype>
#include <limits>

#include "http/body_reader.hpp"
#include "http/json.hpp"
#include "http/multipart.hpp"
#include "http/response_writer.hpp"
#include "storage/headers.hpp"

namespace asio = boost::asio;

namespace kiln::storage {

namespace {

// Room for the multipart framing and the small fields around the file.
constexpr std::size_t kFormOverhead = std::size_t{64} * 1024;
constexpr std::size_t kMaxNameField = 1024;

struct Deps {
    const auth::Service* auth;
    FileService* files;
};

audit::Origin origin_of(const http::Request& req) {
    return {std::string(req.client_ip), req.request_id};
}

// A part of the form as a blob store Source.
class PartSource final : public Source {
public:
    explicit PartSource(http::MultipartReader& form) : form_(form) {}
    asio::awaitable<std::size_t> read(std::span<char> buffer) override { co_return co_await form_.read(buffer); }

private:
    http::MultipartReader& form_;
};

struct Form {
    std::optional<Stored> stored;
    std::string filename;
    std::string declared_type;
    std::optional<std::string> name;
};

// Reads the form: `file` streams into the store as it arrives, `name` is kept, others skipped.
asio::awaitable<void> read_form(Deps d, http::MultipartReader& form, const Upload& upload, Form& out) {
    for (;;) {
        auto part = co_await form.next_part();
        if (!part) break;
        if (part->name == "file") {
            if (out.stored) throw core::Problem::validation({{"file", "must be sent once"}});
            out.filename = part->filename.value_or("");
            out.declared_type = part->content_type.substr(0, 255);
            PartSource source(form);
            out.stored = co_await d.files->put(upload, source);
        } else if (part->name == "name") {
            out.name = co_await form.read_text(kMaxNameField);
        }
    }
    if (!out.stored) throw core::Problem::validation({{"file", "is required (a multipart/form-data part)"}});
}

std::string too_large(const Upload& upload) {
    return "The plan allows files of at most " + std::to_string(upload.max_file_bytes) + " bytes.";
}

asio::awaitable<http::Response> do_upload(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto boundary = http::multipart_boundary(req.header_value("Content-Type"));
    if (!boundary) {
        throw core::Problem(415, "Unsupported Media Type", "Send the file as multipart/form-data (field `file`).");
    }
    const auto upload = co_await d.files->begin_upload(who);
    std::exception_ptr failure;
    try {
        const auto most = static_cast<std::size_t>(upload.max_file_bytes) + kFormOverhead;
        if (const auto length = req.body_reader->content_length(); length && *length > most) {
            throw core::Problem::plan_limit("max_file_bytes", too_large(upload), 413);  // before 100 Continue
        }
        req.body_reader->restrict(most);
        http::MultipartReader form(*req.body_reader, std::move(*boundary));
        Form fields;
        co_await read_form(d, form, upload, fields);
        auto name = sanitize_name(fields.name.value_or(fields.filename));
        const auto origin = origin_of(req);
        auto file = co_await d.files->finish_upload(who, upload, *fields.stored, std::move(name),
                                                    std::move(fields.declared_type), origin);
        auto res = http::json_response(201, http::to_json(file));
        res.set(http::beast_http::field::location, "/api/v1/files/" + file.id.str());
        co_return res;
    } catch (...) {
        failure = std::current_exception();  // no co_await in a handler (g++ 12)
    }
    co_await d.files->abandon(who, upload);
    std::rethrow_exception(failure);
}

asio::awaitable<http::Response> do_list(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    FileListQuery q{req.query_param("content_type"), req.query_param("name"), req.query_param("limit"),
                    req.query_param("cursor")};
    auto list = co_await d.files->list(who, std::move(q));
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_get(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such file.");
    auto file = co_await d.files->get(who, id);
    co_return http::json_response(200, http::to_json(file));
}

asio::awaitable<http::Response> do_delete(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such file.");
    const auto origin = origin_of(req);
    co_await d.files->remove(who, id, origin);
    co_return http::Response{http::beast_http::status::no_content, 11};
}

asio::awaitable<http::Response> do_usage(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto workspace = req.uuid_param("id", "No such workspace.");
    auto usage = co_await d.files->usage(who, workspace);
    co_return http::json_response(200, http::to_json(usage));
}

// `attachment`, with an ASCII fallback name and the exact one in RFC 5987 form.
std::string content_disposition(const std::string& name) {
    std::string ascii;
    std::string encoded;
    constexpr std::string_view kHex = "0123456789ABCDEF";
    for (const char c : name) {
        const auto u = static_cast<unsigned char>(c);
        ascii.push_back(u < 0x20 || u >= 0x7f || c == '"' || c == '\\' ? '_' : c);
        if (std::isalnum(u) != 0 || std::string_view("!#$&+-.^_`|~").find(c) != std::string_view::npos) {
            encoded.push_back(c);
        } else {
            encoded += {'%', kHex[u >> 4U], kHex[u & 0xFU]};
        }
    }
    return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

// The store's chunks go straight to the client. The header goes out with the first chunk, so a
// store that fails before any byte (a missing blob) is still answered as a problem.
class WriterSink final : public Sink {
public:
    struct ClientGone : std::runtime_error {
        ClientGone() : std::runtime_error("the client went away") {}
    };
    WriterSink(http::ResponseWriter& writer, http::Response head) : writer_(writer), head_(std::move(head)) {}
    asio::awaitable<void> write(std::string_view data) override {
        // Named, not inside the condition: g++ 12 compiled `if (!co_await …) throw` to an illegal instruction.
        const bool sent = co_await send(data);
        if (!sent) throw ClientGone();
    }
    // The header alone, for an empty file (no chunk came).
    asio::awaitable<void> finish() {
        if (!writer_.started()) co_await writer_.start(std::move(head_));
    }

private:
    asio::awaitable<bool> send(std::string_view data) {
        if (!writer_.started()) {
            const bool started = co_await writer_.start(std::move(head_));
            if (!started) co_return false;
        }
        co_return co_await writer_.write(data);
    }

    http::ResponseWriter& writer_;
    http::Response head_;
};

asio::awaitable<http::Response> do_content(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", "No such file.");
    auto content = co_await d.files->content(who, id);
    if (content.redirect) {
        http::Response res{http::beast_http::status::found, 11};
        res.set(http::beast_http::field::location, *content.redirect);
        res.set(http::beast_http::field::cache_control, "no-store");
        co_return res;
    }
    const auto size = static_cast<std::uint64_t>(content.file.size);
    const auto ranged = parse_range(req.header_value("Range"), size);
    if (!ranged.whole && !ranged.range) {
        throw core::Problem(416, "Range Not Satisfiable", "The file has " + std::to_string(size) + " bytes.")
            .with_header("Content-Range", "bytes */" + std::to_string(size));
    }
    http::Response head{ranged.whole ? http::beast_http::status::ok : http::beast_http::status::partial_content, 11};
    std::uint64_t length = size;
    if (ranged.range) {
        length = *ranged.range->last - ranged.range->first + 1;
        head.set(http::beast_http::field::content_range, "bytes " + std::to_string(ranged.range->first) + "-" +
                                                             std::to_string(*ranged.range->last) + "/" +
                                                             std::to_string(size));
    }
    head.set(http::beast_http::field::content_type, content.file.content_type);
    head.set(http::beast_http::field::content_length, std::to_string(length));
    head.set(http::beast_http::field::content_disposition, content_disposition(content.file.name));
    head.set("X-Content-Type-Options", "nosniff");
    head.set(http::beast_http::field::accept_ranges, "bytes");
    head.set(http::beast_http::field::etag, "\"" + content.file.sha256 + "\"");
    head.set(http::beast_http::field::cache_control, "private, no-cache");
    WriterSink sink(*req.response_writer, std::move(head));
    try {
        if (length > 0) co_await d.files->read(content.key, ranged.range, sink);
        co_await sink.finish();
    } catch (const WriterSink::ClientGone&) {
        // Nothing to answer: the server closes the connection.
    }
    co_return http::Response{};  // written by the sink (an error before its first byte is answered instead)
}

}  // namespace

void add_routes(http::Router& router, const auth::Service& auth, FileService& files) {
    const Deps d{&auth, &files};
    const http::Body none{"application/json", std::nullopt};
    const boost::json::object form_schema{
        {"type", "object"},
        {"required", boost::json::array{"file"}},
        {"properties", boost::json::object{{"file", boost::json::object{{"type", "string"}, {"format", "binary"}}},
                                           {"name", boost::json::object{{"type", "string"}, {"maxLength", 255}}}}}};
    router.add({.method = http::Verb::post,
                .path = "/api/v1/files",
                .summary = "Upload a file (member): multipart/form-data with the bytes in `file` and optionally "
                           "`name`; streamed to storage, typed by its content, counted against the plan",
                .tag = "files",
                .request = http::Body{"multipart/form-data", form_schema},
                .status = 201,
                .response = http::json_body<File>(),
                .handler = [d](http::Request& r) { return do_upload(d, r); },
                .body_limit = std::numeric_limits<std::size_t>::max(),  // the plan's limit, set per request
                .stream_body = true,
                .description = "The file's size is limited by the plan (`max_file_bytes`, 413 while streaming, "
                               "or at once from Content-Length) and the workspace's total by `storage_bytes` "
                               "(402 when the file would not fit). `content_type` is sniffed from the bytes; "
                               "`declared_type` is what the part said. The name is the part's filename (its "
                               "last path segment) unless `name` is given."});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/files",
                .summary = "The workspace's files, newest first (?content_type= a prefix such as image/, ?name= a "
                           "substring, ?limit=, ?cursor=)",
                .tag = "files",
                .response = http::json_body<FileList>(),
                .handler = [d](http::Request& r) { return do_list(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/files/{id}",
                .summary = "One file's metadata",
                .tag = "files",
                .response = http::json_body<File>(),
                .handler = [d](http::Request& r) { return do_get(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/files/{id}/content",
                .summary = "The file's bytes (one `Range` served as 206; 416 past the end); with S3 storage a 302 to "
                           "a presigned URL valid 5 minutes",
                .tag = "files",
                .response = http::Body{"application/octet-stream",
                                       boost::json::object{{"type", "string"}, {"format", "binary"}}},
                .handler = [d](http::Request& r) { return do_content(d, r); },
                .stream_body = true,
                .description = "Served as an attachment with `X-Content-Type-Options: nosniff`. Several ranges in "
                               "one Range header are not served as multipart/byteranges: the whole file is "
                               "answered (200) instead, as RFC 9110 allows."});
    router.add({.method = http::Verb::delete_,
                .path = "/api/v1/files/{id}",
                .summary = "Delete a file (its uploader, or an admin): the blob is removed and its bytes leave the "
                           "workspace's usage",
                .tag = "files",
                .status = 204,
                .response = none,
                .handler = [d](http::Request& r) { return do_delete(d, r); }});
    router.add({.method = http::Verb::get,
                .path = "/api/v1/workspaces/{id}/usage",
                .summary = "What a workspace stores (bytes, files) beside its plan's limits",
                .tag = "files",
                .response = http::json_body<Usage>(),
                .handler = [d](http::Request& r) { return do_usage(d, r); }});
}

}  // namespace kiln::storage
