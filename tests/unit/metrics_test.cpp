#include "http/metrics.hpp"

#include <gtest/gtest.h>

namespace kiln::http {
namespace {

TEST(Metrics, CountsByRouteAndStatus) {
    Metrics m;
    m.set_routes({{"GET", "/health"}, {"GET", "/ready"}});
    m.observe(0, 200, std::chrono::microseconds(300));
    m.observe(0, 200, std::chrono::milliseconds(3));
    m.observe(1, 503, std::chrono::milliseconds(20));
    m.observe(m.unmatched(), 404, std::chrono::microseconds(10));
    const auto text = m.render();
    EXPECT_NE(text.find(R"(kiln_http_requests_total{method="GET",route="/health",status="200"} 2)"), std::string::npos)
        << text;
    EXPECT_NE(text.find(R"(kiln_http_requests_total{method="GET",route="/ready",status="503"} 1)"), std::string::npos);
    EXPECT_NE(text.find(R"(route="unmatched",status="404"} 1)"), std::string::npos);
    // Cumulative buckets: 300us ≤ 0.0005, 3ms ≤ 0.005.
    EXPECT_NE(text.find(R"(route="/health",status="2xx",le="0.0005"} 1)"), std::string::npos) << text;
    EXPECT_NE(text.find(R"(route="/health",status="2xx",le="0.005"} 2)"), std::string::npos);
    EXPECT_NE(text.find(R"(route="/health",status="2xx",le="+Inf"} 2)"), std::string::npos);
    EXPECT_NE(text.find(R"(kiln_http_request_duration_seconds_count{method="GET",route="/ready",status="5xx"} 1)"),
              std::string::npos);
}

TEST(Metrics, InFlightAndCollectors) {
    Metrics m;
    m.set_routes({});
    m.started();
    m.started();
    m.finished();
    m.add_collector([](std::string& out) { out += "custom_gauge 7\n"; });
    const auto text = m.render();
    EXPECT_NE(text.find("kiln_http_requests_in_flight 1\n"), std::string::npos);
    EXPECT_NE(text.find("custom_gauge 7\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE kiln_http_request_duration_seconds histogram"), std::string::npos);
}

}  // namespace
}  // namespace kiln::http
