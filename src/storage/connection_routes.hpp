#pragma once
#include "auth/service.hpp"
#include "http/router.hpp"
#include "storage/connection_service.hpp"

namespace kiln::storage {

// /api/v1/storage-connections.
void add_connection_routes(http::Router& router, const auth::Service& auth, ConnectionService& service);

}  // namespace kiln::storage
