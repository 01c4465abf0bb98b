// Both blob stores against the real thing: a directory for LocalBlobStore, the s3rver the test
// script starts (KILN_TEST_S3_ENDPOINT) for S3BlobStore, path-style and virtual-host style. A small
// proxy in front of s3rver (support/fault_proxy.hpp) injects the failures S3 has (503 SlowDown,
// 500s) and stalls.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/crypto.hpp"
#include "core/thread_pool.hpp"
#include "core/uuid.hpp"
#include "http/client.hpp"
#include "storage/local.hpp"
#include "storage/s3.hpp"
#include "support/fault_proxy.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

namespace kiln::storage {
namespace {

constexpr std::string_view kBucket = "kiln-test";
constexpr std::uint64_t kMiB = std::uint64_t{1} << 20U;

// Deterministic bytes, handed out in uneven pieces; optionally failing after `fail_after` bytes.
class PatternSource final : public Source {
public:
    explicit PatternSource(std::uint64_t size, std::uint64_t fail_after = UINT64_MAX)
        : size_(size), fail_after_(fail_after) {}
    asio::awaitable<std::size_t> read(std::span<char> buffer) override {
        if (offset_ >= fail_after_) throw std::runtime_error("the client went away");
        const auto piece = std::min<std::uint64_t>({buffer.size(), size_ - offset_, 40'000 + (offset_ % 30'000)});
        for (std::size_t i = 0; i < piece; ++i) buffer[i] = byte_at(offset_ + i);
        offset_ += piece;
        co_return static_cast<std::size_t>(piece);
    }
    static char byte_at(std::uint64_t i) { return static_cast<char>((i * 2654435761U) >> 13U); }
    static std::string bytes(std::uint64_t size) {
        std::string s(size, '\0');
        for (std::uint64_t i = 0; i < size; ++i) s[i] = byte_at(i);
        return s;
    }
    // The SHA-256 of bytes(size), without holding them all (the memory test measures RSS).
    static std::string sha256_of(std::uint64_t size) {
        core::Sha256 sha;
        std::string chunk;
        for (std::uint64_t at = 0; at < size; at += chunk.size()) {
            chunk.resize(static_cast<std::size_t>(std::min<std::uint64_t>(kMiB, size - at)));
            for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = byte_at(at + i);
            sha.update(chunk);
        }
        return core::to_hex(sha.finish());
    }

private:
    std::uint64_t size_;
    std::uint64_t fail_after_;
    std::uint64_t offset_ = 0;
};

// A file that copies itself into the store's file in the kernel (Source::copy_to), as the sync
// job's sources do; read() only counts that it was (not) used.
class FileCopySource final : public Source {
public:
    FileCopySource(const std::filesystem::path& path, std::uint64_t size)
        : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), size_(size) {}
    FileCopySource(const FileCopySource&) = delete;
    FileCopySource& operator=(const FileCopySource&) = delete;
    ~FileCopySource() override { ::close(fd_); }
    asio::awaitable<std::size_t> read(std::span<char> /*buffer*/) override {
        ++reads;
        co_return 0;
    }
    asio::awaitable<std::optional<std::size_t>> copy_to(int fd, std::uint64_t at, std::size_t max) override {
        ++copies;
        auto in = static_cast<loff_t>(offset_);
        auto out = static_cast<loff_t>(at);
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(max, size_ - offset_));
        if (want == 0) co_return 0;
        const auto n = ::copy_file_range(fd_, &in, fd, &out, want, 0);
        if (n < 0) throw std::runtime_error("copy_file_range failed");
        offset_ += static_cast<std::uint64_t>(n);
        co_return static_cast<std::size_t>(n);
    }
    int reads = 0;
    int copies = 0;

private:
    int fd_;
    std::uint64_t size_;  // what it hands out (the file may hold more)
    std::uint64_t offset_ = 0;
};

class StringSink final : public Sink {
public:
    asio::awaitable<void> write(std::string_view data) override {
        text.append(data);
        co_return;
    }
    std::string text;
};

// Keeps only a hash; each write yields to the event loop first, like a socket would, so the
// download has to pause while the sink is busy.
class HashSink final : public Sink {
public:
    asio::awaitable<void> write(std::string_view data) override {
        const auto ex = co_await asio::this_coro::executor;
        co_await asio::post(ex, asio::use_awaitable);
        sha.update(data);
        size += data.size();
    }
    core::Sha256 sha;
    std::uint64_t size = 0;
};

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
}

// Peak resident set size of this process, in bytes (unused under ASan: see below).
[[maybe_unused]] std::uint64_t peak_rss() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<std::uint64_t>(u.ru_maxrss) * 1024;  // NOLINT(cppcoreguidelines-pro-type-union-access)
}

