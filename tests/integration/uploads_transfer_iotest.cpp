// The Data Uploader's transfer engine against the real thing: a temporary directory tree, the
// LocalBlobStore and the s3rver the test script starts (KILN_TEST_S3_ENDPOINT), with the fault
// proxy in front of s3rver for failures and concurrency. The store wrappers below only count and
// hold calls (or touch the source file mid-read); every byte still goes to a real store.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/crypto.hpp"
#include "core/thread_pool.hpp"
#include "core/uuid.hpp"
#include "http/client.hpp"
#include "modules/uploads/scan.hpp"
#include "modules/uploads/transfer.hpp"
#include "storage/local.hpp"
#include "storage/s3.hpp"
#include "support/fault_proxy.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;
using asio::ip::tcp;

namespace kiln::uploads {
namespace {

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20U;
constexpr std::string_view kBucket = "kiln-test";

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
}

void write_file(const fs::path& path, std::string_view content) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string pattern(std::uint64_t size, unsigned seed) {
    std::string s(size, '\0');
    for (std::uint64_t i = 0; i < size; ++i) s[i] = static_cast<char>(((i + seed) * 2654435761U) >> 13U);
    return s;
}

[[maybe_unused]] std::uint64_t peak_rss() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<std::uint64_t>(u.ru_maxrss) * 1024;  // NOLINT(cppcoreguidelines-pro-type-union-access)
}

class StringSink final : public storage::Sink {
public:
    asio::awaitable<void> write(std::string_view data) override {
        text.append(data);
        co_return;
    }
    std::string text;
};

class HashSink final : public storage::Sink {
public:
    asio::awaitable<void> write(std::string_view data) override {
        sha.update(data);
        size += data.size();
        co_return;
    }
    core::Sha256 sha;
    std::uint64_t size = 0;
};

// Forwards to a real store; counts heads and puts, and can hold every put until opened, so a
// test sees how many files the engine works on at once.
class GatedStore final : public storage::BlobStore {
public:
    GatedStore(storage::BlobStore& inner, asio::any_io_executor ex) : inner_(inner), gate_(ex) {
        gate_.expires_at(asio::steady_timer::time_point::max());
    }
    asio::awaitable<storage::PutResult> put(std::string key, storage::Source& source, std::optional<std::uint64_t> size,
                                            std::optional<std::string> sha256) override {
        max_puts_in_flight = std::max(max_puts_in_flight, ++puts_in_flight);
        while (!open_) co_await gate_.async_wait(asio::as_tuple(asio::use_awaitable));
        std::exception_ptr failure;
        storage::PutResult r;
        try {
            r = co_await inner_.put(std::move(key), source, size, std::move(sha256));
        } catch (...) {
            failure = std::current_exception();
        }
        --puts_in_flight;
        if (failure) std::rethrow_exception(failure);
        co_return r;
    }
    asio::awaitable<void> get(std::string key, std::optional<storage::ByteRange> range, storage::Sink& sink) override {
        return inner_.get(std::move(key), range, sink);
    }
    asio::awaitable<std::optional<storage::BlobInfo>> head(std::string key) override {
        ++heads;
        return inner_.head(std::move(key));
    }
    asio::awaitable<void> remove(std::string key) override { return inner_.remove(std::move(key)); }
    asio::awaitable<std::optional<std::vector<std::string>>> list(std::string prefix, std::size_t max_keys) override {
        return inner_.list(std::move(prefix), max_keys);
    }
    std::optional<std::uint64_t> sha256_declared_from() const override { return inner_.sha256_declared_from(); }
    std::optional<std::string> presign_get(const std::string& key, std::chrono::seconds ttl) const override {
        return inner_.presign_get(key, ttl);
    }
    void open() {
        open_ = true;
        gate_.cancel();
    }

    std::size_t heads = 0;
    std::size_t puts_in_flight = 0;
    std::size_t max_puts_in_flight = 0;

private:
    storage::BlobStore& inner_;
    asio::steady_timer gate_;
    bool open_ = false;
};

// Runs `touch` once, after the first chunk of the first put was read: the file changes mid-read.
class TouchingStore final : public storage::BlobStore {
public:
    TouchingStore(storage::BlobStore& inner, std::function<void()> touch) : inner_(inner), touch_(std::move(touch)) {}
    asio::awaitable<storage::PutResult> put(std::string key, storage::Source& source, std::optional<std::uint64_t> size,
                                            std::optional<std::string> sha256) override {
        Touching wrapped(source, touch_);
        co_return co_await inner_.put(std::move(key), wrapped, size, std::move(sha256));
    }
    asio::awaitable<void> get(std::string key, std::optional<storage::ByteRange> range, storage::Sink& sink) override {
        return inner_.get(std::move(key), range, sink);
    }
    asio::awaitable<std::optional<storage::BlobInfo>> head(std::string key) override {
        return inner_.head(std::move(key));
    }
    asio::awaitable<void> remove(std::string key) override { return inner_.remove(std::move(key)); }
    asio::awaitable<std::optional<std::vector<std::string>>> list(std::string prefix, std::size_t max_keys) override {
        return inner_.list(std::move(prefix), max_keys);
    }
    std::optional<std::uint64_t> sha256_declared_from() const override { return inner_.sha256_declared_from(); }
    std::optional<std::string> presign_get(const std::string& key, std::chrono::seconds ttl) const override {
        return inner_.presign_get(key, ttl);
    }

private:
    class Touching final : public storage::Source {
    public:
        Touching(storage::Source& inner, std::function<void()>& touch) : inner_(inner), touch_(touch) {}
        asio::awaitable<std::size_t> read(std::span<char> buffer) override {
            const std::size_t n = co_await inner_.read(buffer);
            if (touch_) {
                auto once = std::move(touch_);
                touch_ = nullptr;
                once();
            }
            co_return n;
        }

