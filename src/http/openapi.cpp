#include "http/openapi.hpp"

#include <boost/algorithm/string/case_conv.hpp>

namespace kiln::http {

namespace {

json::object problem_schema() {
    return {
        {"type", "object"},
        {"required", json::array{"type", "title", "status"}},
        {"properties",
         json::object{
             {"type", json::object{{"type", "string"}}},
             {"title", json::object{{"type", "string"}}},
             {"status", json::object{{"type", "integer"}}},
             {"detail", json::object{{"type", "string"}}},
             {"instance", json::object{{"type", "string"}}},
             {"request_id", json::object{{"type", "string"}}},
             {"errors", json::object{{"type", "array"},
                                     {"items", json::object{{"type", "object"},
                                                            {"properties",
                                                             json::object{
                                                                 {"field", {{"type", "string"}}},
                                                                 {"message", {{"type", "string"}}},
                                                             }}}}}},
         }}};
}

json::object problem_response(std::string description) {
    return {
        {"description", std::move(description)},
        {"content", json::object{{"application/problem+json",
                                  json::object{{"schema", json::object{{"$ref", "#/components/schemas/Problem"}}}}}}}};
}

std::string operation_id(const Route& r) {
    std::string id = boost::algorithm::to_lower_copy(std::string(beast_http::to_string(r.method)));
    for (char c : r.path) {
        if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
            id.push_back(c);
        } else if (!id.empty() && id.back() != '_') {
            id.push_back('_');
        }
    }
    while (!id.empty() && id.back() == '_') id.pop_back();
    return id;
}

}  // namespace

json::object openapi_document(const Router& router, const std::string& title, const std::string& version) {
    json::object paths;
    for (const auto& r : router.routes()) {
        if (r.hidden) continue;
        json::object op{{"summary", r.summary}, {"operationId", operation_id(r)}};
        if (!r.description.empty()) op["description"] = r.description;
        if (!r.tag.empty()) op["tags"] = json::array{json::value(r.tag)};
        json::array parameters;
        for (std::size_t pos = r.path.find('{'); pos != std::string::npos; pos = r.path.find('{', pos + 1)) {
            const auto end = r.path.find('}', pos);
            parameters.push_back(json::object{{"name", r.path.substr(pos + 1, end - pos - 1)},
                                              {"in", "path"},
                                              {"required", true},
                                              {"schema", json::object{{"type", "string"}}}});
        }
        if (!parameters.empty()) op["parameters"] = std::move(parameters);
        if (r.request && r.request->schema) {
            op["requestBody"] = json::object{
                {"required", true},
                {"content", json::object{{r.request->content_type, json::object{{"schema", *r.request->schema}}}}}};
        }
        json::object responses;
        json::object ok{{"description", r.summary}};
        if (r.response.schema) {
            ok["content"] = json::object{{r.response.content_type, json::object{{"schema", *r.response.schema}}}};
        }
        responses[std::to_string(r.status)] = std::move(ok);
        if (r.request) {
            responses["400"] = problem_response("Malformed body");
            responses["413"] = problem_response("Body too large");
            responses["415"] = problem_response("Unsupported content type");
            responses["422"] = problem_response("Invalid fields, one entry per field");
        }
        responses["default"] = problem_response("Error (RFC 9457 problem details)");
        op["responses"] = std::move(responses);
        const auto method = boost::algorithm::to_lower_copy(std::string(beast_http::to_string(r.method)));
        auto& item = paths[r.path];
        if (item.is_null()) item = json::object{};
        item.as_object()[method] = std::move(op);
    }
    return {{"openapi", "3.1.0"},
            {"info", json::object{{"title", title}, {"version", version}}},
            {"paths", std::move(paths)},
            {"components", json::object{{"schemas", json::object{{"Problem", problem_schema()}}}}}};
}

}  // namespace kiln::http