std::uint64_t current_rss() {
    std::ifstream statm("/proc/self/statm");
    std::uint64_t pages = 0;
    std::uint64_t resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

using testing::FaultProxy;

// ---- fixture ---------------------------------------------------------------------------------

class BlobStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        core::init_crypto();
        endpoint_ = env_or_empty("KILN_TEST_S3_ENDPOINT");
        if (endpoint_.empty()) {
            if (env_or_empty("CI") == "true") FAIL() << "KILN_TEST_S3_ENDPOINT is not set (scripts/test starts s3rver)";
            GTEST_SKIP() << "KILN_TEST_S3_ENDPOINT is not set: run through scripts/test";
        }
        const auto colon = endpoint_.rfind(':');
        port_ = static_cast<std::uint16_t>(std::stoi(endpoint_.substr(colon + 1)));
        prefix_ = "t-" + core::Uuid::v7().str() + "/";
        root_ = std::filesystem::temp_directory_path() / ("kiln-blobs-" + core::Uuid::v7().str());
        local_ = std::make_unique<LocalBlobStore>(root_, blocking_);
        s3_ = std::make_unique<S3BlobStore>(options(endpoint_, true), client_);
        // s3rver takes bucket.s3.localhost as virtual-host style (started with --service-endpoint
        // localhost); curl resolves *.localhost itself.
        s3_vhost_ =
            std::make_unique<S3BlobStore>(options(fmt::format("http://s3.localhost:{}", port_), false), client_);
        const auto created = run(s3_->send({.method = "PUT", .key = "", .query = {}, .payload = {}}));
        ASSERT_TRUE(created.status == 200 || created.status == 409) << created.status << created.body;
    }
    void TearDown() override {
        if (!root_.empty()) std::filesystem::remove_all(root_);
    }

    S3Options options(std::string endpoint, bool path_style) const {
        S3Options o;
        o.endpoint = std::move(endpoint);
        o.bucket = std::string(kBucket);
        o.credentials = {"S3RVER", "S3RVER"};  // the only key s3rver knows
        o.path_style = path_style;
        o.part_size = 5 * kMiB;
        o.retry_base = std::chrono::milliseconds(1);
        o.retry_max = std::chrono::milliseconds(10);
        return o;
    }
    std::vector<std::pair<std::string, BlobStore*>> stores() {
        return {{"local", local_.get()}, {"s3 path-style", s3_.get()}, {"s3 virtual-host", s3_vhost_.get()}};
    }
    // Runs the event loop until `task` is done (other work, like a stalled transfer, may stay pending).
    template <typename T>
    T run(asio::awaitable<T> task) {
        auto done = asio::co_spawn(io_, std::move(task), asio::use_future);
        io_.restart();
        while (done.wait_for(std::chrono::seconds(0)) != std::future_status::ready && io_.run_one() > 0) {
        }
        return done.get();
    }
    PutResult put(BlobStore& store, const std::string& key, std::uint64_t size, std::optional<std::uint64_t> declared) {
        PatternSource source(size);
        return run(store.put(key, source, declared, std::nullopt));
    }
    std::string get(BlobStore& store, const std::string& key, std::optional<ByteRange> range = std::nullopt) {
        StringSink sink;
        run(store.get(key, range, sink));
        return sink.text;
    }

    asio::io_context io_;
    core::ThreadPool blocking_{2};
    http::Client client_{io_.get_executor()};
    std::string endpoint_;
    std::uint16_t port_ = 0;
    std::string prefix_;
    std::filesystem::path root_;
    std::unique_ptr<LocalBlobStore> local_;
    std::unique_ptr<S3BlobStore> s3_;
    std::unique_ptr<S3BlobStore> s3_vhost_;
};

TEST_F(BlobStoreTest, PutGetHeadRemoveRoundTrip) {
    const std::uint64_t size = kMiB + 3;
    const auto expected = PatternSource::bytes(size);
    const auto sha = core::to_hex(core::sha256(expected));
    for (const auto& [name, store] : stores()) {
        SCOPED_TRACE(name);
        const auto key = prefix_ + "dir/a file+1.bin";
        const auto put_result = put(*store, key, size, size);
        EXPECT_EQ(put_result.size, size);
        EXPECT_EQ(put_result.sha256, sha);
        EXPECT_FALSE(put_result.etag.empty());
        EXPECT_EQ(get(*store, key), expected);
        const auto info = run(store->head(key));
        ASSERT_TRUE(info.has_value());
        EXPECT_EQ(info->size, size);
        EXPECT_EQ(info->etag, put_result.etag);
        if (store != local_.get()) {
            EXPECT_EQ(info->sha256, sha);  // recorded as object metadata
        } else if (info->sha256) {
            EXPECT_EQ(*info->sha256, sha);  // an xattr, where the filesystem has them
        }
        // A second put replaces the blob.
        put(*store, key, 10, std::nullopt);
        EXPECT_EQ(get(*store, key), expected.substr(0, 10));
        run(store->remove(key));
        EXPECT_FALSE(run(store->head(key)).has_value());
        EXPECT_THROW(get(*store, key), BlobNotFound);
        EXPECT_NO_THROW(run(store->remove(key)));
    }
}

TEST_F(BlobStoreTest, EmptyBlobsAndRanges) {
    const auto expected = PatternSource::bytes(1000);
    for (const auto& [name, store] : stores()) {
        SCOPED_TRACE(name);
        put(*store, prefix_ + "empty", 0, 0);
        EXPECT_EQ(get(*store, prefix_ + "empty"), "");
        EXPECT_EQ(run(store->head(prefix_ + "empty"))->size, 0U);
        const auto key = prefix_ + "r";
        put(*store, key, 1000, std::nullopt);
        EXPECT_EQ(get(*store, key, ByteRange{10, 19}), expected.substr(10, 10));
        EXPECT_EQ(get(*store, key, ByteRange{995, std::nullopt}), expected.substr(995));
        EXPECT_EQ(get(*store, key, ByteRange{990, 5000}), expected.substr(990));
        EXPECT_THROW(get(*store, key, ByteRange{1000, std::nullopt}), RangeNotSatisfiable);
    }
}

TEST_F(BlobStoreTest, MissingKeysAndBadKeys) {
    for (const auto& [name, store] : stores()) {
        SCOPED_TRACE(name);
        EXPECT_FALSE(run(store->head(prefix_ + "nothing")).has_value());
        EXPECT_THROW(get(*store, prefix_ + "nothing"), BlobNotFound);
        EXPECT_THROW(put(*store, "../escape", 1, 1), InvalidKey);
        EXPECT_THROW(get(*store, prefix_ + "a//b"), InvalidKey);
    }
    EXPECT_FALSE(std::filesystem::exists(root_.parent_path() / "escape"));
}