    private:
        storage::Source& inner_;
        std::function<void()>& touch_;
    };

    storage::BlobStore& inner_;
    std::function<void()> touch_;
};

class TransferTest : public ::testing::Test {
protected:
    void SetUp() override {
        core::init_crypto();
        const auto id = core::Uuid::v7().str();
        src_ = fs::temp_directory_path() / ("kiln-sync-src-" + id);
        blobs_ = fs::temp_directory_path() / ("kiln-sync-blobs-" + id);
        outside_ = fs::temp_directory_path() / ("kiln-sync-outside-" + id);
        prefix_ = "sync-" + id + "/";
        local_ = std::make_unique<storage::LocalBlobStore>(blobs_, blocking_);
        endpoint_ = env_or_empty("KILN_TEST_S3_ENDPOINT");
        if (!endpoint_.empty()) {
            port_ = static_cast<std::uint16_t>(std::stoi(endpoint_.substr(endpoint_.rfind(':') + 1)));
            s3_ = std::make_unique<storage::S3BlobStore>(s3_options(endpoint_), client_);
            const auto created = run(s3_->send({.method = "PUT", .key = "", .query = {}, .payload = {}}));
            ASSERT_TRUE(created.status == 200 || created.status == 409) << created.status << created.body;
        }
    }
    void TearDown() override {
        for (const auto& dir : {src_, blobs_, outside_}) {
            std::error_code ec;
            fs::remove_all(dir, ec);
        }
    }

    // S3 tests skip without s3rver, and fail under CI where scripts/test always starts it.
    bool need_s3() {
        if (s3_) return true;
        if (env_or_empty("CI") == "true")
            ADD_FAILURE() << "KILN_TEST_S3_ENDPOINT is not set (scripts/test starts s3rver)";
        return false;
    }

    storage::S3Options s3_options(std::string endpoint, unsigned attempts = 4) const {
        storage::S3Options o;
        o.endpoint = std::move(endpoint);
        o.bucket = std::string(kBucket);
        o.credentials = {"S3RVER", "S3RVER"};
        o.part_size = 5 * kMiB;
        o.max_attempts = attempts;
        o.retry_base = std::chrono::milliseconds(1);
        o.retry_max = std::chrono::milliseconds(5);
        return o;
    }

