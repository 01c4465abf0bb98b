// Tenant isolation as PostgreSQL enforces it, table by table, for every table there is: new
// tables are covered without touching this file (a table with no seed row fails by name).
#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>

#include "db/transaction.hpp"
#include "pg_fixture.hpp"

namespace asio = boost::asio;

namespace kiln::db {
namespace {

using kiln::testing::AdminConnection;

constexpr const char* kUserA = "0190a2b4-0000-7000-8000-0000000000a1";
constexpr const char* kWorkspaceA = "0190a2b4-0000-7000-8000-0000000000a0";
constexpr const char* kWorkspaceB = "0190a2b4-0000-7000-8000-0000000000b0";

// One row per tenant table in each workspace, written as the superuser (past every policy).
// A migration that adds a tenant table adds its seed rows here.
constexpr const char* kSeed = R"sql(
INSERT INTO users (id, email, name, password_hash) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a1', 'a@example.com', 'A', 'x'),
    ('0190a2b4-0000-7000-8000-0000000000b1', 'b@example.com', 'B', 'x');
INSERT INTO workspaces (id, name) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', 'A'), ('0190a2b4-0000-7000-8000-0000000000b0', 'B');
INSERT INTO memberships (workspace_id, user_id, role) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', '0190a2b4-0000-7000-8000-0000000000a1', 'owner'),
    ('0190a2b4-0000-7000-8000-0000000000b0', '0190a2b4-0000-7000-8000-0000000000b1', 'owner');
INSERT INTO audit_events (workspace_id, id, action) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', '0190a2b4-0000-7000-8000-0000000000a2', 'seed'),
    ('0190a2b4-0000-7000-8000-0000000000b0', '0190a2b4-0000-7000-8000-0000000000b2', 'seed');
INSERT INTO auth_sessions (id, user_id, active_workspace_id, expires_at) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a3', '0190a2b4-0000-7000-8000-0000000000a1',
     '0190a2b4-0000-7000-8000-0000000000a0', now() + interval '1 day'),
    ('0190a2b4-0000-7000-8000-0000000000b3', '0190a2b4-0000-7000-8000-0000000000b1',
     '0190a2b4-0000-7000-8000-0000000000b0', now() + interval '1 day');
INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at) VALUES
    (sha256('a'), '0190a2b4-0000-7000-8000-0000000000a3', '0190a2b4-0000-7000-8000-0000000000a1', now() + interval '1 day'),
    (sha256('b'), '0190a2b4-0000-7000-8000-0000000000b3', '0190a2b4-0000-7000-8000-0000000000b1', now() + interval '1 day');
INSERT INTO auth_throttle (key, failures) VALUES ('login:account:b@example.com', 3);
INSERT INTO api_keys (workspace_id, id, name, prefix, key_hash, role, created_by) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', '0190a2b4-0000-7000-8000-0000000000a4', 'A', 'aaaaaaaaaaaa',
     sha256('ka'), 'member', '0190a2b4-0000-7000-8000-0000000000a1'),
    ('0190a2b4-0000-7000-8000-0000000000b0', '0190a2b4-0000-7000-8000-0000000000b4', 'B', 'bbbbbbbbbbbb',
     sha256('kb'), 'member', '0190a2b4-0000-7000-8000-0000000000b1');
INSERT INTO invitations (workspace_id, id, email, role, token_hash, expires_at) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', '0190a2b4-0000-7000-8000-0000000000a4', 'x@example.com', 'member',
     sha256('invite-a'), now() + interval '1 day'),
    ('0190a2b4-0000-7000-8000-0000000000b0', '0190a2b4-0000-7000-8000-0000000000b4', 'x@example.com', 'member',
     sha256('invite-b'), now() + interval '1 day');
INSERT INTO user_tokens (token_hash, user_id, purpose, email, expires_at) VALUES
    (sha256('ta'), '0190a2b4-0000-7000-8000-0000000000a1', 'email_verify', 'a@example.com', now() + interval '1 day'),
    (sha256('tb'), '0190a2b4-0000-7000-8000-0000000000b1', 'email_verify', 'b@example.com', now() + interval '1 day');