TEST_F(BlobStoreTest, ASourceOfTheWrongLengthStoresNothing) {
    for (const auto& [name, store] : stores()) {
        SCOPED_TRACE(name);
        EXPECT_THROW(put(*store, prefix_ + "short", 50, 100), StorageError);
        EXPECT_THROW(put(*store, prefix_ + "long", 150, 100), StorageError);
        EXPECT_FALSE(run(store->head(prefix_ + "short")).has_value());
        EXPECT_FALSE(run(store->head(prefix_ + "long")).has_value());
    }
}

TEST_F(BlobStoreTest, LocalStoreNeverShowsAPartialBlob) {
    const auto key = prefix_ + "doc.bin";
    put(*local_, key, 2000, 2000);
    PatternSource failing(3 * kMiB, kMiB);
    EXPECT_THROW(run(local_->put(key, failing, std::nullopt, std::nullopt)), std::runtime_error);
    // The old blob is intact and no temporary file is left behind.
    EXPECT_EQ(get(*local_, key), PatternSource::bytes(2000));
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(root_ / prefix_)) names.push_back(e.path().filename());
    EXPECT_EQ(names, std::vector<std::string>{"doc.bin"});
}

// Puts landing in one directory at once share its fsyncs (storage::DirSyncs): every one of them
// still ends with its blob in place, and none waits forever on another's.
TEST_F(BlobStoreTest, ConcurrentLocalPutsIntoOneDirectoryAllLand) {
    constexpr int kPuts = 24;
    std::vector<std::unique_ptr<PatternSource>> sources;
    std::vector<std::future<PutResult>> done;
    for (int i = 0; i < kPuts; ++i) {
        const std::uint64_t size = 1000 + static_cast<std::uint64_t>(i) * 700;
        sources.push_back(std::make_unique<PatternSource>(size));
        done.push_back(
            asio::co_spawn(io_, local_->put(fmt::format("{}same/f{}", prefix_, i), *sources.back(), size, std::nullopt),
                           asio::use_future));
    }
    io_.restart();
    const auto all_ready = [&] {
        return std::ranges::all_of(
            done, [](auto& f) { return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready; });
    };
    while (!all_ready() && io_.run_one() > 0) {
    }
    for (int i = 0; i < kPuts; ++i) {
        const std::uint64_t size = 1000 + static_cast<std::uint64_t>(i) * 700;
        EXPECT_EQ(done[i].get().size, size);
        EXPECT_EQ(get(*local_, fmt::format("{}same/f{}", prefix_, i)), PatternSource::bytes(size));
    }
    std::size_t entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(root_ / prefix_ / "same")) entries += e.is_regular_file();
    EXPECT_EQ(entries, static_cast<std::size_t>(kPuts));  // no temporary file left
}

TEST_F(BlobStoreTest, LocalStoreLetsAFileSourceCopyInTheKernel) {
    const std::uint64_t size = 17 * kMiB + 5;
    const auto expected = PatternSource::bytes(size);
    const auto file = root_.parent_path() / ("kiln-copy-src-" + core::Uuid::v7().str());
    std::ofstream(file, std::ios::binary) << expected;
    FileCopySource source(file, size);
    const auto r = run(local_->put(prefix_ + "copied.bin", source, size, std::nullopt));
    EXPECT_EQ(r.size, size);
    EXPECT_EQ(r.sha256, core::to_hex(core::sha256(expected)));  // hashed from what the blob holds
    EXPECT_EQ(source.reads, 0);
    EXPECT_EQ(source.copies, 4);  // three pieces of at most 8 MiB, then the end
    EXPECT_EQ(get(*local_, prefix_ + "copied.bin"), expected);
    EXPECT_EQ(run(local_->head(prefix_ + "copied.bin"))->sha256, r.sha256);
    // A file that holds more than the declared size fails the put; nothing is stored.
    FileCopySource longer(file, size);
    EXPECT_THROW(run(local_->put(prefix_ + "long.bin", longer, size - 2 * kMiB, std::nullopt)), StorageError);
    EXPECT_FALSE(run(local_->head(prefix_ + "long.bin")).has_value());
    std::filesystem::remove(file);
}

TEST_F(BlobStoreTest, LargeObjectsGoUpInParts) {
    const std::uint64_t size = 12 * kMiB + 7;
    const auto sha = core::to_hex(core::sha256(PatternSource::bytes(size)));
    // Path-style through a pass-through proxy that records the requests; virtual-host style direct.
    FaultProxy proxy(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), FaultProxy::Mode::pass);
    S3BlobStore recorded(options(proxy.endpoint(), true), client_);
    for (auto* store : {static_cast<S3BlobStore*>(&recorded), s3_vhost_.get()}) {
        const auto key = prefix_ + "big.bin";
        const auto r = put(*store, key, size, std::nullopt);
        EXPECT_EQ(r.size, size);
        EXPECT_EQ(r.sha256, sha);
        HashSink sink;
        run(s3_->get(key, std::nullopt, sink));
        EXPECT_EQ(sink.size, size);
        EXPECT_EQ(core::to_hex(sink.sha.finish()), sha);
        EXPECT_EQ(get(*store, key, ByteRange{5 * kMiB - 2, 5 * kMiB + 1}),
                  PatternSource::bytes(5 * kMiB + 2).substr(5 * kMiB - 2));
    }
    EXPECT_EQ(proxy.count("?uploads="), 1U);
    EXPECT_EQ(proxy.count("partNumber="), 3U);  // 5 + 5 + 2 MiB
    EXPECT_EQ(proxy.count("POST /kiln-test/" + prefix_ + "big.bin?uploadId="), 1U);
}

