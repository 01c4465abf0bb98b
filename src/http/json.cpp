#include "http/json.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/algorithm/string/trim.hpp>

namespace kiln::http {

json::value parse_json(std::string_view text) {
    boost::system::error_code ec;
    json::parse_options opts;
    opts.max_depth = 64;
    auto value = json::parse(json::string_view(text.data(), text.size()), ec, {}, opts);
    if (ec) throw core::Problem::bad_request("The body is not valid JSON: " + ec.message() + ".");
    return value;
}

json::value parse_json_body(const Request& req) {
    const auto type = req.header_value("Content-Type");
    const auto base = type.substr(0, type.find(';'));
    if (!boost::algorithm::iequals(boost::algorithm::trim_copy(std::string(base)), "application/json")) {
        throw core::Problem(415, "Unsupported Media Type", "This endpoint accepts application/json.");
    }
    return parse_json(req.body);
}

}  // namespace kiln::http
