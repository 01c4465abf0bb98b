// The mail outbox against PostgreSQL: claims (lease, SKIP LOCKED), retries and giving up, that
// only the sender reads it, and a delivery pass writing real files; then the single-use tokens
// of password reset and email verification (spent once, expiry, unknown).
#include <fmt/format.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "auth/store.hpp"
#include "mail/service.hpp"
#include "mail/store.hpp"
#include "pg_fixture.hpp"

namespace asio = boost::asio;

namespace kiln::mail {
namespace {

using kiln::testing::AdminConnection;
using std::chrono::milliseconds;

const auto kUser = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000c1");
const auto kWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000c0");
const auto kSession = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000c3");
const audit::Origin kOrigin{"127.0.0.1", "test"};

class MailTest : public kiln::testing::PgTest {
protected:
    void SetUp() override {
        PgTest::SetUp();
        AdminConnection su(superuser_conninfo());
        su.exec(fmt::format(R"sql(
            INSERT INTO users (id, email, name, password_hash) VALUES ('{0}', 'c@example.com', 'C', 'old');
            INSERT INTO workspaces (id, name, personal) VALUES ('{1}', 'C', true);
            INSERT INTO memberships (workspace_id, user_id, role) VALUES ('{1}', '{0}', 'owner');
            UPDATE users SET default_workspace_id = '{1}' WHERE id = '{0}';
            INSERT INTO auth_sessions (id, user_id, active_workspace_id, expires_at)
                 VALUES ('{2}', '{0}', '{1}', now() + interval '1 day');)sql",
                            kUser.str(), kWorkspace.str(), kSession.str()));
        pool_ = std::make_unique<db::Pool>(pool_options(true, 3), blocking_);
        store_ = std::make_unique<Store>(*pool_);
        dir_ = std::filesystem::temp_directory_path() / ("kiln-mail-" + core::Uuid::v7().str());
    }
    void TearDown() override {
        store_.reset();
        pool_.reset();
        std::filesystem::remove_all(dir_);
        PgTest::TearDown();
    }

    // Queues a message the way a request does: in a batch of the user's.
    void enqueue_one(const std::string& subject) {
        const db::TenantScope scope{.workspace_id = kWorkspace, .user_id = kUser};
        std::vector<db::Query> q;
        q.push_back(enqueue({"c@example.com", subject, "link: https://k/x?token=secret"}));
        run(db::run(*pool_, scope, std::move(q)));
    }
    std::string su(const std::string& sql) { return AdminConnection(superuser_conninfo()).exec(sql); }