INSERT INTO mail_outbox (id, recipient, subject, body) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a5', 'a@example.com', 'A', 'token a');
INSERT INTO jobs (workspace_id, id, kind, state, max_attempts, timeout_ms) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', '0190a2b4-0000-7000-8000-0000000000a5', 'system.sleep', 'available', 1, 1000),
    ('0190a2b4-0000-7000-8000-0000000000b0', '0190a2b4-0000-7000-8000-0000000000b5', 'system.sleep', 'available', 1, 1000);
INSERT INTO realtime_tickets (workspace_id, token_hash, user_id, credential_id, api_key, role, expires_at) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', sha256('ra'), '0190a2b4-0000-7000-8000-0000000000a1',
     '0190a2b4-0000-7000-8000-0000000000a3', false, 'owner', now() + interval '1 minute'),
    ('0190a2b4-0000-7000-8000-0000000000b0', sha256('rb'), '0190a2b4-0000-7000-8000-0000000000b1',
     '0190a2b4-0000-7000-8000-0000000000b3', false, 'owner', now() + interval '1 minute');
INSERT INTO job_effects (workspace_id, job_id, attempt) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', '0190a2b4-0000-7000-8000-0000000000a5', 1),
    ('0190a2b4-0000-7000-8000-0000000000b0', '0190a2b4-0000-7000-8000-0000000000b5', 1);
INSERT INTO files (workspace_id, id, name, content_type, declared_type, storage_key, status, created_by) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', '0190a2b4-0000-7000-8000-0000000000a6', 'a', '', '', 'ws/a/files/a',
     'uploading', '0190a2b4-0000-7000-8000-0000000000a1'),
    ('0190a2b4-0000-7000-8000-0000000000b0', '0190a2b4-0000-7000-8000-0000000000b6', 'b', '', '', 'ws/b/files/b',
     'uploading', '0190a2b4-0000-7000-8000-0000000000b1');
INSERT INTO workspace_usage (workspace_id, bytes_stored, files) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', 1, 1), ('0190a2b4-0000-7000-8000-0000000000b0', 2, 1);
INSERT INTO tus_uploads (workspace_id, id, length, name, declared_type, created_by, expires_at) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', '0190a2b4-0000-7000-8000-0000000000a7', 10, 'a', '',
     '0190a2b4-0000-7000-8000-0000000000a1', now() + interval '1 day'),
    ('0190a2b4-0000-7000-8000-0000000000b0', '0190a2b4-0000-7000-8000-0000000000b7', 10, 'b', '',
     '0190a2b4-0000-7000-8000-0000000000b1', now() + interval '1 day');
INSERT INTO storage_connections (workspace_id, id, name, endpoint, region, bucket, access_key_id, secret_nonce,
                                 secret_ciphertext) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', '0190a2b4-0000-7000-8000-0000000000a6', 'A', 'https://s3.example.com',
     'us-east-1', 'bucket-a', 'KA', decode(repeat('00', 24), 'hex'), decode(repeat('11', 20), 'hex')),
    ('0190a2b4-0000-7000-8000-0000000000b0', '0190a2b4-0000-7000-8000-0000000000b6', 'B', 'https://s3.example.com',
     'us-east-1', 'bucket-b', 'KB', decode(repeat('00', 24), 'hex'), decode(repeat('22', 20), 'hex'));
INSERT INTO upload_projects (workspace_id, id, name, storage_connection_id) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', '0190a2b4-0000-7000-8000-0000000000a7', 'A',
     '0190a2b4-0000-7000-8000-0000000000a6'),
    ('0190a2b4-0000-7000-8000-0000000000b0', '0190a2b4-0000-7000-8000-0000000000b7', 'B',
     '0190a2b4-0000-7000-8000-0000000000b6');
