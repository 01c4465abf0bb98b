#pragma once
#include <functional>

#include "audit/service.hpp"
#include "http/router.hpp"

namespace kiln::audit {

// `authenticate` turns the Authorization header into the caller (401 otherwise).
using Authenticate = std::function<boost::asio::awaitable<auth::Principal>(std::string_view authorization)>;

void add_routes(http::Router& router, Authenticate authenticate, Service& service);

}  // namespace kiln::audit
