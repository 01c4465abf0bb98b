#include "http/metrics.hpp"

#include <fmt/format.h>

namespace kiln::http {

void Metrics::set_routes(std::vector<std::pair<std::string, std::string>> routes) {
    stats_.clear();
    routes.emplace_back("", "unmatched");
    for (auto& [method, path] : routes) {
        auto s = std::make_unique<RouteStats>();
        s->method = std::move(method);
        s->path = std::move(path);
        stats_.push_back(std::move(s));
    }
}

void Metrics::observe(std::size_t route, unsigned status, std::chrono::nanoseconds elapsed) {
    auto& s = *stats_[std::min(route, stats_.size() - 1)];
    if (status < 100 || status > 599) status = 500;
    s.by_status[status - 100].fetch_add(1, std::memory_order_relaxed);
    auto& h = s.by_class[status / 100 - 1];
    const double seconds = std::chrono::duration<double>(elapsed).count();
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        if (seconds <= kBuckets[i]) {
            h.buckets[i].fetch_add(1, std::memory_order_relaxed);
            break;
        }
    }
    h.count.fetch_add(1, std::memory_order_relaxed);
    h.sum_ns.fetch_add(static_cast<std::uint64_t>(elapsed.count()), std::memory_order_relaxed);
}

void Metrics::add_collector(std::function<void(std::string&)> collector) {
    std::lock_guard lock(mutex_);
    collectors_.push_back(std::move(collector));
}

std::string Metrics::render() const {
    std::string out;
    out += "# HELP kiln_http_requests_total HTTP requests answered, by route and status.\n";
    out += "# TYPE kiln_http_requests_total counter\n";
    for (const auto& s : stats_) {
        for (std::size_t i = 0; i < s->by_status.size(); ++i) {
            const auto n = s->by_status[i].load(std::memory_order_relaxed);
            if (n == 0) continue;
            out += fmt::format("kiln_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}\n", s->method,
                               s->path, i + 100, n);
        }
    }
    out += "# HELP kiln_http_request_duration_seconds Time from request header to response written.\n";
    out += "# TYPE kiln_http_request_duration_seconds histogram\n";
    for (const auto& s : stats_) {
        for (std::size_t c = 0; c < s->by_class.size(); ++c) {
            const auto& h = s->by_class[c];
            const auto count = h.count.load(std::memory_order_relaxed);
            if (count == 0) continue;
            const auto labels = fmt::format(R"(method="{}",route="{}",status="{}xx")", s->method, s->path, c + 1);
            std::uint64_t cumulative = 0;
            for (std::size_t i = 0; i < kBuckets.size(); ++i) {
                cumulative += h.buckets[i].load(std::memory_order_relaxed);
                out += fmt::format("kiln_http_request_duration_seconds_bucket{{{},le=\"{}\"}} {}\n", labels,
                                   kBuckets[i], cumulative);
            }
            out += fmt::format("kiln_http_request_duration_seconds_bucket{{{},le=\"+Inf\"}} {}\n", labels, count);
            out += fmt::format("kiln_http_request_duration_seconds_sum{{{}}} {:.9f}\n", labels,
                               static_cast<double>(h.sum_ns.load(std::memory_order_relaxed)) / 1e9);
            out += fmt::format("kiln_http_request_duration_seconds_count{{{}}} {}\n", labels, count);
        }
    }
    out += "# HELP kiln_http_requests_in_flight Requests being handled now.\n";
    out += "# TYPE kiln_http_requests_in_flight gauge\n";
    out += fmt::format("kiln_http_requests_in_flight {}\n", in_flight());
    out += "# HELP kiln_http_connections Open client connections.\n";
    out += "# TYPE kiln_http_connections gauge\n";
    out += fmt::format("kiln_http_connections {}\n", connections_.load(std::memory_order_relaxed));
    out += "# HELP kiln_http_streams_open Open event streams (Server-Sent Events).\n";
    out += "# TYPE kiln_http_streams_open gauge\n";
    out += fmt::format("kiln_http_streams_open {}\n", streams());
    std::lock_guard lock(mutex_);
    for (const auto& c : collectors_) c(out);
    return out;
}

}  // namespace kiln::http
