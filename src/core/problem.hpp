#pragma once
// Problem is how a request is aborted: the router turns it into RFC 9457 problem+json.
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::core {

struct FieldError {
    std::string field;
    std::string message;
};

class Problem : public std::runtime_error {
public:
    Problem(int status, std::string title, std::string detail = {}, std::string type = {});

    static Problem bad_request(std::string detail);
    static Problem not_found(std::string detail = {});
    static Problem validation(std::vector<FieldError> errors);
    static Problem unavailable(std::string detail);
    // 401 with `WWW-Authenticate: Bearer`.
    static Problem unauthorized(std::string detail);
    static Problem forbidden(std::string detail);
    static Problem conflict(std::string detail);
    // 402: the workspace's plan does not allow more of `limit` ("members", "api_keys", …),
    // named in the body's `limit` member so that a client can tell which.
    // `status` 413 when the request itself is what is too large for the plan (a file).
    static Problem plan_limit(std::string limit, std::string detail, int status = 402);

    int status() const noexcept { return status_; }
    const std::string& title() const noexcept { return title_; }
    const std::string& detail() const noexcept { return detail_; }
    // A URI naming the problem type; "about:blank" when the status says it all.
    const std::string& type() const noexcept { return type_; }
    const std::vector<FieldError>& errors() const noexcept { return errors_; }
    // Extension members of the body (RFC 9457 §3.2), string-valued.
    const std::vector<std::pair<std::string, std::string>>& extensions() const noexcept { return extensions_; }

    Problem& with_errors(std::vector<FieldError> errors);
    // For `throw Problem(…).with_header(…)`: returns the problem itself, by value.
    Problem with_header(std::string name, std::string value) &&;
    Problem& add_header(std::string name, std::string value);
    const std::vector<std::pair<std::string, std::string>>& headers() const noexcept { return headers_; }

private:
    int status_;
    std::string title_;
    std::string detail_;
    std::string type_;
    std::vector<FieldError> errors_;
    std::vector<std::pair<std::string, std::string>> headers_;
    std::vector<std::pair<std::string, std::string>> extensions_;
};

// A dependency (the database, the CPU pool) cannot serve now: answered 503 with Retry-After.
class Unavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Collects per-field errors so a request reports all of them at once.
class Validator {
public:
    void require(bool ok, std::string field, std::string message);
    void add(std::string field, std::string message);
    bool ok() const noexcept { return errors_.empty(); }
    const std::vector<FieldError>& errors() const noexcept { return errors_; }
    // Throws a 422 Problem when any check failed.
    void throw_if_failed();

private:
    std::vector<FieldError> errors_;
};

// A caught exception's message for a log line or a recorded error ("unknown error" when it is
// not a std::exception).
std::string describe(const std::exception_ptr& e);

}  // namespace kiln::core
