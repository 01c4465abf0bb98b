#include "core/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>
#include <cstdio>
#include <mutex>

namespace kiln::core::log {

namespace {

// spdlog's stdout sink flushes every line (one write(2) per request under load); this one
// lets stdio buffer and is flushed on warnings, on a timer and at exit.
class StdoutSink final : public spdlog::sinks::base_sink<std::mutex> {
protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t out;
        formatter_->format(msg, out);
        static_cast<void>(std::fwrite(out.data(), 1, out.size(), stdout));
    }
    void flush_() override { static_cast<void>(std::fflush(stdout)); }
};

std::shared_ptr<spdlog::logger> make_logger() {
    auto sink = std::make_shared<StdoutSink>();
    auto logger = std::make_shared<spdlog::logger>("kiln", sink);
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})", spdlog::pattern_time_type::utc));
    logger->flush_on(spdlog::level::warn);
    return logger;
}

spdlog::logger& logger() {
    static const std::shared_ptr<spdlog::logger> instance = make_logger();
    return *instance;
}

}  // namespace

void init(const std::string& level) {
    logger().set_level(spdlog::level::from_str(level));
    spdlog::flush_every(std::chrono::seconds(1));
    spdlog::register_logger(std::shared_ptr<spdlog::logger>(&logger(), [](spdlog::logger*) {}));
}

bool enabled(spdlog::level::level_enum level) {
    return logger().should_log(level);
}

void write(spdlog::level::level_enum level, std::string_view msg, const boost::json::object& fields) {
    if (!logger().should_log(level)) return;
    std::string line = R"("msg":)";
    line += boost::json::serialize(boost::json::string_view(msg.data(), msg.size()));
    for (const auto& [key, value] : fields) {
        line += ',';
        line += boost::json::serialize(boost::json::string_view(key));
        line += ':';
        line += boost::json::serialize(value);
    }
    logger().log(level, std::string_view(line));
}

void flush() {
    logger().flush();
}

}  // namespace kiln::core::log
