#pragma once
#include "auth/service.hpp"
#include "http/router.hpp"

namespace kiln::auth {

void add_routes(http::Router& router, Service& service);

}  // namespace kiln::auth
