#pragma once
// /api/v1/tus: resumable uploads, tus 1.0 (core, creation, termination, expiration).
#include "auth/service.hpp"
#include "http/router.hpp"
#include "storage/tus_service.hpp"

namespace kiln::storage {

void add_tus_routes(http::Router& router, const auth::Service& auth, TusService& tus);

}  // namespace kiln::storage
