// Realtime tickets as the database keeps them: issued for the caller, spent once (also when two
// connections present one at the same moment), refused once expired, swept, and never readable
// by the application role.
#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <future>

#include "auth/store.hpp"
#include "db/error.hpp"
#include "pg_fixture.hpp"

namespace asio = boost::asio;

namespace kiln::auth {
namespace {

using kiln::testing::AdminConnection;

const auto kUser = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000c1");
const auto kWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000c0");
const auto kSession = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000c2");
const auto kOtherWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000d0");

class RealtimeTicketsTest : public kiln::testing::StoreTest<Store> {
protected:
    void SetUp() override {
        StoreTest::SetUp();
        seed_member(kUser, kWorkspace, kSession, "member");
        AdminConnection su(superuser_conninfo());
        su.exec(fmt::format("INSERT INTO workspaces (id, name) VALUES ('{}', 'D')", kOtherWorkspace.str()));
    }

    std::string issue(const Principal& p, const std::string& ticket, unsigned ttl_s = 30) {
        return run(store_->issue_ticket(p, core::sha256(ticket), ttl_s));
    }
    std::optional<Principal> redeem(const std::string& ticket) {
        return run(store_->redeem_ticket(core::sha256(ticket)));
    }
    std::string rows(const std::string& where = "true") {
        AdminConnection su(superuser_conninfo());
        return su.exec("SELECT count(*) FROM realtime_tickets WHERE " + where);
    }
    static std::string hash_of(const std::string& ticket) {
        return fmt::format("sha256(convert_to('{}', 'UTF8'))", ticket);
    }

    const Principal member_{kUser, kWorkspace, kSession, "member"};
};

TEST_F(RealtimeTicketsTest, AnIssuedTicketIsRedeemedOnceIntoItsPrincipal) {
    const auto expires_at = issue(member_, "ticket-one");
    EXPECT_TRUE(expires_at.ends_with("Z")) << expires_at;
    AdminConnection su(superuser_conninfo());
    EXPECT_EQ(su.exec(fmt::format("SELECT (expires_at - created_at) = interval '30 seconds' FROM realtime_tickets "
                                  "WHERE token_hash = {}",
                                  hash_of("ticket-one"))),
              "t");
    EXPECT_EQ(rows("token_hash = " + hash_of("ticket-one")), "1") << "only the hash is stored";

    const auto who = redeem("ticket-one");
    ASSERT_TRUE(who.has_value());
    EXPECT_EQ(who->user, kUser);
    EXPECT_EQ(who->workspace, kWorkspace);
    EXPECT_EQ(who->session, kSession);
    EXPECT_EQ(who->role, "member");
    EXPECT_FALSE(who->api_key);
    EXPECT_EQ(rows(), "0");
    EXPECT_FALSE(redeem("ticket-one").has_value()) << "a ticket is spent by its first use";
    EXPECT_FALSE(redeem("never-issued").has_value());
}

TEST_F(RealtimeTicketsTest, AnApiKeysTicketStandsForTheKey) {
    AdminConnection su(superuser_conninfo());
    const auto key = core::Uuid::v7();
    su.exec(
        fmt::format("INSERT INTO api_keys (workspace_id, id, name, prefix, key_hash, role, created_by) "
                    "VALUES ('{}', '{}', 'k', 'cccccccccccc', sha256('k'), 'viewer', '{}')",
                    kWorkspace.str(), key.str(), kUser.str()));
    const Principal by_key{kUser, kWorkspace, key, "viewer", true};
    issue(by_key, "key-ticket");
    const auto who = redeem("key-ticket");
    ASSERT_TRUE(who.has_value());
    EXPECT_TRUE(who->api_key);
    EXPECT_EQ(who->session, key);
    EXPECT_EQ(who->role, "viewer");
}

TEST_F(RealtimeTicketsTest, AnExpiredTicketIsRefusedAndExpiredOnesAreSwept) {
    issue(member_, "stale");
    issue(member_, "live");
    AdminConnection su(superuser_conninfo());
    // Expired without waiting: the row's expiry moved into the past, and two more nobody redeems.
    su.exec("UPDATE realtime_tickets SET expires_at = now() - interval '1 second' WHERE token_hash = " +
            hash_of("stale"));
    su.exec(
        fmt::format("INSERT INTO realtime_tickets (workspace_id, token_hash, user_id, credential_id, api_key, role, "
                    "expires_at) SELECT '{}', sha256(convert_to('abandoned' || i, 'UTF8')), '{}', '{}', false, "
                    "'member', now() - interval '1 minute' FROM generate_series(1, 2) i",
                    kWorkspace.str(), kUser.str(), kSession.str()));
    EXPECT_EQ(rows("expires_at <= now()"), "3");
    EXPECT_FALSE(redeem("stale").has_value());
    EXPECT_EQ(rows("expires_at <= now()"), "0") << "the redemption swept the expired tickets";
    EXPECT_TRUE(redeem("live").has_value()) << "a live ticket is not swept";
}

TEST_F(RealtimeTicketsTest, TwoConnectionsPresentingOneTicketSpendItOnce) {
    issue(member_, "contested");
    // A second pool: its own connections, as another server process would have.
    db::Pool other_pool(pool_options(true, 2), blocking_);
    Store other(other_pool);
    auto first = asio::co_spawn(io_, store_->redeem_ticket(core::sha256("contested")), asio::use_future);
    auto second = asio::co_spawn(io_, other.redeem_ticket(core::sha256("contested")), asio::use_future);
    io_.restart();
    io_.run();
    const int winners = static_cast<int>(first.get().has_value()) + static_cast<int>(second.get().has_value());
    EXPECT_EQ(winners, 1);
}

asio::awaitable<std::string> as_app(db::Pool* pool, db::TenantScope scope, std::string sql) {
    try {
        auto r = co_await db::run(*pool, scope, sql);
        co_return r.empty() ? std::string("ok") : r.str(0, 0);
    } catch (const db::Error& e) {
        co_return "error " + e.sqlstate();
    }
}

TEST_F(RealtimeTicketsTest, TheApplicationRoleCanOnlyAddItsOwnTickets) {
    issue(member_, "mine");
    const db::TenantScope scope{.workspace_id = kWorkspace, .user_id = kUser};
    const auto denied = "error 42501";
    EXPECT_EQ(run(as_app(pool_.get(), scope, "SELECT count(*) FROM realtime_tickets")), denied);
    EXPECT_EQ(run(as_app(pool_.get(), scope, "UPDATE realtime_tickets SET expires_at = now() + interval '1 day'")),
              denied);
    EXPECT_EQ(run(as_app(pool_.get(), scope, "DELETE FROM realtime_tickets")), denied);
    // Not for another workspace, nor for another user.
    const auto insert = [](const core::Uuid& workspace, const std::string& user) {
        return fmt::format(
            "INSERT INTO realtime_tickets (workspace_id, token_hash, user_id, credential_id, api_key, "
            "role, expires_at) VALUES ('{}', sha256('forged'), '{}', '{}', false, 'owner', now())",
            workspace.str(), user, kSession.str());
    };
    EXPECT_EQ(run(as_app(pool_.get(), scope, insert(kOtherWorkspace, kUser.str()))), denied);
    EXPECT_EQ(run(as_app(pool_.get(), scope, insert(kWorkspace, core::Uuid::v7().str()))), denied);
    EXPECT_EQ(rows(), "1");
    EXPECT_TRUE(redeem("mine").has_value());
}

}  // namespace
}  // namespace kiln::auth