INSERT INTO upload_cycles (workspace_id, id, project_id, cycle_name, cycle_number) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', '0190a2b4-0000-7000-8000-0000000000a8',
     '0190a2b4-0000-7000-8000-0000000000a7', 'A', 1),
    ('0190a2b4-0000-7000-8000-0000000000b0', '0190a2b4-0000-7000-8000-0000000000b8',
     '0190a2b4-0000-7000-8000-0000000000b7', 'B', 1);
INSERT INTO upload_sync_sessions (workspace_id, id, project_id, cycle_id) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', '0190a2b4-0000-7000-8000-0000000000a9',
     '0190a2b4-0000-7000-8000-0000000000a7', '0190a2b4-0000-7000-8000-0000000000a8'),
    ('0190a2b4-0000-7000-8000-0000000000b0', '0190a2b4-0000-7000-8000-0000000000b9',
     '0190a2b4-0000-7000-8000-0000000000b7', '0190a2b4-0000-7000-8000-0000000000b8');
INSERT INTO upload_files (workspace_id, id, session_id, relative_path, object_key) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', '0190a2b4-0000-7000-8000-0000000000aa',
     '0190a2b4-0000-7000-8000-0000000000a9', 'a.tif', 'a/a.tif'),
    ('0190a2b4-0000-7000-8000-0000000000b0', '0190a2b4-0000-7000-8000-0000000000ba',
     '0190a2b4-0000-7000-8000-0000000000b9', 'b.tif', 'b/b.tif');
INSERT INTO upload_object_hashes (workspace_id, etag, size_bytes, sha256) VALUES
    ('0190a2b4-0000-7000-8000-0000000000a0', '"a-2"', 5242880, repeat('a', 64)),
    ('0190a2b4-0000-7000-8000-0000000000b0', '"b-2"', 5242880, repeat('b', 64));
)sql";

class IsolationTest : public kiln::testing::PgTest {
protected:
    void SetUp() override {
        PgTest::SetUp();
        AdminConnection su(superuser_conninfo());
        su.exec(kSeed);
        pool_ = std::make_unique<Pool>(pool_options(true, 2), blocking_);
    }
    void TearDown() override {
        pool_.reset();
        PgTest::TearDown();
    }

    // Tables of the public schema, but for the migration ledger.
    std::vector<std::string> tables(const char* where) {
        AdminConnection su(superuser_conninfo());
        auto list = su.exec(fmt::format(R"sql(
            SELECT coalesce(string_agg(c.relname, ',' ORDER BY c.relname), '')
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'kiln_migrations' AND {})sql",
                                        where));
        std::vector<std::string> out;
        for (std::size_t start = 0; start < list.size();) {
            auto end = list.find(',', start);
            if (end == std::string::npos) end = list.size();
            out.push_back(list.substr(start, end - start));
            start = end + 1;
        }
        return out;
    }

    std::unique_ptr<Pool> pool_;
};

TEST_F(IsolationTest, EveryTableHasRowLevelSecurityEnabledAndForced) {
    const auto all = tables("true");
    ASSERT_FALSE(all.empty());
    const auto unprotected = tables("NOT (c.relrowsecurity AND c.relforcerowsecurity)");
    EXPECT_TRUE(unprotected.empty()) << "tables without forced RLS: "
                                     << fmt::format("{}", fmt::join(unprotected, ", "));
}

asio::awaitable<std::string> run_as(Pool* pool, TenantScope scope, std::string sql, Params p) {
    try {
        auto r = co_await run(*pool, scope, sql, std::move(p));
        co_return r.empty() ? std::string() : r.str(0, 0);
    } catch (const Error& e) {
        co_return "error " + e.sqlstate();
    }
}