    // a.txt, b.jpg, sub/c.txt, sub/deeper/d.txt, sub/deeper/e.log, skip/f.txt, plus a fifo, a
    // symlink out of the root, one to a file inside it and one to a directory inside it.
    void make_tree() {
        write_file(src_ / "a.txt", pattern(1000, 1));
        write_file(src_ / "b.jpg", pattern(70'000, 2));
        write_file(src_ / "sub/c.txt", pattern(3, 3));
        write_file(src_ / "sub/deeper/d.txt", pattern(2 * kMiB + 5, 4));
        write_file(src_ / "sub/deeper/e.log", "");
        write_file(src_ / "skip/f.txt", pattern(10, 6));
        write_file(outside_ / "secret.txt", "not yours");
        ASSERT_EQ(::mkfifo((src_ / "pipe").c_str(), 0600), 0);
        fs::create_symlink(outside_ / "secret.txt", src_ / "escape");
        fs::create_symlink("../../../" + outside_.filename().string() + "/secret.txt", src_ / "sub/deeper/sneaky");
        fs::create_symlink("sub/c.txt", src_ / "link-in");
        fs::create_symlink("sub", src_ / "link-dir");
    }

    template <typename T>
    T run(asio::awaitable<T> task) {
        auto done = asio::co_spawn(io_, std::move(task), asio::use_future);
        io_.restart();
        while (done.wait_for(std::chrono::seconds(0)) != std::future_status::ready && io_.run_one() > 0) {
        }
        return done.get();
    }
    // Runs the event loop until `ready()` holds (or ten seconds pass).
    template <typename F>
    bool run_until(F ready) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        io_.restart();
        while (!ready() && std::chrono::steady_clock::now() < deadline) io_.run_one_for(std::chrono::milliseconds(5));
        return ready();
    }

    ScanResult scan_tree(ScanOptions options = {}) { return run(scan(blocking_, src_, std::move(options))); }

    TransferReport transfer_to(storage::BlobStore& store, std::vector<ScannedFile> files, TransferOptions options = {},
                               ProgressFn progress = {}) {
        if (options.prefix.empty()) options.prefix = prefix_;
        options.retry_base = std::chrono::milliseconds(1);
        options.retry_max = std::chrono::milliseconds(5);
        return run(transfer(store, blocking_, std::move(files), std::move(options), std::move(progress)));
    }

    std::string object(storage::BlobStore& store, const std::string& key) {
        StringSink sink;
        run(store.get(key, std::nullopt, sink));
        return sink.text;
    }

    static std::vector<std::string> names(const std::vector<ScannedFile>& files) {
        std::vector<std::string> out;
        out.reserve(files.size());
        for (const auto& f : files) out.push_back(f.relative);
        return out;
    }
    static const FileResult& result_for(const TransferReport& r, std::string_view relative) {
        for (const auto& f : r.files) {
            if (f.relative == relative) return f;
        }
        throw std::runtime_error("no result for " + std::string(relative));
    }

    asio::io_context io_;
    core::ThreadPool blocking_{2};
    http::Client client_{io_.get_executor()};
    fs::path src_, blobs_, outside_;
    std::string prefix_;
    std::string endpoint_;
    std::uint16_t port_ = 0;
    std::unique_ptr<storage::LocalBlobStore> local_;
    std::unique_ptr<storage::S3BlobStore> s3_;
};

// ---- scan ------------------------------------------------------------------------------------

TEST_F(TransferTest, ScanListsRegularFilesAndRefusesTheRest) {
    make_tree();
    const auto r = scan_tree();
    ASSERT_FALSE(r.error) << *r.error;
    EXPECT_FALSE(r.truncated);
    EXPECT_EQ(names(r.files), (std::vector<std::string>{"a.txt", "b.jpg", "link-in", "skip/f.txt", "sub/c.txt",
                                                        "sub/deeper/d.txt", "sub/deeper/e.log"}));
    std::map<std::string, std::string> refused;
    for (const auto& e : r.refused) refused[e.relative] = e.reason;
    EXPECT_EQ(refused["escape"], "symlink leaves the root");
    EXPECT_EQ(refused["sub/deeper/sneaky"], "symlink leaves the root");
    EXPECT_EQ(refused["pipe"], "not a regular file (fifo)");
    EXPECT_EQ(refused["link-dir"], "symlink to a directory (not followed)");
    EXPECT_EQ(refused.size(), 4U);
    for (const auto& f : r.files) {
        EXPECT_EQ(f.size, fs::file_size(src_ / f.relative)) << f.relative;
        EXPECT_GT(f.mtime_ns, 0);
    }
    // A link inside the root is read through its resolved target.
    EXPECT_EQ(r.files[2].absolute, fs::canonical(src_ / "sub/c.txt"));
}

TEST_F(TransferTest, ScanTopLevelOnlyAndPatterns) {
    make_tree();
    const auto top = scan_tree({.recursive = false});
    EXPECT_EQ(names(top.files), (std::vector<std::string>{"a.txt", "b.jpg", "link-in"}));

    const auto filtered = scan_tree({.include = {"**/*.txt", "**/*.log"}, .exclude = {"skip/**", "**/e.*"}});
    EXPECT_EQ(names(filtered.files), (std::vector<std::string>{"a.txt", "sub/c.txt", "sub/deeper/d.txt"}));
    // Entries the patterns leave out are not reported either.
    EXPECT_TRUE(filtered.refused.empty());
}

TEST_F(TransferTest, ScanBoundsAndErrorsAreValues) {
    make_tree();
    const auto few = scan_tree({.max_files = 2});
    EXPECT_TRUE(few.truncated);
    EXPECT_EQ(few.files.size(), 2U);

    const auto short_paths = scan_tree({.exclude = {"**/*"}, .max_path = 5});
    for (const auto& e : short_paths.refused) EXPECT_EQ(e.reason, "path longer than 5 bytes") << e.relative;
    EXPECT_FALSE(short_paths.refused.empty());

    const auto missing = run(scan(blocking_, src_ / "nope", {}));
    ASSERT_TRUE(missing.error);
    EXPECT_NE(missing.error->find("cannot open"), std::string::npos);
    const auto a_file = run(scan(blocking_, src_ / "a.txt", {}));
    ASSERT_TRUE(a_file.error);
}

// ---- transfer --------------------------------------------------------------------------------

TEST_F(TransferTest, CopiesATreeThenSkipsItThenResendsOnlyWhatChanged) {
    make_tree();
    std::vector<std::pair<std::string, storage::BlobStore*>> stores{{"local", local_.get()}};
    if (need_s3()) stores.emplace_back("s3", s3_.get());
    for (const auto& [name, store] : stores) {
        SCOPED_TRACE(name);
        prefix_ = "sync-" + core::Uuid::v7().str() + "/";
        const auto files = scan_tree().files;
        std::vector<TransferProgress> calls;
        const auto first =
            transfer_to(*store, files, {.max_workers = 3}, [&](const TransferProgress& p) { calls.push_back(p); });
        EXPECT_FALSE(first.cancelled);
        EXPECT_EQ(first.totals.files_uploaded, files.size());
        std::uint64_t total = 0;
        for (const auto& f : first.files) {
            EXPECT_EQ(f.status, FileStatus::uploaded) << f.relative << ": " << f.error;
            EXPECT_EQ(f.attempts, 1U);
            EXPECT_EQ(f.key, prefix_ + f.relative);
            const auto bytes = read_file(src_ / f.relative);
            EXPECT_EQ(f.sha256, core::to_hex(core::sha256(bytes)));
            EXPECT_FALSE(f.etag.empty());
            EXPECT_EQ(object(*store, f.key), bytes) << f.relative;  // byte for byte
            total += bytes.size();
        }
        EXPECT_EQ(first.totals.bytes_sent, total);
        EXPECT_EQ(first.totals.bytes_done, total);
        // One call at the start, one per file, the last marked finished.
        ASSERT_GE(calls.size(), files.size() + 2);
        EXPECT_TRUE(calls.back().finished);
        EXPECT_EQ(calls.back().files_uploaded, files.size());
        for (std::size_t i = 1; i < calls.size(); ++i) EXPECT_GE(calls[i].bytes_sent, calls[i - 1].bytes_sent);

        const auto info = run(store->head(prefix_ + "a.txt"));
        if (!info->sha256)
            GTEST_SKIP() << "this filesystem keeps no user xattrs: the local store has no SHA-256 to compare";

        const auto second = transfer_to(*store, files);
        EXPECT_EQ(second.totals.files_skipped, files.size());
        EXPECT_EQ(second.totals.bytes_sent, 0U);
        for (const auto& f : second.files) EXPECT_EQ(f.status, FileStatus::skipped) << f.relative << ": " << f.error;

        // Same size, other bytes: the SHA-256 tells them apart.
        auto changed = pattern(70'000, 99);
        write_file(src_ / "b.jpg", changed);
        const auto third = transfer_to(*store, scan_tree().files);
        EXPECT_EQ(third.totals.files_uploaded, 1U);
        EXPECT_EQ(third.totals.files_skipped, files.size() - 1);
        EXPECT_EQ(third.totals.bytes_sent, changed.size());
        EXPECT_EQ(result_for(third, "b.jpg").status, FileStatus::uploaded);
        EXPECT_EQ(object(*store, prefix_ + "b.jpg"), changed);
        write_file(src_ / "b.jpg", pattern(70'000, 2));
    }
}

TEST_F(TransferTest, LargeFilesOnS3AreSkippedNextRunAndSameSizeEditsResent) {
    if (!need_s3()) GTEST_SKIP() << "KILN_TEST_S3_ENDPOINT is not set: run through scripts/test";
    // Above the 5 MiB part size: hashed first, then sent with the SHA-256 in the metadata, either
    // as one streamed PUT signed with it (up to max_single_put) or as a multipart upload.
    const std::uint64_t size = 6 * kMiB + 11;
    write_file(src_ / "big.bin", pattern(size, 1));
    write_file(src_ / "small.txt", pattern(1000, 2));
    const auto files = scan_tree().files;
    const std::string base = prefix_;
    for (const bool in_parts : {false, true}) {
        SCOPED_TRACE(in_parts ? "multipart" : "one PUT");
        write_file(src_ / "big.bin", pattern(size, 1));
        prefix_ = base + (in_parts ? "parts/" : "one/");
        testing::FaultProxy proxy(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_),
                                  testing::FaultProxy::Mode::pass);
        auto options = s3_options(proxy.endpoint());
        if (in_parts) options.max_single_put = 0;
        storage::S3BlobStore through(options, client_);
        const std::string one_put = "PUT /kiln-test/" + prefix_ + "big.bin";
        const auto sends = [&] { return proxy.count(in_parts ? "?uploads=" : one_put); };

        const auto first = transfer_to(through, files);
        EXPECT_EQ(first.totals.files_uploaded, 2U);
        EXPECT_EQ(first.totals.bytes_sent, size + 1000);
        EXPECT_EQ(sends(), 1U);
        EXPECT_EQ(proxy.count("?uploads="), in_parts ? 1U : 0U);
        const auto info = run(s3_->head(prefix_ + "big.bin"));
        ASSERT_TRUE(info.has_value());
        EXPECT_EQ(info->sha256, core::to_hex(core::sha256(pattern(size, 1))));
        EXPECT_EQ(object(*s3_, prefix_ + "big.bin"), pattern(size, 1));

        const auto requests = proxy.count(" /kiln-test/");
        const auto second = transfer_to(through, files);
        EXPECT_EQ(second.totals.files_skipped, 2U);
        EXPECT_EQ(second.totals.bytes_sent, 0U);
        EXPECT_EQ(result_for(second, "big.bin").status, FileStatus::skipped) << result_for(second, "big.bin").error;
        EXPECT_EQ(proxy.count(" /kiln-test/"), requests + 2);  // two HEADs, nothing else
        EXPECT_EQ(sends(), 1U);

        // Same size, other bytes: hashed, found different, sent again.
        const auto changed = pattern(size, 77);
        write_file(src_ / "big.bin", changed);
        const auto third = transfer_to(through, files);
        EXPECT_EQ(result_for(third, "big.bin").status, FileStatus::uploaded) << result_for(third, "big.bin").error;
        EXPECT_EQ(result_for(third, "small.txt").status, FileStatus::skipped);
        EXPECT_EQ(third.totals.bytes_sent, size);
        EXPECT_EQ(sends(), 2U);
        EXPECT_EQ(run(s3_->head(prefix_ + "big.bin"))->sha256, core::to_hex(core::sha256(changed)));
        EXPECT_EQ(object(*s3_, prefix_ + "big.bin"), changed);
    }
}

// A caller that records SHA-256s by ETag (the sync, in upload_files) has large files read once:
// sent unsigned, without the SHA-256 metadata, and skipped next run by the recorded one.
TEST_F(TransferTest, LargeFilesAreReadOnceWhenTheCallerRecordsSha256sByEtag) {
    if (!need_s3()) GTEST_SKIP() << "KILN_TEST_S3_ENDPOINT is not set: run through scripts/test";
    const std::uint64_t size = 6 * kMiB + 11;
    write_file(src_ / "big.bin", pattern(size, 1));
    const auto files = scan_tree().files;
    testing::FaultProxy proxy(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_),
                              testing::FaultProxy::Mode::pass);
    storage::S3BlobStore through(s3_options(proxy.endpoint()), client_);
    std::map<std::pair<std::string, std::uint64_t>, std::string> recorded;
    bool forget = false;
    const auto options = [&] {
        TransferOptions o;
        o.recorded_sha256 = [&](std::string etag, std::uint64_t n) -> asio::awaitable<std::optional<std::string>> {
            const auto found = recorded.find({etag, n});
            if (forget || found == recorded.end()) co_return std::nullopt;
            co_return found->second;
        };
        return o;
    };
    const auto record = [&](const TransferReport& r) {
        for (const auto& f : r.files) recorded[{f.etag, f.size}] = f.sha256;
    };
    const std::string put = "PUT /kiln-test/" + prefix_ + "big.bin";

    const auto first = transfer_to(through, files, options());
    ASSERT_EQ(result_for(first, "big.bin").status, FileStatus::uploaded) << result_for(first, "big.bin").error;
    EXPECT_EQ(result_for(first, "big.bin").sha256, core::to_hex(core::sha256(pattern(size, 1))));
    EXPECT_EQ(proxy.count(put), 1U);
    EXPECT_EQ(proxy.count("?uploads="), 0U) << "one streamed PUT, not parts";
    const auto info = run(s3_->head(prefix_ + "big.bin"));
    ASSERT_TRUE(info.has_value());
    EXPECT_FALSE(info->sha256.has_value()) << "not hashed before the put, so not declared";
    EXPECT_EQ(info->etag, result_for(first, "big.bin").etag);
    EXPECT_EQ(object(*s3_, prefix_ + "big.bin"), pattern(size, 1));
    record(first);

    const auto requests = proxy.count(" /kiln-test/");
    const auto second = transfer_to(through, files, options());
    EXPECT_EQ(result_for(second, "big.bin").status, FileStatus::skipped) << result_for(second, "big.bin").error;
    EXPECT_EQ(second.totals.bytes_sent, 0U);
    EXPECT_EQ(proxy.count(" /kiln-test/"), requests + 1);  // the HEAD

    // Unknown to the caller, an object without a SHA-256 cannot be compared: sent again.
    forget = true;
    const auto third = transfer_to(through, files, options());
    EXPECT_EQ(result_for(third, "big.bin").status, FileStatus::uploaded) << result_for(third, "big.bin").error;
    EXPECT_EQ(third.totals.bytes_sent, size);
    EXPECT_EQ(proxy.count(put), 2U);

    // Same size, other bytes: the recorded SHA-256 differs, so it is sent again, this time with
    // its SHA-256 (hashed for the comparison anyway).
    forget = false;
    record(third);
    const auto changed = pattern(size, 77);
    write_file(src_ / "big.bin", changed);
    const auto fourth = transfer_to(through, files, options());
    EXPECT_EQ(result_for(fourth, "big.bin").status, FileStatus::uploaded) << result_for(fourth, "big.bin").error;
    EXPECT_EQ(proxy.count(put), 3U);
    EXPECT_EQ(run(s3_->head(prefix_ + "big.bin"))->sha256, core::to_hex(core::sha256(changed)));
    EXPECT_EQ(object(*s3_, prefix_ + "big.bin"), changed);
}

// On the local store a small file is done in one trip to the pool (BlockingBlobs); a blob of the
// same size without its SHA-256 (written by something else, no xattr) still goes the usual way,
// so the caller's recorded SHA-256 can spare it; unknown to the caller, it is replaced.
TEST_F(TransferTest, ALocalBlobWithoutItsSha256IsComparedThroughTheCallersRecord) {
    write_file(src_ / "small.txt", pattern(5000, 9));
    const auto files = scan_tree().files;
    write_file(blobs_ / prefix_ / "small.txt", pattern(5000, 9));  // no user.kiln.sha256
    const auto stored = run(local_->head(prefix_ + "small.txt"));
    ASSERT_TRUE(stored.has_value());
    ASSERT_FALSE(stored->sha256.has_value());
    std::vector<std::string> asked;
    TransferOptions o;
    o.recorded_sha256 = [&](std::string etag, std::uint64_t n) -> asio::awaitable<std::optional<std::string>> {
        asked.push_back(etag);
        if (etag != stored->etag || n != 5000) co_return std::nullopt;
        co_return core::to_hex(core::sha256(pattern(5000, 9)));
    };
    const auto known = transfer_to(*local_, files, o);
    EXPECT_EQ(result_for(known, "small.txt").status, FileStatus::skipped) << result_for(known, "small.txt").error;
    EXPECT_EQ(asked, std::vector<std::string>{stored->etag});
    EXPECT_EQ(known.totals.bytes_sent, 0U);

    const auto unknown = transfer_to(*local_, files);
    EXPECT_EQ(result_for(unknown, "small.txt").status, FileStatus::uploaded);
    EXPECT_EQ(unknown.totals.bytes_sent, 5000U);
    EXPECT_EQ(run(local_->head(prefix_ + "small.txt"))->sha256, core::to_hex(core::sha256(pattern(5000, 9))));
    const auto again = transfer_to(*local_, files);
    EXPECT_EQ(result_for(again, "small.txt").status, FileStatus::skipped) << "its SHA-256 is recorded now";
}

// On the local store, small files go to the pool a group at a time: each one's whole attempt
// (read, look-up, put) for up to 16 files in one trip. A file of the group that cannot be read
// fails alone and is retried on its own. Long and short files alternate: a pool thread reads them
// all through one buffer, and a short file must not carry a longer one's tail.
TEST_F(TransferTest, SmallFilesToTheLocalStoreGoToThePoolAGroupAtATime) {
    const auto size_of = [](int i) { return i % 2 == 0 ? 3000 + i : 100 + i; };
    for (int i = 0; i < 32; ++i) write_file(src_ / fmt::format("g/{:02}.txt", i), pattern(size_of(i), i));
    const auto files = scan_tree().files;
    ASSERT_EQ(files.size(), 32U);
    fs::remove(src_ / "g/05.txt");  // gone since the scan
    TransferOptions o;
    o.max_workers = 1;
    o.times_to_retry = 1;
    const auto trips = blocking_.runs();
    const auto r = transfer_to(*local_, files, o);
    EXPECT_EQ(blocking_.runs() - trips, 3U) << "two groups of 16, and the missing file's second attempt";
    EXPECT_EQ(result_for(r, "g/05.txt").status, FileStatus::failed);
    EXPECT_EQ(result_for(r, "g/05.txt").attempts, 2U);
    EXPECT_NE(result_for(r, "g/05.txt").error.find("No such file"), std::string::npos)
        << result_for(r, "g/05.txt").error;
    EXPECT_EQ(r.totals.files_uploaded, 31U);
    for (int i = 0; i < 32; ++i) {
        if (i == 5) continue;
        const auto name = fmt::format("g/{:02}.txt", i);
        EXPECT_EQ(result_for(r, name).attempts, 1U) << name;
        EXPECT_EQ(object(*local_, prefix_ + name), pattern(size_of(i), i)) << name;
    }
}

// To S3 (no blocking calls) a group's files are read in one trip and then PUT one by one; a
// worker takes no more than its share of what is left, so every worker has files.
TEST_F(TransferTest, SmallFilesToS3AreReadAGroupAtATime) {
    for (int i = 0; i < 32; ++i) write_file(src_ / fmt::format("h/{:02}.txt", i), pattern(200 + i, i));
    const auto files = scan_tree().files;
    TransferOptions one;
    one.max_workers = 1;
    auto trips = blocking_.runs();
    auto r = transfer_to(*s3_, files, one);
    EXPECT_EQ(r.totals.files_uploaded, 32U);
    EXPECT_EQ(blocking_.runs() - trips, 2U) << "two groups of 16 read, nothing else on the pool";
    for (int i = 0; i < 32; ++i) {
        const auto name = fmt::format("h/{:02}.txt", i);
        EXPECT_EQ(object(*s3_, prefix_ + name), pattern(200 + i, i)) << name;
    }
    TransferOptions four;
    four.prefix = prefix_ + "four/";
    four.max_workers = 4;
    trips = blocking_.runs();
    r = transfer_to(*s3_, files, four);
    EXPECT_EQ(r.totals.files_uploaded, 32U);
    EXPECT_GE(blocking_.runs() - trips, 4U) << "each of the 4 workers took a share";
}

TEST_F(TransferTest, AKeyTheStoreRefusesFailsThatFileAlone) {
    write_file(src_ / "ok.txt", "fine");
    auto files = scan_tree().files;
    auto bad = files.front();
    bad.relative = "../escape.txt";
    files.push_back(bad);
    const auto r = transfer_to(*local_, files, {.times_to_retry = 3});
    EXPECT_EQ(result_for(r, "ok.txt").status, FileStatus::uploaded);
    const auto& refused = result_for(r, "../escape.txt");
    EXPECT_EQ(refused.status, FileStatus::failed);
    EXPECT_EQ(refused.attempts, 0U);  // not retried: it can never succeed
    EXPECT_NE(refused.error.find("invalid blob key"), std::string::npos) << refused.error;
}

TEST_F(TransferTest, FailedPutsAreRetriedThenReportedPerFile) {
    if (!need_s3()) GTEST_SKIP() << "KILN_TEST_S3_ENDPOINT is not set: run through scripts/test";
    for (int i = 0; i < 4; ++i) write_file(src_ / fmt::format("f{}.bin", i), pattern(5000 + i, i));
    write_file(src_ / "flaky.bin", pattern(4000, 7));
    write_file(src_ / "doomed.bin", pattern(4000, 8));
    const std::string flaky = "PUT /kiln-test/" + prefix_ + "flaky.bin";
    const std::string doomed = "PUT /kiln-test/" + prefix_ + "doomed.bin";
    int flaky_failures = 0;
    testing::FaultProxy proxy(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_),
                              [&](const std::string& line) -> testing::FaultProxy::Action {
                                  if (line.starts_with(doomed)) return {.status = 500, .stall = false, .drop_bytes = 0};
                                  if (line.starts_with(flaky) && flaky_failures < 2) {
                                      ++flaky_failures;
                                      return {.status = 500, .stall = false, .drop_bytes = 0};
                                  }
                                  return {};
                              });
    // One request per attempt in the store, so the retries seen are the engine's.
    storage::S3BlobStore through(s3_options(proxy.endpoint(), 1), client_);
    const auto r = transfer_to(through, scan_tree().files, {.max_workers = 2, .times_to_retry = 3});
    const auto& f = result_for(r, "flaky.bin");
    EXPECT_EQ(f.status, FileStatus::uploaded) << f.error;
    EXPECT_EQ(f.attempts, 3U);
    EXPECT_EQ(proxy.count(flaky), 3U);
    EXPECT_EQ(object(*s3_, prefix_ + "flaky.bin"), pattern(4000, 7));
    const auto& d = result_for(r, "doomed.bin");
    EXPECT_EQ(d.status, FileStatus::failed);
    EXPECT_EQ(d.attempts, 4U);  // 1 + times_to_retry
    EXPECT_EQ(proxy.count(doomed), 4U);
    EXPECT_NE(d.error.find("500"), std::string::npos) << d.error;
    EXPECT_FALSE(run(s3_->head(prefix_ + "doomed.bin")).has_value());
    EXPECT_EQ(r.totals.files_uploaded, 5U);
    EXPECT_EQ(r.totals.files_failed, 1U);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(result_for(r, fmt::format("f{}.bin", i)).status, FileStatus::uploaded);
    // Two workers: never more than two requests at the proxy at once.
    EXPECT_LE(proxy.max_in_flight(), 2U);
}

TEST_F(TransferTest, AnObjectThatIsNotWhatWasSentFailsTheAttempt) {
    if (!need_s3()) GTEST_SKIP() << "KILN_TEST_S3_ENDPOINT is not set: run through scripts/test";
    write_file(src_ / "short.bin", pattern(4000, 3));
    const std::string put = "PUT /kiln-test/" + prefix_ + "short.bin";
    bool dropped = false;
    testing::FaultProxy proxy(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_),
                              [&](const std::string& line) -> testing::FaultProxy::Action {
                                  if (!line.starts_with(put) || dropped) return {};
                                  dropped = true;
                                  return {.status = 0, .stall = false, .drop_bytes = 1};
                              });
    storage::S3BlobStore through(s3_options(proxy.endpoint(), 1), client_);
    const auto files = scan_tree().files;
    const auto once = transfer_to(through, files, {.times_to_retry = 0});
    EXPECT_EQ(once.files.front().status, FileStatus::failed);
    // s3rver kept the 3999 bytes that arrived; its ETag (their MD5) gives it away.
    EXPECT_TRUE(once.files.front().error.starts_with("verification failed: the store's ETag for " + prefix_ +
                                                     "short.bin is \""))
        << once.files.front().error;
    const auto retried = transfer_to(through, files, {.times_to_retry = 1});
    EXPECT_EQ(retried.files.front().status, FileStatus::uploaded) << retried.files.front().error;
    EXPECT_EQ(object(*s3_, prefix_ + "short.bin"), pattern(4000, 3));
}

