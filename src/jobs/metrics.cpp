#include "jobs/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kiln::jobs {

namespace {

void histogram_lines(std::string& out, std::string_view name, std::string_view labels,
                     const std::array<std::atomic<std::uint64_t>, JobMetrics::kBuckets.size()>& buckets,
                     std::uint64_t count, std::uint64_t sum_us) {
    const std::string sep = labels.empty() ? "" : ",";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < JobMetrics::kBuckets.size(); ++i) {
        cumulative += buckets[i].load(std::memory_order_relaxed);
        out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, JobMetrics::kBuckets[i], cumulative);
    }
    out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, count);
    const std::string braces = labels.empty() ? "" : fmt::format("{{{}}}", labels);
    out += fmt::format("{}_sum{} {}\n", name, braces, static_cast<double>(sum_us) / 1e6);
    out += fmt::format("{}_count{} {}\n", name, braces, count);
}

}  // namespace

void JobMetrics::Histogram::observe(double seconds) {
    const auto it = std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds);
    if (it != kBuckets.end()) buckets[static_cast<std::size_t>(it - kBuckets.begin())].fetch_add(1);
    count.fetch_add(1);
    sum_us.fetch_add(static_cast<std::uint64_t>(std::max(0.0, seconds) * 1e6));
}

JobMetrics::JobMetrics(http::Metrics& metrics) {
    metrics.add_collector([this](std::string& out) { render(out); });
}

JobMetrics::PerKind& JobMetrics::of(std::string_view kind) {
    const std::lock_guard lock(mutex_);
    auto it = kinds_.find(kind);
    if (it == kinds_.end()) it = kinds_.emplace(std::string(kind), std::make_unique<PerKind>()).first;
    return *it->second;
}

void JobMetrics::started(std::string_view kind, double pickup_seconds) {
    of(kind).started.fetch_add(1, std::memory_order_relaxed);
    pickup_.observe(pickup_seconds);
}

void JobMetrics::claimed(bool found) {
    (found ? claims_found_ : claims_empty_).fetch_add(1, std::memory_order_relaxed);
}

void JobMetrics::finished(std::string_view kind, std::string_view outcome, double seconds) {
    auto& k = of(kind);
    const auto it = std::find(kOutcomes.begin(), kOutcomes.end(), outcome);
    if (it != kOutcomes.end()) k.outcomes[static_cast<std::size_t>(it - kOutcomes.begin())].fetch_add(1);
    k.duration.observe(seconds);
}

void JobMetrics::render_queue(std::string& out, const std::vector<QueueDepth>& depth) {
    out += "# HELP kiln_jobs_queued Unfinished jobs by kind and state, across all workspaces and workers.\n";
    out += "# TYPE kiln_jobs_queued gauge\n";
    for (const auto& d : depth) {
        out += fmt::format("kiln_jobs_queued{{kind=\"{}\",state=\"{}\"}} {}\n", d.kind, d.state, d.jobs);
    }
    out += "# HELP kiln_jobs_oldest_available_seconds How long the oldest available job of a kind has been due.\n";
    out += "# TYPE kiln_jobs_oldest_available_seconds gauge\n";
    for (const auto& d : depth) {
        if (d.oldest_s)
            out += fmt::format("kiln_jobs_oldest_available_seconds{{kind=\"{}\"}} {:.3f}\n", d.kind, *d.oldest_s);
    }
}

void JobMetrics::render(std::string& out) const {
    const std::lock_guard lock(mutex_);
    out += "# HELP kiln_jobs_started_total Job attempts started by this process.\n";
    out += "# TYPE kiln_jobs_started_total counter\n";
    for (const auto& [kind, k] : kinds_) {
        out += fmt::format("kiln_jobs_started_total{{kind=\"{}\"}} {}\n", kind, k->started.load());
    }
    out += "# HELP kiln_jobs_finished_total Job attempts ended by this process, by outcome.\n";
    out += "# TYPE kiln_jobs_finished_total counter\n";
    for (const auto& [kind, k] : kinds_) {
        for (std::size_t i = 0; i < kOutcomes.size(); ++i) {
            out += fmt::format("kiln_jobs_finished_total{{kind=\"{}\",outcome=\"{}\"}} {}\n", kind, kOutcomes[i],
                               k->outcomes[i].load());
        }
    }
    out += "# HELP kiln_job_duration_seconds How long job attempts ran.\n";
    out += "# TYPE kiln_job_duration_seconds histogram\n";
    for (const auto& [kind, k] : kinds_) {
        histogram_lines(out, "kiln_job_duration_seconds", fmt::format("kind=\"{}\"", kind), k->duration.buckets,
                        k->duration.count.load(), k->duration.sum_us.load());
    }
    out += "# HELP kiln_job_pickup_seconds From a job being due to a worker claiming it.\n";
    out += "# TYPE kiln_job_pickup_seconds histogram\n";
    histogram_lines(out, "kiln_job_pickup_seconds", "", pickup_.buckets, pickup_.count.load(), pickup_.sum_us.load());
    out += "# HELP kiln_job_claims_total Claim statements this process sent, by whether they found jobs.\n";
    out += "# TYPE kiln_job_claims_total counter\n";
    out += fmt::format("kiln_job_claims_total{{result=\"found\"}} {}\n", claims_found_.load());
    out += fmt::format("kiln_job_claims_total{{result=\"empty\"}} {}\n", claims_empty_.load());
}

}  // namespace kiln::jobs
