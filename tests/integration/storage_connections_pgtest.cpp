// Storage connections as PostgreSQL keeps them: only the sealed secret is stored (the plaintext
// appears nowhere in the row or the audit trail), another workspace sees nothing, roles hold,
// names are unique among live connections, rotation re-seals, deletion erases the secret.
#include <fmt/format.h>

#include "auth/scope.hpp"
#include "pg_fixture.hpp"
#include "storage/connection_service.hpp"

namespace asio = boost::asio;

namespace kiln::storage {
namespace {

using kiln::testing::AdminConnection;
using kiln::testing::Person;
using kiln::testing::status_of;

const auto kWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-00000000a000");
const auto kOtherWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-00000000b000");
constexpr std::string_view kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const std::string kSecret = "kiln-plaintext-secret-5f3e0c9a";
const audit::Origin kOrigin{"127.0.0.1", "pgtest"};

class StorageConnectionsTest : public kiln::testing::StoreTest<ConnectionStore> {
protected:
    void SetUp() override {
        StoreTest::SetUp();
        for (auto* p : {&admin_, &owner_, &member_, &viewer_, &outsider_})
            seed_member(p->user, p->workspace, p->session, p->role);
        core::StorageConfig config;
        config.master_key = std::string(kKey);
        config.connection_hosts = {"127.0.0.1", "s3.example.com"};
        service_ = std::make_unique<ConnectionService>(*store_, config);
    }
    void TearDown() override {
        service_.reset();
        StoreTest::TearDown();
    }

    static CreateStorageConnection request(std::string name) {
        return {std::move(name), "http://127.0.0.1:4568", std::nullopt, "kiln-test", "AKIAKILNEXAMPLE1234", kSecret,
                std::nullopt};
    }
    StorageConnection create(const Person& p, std::string name) {
        return run(service_->create(p.principal(), request(std::move(name)), kOrigin));
    }
    std::string su(const std::string& sql) {
        AdminConnection c(superuser_conninfo());
        return c.exec(sql);
    }

