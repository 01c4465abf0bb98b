#include "http/request.hpp"

#include "core/problem.hpp"

#include <boost/json/serialize.hpp>
#include <boost/url/parse_query.hpp>

namespace kiln::http {

std::string_view Request::param(std::string_view name) const {
    for (const auto& [k, v] : path_params) {
        if (k == name) return v;
    }
    return {};
}

core::Uuid Request::uuid_param(std::string_view name, std::string_view not_found) const {
    auto id = core::Uuid::parse(param(name));
    if (!id) throw core::Problem::not_found(std::string(not_found));
    return *id;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
    // libboost_url 1.81's parse_query runs strlen over what it is given (seen under ASan): hand
    // it a NUL-terminated copy, never a view into the request buffer.
    if (query.empty()) return std::nullopt;
    const std::string text(query);
    auto parsed = boost::urls::parse_query(text);
    // Answering as if no parameter were given would silently drop filters.
    if (!parsed) throw core::Problem::bad_request("The query string is malformed (bad percent-encoding).");
    boost::urls::encoding_opts opts;
    opts.space_as_plus = true;  // what HTML forms send
    for (const auto& p : *parsed) {
        if (p.key.decode(opts) == name) return p.value.decode(opts);
    }
    return std::nullopt;
}

std::string_view Request::header_value(std::string_view name) const {
    auto it = header.find(name);
    return it == header.end() ? std::string_view{} : std::string_view(it->value());
}

Response json_response(unsigned status, const boost::json::value& body) {
    return text_response(status, boost::json::serialize(body), "application/json");
}

Response text_response(unsigned status, std::string body, std::string_view content_type) {
    Response res{static_cast<beast_http::status>(status), 11};
    res.set(beast_http::field::content_type, content_type);
    res.body() = std::move(body);
    return res;
}

}  // namespace kiln::http
