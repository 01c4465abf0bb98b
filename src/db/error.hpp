#pragma once
#include <stdexcept>
#include <string>

#include "core/problem.hpp"

namespace kiln::db {

// The server rejected a statement; `sqlstate` says why (23505 unique violation, 40001 serialization…).
class Error : public std::runtime_error {
public:
    Error(std::string sqlstate, const std::string& message, std::string constraint = {}, std::string detail = {},
          std::string primary = {})
        : std::runtime_error(message),
          sqlstate_(std::move(sqlstate)),
          constraint_(std::move(constraint)),
          detail_(std::move(detail)),
          primary_(std::move(primary)) {}
    const std::string& sqlstate() const noexcept { return sqlstate_; }
    // The violated constraint's name (unique, check, foreign key), when there is one.
    const std::string& constraint() const noexcept { return constraint_; }
    // The server's DETAIL line; our own functions put machine-readable values there.
    const std::string& detail() const noexcept { return detail_; }
    // The server's message alone (what() adds the statement it came from).
    const std::string& primary() const noexcept { return primary_; }

private:
    std::string sqlstate_;
    std::string constraint_;
    std::string detail_;
    std::string primary_;
};

// The database could not be reached, the connection broke, a deadline passed or the pool was
// exhausted: the request can be retried later (503), the process carries on.
class Unavailable : public core::Unavailable {
public:
    using core::Unavailable::Unavailable;
};

}  // namespace kiln::db
