#pragma once
// Every integration test gets a fresh database cloned from the migrated template
// (KILN_TEST_TEMPLATE), reached with the same configuration keys the server uses.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "auth/model.hpp"
#include "core/config.hpp"
#include "core/problem.hpp"
#include "core/thread_pool.hpp"
#include "db/pool.hpp"
#include "support/run.hpp"

namespace kiln::testing {

// A member of a workspace as a service call sees them (seed them with StoreTest::seed_member).
struct Person {
    core::Uuid user = core::Uuid::v7();
    core::Uuid session = core::Uuid::v7();
    core::Uuid workspace;
    const char* role = "";
    auth::Principal principal() const { return {user, workspace, session, role}; }
};

// A blocking libpq connection for setup and inspection (never used by code under test).
class AdminConnection {
public:
    explicit AdminConnection(const std::string& conninfo);
    ~AdminConnection();
    AdminConnection(const AdminConnection&) = delete;
    AdminConnection& operator=(const AdminConnection&) = delete;
    // Runs SQL (several statements allowed); fails the test on error. Returns the first cell of the last result.
    std::string exec(const std::string& sql);

private:
    PGconn* conn_;
};

class PgTest : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;

    // The server's view: the application role, on this test's database.
    core::DatabaseConfig db_config() const { return config_.database; }
    std::string app_conninfo() const { return core::conninfo(config_.database, false); }
    std::string owner_conninfo() const { return core::conninfo(config_.database, true); }
    db::PoolOptions pool_options(bool pipeline = true, unsigned max_size = 4) const;
    // The cluster's superuser on this test's database: sees every row whatever the policies,
    // for seeding and checking what the application role must not see.
    std::string superuser_conninfo() const { return maintenance_conninfo(database_); }
    // Creates another empty database (from template0) and returns its name; dropped in TearDown.
    std::string create_empty_database();

    // A user with a live session, member of `workspace` with `role` (the workspace made too),
    // written as the superuser.
    void seed_member(const core::Uuid& user, const core::Uuid& workspace, const core::Uuid& session,
                     const std::string& role);

    template <typename T>
    T run(boost::asio::awaitable<T> task) {
        return kiln::testing::run(io_, std::move(task));
    }

    core::Config config_;
    std::string database_;
    std::vector<std::string> extra_databases_;
    core::ThreadPool blocking_{2};
    boost::asio::io_context io_;

private:
    std::string maintenance_conninfo(const std::string& database = "postgres") const;
};

// The HTTP status a service or store call ends with: 200, or its Problem's.
template <typename T>
boost::asio::awaitable<int> status_of(boost::asio::awaitable<T> call) {
    try {
        co_await std::move(call);
        co_return 200;
    } catch (const core::Problem& p) {
        co_return p.status();
    }
}

// A PgTest with a pool of the application role and a store of type S on it.
template <typename S>
class StoreTest : public PgTest {
protected:
    void SetUp() override {
        PgTest::SetUp();
        pool_ = std::make_unique<db::Pool>(pool_options(true, 2), blocking_);
        store_ = std::make_unique<S>(*pool_);
    }
    void TearDown() override {
        store_.reset();
        pool_.reset();
        PgTest::TearDown();
    }

    std::unique_ptr<db::Pool> pool_;
    std::unique_ptr<S> store_;
};

}  // namespace kiln::testing
