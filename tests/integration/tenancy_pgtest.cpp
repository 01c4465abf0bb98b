// Workspace roles as the database enforces them, per role: what each may do, the owner rules,
// and that a role change or removal holds from the next statement on.
#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <future>

#include "pg_fixture.hpp"
#include "tenancy/store.hpp"

namespace asio = boost::asio;

namespace kiln::tenancy {
namespace {

using kiln::testing::AdminConnection;

const auto kWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000f0");

struct Person {
    const char* role;
    core::Uuid user;
    core::Uuid session;
};

// An owner, an admin, a member and a viewer of one workspace, each with a live session.
const Person kOwner{"owner", *core::Uuid::parse("0190a2b4-0000-7000-8000-000000000011"),
                    *core::Uuid::parse("0190a2b4-0000-7000-8000-000000000012")};
const Person kAdmin{"admin", *core::Uuid::parse("0190a2b4-0000-7000-8000-000000000021"),
                    *core::Uuid::parse("0190a2b4-0000-7000-8000-000000000022")};
const Person kMember{"member", *core::Uuid::parse("0190a2b4-0000-7000-8000-000000000031"),
                     *core::Uuid::parse("0190a2b4-0000-7000-8000-000000000032")};
const Person kViewer{"viewer", *core::Uuid::parse("0190a2b4-0000-7000-8000-000000000041"),
                     *core::Uuid::parse("0190a2b4-0000-7000-8000-000000000042")};
const Person kOutsider{"", *core::Uuid::parse("0190a2b4-0000-7000-8000-000000000051"),
                       *core::Uuid::parse("0190a2b4-0000-7000-8000-000000000052")};

class TenancyTest : public kiln::testing::StoreTest<Store> {
protected:
    void SetUp() override {
        StoreTest::SetUp();
        AdminConnection su(superuser_conninfo());
        const auto ws = kWorkspace.str();
        su.exec(fmt::format("INSERT INTO workspaces (id, name) VALUES ('{}', 'Team')", ws));
        for (const auto& p : {kOwner, kAdmin, kMember, kViewer, kOutsider}) {
            const auto u = p.user.str();
            su.exec(fmt::format(
                "INSERT INTO users (id, email, name, password_hash) VALUES ('{0}', '{0}@example.com', 'P', 'x')", u));
            su.exec(
                fmt::format("INSERT INTO auth_sessions (id, user_id, active_workspace_id, expires_at) "
                            "VALUES ('{}', '{}', '{}', now() + interval '1 day')",
                            p.session.str(), u, ws));
            if (*p.role != '\0') {
                su.exec(fmt::format("INSERT INTO memberships (workspace_id, user_id, role) VALUES ('{}', '{}', '{}')",
                                    ws, u, p.role));
            }
        }
    }

