#pragma once
// What a handler sees of a request, and helpers to build responses.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/uuid.hpp"

namespace kiln::http {

namespace beast_http = boost::beast::http;
using Verb = beast_http::verb;
using Response = beast_http::response<beast_http::string_body>;
using Header = beast_http::request_header<>;
class BodyReader;
class ResponseWriter;

struct Request {
    Request(const Header& h, std::string body_text) : header(h), body(std::move(body_text)) {}

    const Header& header;
    std::string body;
    std::string_view path;   // without the query string, percent-decoding left to handlers
    std::string_view query;  // after '?', may be empty
    std::vector<std::pair<std::string_view, std::string_view>> path_params;
    std::string request_id;
    std::string_view client_ip;                 // the connection's peer address
    std::string_view route;                     // the matched pattern, e.g. /api/v1/jobs/{id}
    BodyReader* body_reader = nullptr;          // routes with stream_body: the unread body (`body` is empty)
    ResponseWriter* response_writer = nullptr;  // routes with stream_body: to stream the answer instead

    Verb method() const { return header.method(); }
    std::string_view param(std::string_view name) const;
    // A path parameter that must be a UUID: anything else is no such resource (404 with
    // `not_found`), as an id of another workspace is.
    core::Uuid uuid_param(std::string_view name, std::string_view not_found) const;
    // The decoded value of a query parameter; a 400 Problem when the query string is malformed.
    std::optional<std::string> query_param(std::string_view name) const;
    std::string_view header_value(std::string_view name) const;
};

Response json_response(unsigned status, const boost::json::value& body);
Response text_response(unsigned status, std::string body, std::string_view content_type);

}  // namespace kiln::http
