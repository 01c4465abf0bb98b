// Transactions, the tenant scope and row-level security as the application role sees them.
#include "db/transaction.hpp"
#include "pg_fixture.hpp"

namespace asio = boost::asio;

namespace kiln::db {
namespace {

using kiln::testing::AdminConnection;

class TransactionTest : public kiln::testing::PgTest, public ::testing::WithParamInterface<bool> {
protected:
    void SetUp() override {
        PgTest::SetUp();
        // A tenant table made the way migrations make them: RLS enabled and forced, policy on the setting.
        AdminConnection owner(owner_conninfo());
        owner.exec(R"sql(
            CREATE TABLE notes (
                workspace_id uuid NOT NULL DEFAULT kiln_current_workspace(),
                id bigint GENERATED ALWAYS AS IDENTITY,
                body text NOT NULL,
                PRIMARY KEY (workspace_id, id));
            INSERT INTO notes (workspace_id, body) VALUES
                ('0190a2b4-0000-7000-8000-00000000000a', 'a1'), ('0190a2b4-0000-7000-8000-00000000000a', 'a2'),
                ('0190a2b4-0000-7000-8000-00000000000b', 'b1');
            ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
            ALTER TABLE notes FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant ON notes USING (workspace_id = kiln_current_workspace())
                WITH CHECK (workspace_id = kiln_current_workspace());
        )sql");
        pool_ = std::make_unique<Pool>(pool_options(GetParam()), blocking_);
    }
    void TearDown() override {
        pool_.reset();
        PgTest::TearDown();
    }