TEST_F(BlobStoreTest, ADeclaredSha256IsRecordedForMultipartObjects) {
    const std::uint64_t size = 11 * kMiB + 1;
    const auto sha = core::to_hex(core::sha256(PatternSource::bytes(size)));
    FaultProxy proxy(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), FaultProxy::Mode::pass);
    auto in_parts = options(proxy.endpoint(), true);
    in_parts.max_single_put = 0;  // the virtual-host store sends the declared one as one PUT
    S3BlobStore recorded(in_parts, client_);
    EXPECT_EQ(recorded.sha256_declared_from(), 5 * kMiB);
    EXPECT_EQ(local_->sha256_declared_from(), std::nullopt);
    for (auto* store : {static_cast<S3BlobStore*>(&recorded), s3_vhost_.get()}) {
        const auto key = prefix_ + "declared.bin";
        // Undeclared, a multipart object has no SHA-256 in its metadata (known only at the end).
        put(*store, key, size, size);
        EXPECT_EQ(run(store->head(key))->sha256, std::nullopt);
        PatternSource source(size);
        const auto r = run(store->put(key, source, size, sha));
        EXPECT_EQ(r.sha256, sha);
        const auto info = run(store->head(key));
        ASSERT_TRUE(info.has_value());
        EXPECT_EQ(info->size, size);
        EXPECT_EQ(info->sha256, sha);
        HashSink sink;  // not a string: the memory test below measures this process's peak RSS
        run(store->get(key, std::nullopt, sink));
        EXPECT_EQ(core::to_hex(sink.sha.finish()), sha);
    }
    EXPECT_EQ(proxy.count("?uploads="), 2U);  // both went up in parts
}

TEST_F(BlobStoreTest, AWrongDeclaredSha256StoresNothing) {
    const auto wrong = core::to_hex(core::sha256("other bytes"));
    for (const auto& [name, store] : stores()) {
        SCOPED_TRACE(name);
        // Replacing a blob: it stays as it was.
        const auto key = prefix_ + "kept.bin";
        put(*store, key, 1000, 1000);
        PatternSource small(2000);
        EXPECT_THROW(run(store->put(key, small, 2000, wrong)), StorageError);
        EXPECT_EQ(get(*store, key), PatternSource::bytes(1000));
        // A new key: nothing appears, above the part size too.
        for (const std::uint64_t size : {std::uint64_t{2000}, 6 * kMiB}) {
            PatternSource source(size);
            EXPECT_THROW(run(store->put(prefix_ + "new.bin", source, size, wrong)), StorageError);
            EXPECT_FALSE(run(store->head(prefix_ + "new.bin")).has_value());
        }
        PatternSource any(10);
        EXPECT_THROW(run(store->put(prefix_ + "bad.bin", any, 10, "ABC")), std::invalid_argument);
        EXPECT_THROW(run(store->put(prefix_ + "bad.bin", any, 10, std::string(64, 'G'))), std::invalid_argument);
    }
    // The local store left no temporary file.
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(root_ / prefix_)) names.push_back(e.path().filename());
    EXPECT_EQ(names, std::vector<std::string>{"kept.bin"});
    FaultProxy proxy(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), FaultProxy::Mode::pass);
    // S3, one PUT signed with the declared SHA-256: S3 itself refuses the body; s3rver does not
    // check, so the store removes what it took.
    S3BlobStore one_put(options(proxy.endpoint(), true), client_);
    PatternSource streamed(6 * kMiB);
    EXPECT_THROW(run(one_put.put(prefix_ + "refused.bin", streamed, 6 * kMiB, wrong)), StorageError);
    EXPECT_EQ(proxy.count("PUT /kiln-test/" + prefix_ + "refused.bin"), 1U);
    EXPECT_EQ(proxy.count("DELETE /kiln-test/" + prefix_ + "refused.bin"), 1U);
    EXPECT_FALSE(run(s3_->head(prefix_ + "refused.bin")).has_value());
    // S3 in parts: the multipart upload was aborted, never completed.
    auto in_parts = options(proxy.endpoint(), true);
    in_parts.max_single_put = 0;
    S3BlobStore recorded(in_parts, client_);
    PatternSource source(6 * kMiB);
    EXPECT_THROW(run(recorded.put(prefix_ + "aborted.bin", source, 6 * kMiB, wrong)), StorageError);
    EXPECT_EQ(proxy.count("partNumber="), 2U);
    EXPECT_EQ(proxy.count("DELETE /kiln-test/" + prefix_ + "aborted.bin?uploadId="), 1U);
    EXPECT_EQ(proxy.count("POST /kiln-test/" + prefix_ + "aborted.bin?uploadId="), 0U);
    EXPECT_FALSE(run(s3_->head(prefix_ + "aborted.bin")).has_value());
}