TEST_F(IsolationTest, NoTenantTableShowsOrTakesAnotherWorkspacesRows) {
    const auto tenant_tables = tables(R"(EXISTS (SELECT 1 FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped))");
    ASSERT_FALSE(tenant_tables.empty());
    const TenantScope in_a{.workspace_id = core::Uuid::parse(kWorkspaceA), .user_id = core::Uuid::parse(kUserA)};
    AdminConnection su(superuser_conninfo());
    for (const auto& t : tenant_tables) {
        SCOPED_TRACE(t);
        // The superuser sees B's seed row; the application role in A sees none of B's rows,
        // with no WHERE clause at all.
        const auto b_row = su.exec(
            fmt::format("SELECT row_to_json(x)::text FROM {} x WHERE workspace_id = '{}' LIMIT 1", t, kWorkspaceB));
        ASSERT_FALSE(b_row.empty()) << "add a seed row for " << t << " in workspace B to kSeed";
        const auto visible =
            run(run_as(pool_.get(), in_a,
                       fmt::format("SELECT count(*) FILTER (WHERE workspace_id <> '{}') FROM {}", kWorkspaceA, t), {}));
        // A table the role may not read at all (realtime_tickets) shows nothing either.
        const bool readable =
            su.exec(fmt::format("SELECT has_table_privilege('{}', '{}', 'SELECT')", db_config().user, t)) == "t";
        EXPECT_EQ(visible, readable ? "0" : "error 42501");
        // Writing B's row (a copy, so nothing but the policy can refuse it first) from A fails.
        const auto insert = run(run_as(
            pool_.get(), in_a,
            fmt::format("INSERT INTO {0} SELECT * FROM json_populate_record(NULL::{0}, $1::json)", t), params(b_row)));
        EXPECT_EQ(insert, "error 42501");
    }
}

TEST_F(IsolationTest, PersonalTablesShowOnlyTheUsersOwnRows) {
    const TenantScope as_a{.workspace_id = core::Uuid::parse(kWorkspaceA), .user_id = core::Uuid::parse(kUserA)};
    EXPECT_EQ(run(run_as(pool_.get(), as_a, "SELECT string_agg(email, ',') FROM users", {})), "a@example.com");
    EXPECT_EQ(run(run_as(pool_.get(), as_a, "SELECT count(*) FROM auth_sessions", {})), "1");
    EXPECT_EQ(run(run_as(pool_.get(), as_a, "SELECT count(*) FROM refresh_tokens", {})), "1");
    EXPECT_EQ(run(run_as(pool_.get(), as_a, "SELECT count(*) FROM auth_throttle", {})), "0");
    EXPECT_EQ(run(run_as(pool_.get(), as_a, "SELECT string_agg(name, ',') FROM workspaces", {})), "A");
    // Nobody signed in: nothing at all.
    EXPECT_EQ(run(run_as(pool_.get(), {}, "SELECT count(*) FROM users", {})), "0");
    EXPECT_EQ(run(run_as(pool_.get(), {}, "SELECT count(*) FROM auth_sessions", {})), "0");
}

TEST_F(IsolationTest, IdentityLookupFindsAccountsButNoWorkspaceData) {
    const TenantScope lookup{.identity_lookup = true};
    EXPECT_EQ(run(run_as(pool_.get(), lookup, "SELECT count(*) FROM users", {})), "2");
    EXPECT_EQ(run(run_as(pool_.get(), lookup, "SELECT count(*) FROM audit_events", {})), "0");
}

TEST_F(IsolationTest, AnApiKeyLookupSeesOnlyTheRowWithTheNamedPrefix) {
    const std::string by_prefix =
        "SELECT set_config('kiln.api_key_prefix', $1, true) || ':' || (SELECT string_agg(name, ',') FROM api_keys)";
    EXPECT_EQ(run(run_as(pool_.get(), {}, by_prefix, params("bbbbbbbbbbbb"))), "bbbbbbbbbbbb:B");
    EXPECT_EQ(run(run_as(pool_.get(), {}, "SELECT count(*) FROM api_keys", {})), "0");
}

