#pragma once
#include "auth/service.hpp"
#include "http/router.hpp"
#include "modules/uploads/service.hpp"

namespace kiln::uploads {

// /api/v1/projects, /api/v1/cycles, /api/v1/sync-sessions (and a session's files).
void add_routes(http::Router& router, const auth::Service& auth, Service& service);

}  // namespace kiln::uploads