// A local store told to defer durability writes each blob's temporary file and returns; sync()
// fsyncs them, renames them into place and fsyncs each directory once. Until then nothing of them
// is in place; a store dropped before sync() leaves nothing behind.
TEST_F(BlobStoreTest, DeferredDurabilityPlacesTheBatchAtSync) {
    const auto before = LocalBlobStore::dir_fsyncs();
    {
        LocalBlobStore deferring(root_, blocking_);
        deferring.defer_durability();
        for (int i = 0; i < 6; ++i) put(deferring, prefix_ + "a/" + std::to_string(i), 1000 + i, 1000 + i);
        for (int i = 0; i < 3; ++i) put(deferring, prefix_ + "b/" + std::to_string(i), 2000, 2000);
        const auto big = put(deferring, prefix_ + "big.bin", 3 * kMiB, 3 * kMiB);  // the copy path too
        EXPECT_EQ(big.sha256, PatternSource::sha256_of(3 * kMiB));
        EXPECT_EQ(LocalBlobStore::dir_fsyncs(), before);
        EXPECT_FALSE(run(local_->head(prefix_ + "a/5")).has_value()) << "not in place before sync()";
        EXPECT_THROW(get(*local_, prefix_ + "big.bin"), BlobNotFound);
        run(deferring.sync());
        EXPECT_EQ(LocalBlobStore::dir_fsyncs(), before + 3) << "a/, b/ and the prefix: one fsync each";
        EXPECT_EQ(get(*local_, prefix_ + "a/5"), PatternSource::bytes(1005));
        EXPECT_EQ(get(*local_, prefix_ + "b/2"), PatternSource::bytes(2000));
        EXPECT_EQ(run(local_->head(prefix_ + "big.bin"))->sha256, big.sha256);
        run(deferring.sync());
        EXPECT_EQ(LocalBlobStore::dir_fsyncs(), before + 3) << "nothing new to place";

        put(deferring, prefix_ + "dropped.bin", 100, 100);  // never synced
    }
    EXPECT_FALSE(run(local_->head(prefix_ + "dropped.bin")).has_value());
    std::size_t temporaries = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root_)) {
        if (e.path().filename().string().starts_with(".kiln-tmp-")) ++temporaries;
    }
    EXPECT_EQ(temporaries, 0U) << "the dropped store's temporary file went with it";
    put(*local_, prefix_ + "a/now", 10, 10);
    EXPECT_EQ(LocalBlobStore::dir_fsyncs(), before + 4) << "a store that does not defer places at each put";
}

// The SHA-256 is recorded as its 32 bytes (they fit in the inode, where 64 hex digits took a block
// of their own on ext4); a blob put by an earlier version, with the hex digits, still reports it.
TEST_F(BlobStoreTest, LocalHeadReadsTheSha256InEitherForm) {
    const auto key = prefix_ + "sha/one.bin";
    const auto put_result = put(*local_, key, 3000, 3000);
    const auto path = root_ / key;
    constexpr const char* kName = "user.kiln.sha256";
    std::array<char, 80> value{};
    const auto n = ::getxattr(path.c_str(), kName, value.data(), value.size());
    if (n < 0) GTEST_SKIP() << "no user xattrs on this filesystem";
    EXPECT_EQ(n, 32);
    EXPECT_EQ(run(local_->head(key))->sha256, put_result.sha256);
    const auto& hex = put_result.sha256;
    ASSERT_EQ(::setxattr(path.c_str(), kName, hex.data(), hex.size(), 0), 0);
    EXPECT_EQ(run(local_->head(key))->sha256, hex);
    EXPECT_EQ(run(local_->head(key))->etag, "\"" + hex + "\"");
    const std::string upper(64, 'A');
    ASSERT_EQ(::setxattr(path.c_str(), kName, upper.data(), upper.size(), 0), 0);
    EXPECT_FALSE(run(local_->head(key))->sha256.has_value()) << "not a SHA-256 kiln wrote";
}

// A blob waiting for sync() has no name in its directory (an unnamed file, where the filesystem
// makes them): nothing half-done to see, and nothing left behind by a crash.
TEST_F(BlobStoreTest, AStagedLocalBlobHasNoNameUntilPlaced) {
    const auto dir = root_ / prefix_ / "unnamed";
    std::filesystem::create_directories(dir);
    const int probe = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (probe < 0) GTEST_SKIP() << "no O_TMPFILE on this filesystem";
    ::close(probe);
    put(*local_, prefix_ + "unnamed/b.bin", 100, 100);
    LocalBlobStore deferring(root_, blocking_);
    deferring.defer_durability();
    put(deferring, prefix_ + "unnamed/a.bin", 5000, 5000);
    put(deferring, prefix_ + "unnamed/b.bin", 200, 200);  // over a blob already there
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename());
    EXPECT_EQ(names, std::vector<std::string>{"b.bin"});
    EXPECT_EQ(get(*local_, prefix_ + "unnamed/b.bin"), PatternSource::bytes(100));
    run(deferring.sync());
    names.clear();
    for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"a.bin", "b.bin"}));
    EXPECT_EQ(get(*local_, prefix_ + "unnamed/a.bin"), PatternSource::bytes(5000));
    EXPECT_EQ(get(*local_, prefix_ + "unnamed/b.bin"), PatternSource::bytes(200));
}

// The local store's blocking calls (a caller on a pool thread does a small file's whole transfer
// there) keep put()'s and head()'s promises: the caller's SHA-256 recorded, nothing half stored,
// deferred blobs placed at sync(). S3 has none.
TEST_F(BlobStoreTest, LocalBlockingCallsKeepPutAndHeadPromises) {
    EXPECT_EQ(s3_->blocking(), nullptr);
    LocalBlobStore deferring(root_, blocking_);
    BlockingBlobs* now = deferring.blocking();
    ASSERT_NE(now, nullptr);
    const auto bytes = PatternSource::bytes(3000);
    const auto sha = PatternSource::sha256_of(3000);
    const auto key = prefix_ + "now/one.bin";
    EXPECT_FALSE(now->head_now(key).has_value());
    const PutResult put = now->put_now(key, bytes, sha);
    EXPECT_EQ(put.size, 3000U);
    EXPECT_EQ(put.sha256, sha);
    EXPECT_TRUE(put.checked);
    EXPECT_EQ(now->head_now(key)->sha256, sha);
    EXPECT_EQ(get(*local_, key), bytes);
    // A put that fails (a file where its directory would go) leaves no temporary file behind.
    EXPECT_THROW(now->put_now(key + "/under-a-file.bin", bytes, sha), StorageError);
    EXPECT_THROW(now->put_now(key, bytes, "abc"), std::invalid_argument);
    EXPECT_THROW(now->put_now("../escape", bytes, sha), InvalidKey);
    EXPECT_EQ(get(*local_, key), bytes);
    // Deferred: in place only at sync().
    deferring.defer_durability();
    now->put_now(prefix_ + "now/two.bin", bytes, sha);
    EXPECT_FALSE(run(local_->head(prefix_ + "now/two.bin")).has_value());
    run(deferring.sync());
    EXPECT_EQ(get(*local_, prefix_ + "now/two.bin"), bytes);
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(root_ / prefix_ / "now")) {
        names.push_back(e.path().filename());
    }
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"one.bin", "two.bin"}));
}

