#pragma once
#include "admin/service.hpp"
#include "auth/service.hpp"
#include "http/router.hpp"

namespace kiln::admin {

void add_routes(http::Router& router, const auth::Service& auth, Service& service);

}  // namespace kiln::admin
