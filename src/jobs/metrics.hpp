#pragma once
// The job engine's Prometheus metrics, per process: jobs started and finished by kind and
// outcome, attempt durations and pickup latency (due → claimed) histograms.
#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "http/metrics.hpp"
#include "jobs/store.hpp"

namespace kiln::jobs {

class JobMetrics {
public:
    static constexpr std::array<double, 14> kBuckets{0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,  0.5,   1.0,   2.5,  10.0,  60.0, 300.0};
    // Outcomes of an attempt.
    static constexpr std::array<std::string_view, 6> kOutcomes{"succeeded", "failed",    "dead",
                                                               "cancelled", "timed_out", "lost"};

    // Registers a collector with `metrics`; this object must outlive it.
    explicit JobMetrics(http::Metrics& metrics);

    void started(std::string_view kind, double pickup_seconds);
    // One claim statement, and whether it found any job (empty ones are the cost of waking
    // without work: notifications, slots freeing, the polling fallback).
    void claimed(bool found);
    void finished(std::string_view kind, std::string_view outcome, double seconds);
    void render(std::string& out) const;
    // The queue as the database sees it now (all processes): depth by kind and state, and the
    // oldest available job's wait by kind.
    static void render_queue(std::string& out, const std::vector<QueueDepth>& depth);

private:
    struct Histogram {
        std::array<std::atomic<std::uint64_t>, kBuckets.size()> buckets{};
        std::atomic<std::uint64_t> count{0};
        std::atomic<std::uint64_t> sum_us{0};
        void observe(double seconds);
    };
    struct PerKind {
        std::atomic<std::uint64_t> started{0};
        std::array<std::atomic<std::uint64_t>, kOutcomes.size()> outcomes{};
        Histogram duration;
    };
    PerKind& of(std::string_view kind);

    mutable std::mutex mutex_;
    std::map<std::string, std::unique_ptr<PerKind>, std::less<>> kinds_;
    Histogram pickup_;
    std::atomic<std::uint64_t> claims_found_{0};
    std::atomic<std::uint64_t> claims_empty_{0};
};

}  // namespace kiln::jobs