// The platform scope as the admin store opens it: the check, then the query, in one batch.
asio::awaitable<std::string> as_platform_admin(Pool* pool, TenantScope scope) {
    std::vector<Query> q;
    q.push_back({"SELECT kiln_require_platform_admin()", {}});
    q.push_back({"SELECT (SELECT count(*) FROM workspaces) || '/' || (SELECT count(*) FROM users)", {}});
    try {
        auto r = co_await run(*pool, scope, std::move(q));
        co_return r[1].str(0, 0);
    } catch (const core::Problem& p) {
        co_return std::to_string(p.status());
    }
}

TEST_F(IsolationTest, OnlyAPlatformAdministratorOpensThePlatformScope) {
    const TenantScope as_a{.user_id = core::Uuid::parse(kUserA)};
    EXPECT_EQ(run(as_platform_admin(pool_.get(), as_a)), "403");
    EXPECT_EQ(run(run_as(pool_.get(), as_a, "SELECT count(*) FROM workspaces", {})), "1");
    AdminConnection su(superuser_conninfo());
    su.exec(fmt::format("UPDATE users SET is_platform_admin = true WHERE id = '{}'", kUserA));
    EXPECT_EQ(run(as_platform_admin(pool_.get(), as_a)), "2/2");
    // The scope ends with the transaction.
    EXPECT_EQ(run(run_as(pool_.get(), as_a, "SELECT count(*) FROM workspaces", {})), "1");
}

asio::awaitable<std::string> with_session(Pool* pool, TenantScope scope) {
    try {
        auto r = co_await run(*pool, scope, "SELECT 'ran'");
        co_return r.str(0, 0);
    } catch (const core::Problem& p) {
        co_return std::to_string(p.status());
    }
}

TEST_F(IsolationTest, ARevokedOrForeignSessionStopsTheStatementWith401) {
    const TenantScope live{.workspace_id = core::Uuid::parse(kWorkspaceA),
                           .user_id = core::Uuid::parse(kUserA),
                           .session_id = core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000a3")};
    EXPECT_EQ(run(with_session(pool_.get(), live)), "ran");
    // B's session presented with A's identity: invisible to A, so not live.
    auto foreign = live;
    foreign.session_id = core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000b3");
    EXPECT_EQ(run(with_session(pool_.get(), foreign)), "401");
    AdminConnection su(superuser_conninfo());
    su.exec("UPDATE auth_sessions SET revoked_at = now() WHERE id = '0190a2b4-0000-7000-8000-0000000000a3'");
    EXPECT_EQ(run(with_session(pool_.get(), live)), "401");
}

asio::awaitable<std::string> holding_invitation(Pool* pool, TenantScope scope, std::string token) {
    std::vector<Query> q;
    q.push_back({"SELECT set_config('kiln.invitation', encode(sha256(convert_to($1, 'UTF8')), 'hex'), true)",
                 params(std::move(token))});
    q.push_back({"SELECT coalesce(string_agg(id::text, ','), '') FROM invitations", {}});
    auto r = co_await run(*pool, scope, std::move(q));
    co_return r[1].str(0, 0);
}

TEST_F(IsolationTest, MailAndTokensStayWithTheirOwnersAndInvitationsWithTheirTokenHolder) {
    const TenantScope as_a{.workspace_id = core::Uuid::parse(kWorkspaceA), .user_id = core::Uuid::parse(kUserA)};
    EXPECT_EQ(run(run_as(pool_.get(), as_a, "SELECT count(*) FROM user_tokens", {})), "1");
    EXPECT_EQ(run(run_as(pool_.get(), as_a, "SELECT count(*) FROM mail_outbox", {})), "0");
    // Holding B's invitation token shows that one invitation (to accept it), nothing else of B.
    const TenantScope outsider{.user_id = core::Uuid::parse(kUserA)};
    EXPECT_EQ(run(holding_invitation(pool_.get(), outsider, "invite-b")), "0190a2b4-0000-7000-8000-0000000000b4");
    EXPECT_EQ(run(holding_invitation(pool_.get(), outsider, "no such token")), "");
}

}  // namespace
}  // namespace kiln::db
