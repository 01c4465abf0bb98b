#include "jobs/events.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/log.hpp"

namespace asio = boost::asio;

namespace kiln::jobs {

namespace {

std::optional<http::Event> event_of(const boost::json::value& v) {
    const auto* o = v.if_object();
    if (o == nullptr) return std::nullopt;
    const auto* ws = o->if_contains("workspace_id");
    const auto* id = o->if_contains("id");
    const auto* type = o->if_contains("type");
    const auto* data = o->if_contains("data");
    if (ws == nullptr || !ws->is_string() || id == nullptr || !id->is_int64() || type == nullptr ||
        !type->is_string() || data == nullptr || !data->is_object()) {
        return std::nullopt;
    }
    auto workspace = core::Uuid::parse(ws->get_string());
    if (!workspace) return std::nullopt;
    http::Event e;
    e.id = id->get_int64();
    e.workspace_id = *workspace;
    if (const auto* job = data->get_object().if_contains("job_id"); job != nullptr && job->is_string()) {
        e.job_id = core::Uuid::parse(job->get_string());
    }
    e.type = std::string(type->get_string());
    e.data = boost::json::serialize(*data);
    return e;
}

}  // namespace

std::vector<http::Event> events_of_notification(std::string_view payload) {
    std::vector<http::Event> events;
    std::error_code ec;
    auto v = boost::json::parse(payload, ec);
    const auto* a = ec ? nullptr : v.if_array();
    if (a == nullptr) return events;
    events.reserve(a->size());
    for (const auto& item : *a) {
        if (auto e = event_of(item)) events.push_back(std::move(*e));
    }
    return events;
}

void relay_events(db::Notifier& notifier, http::EventHub& hub) {
    notifier.subscribe(
        "kiln_job_events",
        [&hub](const std::vector<std::string>& payloads) {
            for (const auto& payload : payloads) {
                for (auto& e : events_of_notification(payload)) hub.publish(std::move(e));
            }
        },
        [] {});
}

}  // namespace kiln::jobs
