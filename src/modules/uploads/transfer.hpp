#pragma once
// Copies scanned files into a BlobStore under a key prefix: up to max_workers files at a time,
// each streamed from disk (the store computes the SHA-256 on the way), skipped when the store
// already holds the same bytes, verified after the put (by the store's answer when it proves what
// it holds, else by reading the object's size, SHA-256 and ETag back), retried with backoff,
// cancellable, with progress.
// Files the store would keep without a SHA-256 unless told one (BlobStore::sha256_declared_from:
// large S3 objects) are hashed before the put and declared, so the next run can skip them — unless
// the caller records SHA-256s by ETag (TransferOptions::recorded_sha256): then they are read once.
// The caller's executor must be single-threaded (an I/O thread's io_context) or a strand: the
// workers share the run's counters without locks. File reads run on the blocking pool; with a
// store that has blocking calls (BlobStore::blocking: the local store), a small file's whole
// attempt — read, look-up, put — happens on the pool, for up to 16 consecutive small files in one
// trip; to other stores such a group is read in one trip, then sent file by file.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/thread_pool.hpp"
#include "modules/uploads/scan.hpp"
#include "storage/blob_store.hpp"

namespace kiln::uploads {

struct TransferOptions {
    std::string prefix;  // key = prefix + relative path (include the trailing '/')
    std::size_t max_workers = 4;
    unsigned times_to_retry = 3;  // attempts after the first, per file
    std::chrono::milliseconds retry_base{500};
    std::chrono::milliseconds retry_max{30'000};
    std::chrono::milliseconds progress_interval{1000};  // at most this often, besides each file's end
    std::size_t chunk_bytes = std::size_t{1} << 20U;    // read from disk (and hashed) at a time
    // Polled at each progress tick (e.g. a job's ctx.cancelled()); true cancels like the slot does.
    std::function<bool()> stop_requested;
    // The SHA-256 of what an earlier run sent, by the ETag and size the store gave it (FileResult
    // records both), for an object that has no SHA-256 of its own; nullopt when unknown. With it,
    // files are never hashed before their put (the store may keep them without a SHA-256).
    std::function<boost::asio::awaitable<std::optional<std::string>>(std::string etag, std::uint64_t size)>
        recorded_sha256;
};

enum class FileStatus { uploaded, skipped, failed };
std::string_view to_string(FileStatus status);

struct FileResult {
    std::string relative;
    std::string key;
    FileStatus status = FileStatus::failed;
    unsigned attempts = 0;  // tries (head, maybe put and verify); 0: never started
    std::string error;      // the last attempt's, when failed
    std::uint64_t size = 0;
    std::string sha256;  // hex, of the local file as read
    std::string etag;    // as the store reports it
    std::chrono::system_clock::time_point started;
    std::chrono::milliseconds elapsed{0};
};

struct TransferProgress {
    std::size_t files_total = 0;
    std::size_t files_uploaded = 0;
    std::size_t files_skipped = 0;
    std::size_t files_failed = 0;
    std::uint64_t bytes_total = 0;      // of the files as scanned
    std::uint64_t bytes_sent = 0;       // handed to the store, failed attempts included
    std::uint64_t bytes_done = 0;       // sizes of the files uploaded or skipped
    std::uint64_t bytes_in_flight = 0;  // of the files being sent: how far their current attempts are
    double bytes_per_second = 0;        // bytes sent over the last few seconds
    bool finished = false;              // the last call
};

struct TransferReport {
    std::vector<FileResult> files;  // in the input's order
    TransferProgress totals;
    bool cancelled = false;
};

using ProgressFn = std::function<void(const TransferProgress&)>;

// Cancelling the awaiting coroutine (its cancellation slot, terminal) or `stop_requested` starts
// no new file, aborts the running ones at their next chunk read (an S3 part already in flight
// finishes first; the store then cleans up as for any failed put) or ends their backoff, and
// returns the report: the files not finished are `failed` with error "cancelled". The store,
// pool and callback must outlive the call.
boost::asio::awaitable<TransferReport> transfer(storage::BlobStore& store, core::ThreadPool& blocking,
                                                std::vector<ScannedFile> files, TransferOptions options,
                                                ProgressFn progress = {});

}  // namespace kiln::uploads