    std::unique_ptr<Pool> pool_;
};

INSTANTIATE_TEST_SUITE_P(Pipeline, TransactionTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "pipelined" : "serial"; });

const TenantScope kTenantA{core::Uuid::parse("0190a2b4-0000-7000-8000-00000000000a"),
                           core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000ff")};
const TenantScope kTenantB{core::Uuid::parse("0190a2b4-0000-7000-8000-00000000000b"), std::nullopt};

asio::awaitable<std::int64_t> count_notes(Pool* pool, TenantScope scope) {
    auto r = co_await run(*pool, scope, "SELECT count(*) FROM notes");
    co_return r.int64(0, 0);
}

TEST_P(TransactionTest, RowLevelSecurityIsolatesTenants) {
    EXPECT_EQ(run(count_notes(pool_.get(), kTenantA)), 2);
    EXPECT_EQ(run(count_notes(pool_.get(), kTenantB)), 1);
    // No scope: no rows, even without any WHERE clause.
    EXPECT_EQ(run(count_notes(pool_.get(), {})), 0);
}

asio::awaitable<std::string> insert_elsewhere(Pool* pool) {
    try {
        co_await run(*pool, kTenantA, "INSERT INTO notes (workspace_id, body) VALUES ($1, 'sneaky')",
                     params(kTenantB.workspace_id));
    } catch (const Error& e) {
        co_return e.sqlstate();
    }
    co_return "inserted";
}

TEST_P(TransactionTest, CannotWriteIntoAnotherTenant) {
    EXPECT_EQ(run(insert_elsewhere(pool_.get())), "42501");
    EXPECT_EQ(run(count_notes(pool_.get(), kTenantB)), 1);
}

asio::awaitable<std::string> settings_inside_and_after(Pool* pool) {
    auto inside = co_await transaction(*pool, kTenantA, [](Transaction& tx) -> asio::awaitable<std::string> {
        auto r = co_await tx.query(
            "SELECT current_setting('kiln.workspace_id', true) || ' ' || current_setting('kiln.user_id', true)");
        co_return r.str(0, 0);
    });
    // set_config(…, true) ends with the transaction: the same pooled connection carries nothing over.
    auto after = co_await pool->query("SELECT coalesce(current_setting('kiln.workspace_id', true), '')");
    co_return inside + " | [" + after.str(0, 0) + "]";
}

TEST_P(TransactionTest, TenantSettingsAreTransactionLocal) {
    auto pool = std::make_unique<Pool>(pool_options(GetParam(), 1), blocking_);
    EXPECT_EQ(run(settings_inside_and_after(pool.get())),
              "0190a2b4-0000-7000-8000-00000000000a 0190a2b4-0000-7000-8000-0000000000ff | []");
}

asio::awaitable<std::int64_t> commit_two(Pool* pool) {
    co_await transaction(*pool, kTenantA, [](Transaction& tx) -> asio::awaitable<void> {
        co_await tx.query("INSERT INTO notes (body) VALUES ('a3')");
        co_await tx.query("INSERT INTO notes (body) VALUES ('a4')");
    });
    co_return co_await count_notes(pool, kTenantA);
}

TEST_P(TransactionTest, CommitsWhenTheBodyReturns) {
    EXPECT_EQ(run(commit_two(pool_.get())), 4);
}

asio::awaitable<std::string> rollback_on_throw(Pool* pool) {
    std::string what;
    try {
        co_await transaction(*pool, kTenantA, [](Transaction& tx) -> asio::awaitable<void> {
            co_await tx.query("INSERT INTO notes (body) VALUES ('lost')");
            throw std::runtime_error("business rule failed");
        });
    } catch (const std::runtime_error& e) {
        what = e.what();
    }
    auto n = co_await count_notes(pool, kTenantA);
    co_return what + " " + std::to_string(n);
}

TEST_P(TransactionTest, RollsBackWhenTheBodyThrows) {
    EXPECT_EQ(run(rollback_on_throw(pool_.get())), "business rule failed 2");
    EXPECT_EQ(pool_->stats().size, pool_->stats().size - pool_->stats().in_use) << "connection returned to the pool";
}

asio::awaitable<std::string> failed_statement_rolls_back(Pool* pool) {
    std::string state;
    try {
        co_await transaction(*pool, kTenantA, [](Transaction& tx) -> asio::awaitable<void> {
            co_await tx.query("INSERT INTO notes (body) VALUES ('lost too')");
            co_await tx.query("INSERT INTO notes (body) VALUES (NULL)");
        });
    } catch (const Error& e) {
        state = e.sqlstate();
    }
    auto n = co_await count_notes(pool, kTenantA);
    co_return state + " " + std::to_string(n);
}

TEST_P(TransactionTest, FailedStatementRollsBackAndKeepsTheConnection) {
    Pool pool(pool_options(GetParam(), 1), blocking_);
    EXPECT_EQ(run(failed_statement_rolls_back(&pool)), "23502 2");
    EXPECT_EQ(pool.stats().size, 1U);
}

asio::awaitable<std::string> single_round_trip_failure(Pool* pool) {
    std::string state;
    try {
        co_await run(*pool, kTenantA, "INSERT INTO notes (body) VALUES (NULL)");
    } catch (const Error& e) {
        state = e.sqlstate();
    }
    auto n = co_await count_notes(pool, kTenantA);
    co_return state + " " + std::to_string(n);
}

TEST_P(TransactionTest, OneRoundTripStatementFailureLeavesNothingOpen) {
    Pool pool(pool_options(GetParam(), 1), blocking_);
    EXPECT_EQ(run(single_round_trip_failure(&pool)), "23502 2");
    EXPECT_EQ(pool.stats().size, 1U);
}

asio::awaitable<std::string> role_facts(Pool* pool) {
    auto r = co_await pool->query(R"sql(
        SELECT rolsuper::text || rolbypassrls::text || rolcreaterole::text || rolcreatedb::text,
               (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
               + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)
               + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)
        FROM pg_roles r WHERE rolname = current_user)sql");
    co_return r.str(0, 0) + " owns " + r.str(0, 1);
}

TEST_P(TransactionTest, ApplicationRoleOwnsNothingAndCannotBypassRls) {
    EXPECT_EQ(run(role_facts(pool_.get())), "falsefalsefalsefalse owns 0");
}

asio::awaitable<std::string> ddl_as_app(Pool* pool) {
    try {
        co_await pool->query("ALTER TABLE notes DISABLE ROW LEVEL SECURITY");
    } catch (const Error& e) {
        co_return e.sqlstate();
    }
    co_return "altered";
}

TEST_P(TransactionTest, ApplicationRoleCannotTurnOffRls) {
    EXPECT_EQ(run(ddl_as_app(pool_.get())), "42501");
}

}  // namespace
}  // namespace kiln::db
