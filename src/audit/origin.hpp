#pragma once
// Where a request came from, as audit events record it (used by route handlers).
#include <string>

#include "audit/store.hpp"
#include "http/request.hpp"

namespace kiln::audit {

inline Origin origin_of(const http::Request& req) {
    return {std::string(req.client_ip), req.request_id};
}

}  // namespace kiln::audit
