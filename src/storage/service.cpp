#include "storage/service.hpp"

#include <algorithm>
#include <boost/asio/this_coro.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstring>

#include "auth/scope.hpp"
#include "core/log.hpp"
#include "core/page.hpp"
#include "core/problem.hpp"
#include "storage/sniff.hpp"

namespace asio = boost::asio;

namespace kiln::storage {

namespace {

constexpr std::size_t kMaxName = 255;

// Length of the valid UTF-8 sequence at the start of `s`, 0 when it is not one.
std::size_t utf8_length(std::string_view s) {
    const auto c = static_cast<unsigned char>(s[0]);
    std::size_t n = 0;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (s.size() < n) return 0;
    for (std::size_t i = 1; i < n; ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0U) != 0x80) return 0;
    }
    return n;
}

// Counts the bytes, refuses past the limit, and keeps the head for sniffing.
class LimitedSource final : public Source {
public:
    LimitedSource(Source& inner, std::int64_t limit) : inner_(inner), limit_(limit) {}
    asio::awaitable<std::size_t> read(std::span<char> buffer) override {
        const auto n = co_await inner_.read(buffer);
        total_ += static_cast<std::int64_t>(n);
        if (total_ > limit_) {
            throw core::Problem::plan_limit(
                "max_file_bytes", "The plan allows files of at most " + std::to_string(limit_) + " bytes.", 413);
        }
        if (head_.size() < kSniffBytes) head_.append(buffer.data(), std::min(n, kSniffBytes - head_.size()));
        co_return n;
    }
    const std::string& head() const noexcept { return head_; }

private:
    Source& inner_;
    std::int64_t limit_;
    std::int64_t total_ = 0;
    std::string head_;
};

}  // namespace

std::string sanitize_name(std::string_view raw) {
    const auto slash = raw.find_last_of("/\\");
    if (slash != std::string_view::npos) raw.remove_prefix(slash + 1);
    std::string out;
    while (!raw.empty()) {
        const auto n = utf8_length(raw);
        if (n == 0 || (n == 1 && (static_cast<unsigned char>(raw[0]) < 0x20 || raw[0] == 0x7f))) {
            out.push_back('_');
            raw.remove_prefix(1);
            continue;
        }
        if (out.size() + n > kMaxName) break;
        out.append(raw.substr(0, n));
        raw.remove_prefix(n);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    const auto first = out.find_first_not_of(' ');
    out.erase(0, first == std::string::npos ? out.size() : first);
    if (out.empty() || out == "." || out == "..") return "file";
    return out;
}

asio::awaitable<Upload> FileService::begin_upload(const auth::Principal& p) {
    const auto id = core::Uuid::v7();
    const auto key = "ws/" + p.workspace.str() + "/files/" + id.str();
    co_return co_await store_.begin(auth::scope_of(p, p.workspace, "member"), id, key);
}

asio::awaitable<Stored> FileService::put(const Upload& upload, Source& source) {
    auto& blobs = blobs_.at(co_await asio::this_coro::executor);
    LimitedSource limited(source, upload.max_file_bytes);
    const auto result = co_await blobs.put(upload.key, limited, std::nullopt, std::nullopt);
    auto detect = [head = limited.head()] { return sniff(head); };
    Stored out;
    out.size = static_cast<std::int64_t>(result.size);
    out.sha256 = result.sha256;
    out.content_type = co_await cpu_.run(std::move(detect));
    co_return out;
}

asio::awaitable<File> FileService::finish_upload(const auth::Principal& p, const Upload& upload, const Stored& stored,
                                                 std::string name, std::string declared_type,
                                                 const audit::Origin& origin, std::optional<core::Uuid> tus) {
    boost::json::object detail{{"name", name}, {"size", stored.size}, {"content_type", stored.content_type}};
    if (tus) detail["tus_upload"] = tus->str();
    const audit::Event e{p.user, "file.upload", "file", upload.id.str(), boost::json::serialize(detail)};
    co_return co_await store_.ready(auth::scope_of(p, p.workspace, "member"), upload.id, stored.size, stored.sha256,
                                    stored.content_type, name, declared_type, e, origin, tus);
}

asio::awaitable<void> FileService::abandon(const auth::Principal& p, const Upload& upload) {
    try {
        auto& blobs = blobs_.at(co_await asio::this_coro::executor);
        co_await blobs.remove(upload.key);
        co_await store_.abandon(auth::scope_of(p, p.workspace), upload.id);
    } catch (const std::exception& e) {
        // The row stays 'uploading' and names the blob: the storage sweep removes both later
        // (storage.stale_upload_s).
        core::log::warn("abandoned upload not cleaned up", {{"file", upload.id.str()}, {"error", e.what()}});
    }
}

asio::awaitable<FileList> FileService::list(const auth::Principal& p, FileListQuery q) {
    core::Validator v;
    FileFilter f;
    const auto page = core::parse_page(q.limit, q.cursor, v);
    f.before = page.before;
    if (q.content_type && (q.content_type->empty() || q.content_type->size() > kMaxName)) {
        v.add("content_type", "must be 1 to 255 characters");
    }
    if (q.name && (q.name->empty() || q.name->size() > kMaxName)) v.add("name", "must be 1 to 255 characters");
    v.throw_if_failed();
    f.content_type_prefix = std::move(q.content_type);
    f.name_contains = std::move(q.name);
    f.limit = page.limit + 1;
    auto rows = co_await store_.list(auth::scope_of(p, p.workspace, "viewer"), f);
    co_return core::paged<FileList>(std::move(rows), page);
}

asio::awaitable<File> FileService::get(const auth::Principal& p, core::Uuid id) {
    co_return co_await store_.get(auth::scope_of(p, p.workspace, "viewer"), id);
}

asio::awaitable<void> FileService::remove(const auth::Principal& p, core::Uuid id, const audit::Origin& origin) {
    const audit::Event e{p.user, "file.delete", "file", id.str()};
    const auto key = co_await store_.remove(auth::scope_of(p, p.workspace, "member"), id, e, origin);
    // After the commit: a blob left behind by a failure here costs space, never a dangling row.
    try {
        auto& blobs = blobs_.at(co_await asio::this_coro::executor);
        co_await blobs.remove(key);
    } catch (const std::exception& ex) {
        core::log::warn("deleted file's blob not removed", {{"file", id.str()}, {"error", ex.what()}});
    }
}

asio::awaitable<Usage> FileService::usage(const auth::Principal& p, core::Uuid workspace) {
    co_return co_await store_.usage(auth::scope_of(p, workspace, "viewer"));
}

asio::awaitable<FileService::Content> FileService::content(const auth::Principal& p, core::Uuid id) {
    auto found = co_await store_.get_with_key(auth::scope_of(p, p.workspace, "viewer"), id);
    Content out{std::move(found.first), std::nullopt, std::move(found.second)};
    if (blobs_.presigns()) {
        const auto& blobs = blobs_.at(co_await asio::this_coro::executor);
        out.redirect = blobs.presign_get(out.key, kPresignTtl);
    }
    co_return out;
}

asio::awaitable<void> FileService::read(const std::string& key, std::optional<ByteRange> range, Sink& sink) {
    auto& blobs = blobs_.at(co_await asio::this_coro::executor);
    co_await blobs.get(key, range, sink);
}

}  // namespace kiln::storage