    Person admin_{.workspace = kWorkspace, .role = "admin"};
    Person owner_{.workspace = kWorkspace, .role = "owner"};
    Person member_{.workspace = kWorkspace, .role = "member"};
    Person viewer_{.workspace = kWorkspace, .role = "viewer"};
    Person outsider_{.workspace = kOtherWorkspace, .role = "owner"};
    std::unique_ptr<ConnectionService> service_;
};

TEST_F(StorageConnectionsTest, OnlyTheSealedSecretIsStored) {
    const auto made = create(admin_, "primary");
    EXPECT_EQ(made.access_key_id_last4, "1234");
    EXPECT_TRUE(made.secret_set);
    EXPECT_EQ(made.region, "us-east-1");
    EXPECT_TRUE(made.path_style);
    EXPECT_EQ(made.created_by, admin_.user);

    // The superuser sees every column of every row: the plaintext is in none of them.
    EXPECT_EQ(su(fmt::format("SELECT count(*) FROM storage_connections s WHERE s::text LIKE '%{0}%' "
                             "OR position(convert_to('{0}', 'UTF8') IN secret_ciphertext) > 0",
                             kSecret)),
              "0");
    EXPECT_EQ(su("SELECT length(secret_nonce) || '/' || length(secret_ciphertext) FROM storage_connections"),
              fmt::format("24/{}", kSecret.size() + 16));
    EXPECT_EQ(su(fmt::format("SELECT count(*) FROM audit_events WHERE detail::text LIKE '%{}%'", kSecret)), "0");
    EXPECT_EQ(su("SELECT action FROM audit_events WHERE target_type = 'storage_connection'"),
              "storage_connection.create");

    // And what is stored opens, under the master key, to the secret given.
    const auto sealed = run(store_->access(auth::scope_of(admin_.principal(), kWorkspace, "admin"), made.id));
    EXPECT_EQ(SecretBox::from_base64(kKey)->open(sealed.secret), kSecret);
    EXPECT_EQ(sealed.access_key_id, "AKIAKILNEXAMPLE1234");
}

TEST_F(StorageConnectionsTest, AnotherWorkspaceSeesNothing) {
    const auto made = create(admin_, "primary");
    const auto outsider = outsider_.principal();
    EXPECT_EQ(run(status_of(service_->get(outsider, made.id))), 404);
    EXPECT_TRUE(run(service_->list(outsider, {})).items.empty());
    UpdateStorageConnection rename;
    rename.name = "mine now";
    EXPECT_EQ(run(status_of(service_->update(outsider, made.id, rename, kOrigin))), 404);
    EXPECT_EQ(run(status_of(service_->remove(outsider, made.id, kOrigin))), 404);
    EXPECT_EQ(run(status_of(service_->test(outsider, made.id, kOrigin))), 404);
    // Row-level security alone: the application role in the other workspace, with no WHERE.
    AdminConnection app(app_conninfo());
    EXPECT_EQ(app.exec(fmt::format("SELECT set_config('kiln.workspace_id', '{}', false); "
                                   "SELECT count(*) FROM storage_connections",
                                   kOtherWorkspace.str())),
              "0");
    EXPECT_EQ(run(service_->get(admin_.principal(), made.id)).name, "primary");
    EXPECT_EQ(su("SELECT count(*) FROM audit_events WHERE target_type = 'storage_connection'"), "1")
        << "refused changes leave no audit event";
}

TEST_F(StorageConnectionsTest, ViewersAndMembersReadAdminsAndOwnersManage) {
    const auto made = create(owner_, "by owner");
    for (const auto* p : {&member_, &viewer_}) {
        EXPECT_EQ(run(service_->get(p->principal(), made.id)).id, made.id) << p->role;
        EXPECT_EQ(run(service_->list(p->principal(), {})).items.size(), 1U) << p->role;
        EXPECT_EQ(run(status_of(service_->create(p->principal(), request("x"), kOrigin))), 403) << p->role;
        UpdateStorageConnection u;
        u.path_style = false;
        EXPECT_EQ(run(status_of(service_->update(p->principal(), made.id, u, kOrigin))), 403) << p->role;
        EXPECT_EQ(run(status_of(service_->remove(p->principal(), made.id, kOrigin))), 403) << p->role;
        EXPECT_EQ(run(status_of(service_->test(p->principal(), made.id, kOrigin))), 403) << p->role;
    }
    EXPECT_EQ(run(status_of(service_->remove(admin_.principal(), made.id, kOrigin))), 200);
}

TEST_F(StorageConnectionsTest, NamesAreUniqueAmongLiveConnections) {
    const auto first = create(admin_, "archive");
    EXPECT_EQ(run(status_of(service_->create(admin_.principal(), request("archive"), kOrigin))), 409);
    const auto second = create(admin_, "other");
    UpdateStorageConnection clash;
    clash.name = "archive";
    EXPECT_EQ(run(status_of(service_->update(admin_.principal(), second.id, clash, kOrigin))), 409);
    EXPECT_EQ(create(outsider_, "archive").name, "archive") << "names are per workspace";

    run(service_->remove(admin_.principal(), first.id, kOrigin));
    EXPECT_EQ(su(fmt::format("SELECT (deleted_at IS NOT NULL) || '/' || (secret_nonce IS NULL) || '/' || "
                             "(secret_ciphertext IS NULL) FROM storage_connections WHERE id = '{}'",
                             first.id.str())),
              "true/true/true")
        << "a deleted connection keeps no secret";
    EXPECT_EQ(run(status_of(service_->get(admin_.principal(), first.id))), 404);
    EXPECT_EQ(run(status_of(service_->remove(admin_.principal(), first.id, kOrigin))), 404);
    EXPECT_EQ(create(admin_, "archive").name, "archive") << "a deleted connection's name is free again";
}

TEST_F(StorageConnectionsTest, RotatingTheSecretSealsItAfresh) {
    const auto made = create(admin_, "rotating");
    const auto scope = auth::scope_of(admin_.principal(), kWorkspace, "admin");
    const auto before = run(store_->access(scope, made.id));

    UpdateStorageConnection rename;
    rename.name = "renamed";
    rename.region = "eu-central-1";
    const auto renamed = run(service_->update(admin_.principal(), made.id, rename, kOrigin));
    EXPECT_EQ(renamed.name, "renamed");
    EXPECT_EQ(renamed.region, "eu-central-1");
    EXPECT_EQ(renamed.bucket, "kiln-test");
    EXPECT_EQ(run(store_->access(scope, made.id)).secret.ciphertext, before.secret.ciphertext)
        << "a change without a secret keeps the sealed one";

    UpdateStorageConnection rotate;
    rotate.secret_access_key = "the-next-secret-value";
    rotate.access_key_id = "AKIANEXTKEY0000WXYZ";
    const auto rotated = run(service_->update(admin_.principal(), made.id, rotate, kOrigin));
    EXPECT_EQ(rotated.access_key_id_last4, "WXYZ");
    const auto after = run(store_->access(scope, made.id));
    EXPECT_NE(after.secret.nonce, before.secret.nonce);
    EXPECT_EQ(SecretBox::from_base64(kKey)->open(after.secret), "the-next-secret-value");
    EXPECT_EQ(su("SELECT string_agg(detail->>'secret_changed', ',' ORDER BY created_at) FROM audit_events "
                 "WHERE action = 'storage_connection.update'"),
              "false,true");
    EXPECT_EQ(su("SELECT count(*) FROM audit_events WHERE detail::text LIKE '%the-next-secret-value%'"), "0");
}

TEST_F(StorageConnectionsTest, InputIsCheckedFieldByFieldAndTheAllowListHolds) {
    auto bad = request("");
    bad.endpoint = "http://10.1.2.3:9000";
    bad.bucket = "No_Such";
    try {
        run(service_->create(admin_.principal(), bad, kOrigin));
        FAIL() << "expected 422";
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 422);
        ASSERT_EQ(p.errors().size(), 3U);
        EXPECT_EQ(p.errors()[0].field, "name");
        EXPECT_EQ(p.errors()[1].field, "endpoint");
        EXPECT_EQ(p.errors()[2].field, "bucket");
    }
    EXPECT_EQ(su("SELECT count(*) FROM storage_connections"), "0");
}

TEST_F(StorageConnectionsTest, WithoutAMasterKeyNothingIsSealedOrOpened) {
    const auto made = create(admin_, "before");
    core::StorageConfig keyless;
    keyless.connection_hosts = {"127.0.0.1"};
    ConnectionService service(*store_, keyless);
    EXPECT_EQ(run(status_of(service.create(admin_.principal(), request("x"), kOrigin))), 503);
    EXPECT_EQ(run(status_of(service.test(admin_.principal(), made.id, kOrigin))), 503);
    EXPECT_EQ(run(service.get(admin_.principal(), made.id)).name, "before") << "reading needs no key";
    EXPECT_EQ(run(status_of(service.remove(admin_.principal(), made.id, kOrigin))), 200) << "nor deleting";
}

TEST_F(StorageConnectionsTest, ListsPageNewestFirst) {
    std::vector<core::Uuid> ids;
    ids.reserve(5);
    for (int i = 0; i < 5; ++i) ids.push_back(create(admin_, fmt::format("c{}", i)).id);
    std::vector<core::Uuid> seen;
    ConnectionListQuery q{std::string("2"), std::nullopt};
    for (;;) {
        auto page = run(service_->list(viewer_.principal(), q));
        for (const auto& c : page.items) seen.push_back(c.id);
        if (!page.next_cursor) break;
        q.cursor = page.next_cursor;
    }
    EXPECT_EQ(seen, std::vector<core::Uuid>(ids.rbegin(), ids.rend()));
    EXPECT_EQ(run(status_of(service_->list(viewer_.principal(), {std::string("0"), std::string("nope")}))), 422);
}

}  // namespace
}  // namespace kiln::storage
