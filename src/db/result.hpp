#pragma once
// An owned PGresult with typed accessors; values are in text format.
#include <libpq-fe.h>

#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/uuid.hpp"

namespace kiln::db {

class Result {
public:
    Result() = default;
    explicit Result(PGresult* r) : res_(r) {}

    int rows() const { return res_ ? PQntuples(res_.get()) : 0; }
    int columns() const { return res_ ? PQnfields(res_.get()) : 0; }
    bool empty() const { return rows() == 0; }
    std::int64_t affected() const;
    bool is_null(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }
    std::string_view text(int row, int col) const {
        return {PQgetvalue(res_.get(), row, col), static_cast<std::size_t>(PQgetlength(res_.get(), row, col))};
    }
    std::string str(int row, int col) const { return std::string(text(row, col)); }
    std::int64_t int64(int row, int col) const;
    bool boolean(int row, int col) const { return text(row, col) == "t"; }
    core::Uuid uuid(int row, int col) const;
    std::optional<std::string> opt_str(int row, int col) const {
        if (is_null(row, col)) return std::nullopt;
        return str(row, col);
    }
    PGresult* raw() const { return res_.get(); }

private:
    struct Clear {
        void operator()(PGresult* r) const { PQclear(r); }
    };
    std::unique_ptr<PGresult, Clear> res_;
};

inline std::int64_t Result::int64(int row, int col) const {
    auto t = text(row, col);
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc{} || p != t.data() + t.size()) throw std::runtime_error("column is not an integer");
    return v;
}

inline std::int64_t Result::affected() const {
    const char* n = res_ ? PQcmdTuples(res_.get()) : "";
    std::int64_t v = 0;
    std::from_chars(n, n + std::char_traits<char>::length(n), v);
    return v;
}

inline core::Uuid Result::uuid(int row, int col) const {
    auto id = core::Uuid::parse(text(row, col));
    if (!id) throw std::runtime_error("column is not a uuid");
    return *id;
}

}  // namespace kiln::db
