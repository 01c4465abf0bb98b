#pragma once
#include "auth/service.hpp"
#include "http/router.hpp"
#include "tenancy/service.hpp"

namespace kiln::tenancy {

void add_routes(http::Router& router, const auth::Service& auth, Service& service);

}  // namespace kiln::tenancy