// A small PUT from a source that hashed its bytes in memory takes that SHA-256 (the transfer
// engine's small files): it is what the request is signed with and what the store records, so a
// source that knew a wrong one would be caught by S3's own check of the signed payload hash.
TEST_F(BlobStoreTest, ASmallPutTakesTheSha256ItsSourceKnows) {
    class Known final : public Source {
    public:
        Known(std::string bytes, std::string sha) : bytes_(std::move(bytes)), sha_(std::move(sha)) {}
        asio::awaitable<std::size_t> read(std::span<char> buffer) override {
            const std::size_t n = std::min(buffer.size(), bytes_.size() - offset_);
            std::memcpy(buffer.data(), bytes_.data() + offset_, n);
            offset_ += n;
            co_return n;
        }
        std::optional<std::string> sha256() const override { return sha_; }

    private:
        std::string bytes_;
        std::string sha_;
        std::size_t offset_ = 0;
    };
    const auto bytes = PatternSource::bytes(5000);
    const auto sha = PatternSource::sha256_of(5000);
    Known right(bytes, sha);
    const auto put = run(s3_->put(prefix_ + "known.bin", right, bytes.size(), sha));
    EXPECT_EQ(put.sha256, sha);
    EXPECT_TRUE(put.checked);
    EXPECT_EQ(run(s3_->head(prefix_ + "known.bin"))->sha256, sha);
    // Not hashed again: a source's wrong claim is taken as it is (s3rver does not check signatures).
    const std::string other(64, 'a');
    Known claims(bytes, other);
    EXPECT_EQ(run(s3_->put(prefix_ + "claimed.bin", claims, bytes.size(), std::nullopt)).sha256, other);
    // A source of unknown size, or as large as a part, is hashed as it is read.
    Known unsized(bytes, other);
    EXPECT_EQ(run(s3_->put(prefix_ + "unsized.bin", unsized, std::nullopt, std::nullopt)).sha256, sha);
}

// A large batch is placed in several slices at once (the fsyncs side by side): every blob in
// place, each directory fsynced after its renames; a rename that fails fails the sync and leaves
// no temporary file, and nothing torn in place.
TEST_F(BlobStoreTest, ALargeDeferredBatchIsPlacedInSlices) {
    constexpr int kDirs = 4;
    constexpr int kPerDir = 40;
    constexpr std::uint64_t kMostDirFsyncs = std::uint64_t{8} * kDirs;  // one per directory per slice
    const auto before = LocalBlobStore::dir_fsyncs();
    LocalBlobStore deferring(root_, blocking_);
    deferring.defer_durability();
    BlockingBlobs* now = deferring.blocking();
    const auto key = [this](int d, int i) { return prefix_ + "s" + std::to_string(d) + "/" + std::to_string(i); };
    for (int d = 0; d < kDirs; ++d) {
        for (int i = 0; i < kPerDir; ++i) {
            const std::size_t size = 100 + static_cast<std::size_t>(i);
            now->put_now(key(d, i), PatternSource::bytes(size), PatternSource::sha256_of(size));
        }
    }
    run(deferring.sync());
    for (int d = 0; d < kDirs; ++d) {
        for (int i = 0; i < kPerDir; ++i) EXPECT_EQ(get(*local_, key(d, i)), PatternSource::bytes(100 + i));
    }
    EXPECT_GE(LocalBlobStore::dir_fsyncs(), before + kDirs);
    EXPECT_LE(LocalBlobStore::dir_fsyncs(), before + kMostDirFsyncs);

    // Again, with one target taken by a directory: that rename fails.
    for (int d = 0; d < kDirs; ++d) {
        for (int i = 0; i < kPerDir; ++i) {
            now->put_now(key(d, i), PatternSource::bytes(200), PatternSource::sha256_of(200));
        }
    }
    std::filesystem::remove(root_ / key(2, 5));
    std::filesystem::create_directory(root_ / key(2, 5));
    EXPECT_THROW(run(deferring.sync()), StorageError);
    EXPECT_TRUE(std::filesystem::is_directory(root_ / key(2, 5)));
    std::size_t temporaries = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root_)) {
        if (e.path().filename().string().starts_with(".kiln-tmp-")) ++temporaries;
    }
    EXPECT_EQ(temporaries, 0U);
    for (int d = 0; d < kDirs; ++d) {
        for (int i = 0; i < kPerDir; ++i) {
            if (d == 2 && i == 5) continue;
            const auto bytes = get(*local_, key(d, i));
            EXPECT_TRUE(bytes == PatternSource::bytes(200) || bytes == PatternSource::bytes(100 + i))
                << key(d, i) << ": the old blob or the new one, whole";
        }
    }
}