    std::unique_ptr<db::Pool> pool_;
    std::unique_ptr<Store> store_;
    std::filesystem::path dir_;
};

TEST_F(MailTest, OnlyTheSenderSeesTheOutbox) {
    enqueue_one("hello");
    const db::TenantScope as_user{.workspace_id = kWorkspace, .user_id = kUser};
    EXPECT_EQ(run(db::run(*pool_, as_user, "SELECT count(*) FROM mail_outbox")).str(0, 0), "0");
    const db::TenantScope lookup{.identity_lookup = true};
    EXPECT_EQ(run(db::run(*pool_, lookup, "SELECT count(*) FROM mail_outbox")).str(0, 0), "0");
    EXPECT_EQ(run(store_->claim(10, milliseconds(60000))).size(), 1U);
}

TEST_F(MailTest, AClaimLeasesTheMessageSoNoSecondSenderTakesIt) {
    enqueue_one("one");
    const auto first = run(store_->claim(10, milliseconds(60000)));
    ASSERT_EQ(first.size(), 1U);
    EXPECT_EQ(first[0].attempts, 1);
    EXPECT_EQ(first[0].message.subject, "one");
    EXPECT_TRUE(run(store_->claim(10, milliseconds(60000))).empty());
    // The lease ran out (a sender died mid-delivery): the message is taken again.
    su("UPDATE mail_outbox SET next_attempt_at = now()");
    const auto again = run(store_->claim(10, milliseconds(60000)));
    ASSERT_EQ(again.size(), 1U);
    EXPECT_EQ(again[0].attempts, 2);
}

TEST_F(MailTest, ARowLockedByAnotherSenderIsSkippedNotWaitedFor) {
    enqueue_one("locked");
    enqueue_one("free");
    AdminConnection other(superuser_conninfo());
    other.exec("BEGIN; SELECT id FROM mail_outbox WHERE subject = 'locked' FOR UPDATE");
    const auto claimed = run(store_->claim(10, milliseconds(60000)));
    ASSERT_EQ(claimed.size(), 1U);
    EXPECT_EQ(claimed[0].message.subject, "free");
    other.exec("ROLLBACK");
}

TEST_F(MailTest, AFailureIsRetriedLaterThenGivenUpAndTheBodyErased) {
    enqueue_one("flaky");
    auto m = run(store_->claim(10, milliseconds(60000)));
    ASSERT_EQ(m.size(), 1U);
    run(store_->mark_failed(m[0].id, "smtp: 451", false, milliseconds(3600000)));
    EXPECT_TRUE(run(store_->claim(10, milliseconds(60000))).empty()) << "not due before its backoff";
    EXPECT_EQ(su("SELECT status || ' ' || last_error FROM mail_outbox"), "pending smtp: 451");
    su("UPDATE mail_outbox SET next_attempt_at = now()");
    m = run(store_->claim(10, milliseconds(60000)));
    ASSERT_EQ(m.size(), 1U);
    run(store_->mark_failed(m[0].id, "smtp: 550", true, milliseconds(0)));
    EXPECT_EQ(su("SELECT status || ' ' || attempts || ' [' || body || ']' FROM mail_outbox"), "failed 2 []");
    EXPECT_TRUE(run(store_->claim(10, milliseconds(60000))).empty());
}

TEST_F(MailTest, ADeliveryPassWritesPrivateEmlFilesAndMarksThemSent) {
    enqueue_one("to a file");
    core::MailConfig config;
    config.dir = dir_.string();
    const Delivery delivery(config, "");
    Service service(*store_, delivery, blocking_, config);
    EXPECT_EQ(run(service.deliver_due()), 1U);
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) files.push_back(e.path());
    ASSERT_EQ(files.size(), 1U);
    EXPECT_EQ(files[0].extension(), ".eml");
    struct stat st {};
    ASSERT_EQ(::stat(files[0].c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600U);
    ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700U);
    std::ifstream in(files[0]);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("Subject: to a file\r\n"), std::string::npos);
    EXPECT_NE(text.find("token=secret"), std::string::npos);
    EXPECT_EQ(su("SELECT status || ' [' || body || ']' FROM mail_outbox"), "sent []");
    EXPECT_EQ(run(service.deliver_due()), 0U) << "a sent message is not sent again";
}

TEST_F(MailTest, AFailedDeliveryIsRecordedAndGivenUpAfterMaxAttempts) {
    enqueue_one("nowhere");
    core::MailConfig config;
    config.dir = "/dev/null/cannot-be-a-directory";
    config.max_attempts = 2;
    config.retry_base_ms = 10;
    const Delivery delivery(config, "");
    Service service(*store_, delivery, blocking_, config);
    EXPECT_EQ(run(service.deliver_due()), 1U);
    EXPECT_EQ(su("SELECT status || ' ' || attempts FROM mail_outbox"), "pending 1");
    EXPECT_NE(su("SELECT last_error FROM mail_outbox").find("cannot create the mail directory"), std::string::npos);
    su("UPDATE mail_outbox SET next_attempt_at = now()");
    EXPECT_EQ(run(service.deliver_due()), 1U);
    EXPECT_EQ(su("SELECT status || ' ' || attempts FROM mail_outbox"), "failed 2");
}

// --- single-use tokens -------------------------------------------------------------------

using kiln::testing::status_of;

class TokenTest : public MailTest {
protected:
    void SetUp() override {
        MailTest::SetUp();
        auth_ = std::make_unique<auth::Store>(*pool_);
    }
    void TearDown() override {
        auth_.reset();
        MailTest::TearDown();
    }
    core::Digest token(const std::string& purpose, const std::string& expires_in) {
        const auto t = core::random_token(32);
        const auto h = core::sha256(t);
        su(
            fmt::format("INSERT INTO user_tokens (token_hash, user_id, purpose, email, expires_at) "
                        "VALUES ('\\x{}', '{}', '{}', 'c@example.com', now() + interval '{}')",
                        core::to_hex(h), kUser.str(), purpose, expires_in));
        return h;
    }
    std::unique_ptr<auth::Store> auth_;
};

