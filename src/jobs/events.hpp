#pragma once
// Live job events: every process LISTENs on kiln_job_events (the jobs trigger NOTIFYs each
// event at commit) and relays what it hears to its own stream subscribers through the hub, so
// a client sees events of jobs run by any worker on any machine.
#include <string_view>
#include <vector>

#include "db/notifier.hpp"
#include "http/event_hub.hpp"

namespace kiln::jobs {

// The hub events of one kiln_job_events payload (a JSON array of events, one statement's);
// malformed ones are left out.
std::vector<http::Event> events_of_notification(std::string_view payload);

// Relays what the process's notifier hears on kiln_job_events to the hub's subscribers. While
// the notifier reconnects, live subscribers see a gap; the events are persisted, so a client
// that reconnects with Last-Event-ID gets them. Before the notifier starts; the hub must
// outlive it.
void relay_events(db::Notifier& notifier, http::EventHub& hub);

}  // namespace kiln::jobs