// A known size without a SHA-256: one streamed PUT too, unsigned, so the object has no SHA-256
// metadata (the bytes are read once); the put still reports the SHA-256 of what it sent.
TEST_F(BlobStoreTest, AKnownSizeAloneSendsALargeObjectAsOneUnsignedPut) {
    const std::uint64_t size = 11 * kMiB + 3;
    FaultProxy proxy(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), FaultProxy::Mode::pass);
    S3BlobStore through(options(proxy.endpoint(), true), client_);
    const auto key = prefix_ + "unsigned.bin";
    PatternSource source(size);
    const auto r = run(through.put(key, source, size, std::nullopt));
    EXPECT_EQ(r.size, size);
    EXPECT_EQ(r.sha256, PatternSource::sha256_of(size));
    EXPECT_EQ(proxy.count("PUT /kiln-test/" + key), 1U);
    EXPECT_EQ(proxy.count("?uploads="), 0U);
    const auto info = run(s3_->head(key));
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->size, size);
    EXPECT_FALSE(info->sha256.has_value());
    EXPECT_EQ(info->etag, r.etag);
    HashSink sink;
    run(s3_->get(key, std::nullopt, sink));
    EXPECT_EQ(core::to_hex(sink.sha.finish()), r.sha256);
}

TEST_F(BlobStoreTest, AKnownSha256SendsALargeObjectAsOneSignedPut) {
    const std::uint64_t size = 11 * kMiB + 1;
    const auto sha = PatternSource::sha256_of(size);
    FaultProxy proxy(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), FaultProxy::Mode::pass);
    S3BlobStore recorded(options(proxy.endpoint(), true), client_);
    for (auto* store : {static_cast<S3BlobStore*>(&recorded), s3_vhost_.get()}) {
        const auto key = prefix_ + "one.bin";
        PatternSource source(size);
        const auto r = run(store->put(key, source, size, sha));
        EXPECT_EQ(r.size, size);
        EXPECT_EQ(r.sha256, sha);
        EXPECT_FALSE(r.etag.empty());
        const auto info = run(store->head(key));
        ASSERT_TRUE(info.has_value());
        EXPECT_EQ(info->size, size);
        EXPECT_EQ(info->sha256, sha);
        HashSink sink;
        run(store->get(key, std::nullopt, sink));
        EXPECT_EQ(core::to_hex(sink.sha.finish()), sha);
    }
    EXPECT_EQ(proxy.count("PUT /kiln-test/" + prefix_ + "one.bin"), 1U);
    EXPECT_EQ(proxy.count("?uploads="), 0U);
    EXPECT_EQ(proxy.count("partNumber="), 0U);

    // The source failing part way, or ending early: the PUT is cut off, the old object stays.
    const auto key = prefix_ + "kept.bin";
    put(recorded, key, 1000, 1000);
    PatternSource failing(size, 7 * kMiB);
    EXPECT_THROW(run(recorded.put(key, failing, size, sha)), std::runtime_error);
    PatternSource short_one(size - 1);
    EXPECT_THROW(run(recorded.put(key, short_one, size, sha)), StorageError);
    EXPECT_EQ(get(*s3_, key), PatternSource::bytes(1000));
}

TEST_F(BlobStoreTest, S3ListsTheKeysUnderAPrefixPageByPage) {
    FaultProxy proxy(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), FaultProxy::Mode::pass);
    auto small_pages = options(proxy.endpoint(), true);
    small_pages.list_page = 2;
    S3BlobStore paged(small_pages, client_);
    const std::vector<std::string> keys = {prefix_ + "l/a", prefix_ + "l/b & c", prefix_ + "l/sub/d",
                                           prefix_ + "l/sub/e", prefix_ + "l/z"};
    for (const auto& key : keys) put(*s3_, key, 10, 10);
    put(*s3_, prefix_ + "l2/other", 10, 10);  // shares the characters, not the prefix "l/"
    EXPECT_EQ(run(paged.list(prefix_ + "l/", 10)), keys);
    EXPECT_EQ(proxy.count("max-keys="), 3U);  // 2 + 2 + 1
    EXPECT_EQ(proxy.count("marker="), 2U);
    EXPECT_EQ(run(s3_vhost_->list(prefix_ + "l/", 10)), keys);
    EXPECT_EQ(run(s3_->list(prefix_ + "none/", 10)), std::vector<std::string>{});
    // More keys than the caller would read: none, and no further page asked for.
    EXPECT_EQ(run(paged.list(prefix_ + "l/", 3)), std::nullopt);
    EXPECT_EQ(proxy.count("max-keys="), 5U);
    // The local store does not list (head() is a stat there).
    EXPECT_EQ(run(local_->list(prefix_, 10)), std::nullopt);
    // A store refusing to list (a policy without s3:ListBucket): none, not an error.
    FaultProxy refusing(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_),
                        [](const std::string& line) -> FaultProxy::Action {
                            if (line.find("max-keys=") != std::string::npos)
                                return {.status = 403, .stall = false, .drop_bytes = 0};
                            return {};
                        });
    S3BlobStore denied(options(refusing.endpoint(), true), client_);
    EXPECT_EQ(run(denied.list(prefix_ + "l/", 10)), std::nullopt);
}

TEST_F(BlobStoreTest, AThrottledPartIsRetried) {
    FaultProxy proxy(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), FaultProxy::Mode::fail_part2_once);
    S3BlobStore through(options(proxy.endpoint(), true), client_);
    const std::uint64_t size = 11 * kMiB;
    const auto key = prefix_ + "retried.bin";
    const auto r = put(through, key, size, std::nullopt);  // a size not known ahead goes in parts
    EXPECT_EQ(proxy.count("partNumber=1&"), 1U);
    EXPECT_EQ(proxy.count("partNumber=2&"), 2U);  // the 503 SlowDown, then the retry
    EXPECT_EQ(proxy.count("partNumber=3&"), 1U);
    EXPECT_EQ(get(*s3_, key), PatternSource::bytes(size));
    EXPECT_EQ(r.sha256, core::to_hex(core::sha256(PatternSource::bytes(size))));
}