TEST_F(TokenTest, AResetTokenWorksOnceEndsEverySessionAndIsAudited) {
    const auto t = token("password_reset", "30 minutes");
    const auto other = token("password_reset", "30 minutes");
    EXPECT_EQ(run(auth_->reset_account(t)).first, "c@example.com");
    EXPECT_EQ(run(status_of(auth_->reset_password(t, "new-hash", kOrigin))), 200);
    EXPECT_EQ(su("SELECT password_hash FROM users"), "new-hash");
    EXPECT_EQ(su("SELECT count(*) FROM auth_sessions WHERE revoked_at IS NULL"), "0");
    EXPECT_EQ(su("SELECT count(*) FROM audit_events WHERE action = 'auth.password_reset'"), "1");
    EXPECT_EQ(run(status_of(auth_->reset_password(t, "again", kOrigin))), 410);
    EXPECT_EQ(run(status_of(auth_->reset_account(t))), 410);
    // Every other reset token of the account is spent with it.
    EXPECT_EQ(run(status_of(auth_->reset_password(other, "again", kOrigin))), 410);
    EXPECT_EQ(su("SELECT password_hash FROM users"), "new-hash");
}

TEST_F(TokenTest, ExpiredAndUnknownTokensAreRefused) {
    const auto expired = token("password_reset", "-1 second");
    EXPECT_EQ(run(status_of(auth_->reset_password(expired, "x", kOrigin))), 410);
    EXPECT_EQ(run(status_of(auth_->reset_password(core::sha256("unknown"), "x", kOrigin))), 400);
    // A verification token is no reset token.
    const auto verify = token("email_verify", "1 day");
    EXPECT_EQ(run(status_of(auth_->reset_password(verify, "x", kOrigin))), 400);
    EXPECT_EQ(su("SELECT password_hash FROM users"), "old");
    EXPECT_EQ(su("SELECT count(*) FROM audit_events"), "0");
}

TEST_F(TokenTest, AVerificationTokenVerifiesOnceAndOnlyTheAddressItWasSentTo) {
    const auto t = token("email_verify", "1 day");
    EXPECT_EQ(run(status_of(auth_->verify_email(t, kOrigin))), 200);
    EXPECT_EQ(su("SELECT email_verified_at IS NOT NULL FROM users"), "t");
    EXPECT_EQ(run(status_of(auth_->verify_email(t, kOrigin))), 410);
    // The account changed its address since: the old address's token proves nothing.
    su("UPDATE users SET email = 'new@example.com', email_verified_at = NULL");
    const auto stale = token("email_verify", "1 day");
    EXPECT_EQ(run(status_of(auth_->verify_email(stale, kOrigin))), 400);
    EXPECT_EQ(su("SELECT email_verified_at IS NULL FROM users"), "t");
}

TEST_F(TokenTest, AResetRequestQueuesMailOnlyForAnExistingAccount) {
    auth::Mailed m;
    m.hash = core::sha256(core::random_token(32));
    m.ttl_s = 1800;
    m.message = {"c@example.com", "Reset", "link"};
    const auth::Budget email{"reset:email:c@example.com", 5};
    const auth::Budget ip{"reset:ip:127.0.0.1", 50};
    run(auth_->request_password_reset("c@example.com", m, email, ip, kOrigin));
    EXPECT_EQ(su("SELECT count(*) FROM mail_outbox"), "1");
    auth::Mailed nobody = m;
    nobody.hash = core::sha256(core::random_token(32));
    nobody.message.to = "nobody@example.com";
    const auth::Budget email2{"reset:email:nobody@example.com", 5};
    run(auth_->request_password_reset("nobody@example.com", nobody, email2, ip, kOrigin));
    EXPECT_EQ(su("SELECT count(*) FROM mail_outbox"), "1");
    EXPECT_EQ(su("SELECT count(*) FROM user_tokens"), "1");
    // The per-address budget holds whether or not the account exists.
    for (int i = 0; i < 4; ++i) run(auth_->request_password_reset("nobody@example.com", nobody, email2, ip, kOrigin));
    EXPECT_EQ(run(status_of(auth_->request_password_reset("nobody@example.com", nobody, email2, ip, kOrigin))), 429);
}

}  // namespace
}  // namespace kiln::mail
