#pragma once
#include <stdexcept>
#include <string>

#include "core/problem.hpp"

namespace kiln::db {

// The server rejected a statement; `sqlstate` says why (23505 unique violation, 40001 serialization…).
class Error : public std::runtime_error {
public:
    Error(std::string sqlstate, const std::string& message)
        : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
    const std::string& sqlstate() const noexcept { return sqlstate_; }

private:
    std::string sqlstate_;
};

// The database could not be reached, the connection broke, a deadline passed or the pool was
// exhausted: the request can be retried later (503), the process carries on.
class Unavailable : public core::Unavailable {
public:
    using core::Unavailable::Unavailable;
};

}  // namespace kiln::db
