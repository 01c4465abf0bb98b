#include <gtest/gtest.h>

#include "db/migrate.hpp"

namespace kiln::db {
namespace {

TEST(Migrations, OrderedByVersionWithChecksums) {
    const core::EmbeddedFile files[] = {{"0002_b.sql", "SELECT 2"}, {"0001_a.sql", "SELECT 1"}};
    const auto m = load_migrations(files);
    ASSERT_EQ(m.size(), 2U);
    EXPECT_EQ(m[0].version, 1);
    EXPECT_EQ(m[1].name, "0002_b.sql");
    EXPECT_EQ(m[0].checksum, sha256_hex("SELECT 1"));
    EXPECT_EQ(latest_version(m), 2);
}

TEST(Migrations, BadNamesAndDuplicatesAreRefused) {
    const core::EmbeddedFile bad[] = {{"1_a.sql", ""}};
    EXPECT_THROW(load_migrations(bad), MigrationError);
    const core::EmbeddedFile no_ext[] = {{"0001_a.txt", ""}};
    EXPECT_THROW(load_migrations(no_ext), MigrationError);
    const core::EmbeddedFile dup[] = {{"0001_a.sql", ""}, {"0001_b.sql", ""}};
    EXPECT_THROW(load_migrations(dup), MigrationError);
}

TEST(Migrations, EmbeddedSetIsValid) {
    const auto m = embedded_migrations();
    ASSERT_FALSE(m.empty());
    EXPECT_EQ(m.front().version, 1);
    for (const auto& migration : m) EXPECT_FALSE(migration.sql.empty()) << migration.name;
}

TEST(Migrations, Sha256KnownAnswer) {
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace kiln::db