TEST_F(TransferTest, FilesTheStoresListingLacksArePutWithoutAHead) {
    for (int i = 0; i < 3; ++i) write_file(src_ / fmt::format("f{}.bin", i), pattern(1000 + i, i));
    GatedStore gated(*local_, io_.get_executor());
    gated.open();
    auto files = scan_tree().files;
    files[0].key_absent = true;
    files[2].key_absent = true;
    const auto r = transfer_to(gated, files);
    EXPECT_EQ(r.totals.files_uploaded, 3U);
    EXPECT_EQ(gated.heads, 1U);  // f1.bin alone was looked up
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(object(*local_, prefix_ + fmt::format("f{}.bin", i)), pattern(1000 + i, i));
    }
}

TEST_F(TransferTest, NoMoreThanMaxWorkersFilesAtOnce) {
    for (int i = 0; i < 10; ++i) write_file(src_ / fmt::format("f{}.bin", i), pattern(1000, i));
    GatedStore gated(*local_, io_.get_executor());
    TransferOptions options{.prefix = prefix_, .max_workers = 3};
    auto done = asio::co_spawn(io_, transfer(gated, blocking_, scan_tree().files, options), asio::use_future);
    ASSERT_TRUE(run_until([&] { return gated.puts_in_flight == 3; }));
    io_.poll();
    EXPECT_EQ(gated.puts_in_flight, 3U);
    EXPECT_EQ(gated.heads, 3U);  // no fourth file started
    gated.open();
    ASSERT_TRUE(run_until([&] { return done.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }));
    const auto r = done.get();
    EXPECT_EQ(r.totals.files_uploaded, 10U);
    EXPECT_EQ(gated.max_puts_in_flight, 3U);
}

