// The migration runner against real databases: once only, checksums, concurrency, grants.
#include <fmt/format.h>

#include <thread>

#include "db/migrate.hpp"
#include "pg_fixture.hpp"

namespace kiln::db {
namespace {

using kiln::testing::AdminConnection;

class MigrateTest : public kiln::testing::PgTest {
protected:
    std::string owner_on(const std::string& db) const { return core::conninfo(config_.database, true, db); }
    std::string app_on(const std::string& db) const { return core::conninfo(config_.database, false, db); }
};

std::vector<Migration> sample(const std::string& second_sql = "INSERT INTO counter VALUES (1);") {
    static std::string second;
    second = second_sql;
    const core::EmbeddedFile files[] = {
        {"0001_counter.sql", "CREATE TABLE counter (n int NOT NULL);"},
        {"0002_count.sql", second},
    };
    return load_migrations(files);
}

TEST_F(MigrateTest, AppliesPendingOnceAndRecordsChecksums) {
    const auto db = create_empty_database();
    auto first = migrate(owner_on(db), config_.database.user, sample());
    EXPECT_EQ(first.applied, (std::vector<std::string>{"0001_counter.sql", "0002_count.sql"}));
    EXPECT_EQ(first.current, 2);
    auto second = migrate(owner_on(db), config_.database.user, sample());
    EXPECT_TRUE(second.applied.empty());
    AdminConnection owner(owner_on(db));
    EXPECT_EQ(owner.exec("SELECT count(*) FROM counter"), "1");
    EXPECT_EQ(owner.exec("SELECT checksum FROM kiln_migrations WHERE version = 1"),
              sha256_hex("CREATE TABLE counter (n int NOT NULL);"));
}

TEST_F(MigrateTest, ChangedAppliedMigrationIsRefused) {
    const auto db = create_empty_database();
    migrate(owner_on(db), config_.database.user, sample());
    try {
        migrate(owner_on(db), config_.database.user, sample("INSERT INTO counter VALUES (2);"));
        FAIL() << "expected MigrationError";
    } catch (const MigrationError& e) {
        EXPECT_NE(std::string(e.what()).find("0002_count.sql was changed"), std::string::npos) << e.what();
    }
}

TEST_F(MigrateTest, FailedMigrationLeavesNothingHalfApplied) {
    const auto db = create_empty_database();
    EXPECT_THROW(migrate(owner_on(db), config_.database.user, sample("INSERT INTO counter VALUES (1); SELECT 1/0;")),
                 MigrationError);
    AdminConnection owner(owner_on(db));
    EXPECT_EQ(owner.exec("SELECT count(*) FROM kiln_migrations"), "1");
    EXPECT_EQ(owner.exec("SELECT count(*) FROM counter"), "0");
}

TEST_F(MigrateTest, ConcurrentRunnersApplyEachMigrationOnce) {
    const auto db = create_empty_database();
    const auto migrations = sample();
    std::vector<std::thread> runners;
    runners.reserve(4);
    std::atomic<int> failures{0};
    for (int i = 0; i < 4; ++i) {
        runners.emplace_back([&] {
            try {
                migrate(owner_on(db), config_.database.user, migrations);
            } catch (const std::exception&) {
                failures.fetch_add(1);
            }
        });
    }
    for (auto& t : runners) t.join();
    EXPECT_EQ(failures.load(), 0);
    AdminConnection owner(owner_on(db));
    EXPECT_EQ(owner.exec("SELECT count(*) FROM counter"), "1");
    EXPECT_EQ(owner.exec("SELECT count(*) FROM kiln_migrations"), "2");
}

TEST_F(MigrateTest, ApplicationRoleGetsDataAccessNotDdl) {
    const auto db = create_empty_database();
    migrate(owner_on(db), config_.database.user, sample());
    AdminConnection app(app_on(db));
    EXPECT_EQ(app.exec("SELECT count(*) FROM counter"), "1");
    EXPECT_EQ(app.exec("SELECT max(version)::text FROM kiln_migrations"), "2");
    EXPECT_EQ(app.exec(R"sql(SELECT has_table_privilege('kiln_migrations', 'INSERT')::text
                             || has_schema_privilege('public', 'CREATE')::text)sql"),
              "falsefalse");
}

TEST_F(MigrateTest, RefusesAMissingApplicationRole) {
    const auto db = create_empty_database();
    EXPECT_THROW(migrate(owner_on(db), "no_such_role_kiln", sample()), MigrationError);
}

TEST_F(MigrateTest, EmbeddedMigrationsAreCurrentInTheTemplate) {
    AdminConnection app(app_conninfo());
    EXPECT_EQ(app.exec("SELECT max(version)::text FROM kiln_migrations"),
              std::to_string(latest_version(embedded_migrations())));
}

}  // namespace
}  // namespace kiln::db
