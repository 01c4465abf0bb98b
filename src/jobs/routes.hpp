#pragma once
#include "auth/service.hpp"
#include "http/event_hub.hpp"
#include "http/router.hpp"
#include "jobs/service.hpp"

namespace kiln::jobs {

void add_routes(http::Router& router, const auth::Service& auth, Service& service, http::EventHub& hub);

}  // namespace kiln::jobs