TEST_F(TransferTest, CancellingStopsStartingFilesAndAbortsRunningOnes) {
    for (int i = 0; i < 8; ++i) write_file(src_ / fmt::format("f{}.bin", i), pattern(3 * kMiB, i));
    GatedStore gated(*local_, io_.get_executor());
    TransferOptions options{.prefix = prefix_, .max_workers = 2, .times_to_retry = 5};
    asio::cancellation_signal cancel;
    auto done = asio::co_spawn(io_, transfer(gated, blocking_, scan_tree().files, options),
                               asio::bind_cancellation_slot(cancel.slot(), asio::use_future));
    ASSERT_TRUE(run_until([&] { return gated.puts_in_flight == 2; }));
    cancel.emit(asio::cancellation_type::terminal);
    io_.poll();
    gated.open();
    ASSERT_TRUE(run_until([&] { return done.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }));
    const auto r = done.get();
    EXPECT_TRUE(r.cancelled);
    EXPECT_EQ(gated.heads, 2U);  // nothing started after the cancel
    EXPECT_EQ(r.totals.files_failed, 8U);
    for (const auto& f : r.files) {
        EXPECT_EQ(f.status, FileStatus::failed);
        EXPECT_EQ(f.error, "cancelled") << f.relative;
        EXPECT_EQ(f.attempts, f.relative == "f0.bin" || f.relative == "f1.bin" ? 1U : 0U) << f.relative;
        EXPECT_FALSE(run(local_->head(f.key)).has_value()) << f.relative;  // the puts were aborted
    }
    // The local store cleaned up after the aborted puts: no temporary file left.
    ASSERT_TRUE(fs::exists(blobs_));
    for (const auto& e : fs::recursive_directory_iterator(blobs_)) EXPECT_FALSE(e.is_regular_file()) << e.path();

    // stop_requested (a job's ctx.cancelled()) does the same, checked at each progress tick.
    bool stop = true;
    const auto stopped = transfer_to(
        *local_, scan_tree().files,
        {.max_workers = 1, .progress_interval = std::chrono::milliseconds(1), .stop_requested = [&] { return stop; }});
    EXPECT_TRUE(stopped.cancelled);
    EXPECT_LT(stopped.totals.files_uploaded, 8U);
}

