#include "core/problem.hpp"

#include <utility>

namespace kiln::core {

Problem::Problem(int status, std::string title, std::string detail, std::string type)
    : std::runtime_error(title),
      status_(status),
      title_(std::move(title)),
      detail_(std::move(detail)),
      type_(type.empty() ? "about:blank" : std::move(type)) {}

Problem Problem::bad_request(std::string detail) {
    return {400, "Bad Request", std::move(detail)};
}

Problem Problem::not_found(std::string detail) {
    return {404, "Not Found", std::move(detail)};
}

Problem Problem::validation(std::vector<FieldError> errors) {
    Problem p(422, "Unprocessable Content", "The request has invalid fields.", "https://kiln.dev/problems/validation");
    p.errors_ = std::move(errors);
    return p;
}

Problem Problem::unavailable(std::string detail) {
    return {503, "Service Unavailable", std::move(detail)};
}

// g++ 12 reports false -Warray-bounds / -Wstringop-overread when a short (SSO) string is moved into the header
// pair once this is inlined (GCC bug 105651 family).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif
Problem Problem::unauthorized(std::string detail) {
    Problem p(401, "Unauthorized", std::move(detail));
    p.add_header("WWW-Authenticate", "Bearer");
    return p;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

Problem Problem::forbidden(std::string detail) {
    return {403, "Forbidden", std::move(detail)};
}

Problem Problem::conflict(std::string detail) {
    return {409, "Conflict", std::move(detail)};
}

Problem Problem::plan_limit(std::string limit, std::string detail, int status) {
    Problem p(status, "Plan Limit Reached", std::move(detail), "https://kiln.dev/problems/plan-limit");
    p.extensions_.emplace_back("limit", std::move(limit));
    return p;
}

Problem& Problem::with_errors(std::vector<FieldError> errors) {
    errors_ = std::move(errors);
    return *this;
}

Problem Problem::with_header(std::string name, std::string value) && {
    headers_.emplace_back(std::move(name), std::move(value));
    return std::move(*this);
}

Problem& Problem::add_header(std::string name, std::string value) {
    headers_.emplace_back(std::move(name), std::move(value));
    return *this;
}

void Validator::require(bool ok, std::string field, std::string message) {
    if (!ok) add(std::move(field), std::move(message));
}

void Validator::add(std::string field, std::string message) {
    errors_.push_back({std::move(field), std::move(message)});
}

void Validator::throw_if_failed() {
    if (!errors_.empty()) throw Problem::validation(std::move(errors_));
}

std::string describe(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "unknown error";
    }
}

}  // namespace kiln::core
