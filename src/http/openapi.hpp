#pragma once
#include <boost/json/object.hpp>
#include <string>

#include "http/router.hpp"

namespace kiln::http {

// OpenAPI 3.1 for every route that is not hidden.
boost::json::object openapi_document(const Router& router, const std::string& title, const std::string& version);

}  // namespace kiln::http
