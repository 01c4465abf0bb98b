#pragma once
// Forward-only migrations embedded in the binary (migrations/NNNN_name.sql), applied in order
// under an advisory lock, each recorded with its SHA-256; a changed applied migration is refused.
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/embedded.hpp"

namespace kiln::db {

struct Migration {
    int version = 0;
    std::string name;
    std::string sql;
    std::string checksum;  // hex SHA-256 of sql
};

class MigrationError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Parses and orders embedded files; throws MigrationError for a bad name or a duplicate version.
std::vector<Migration> load_migrations(std::span<const core::EmbeddedFile> files);
std::vector<Migration> embedded_migrations();
int latest_version(const std::vector<Migration>& migrations);

struct MigrateReport {
    std::vector<std::string> applied;  // names applied by this call
    int current = 0;                   // version after the call
};

// Connects with `owner_conninfo` (the role that owns the schema) and applies what is missing.
// `app_role` is granted use of the tables the migrations create; it must exist.
MigrateReport migrate(const std::string& owner_conninfo, const std::string& app_role,
                      const std::vector<Migration>& migrations);

std::string sha256_hex(std::string_view data);

}  // namespace kiln::db