TEST_F(BlobStoreTest, AFailedMultipartUploadIsAborted) {
    FaultProxy proxy(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), FaultProxy::Mode::fail_part2_always);
    S3BlobStore through(options(proxy.endpoint(), true), client_);
    const auto key = prefix_ + "doomed.bin";
    try {
        put(through, key, 11 * kMiB, std::nullopt);
        FAIL() << "the put succeeded";
    } catch (const StorageError& e) {
        EXPECT_EQ(e.status, 500);
    }
    EXPECT_EQ(proxy.count("partNumber=2&"), 4U);  // max_attempts
    EXPECT_EQ(proxy.count("DELETE /kiln-test/" + prefix_ + "doomed.bin?uploadId="), 1U);
    EXPECT_EQ(proxy.count("POST /kiln-test/" + prefix_ + "doomed.bin?uploadId="), 0U);  // never completed
    EXPECT_FALSE(run(s3_->head(key)).has_value());
}

TEST_F(BlobStoreTest, PresignedUrlsWorkWithoutCredentialsUntilTheyExpire) {
    const auto key = prefix_ + "shared/report v1.pdf";
    put(*s3_, key, 5000, 5000);
    EXPECT_FALSE(local_->presign_get(key, std::chrono::seconds(60)).has_value());
    const auto url = s3_->presign_get(key, std::chrono::seconds(60));
    ASSERT_TRUE(url.has_value());
    http::ClientRequest req;
    req.url = *url;
    const auto ok = run(client_.perform(req));
    EXPECT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(ok.body, PatternSource::bytes(5000));

    req.url = presign_get_url(s3_->location(), {"S3RVER", "S3RVER"}, "us-east-1", key,
                              std::chrono::system_clock::now() - std::chrono::hours(2), std::chrono::seconds(60));
    const auto expired = run(client_.perform(req));
    EXPECT_EQ(expired.status, 403);
    EXPECT_NE(expired.body.find("Request has expired"), std::string::npos) << expired.body;
}

TEST_F(BlobStoreTest, StreamingLargeObjectsKeepsMemoryBounded) {
    const std::uint64_t size = 64 * kMiB;
    [[maybe_unused]] const auto before = current_rss();
    for (const auto& [name, store] : stores()) {
        if (store == s3_vhost_.get()) continue;
        SCOPED_TRACE(name);
        const auto key = prefix_ + "huge.bin";
        const auto r = put(*store, key, size, size);
        EXPECT_EQ(r.size, size);
        HashSink sink;
        run(store->get(key, std::nullopt, sink));
        EXPECT_EQ(sink.size, size);
        EXPECT_EQ(core::to_hex(sink.sha.finish()), r.sha256);
        // With the SHA-256 known first (S3: one streamed PUT instead of parts).
        PatternSource again(size);
        EXPECT_EQ(run(store->put(key, again, size, r.sha256)).sha256, r.sha256);
        run(store->remove(key));
    }
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "ASan's quarantine keeps freed chunks resident: memory is measured in the release build";
#else
    // One 5 MiB part, 512 KiB file chunks and curl's buffers; 64 MiB objects would not fit.
    RecordProperty("peak_rss_growth_kib", std::to_string((peak_rss() - before) / 1024));
    EXPECT_LT(peak_rss() - before, 24 * kMiB) << "peak RSS grew by " << (peak_rss() - before) / kMiB << " MiB";
#endif
}

// ---- the client itself -----------------------------------------------------------------------

TEST_F(BlobStoreTest, ClientTimesOutOnAStalledServer) {
    FaultProxy proxy(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), FaultProxy::Mode::stall);
    http::ClientRequest req;
    req.url = proxy.endpoint() + "/x";
    req.timeout = std::chrono::milliseconds(300);
    try {
        run(client_.perform(req));
        FAIL() << "no timeout";
    } catch (const http::ClientError& e) {
        EXPECT_TRUE(e.timed_out()) << e.what();
    }
}

asio::awaitable<void> wait_until_seen(FaultProxy& proxy, std::string needle) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (proxy.count(needle) == 0 && std::chrono::steady_clock::now() < deadline) {
        t.expires_after(std::chrono::milliseconds(5));
        co_await t.async_wait(asio::use_awaitable);
    }
}

TEST_F(BlobStoreTest, ClientTransfersEndWhenCancelledOrWhenTheClientGoes) {
    FaultProxy proxy(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), FaultProxy::Mode::stall);
    // Cancelled through the awaiting coroutine's cancellation slot.
    asio::cancellation_signal cancel;
    http::ClientRequest req;
    req.url = proxy.endpoint() + "/cancelled";
    std::exception_ptr outcome;
    bool finished = false;
    asio::co_spawn(io_, client_.perform(req),
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, const http::ClientResponse&) {
                       outcome = std::move(e);
                       finished = true;
                   }));
    run(wait_until_seen(proxy, "/cancelled"));
    EXPECT_FALSE(finished);
    cancel.emit(asio::cancellation_type::terminal);
    io_.restart();
    while (!finished && io_.run_one() > 0) {
    }
    ASSERT_TRUE(finished);
    try {
        std::rethrow_exception(outcome);
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), asio::error::operation_aborted);
    }

    // A client destroyed mid-transfer ends it; the awaiting coroutine is told, nothing dangles.
    auto doomed = std::make_unique<http::Client>(io_.get_executor());
    req.url = proxy.endpoint() + "/orphaned";
    finished = false;
    asio::co_spawn(io_, doomed->perform(req), [&](std::exception_ptr e, const http::ClientResponse&) {
        outcome = std::move(e);
        finished = true;
    });
    run(wait_until_seen(proxy, "/orphaned"));
    doomed.reset();
    io_.restart();
    while (!finished && io_.run_one() > 0) {
    }
    ASSERT_TRUE(finished);
    try {
        std::rethrow_exception(outcome);
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), asio::error::operation_aborted);
    }
}

}  // namespace
}  // namespace kiln::storage