TEST_F(TransferTest, AFileChangingMidReadFailsThatAttempt) {
    write_file(src_ / "shrinks.bin", pattern(2 * kMiB, 1));
    const auto files = scan_tree().files;
    TouchingStore shrinking(*local_, [&] { fs::resize_file(src_ / "shrinks.bin", kMiB); });
    const auto r = transfer_to(shrinking, files, {.times_to_retry = 1});
    const auto& f = r.files.front();
    EXPECT_EQ(f.status, FileStatus::uploaded) << f.error;
    EXPECT_EQ(f.attempts, 2U);  // the first read came up short; the retry read the new size
    EXPECT_EQ(f.size, kMiB);
    EXPECT_EQ(object(*local_, f.key), pattern(2 * kMiB, 1).substr(0, kMiB));

    write_file(src_ / "grows.bin", pattern(2 * kMiB, 2));
    TouchingStore growing(*local_, [&] {
        std::ofstream out(src_ / "grows.bin", std::ios::binary | std::ios::app);
        out << "more";
    });
    const auto one = scan_tree({.include = {"grows.bin"}}).files;
    const auto g = transfer_to(growing, one, {.times_to_retry = 0});
    EXPECT_EQ(g.files.front().status, FileStatus::failed);
    EXPECT_NE(g.files.front().error.find("changed while being read"), std::string::npos) << g.files.front().error;
}