    static auth::Principal as(const Person& p) { return {p.user, kWorkspace, p.session, p.role}; }
};

using kiln::testing::status_of;

const audit::Origin kOrigin{"127.0.0.1", "test"};

TEST_F(TenancyTest, EveryRoleReadsOutsidersGet404) {
    for (const auto& p : {kOwner, kAdmin, kMember, kViewer}) {
        EXPECT_EQ(run(status_of(store_->get(as(p), kWorkspace))), 200) << p.role;
        EXPECT_EQ(run(status_of(store_->members(as(p), kWorkspace))), 200) << p.role;
    }
    EXPECT_EQ(run(status_of(store_->get(as(kOutsider), kWorkspace))), 404);
    EXPECT_EQ(run(status_of(store_->members(as(kOutsider), kWorkspace))), 404);
    EXPECT_EQ(run(status_of(store_->remove(as(kOutsider), kWorkspace, kOrigin))), 404);
}

TEST_F(TenancyTest, RenameNeedsAdminDeleteNeedsOwner) {
    const UpdateWorkspace rename{std::string("Renamed")};
    EXPECT_EQ(run(status_of(store_->update(as(kViewer), kWorkspace, rename, kOrigin))), 403);
    EXPECT_EQ(run(status_of(store_->update(as(kMember), kWorkspace, rename, kOrigin))), 403);
    EXPECT_EQ(run(status_of(store_->update(as(kAdmin), kWorkspace, rename, kOrigin))), 200);
    EXPECT_EQ(run(status_of(store_->remove(as(kAdmin), kWorkspace, kOrigin))), 403);
    EXPECT_EQ(run(status_of(store_->remove(as(kMember), kWorkspace, kOrigin))), 403);
    EXPECT_EQ(run(status_of(store_->remove(as(kOwner), kWorkspace, kOrigin))), 200);
    EXPECT_EQ(run(status_of(store_->get(as(kOwner), kWorkspace))), 404) << "deleted";
}

TEST_F(TenancyTest, RoleChangesFollowTheMatrix) {
    // Members and viewers change no roles; admins change non-owner roles; only owners touch the owner role.
    EXPECT_EQ(run(status_of(store_->set_role(as(kMember), kWorkspace, kViewer.user, "member", kOrigin))), 403);
    EXPECT_EQ(run(status_of(store_->set_role(as(kViewer), kWorkspace, kMember.user, "viewer", kOrigin))), 403);
    EXPECT_EQ(run(status_of(store_->set_role(as(kAdmin), kWorkspace, kViewer.user, "member", kOrigin))), 200);
    EXPECT_EQ(run(status_of(store_->set_role(as(kAdmin), kWorkspace, kMember.user, "owner", kOrigin))), 403);
    EXPECT_EQ(run(status_of(store_->set_role(as(kAdmin), kWorkspace, kOwner.user, "admin", kOrigin))), 403);
    EXPECT_EQ(run(status_of(store_->set_role(as(kOwner), kWorkspace, kAdmin.user, "owner", kOrigin))), 200);
    EXPECT_EQ(run(status_of(store_->set_role(as(kOwner), kWorkspace, kOutsider.user, "member", kOrigin))), 404);
}

TEST_F(TenancyTest, TheLastOwnerCannotBeDemotedNorLeave) {
    EXPECT_EQ(run(status_of(store_->set_role(as(kOwner), kWorkspace, kOwner.user, "admin", kOrigin))), 409);
    EXPECT_EQ(run(status_of(store_->remove_member(as(kOwner), kWorkspace, kOwner.user, kOrigin))), 409);
    // With a second owner, the first may step down.
    EXPECT_EQ(run(status_of(store_->set_role(as(kOwner), kWorkspace, kAdmin.user, "owner", kOrigin))), 200);
    EXPECT_EQ(run(status_of(store_->set_role(as(kOwner), kWorkspace, kOwner.user, "admin", kOrigin))), 200);
}

TEST_F(TenancyTest, AnyoneLeavesOnlyAdminsRemoveOthers) {
    EXPECT_EQ(run(status_of(store_->remove_member(as(kMember), kWorkspace, kViewer.user, kOrigin))), 403);
    EXPECT_EQ(run(status_of(store_->remove_member(as(kAdmin), kWorkspace, kOwner.user, kOrigin))), 403);
    EXPECT_EQ(run(status_of(store_->remove_member(as(kViewer), kWorkspace, kViewer.user, kOrigin))), 200);
    EXPECT_EQ(run(status_of(store_->get(as(kViewer), kWorkspace))), 404) << "gone at once after leaving";
    EXPECT_EQ(run(status_of(store_->remove_member(as(kAdmin), kWorkspace, kMember.user, kOrigin))), 200);
    EXPECT_EQ(run(status_of(store_->members(as(kMember), kWorkspace))), 404) << "removed: at once";
}

TEST_F(TenancyTest, ADemotionHoldsFromTheNextRequest) {
    const UpdateWorkspace rename{std::string("By admin")};
    EXPECT_EQ(run(status_of(store_->update(as(kAdmin), kWorkspace, rename, kOrigin))), 200);
    EXPECT_EQ(run(status_of(store_->set_role(as(kOwner), kWorkspace, kAdmin.user, "viewer", kOrigin))), 200);
    // The principal (as a token would) still says "admin"; the database knows better.
    EXPECT_EQ(run(status_of(store_->update(as(kAdmin), kWorkspace, rename, kOrigin))), 403);
}

TEST_F(TenancyTest, EveryChangeIsAudited) {
    run(status_of(store_->set_role(as(kOwner), kWorkspace, kViewer.user, "member", kOrigin)));
    run(status_of(store_->remove_member(as(kOwner), kWorkspace, kMember.user, kOrigin)));
    const UpdateWorkspace rename{std::string("Audited")};
    run(status_of(store_->update(as(kOwner), kWorkspace, rename, kOrigin)));
    // A refused change leaves no event.
    run(status_of(store_->remove_member(as(kViewer), kWorkspace, kAdmin.user, kOrigin)));
    AdminConnection su(superuser_conninfo());
    EXPECT_EQ(su.exec("SELECT string_agg(action, ',' ORDER BY created_at, action) FROM audit_events WHERE ip = "
                      "'127.0.0.1' AND request_id = 'test'"),
              "member.role_change,member.remove,workspace.update");
}

// The plan's member limit holds under concurrency: the workspace has 4 members of the free
// plan's 5, and three admins' additions race on separate connections. Exactly one gets in.
TEST_F(TenancyTest, ConcurrentAdditionsCannotPassTheMemberLimit) {
    // The connections live on ctx's reactor: ctx outlives the pool.
    asio::io_context ctx;
    db::Pool pool(pool_options(false, 3), blocking_);
    Store store(pool);
    std::vector<CreateManagedUser> requests;
    std::vector<core::Uuid> ids;
    for (int i = 0; i < 3; ++i) {
        requests.push_back({fmt::format("racer{}@example.com", i), "Racer", std::nullopt, "viewer", std::nullopt});
        ids.push_back(core::Uuid::v7());
    }
    // The store's coroutines hold references: everything they are given outlives ctx.run().
    const auto admin = as(kAdmin);
    const std::string hash = "x";
    std::vector<std::future<int>> results;
    for (std::size_t i = 0; i < requests.size(); ++i) {
        auto call = store.create_managed_user(admin, kWorkspace, ids[i], requests[i], hash, kOrigin);
        results.push_back(asio::co_spawn(ctx, status_of(std::move(call)), asio::use_future));
    }
    ctx.run();
    std::vector<int> statuses;
    statuses.reserve(results.size());
    for (auto& f : results) statuses.push_back(f.get());
    std::sort(statuses.begin(), statuses.end());
    EXPECT_EQ(statuses, (std::vector<int>{200, 402, 402}));
    AdminConnection su(superuser_conninfo());
    EXPECT_EQ(su.exec(fmt::format("SELECT count(*) FROM memberships WHERE workspace_id = '{}'", kWorkspace.str())),
              "5");
    // Refused additions leave no account behind either.
    EXPECT_EQ(su.exec("SELECT count(*) FROM users WHERE email LIKE 'racer%'"), "1");
}

}  // namespace
}  // namespace kiln::tenancy
