#pragma once
// Prometheus text exposition: request counts by route and status, latency histograms by route
// and status class, in-flight requests, plus gauges other parts register (DB pool, build).
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kiln::http {

class Metrics {
public:
    static constexpr std::array<double, 12> kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   0.5,   1.0,  5.0};

    // Names each route index (method, path); one extra slot counts unmatched requests.
    // Called once, before the server starts.
    void set_routes(std::vector<std::pair<std::string, std::string>> routes);

    void observe(std::size_t route, unsigned status, std::chrono::nanoseconds elapsed);
    std::size_t unmatched() const noexcept { return stats_.size() - 1; }
    void started() noexcept { in_flight_.fetch_add(1, std::memory_order_relaxed); }
    void finished() noexcept { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
    std::int64_t in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }
    void connection_opened() noexcept { connections_.fetch_add(1, std::memory_order_relaxed); }
    void connection_closed() noexcept { connections_.fetch_sub(1, std::memory_order_relaxed); }
    void stream_opened() noexcept { streams_.fetch_add(1, std::memory_order_relaxed); }
    void stream_closed() noexcept { streams_.fetch_sub(1, std::memory_order_relaxed); }
    std::int64_t streams() const noexcept { return streams_.load(std::memory_order_relaxed); }

    // Adds text written at each scrape (gauges owned elsewhere, e.g. the DB pool).
    void add_collector(std::function<void(std::string&)> collector);
    std::string render() const;

private:
    struct Histogram {
        std::array<std::atomic<std::uint64_t>, kBuckets.size()> buckets{};
        std::atomic<std::uint64_t> count{0};
        std::atomic<std::uint64_t> sum_ns{0};
    };
    struct RouteStats {
        std::string method;
        std::string path;
        std::array<std::atomic<std::uint64_t>, 500> by_status{};  // 100..599
        std::array<Histogram, 5> by_class{};                      // 1xx..5xx
    };
    std::vector<std::unique_ptr<RouteStats>> stats_;
    std::atomic<std::int64_t> in_flight_{0};
    std::atomic<std::int64_t> connections_{0};
    std::atomic<std::int64_t> streams_{0};
    mutable std::mutex mutex_;
    std::vector<std::function<void(std::string&)>> collectors_;
};

}  // namespace kiln::http