TEST_F(TransferTest, LargeFilesStreamWithBoundedMemory) {
    const std::uint64_t size = 64 * kMiB + 3;
    core::Sha256 sha;
    {
        fs::create_directories(src_);
        std::ofstream out(src_ / "huge.bin", std::ios::binary);
        for (std::uint64_t written = 0; written < size;) {
            const auto piece = pattern(std::min<std::uint64_t>(kMiB, size - written), static_cast<unsigned>(written));
            sha.update(piece);
            out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
            written += piece.size();
        }
    }
    const auto expected = core::to_hex(sha.finish());
    std::vector<std::pair<std::string, storage::BlobStore*>> stores{{"local", local_.get()}};
    if (need_s3()) stores.emplace_back("s3", s3_.get());
    [[maybe_unused]] const auto before = peak_rss();
    for (const auto& [name, store] : stores) {
        SCOPED_TRACE(name);
        const auto r = transfer_to(*store, scan_tree().files);
        ASSERT_EQ(r.files.front().status, FileStatus::uploaded) << r.files.front().error;
        EXPECT_EQ(r.files.front().sha256, expected);
        HashSink sink;
        run(store->get(prefix_ + "huge.bin", std::nullopt, sink));
        EXPECT_EQ(sink.size, size);
        EXPECT_EQ(core::to_hex(sink.sha.finish()), expected);
        run(store->remove(prefix_ + "huge.bin"));
    }
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "ASan's quarantine keeps freed chunks resident: memory is measured in the release build";
#else
    RecordProperty("peak_rss_growth_kib", std::to_string((peak_rss() - before) / 1024));
    EXPECT_LT(peak_rss() - before, 24 * kMiB) << "peak RSS grew by " << (peak_rss() - before) / kMiB << " MiB";
#endif
}

}  // namespace
}  // namespace kiln::uploads
