#pragma once
#include "auth/service.hpp"
#include "http/router.hpp"
#include "storage/service.hpp"

namespace kiln::storage {

void add_routes(http::Router& router, const auth::Service& auth, FileService& files);

}  // namespace kiln::storage
