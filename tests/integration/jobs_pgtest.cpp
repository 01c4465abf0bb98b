// The job queue against PostgreSQL: enqueue in the caller's transaction, claims with leases,
// the lease token guard against zombie workers, rescue of expired leases, fairness across
// workspaces, plan and per-kind concurrency caps, retries, unique keys, cancel requests,
// batches, side effects committed with success, cron schedules and the leader lock.
#include <fmt/format.h>

#include <cstdint>

#include "db/listener.hpp"
#include "db/transaction.hpp"
#include "jobs/events.hpp"
#include "jobs/scheduler.hpp"
#include "jobs/store.hpp"
#include "jobs/worker.hpp"
#include "pg_fixture.hpp"

namespace asio = boost::asio;

namespace kiln::jobs {
namespace {

using kiln::testing::AdminConnection;

const auto kUser = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000c1");
const auto kSmall = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000c2");  // sorts first
const auto kBig = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000c3");

class JobsTest : public kiln::testing::StoreTest<Store> {
protected:
    void SetUp() override {
        StoreTest::SetUp();
        AdminConnection su(superuser_conninfo());
        su.exec(
            fmt::format("INSERT INTO users (id, email, name, password_hash) VALUES ('{}', 'j@example.com', 'J', 'x')",
                        kUser.str()));
        for (const auto& ws : {kSmall, kBig}) {
            su.exec(fmt::format("INSERT INTO workspaces (id, name, plan) VALUES ('{}', 'W', 'enterprise')", ws.str()));
        }
    }

    static db::TenantScope in(const core::Uuid& ws) { return {.workspace_id = ws, .user_id = kUser}; }

    // Inserts `n` jobs of kind test.noop into `ws` directly (fast: no triggers, so no events).
    void seed(const core::Uuid& ws, int n, const char* state = "available") {
        AdminConnection su(superuser_conninfo());
        su.exec("SET session_replication_role = replica");
        su.exec(
            fmt::format("INSERT INTO jobs (workspace_id, id, kind, state, max_attempts, timeout_ms) "
                        "SELECT '{}', gen_random_uuid(), 'test.noop', '{}', 3, 60000 FROM generate_series(1, {})",
                        ws.str(), state, n));
    }

    Job enqueue(const core::Uuid& ws, NewJob j) {
        auto q = jobs::enqueue(j);
        const auto last = q.size() - 1;
        auto r = run(db::run(*pool_, in(ws), std::move(q)));
        return store_->job_at(r[last], 0);
    }

    std::vector<Claimed> claim(unsigned limit, std::optional<core::Uuid> after = std::nullopt,
                               std::chrono::milliseconds lease = std::chrono::seconds(30)) {
        ClaimRequest c;
        c.after_workspace = after;
        c.workspaces = 16;
        c.limit = limit;
        c.kinds = {"test.noop", "test.other"};
        c.worker = "test-worker";
        c.lease = lease;
        return run(store_->claim(c));
    }

    std::string sql(const std::string& q) {
        AdminConnection su(superuser_conninfo());
        return su.exec(q);
    }

    static Lease lease_of(const Claimed& c) { return {c.workspace, c.id, c.lease}; }
};

NewJob noop(std::optional<std::string> unique_key = std::nullopt) {
    NewJob j;
    j.id = core::Uuid::v7();
    j.kind = "test.noop";
    j.max_attempts = 3;
    j.timeout_ms = 60000;
    j.unique_key = std::move(unique_key);
    return j;
}

asio::awaitable<std::string> enqueue_then_fail(db::Pool* pool, db::TenantScope scope, NewJob j) {
    auto q = jobs::enqueue(j);
    q.push_back({"SELECT 1/0", {}});
    try {
        co_await db::run(*pool, scope, std::move(q));
        co_return "committed";
    } catch (const db::Error& e) {
        co_return e.sqlstate();
    }
}

TEST_F(JobsTest, AJobExistsIffItsTransactionCommits) {
    EXPECT_EQ(run(enqueue_then_fail(pool_.get(), in(kSmall), noop())), "22012");
    EXPECT_EQ(sql("SELECT count(*) FROM jobs"), "0");
    const auto job = enqueue(kSmall, noop());
    EXPECT_EQ(job.state, "available");
    EXPECT_EQ(sql("SELECT count(*) FROM jobs"), "1");
    // The trigger recorded the event in the same transaction.
    EXPECT_EQ(sql("SELECT string_agg(type, ',') FROM job_events"), "job.available");
}

TEST_F(JobsTest, OnlyTheCurrentLeaseRecordsTheOutcome) {
    enqueue(kSmall, noop());
    const auto first = claim(1);
    ASSERT_EQ(first.size(), 1U);
    EXPECT_EQ(first[0].attempt, 1);
    // The first worker stalls past its lease; the job is rescued and claimed again.
    sql("UPDATE jobs SET lease_expires_at = now() - interval '1 second'");
    EXPECT_EQ(run(store_->maintain()), 1);
    const auto second = claim(1);
    ASSERT_EQ(second.size(), 1U);
    EXPECT_EQ(second[0].id, first[0].id);
    EXPECT_EQ(second[0].attempt, 2);
    EXPECT_NE(second[0].lease, first[0].lease);
    // The zombie's late completion, failure or progress changes nothing.
    EXPECT_FALSE(run(store_->succeed(lease_of(first[0]), R"({"by":"zombie"})")));
    EXPECT_FALSE(run(store_->fail(lease_of(first[0]), "zombie", std::chrono::milliseconds(0))).has_value());
    run(store_->progress(lease_of(first[0]), 50, "zombie"));
    EXPECT_TRUE(run(store_->succeed(lease_of(second[0]), R"({"by":"second"})")));
    EXPECT_EQ(sql("SELECT state || ' ' || result::text || ' ' || progress_message FROM jobs"),
              R"(succeeded {"by": "second"} )");
    EXPECT_EQ(sql("SELECT jsonb_array_length(errors) FROM jobs"), "1");  // the expired attempt
}

TEST_F(JobsTest, AClaimedJobIsClaimedOnce) {
    seed(kSmall, 50);
    std::set<core::Uuid> seen;
    for (int i = 0; i < 10; ++i) {
        for (const auto& c : claim(8)) EXPECT_TRUE(seen.insert(c.id).second) << "claimed twice: " << c.id.str();
    }
    EXPECT_EQ(seen.size(), 50U);
    EXPECT_TRUE(claim(8).empty());
}

TEST_F(JobsTest, ABigWorkspaceDoesNotStarveASmallOne) {
    seed(kBig, 100000);
    seed(kSmall, 10);
    // Both are served from the first claim on, in equal shares: the small workspace's ten all
    // start within two claims, ahead of the big one's 100,000.
    const auto first = claim(10);
    ASSERT_EQ(first.size(), 10U);
    const auto small =
        std::count_if(first.begin(), first.end(), [](const Claimed& c) { return c.workspace == kSmall; });
    EXPECT_EQ(small, 5);
    const auto second = claim(10);
    EXPECT_EQ(std::count_if(second.begin(), second.end(), [](const Claimed& c) { return c.workspace == kSmall; }), 5);
    sql("UPDATE jobs SET state = 'available' WHERE state = 'running'");
    // And the round robin reaches the small one however the cursor stands.
    const auto after_small = claim(4, kSmall);
    ASSERT_FALSE(after_small.empty());
    for (const auto& c : after_small) EXPECT_EQ(c.workspace, kBig);
}

bool any_more(const std::vector<Claimed>& claimed) {
    return std::any_of(claimed.begin(), claimed.end(), [](const Claimed& c) { return c.more; });
}

TEST_F(JobsTest, AClaimSaysWhetherAnotherCouldFindMore) {
    seed(kSmall, 3);
    const auto all = claim(10);
    EXPECT_EQ(all.size(), 3U);
    EXPECT_FALSE(any_more(all));  // fewer than the share and every workspace visited: empty now
    seed(kBig, 20);
    seed(kSmall, 1);
    // Shares of 5: the big workspace gives all of its share, so there is more.
    const auto some = claim(10);
    EXPECT_EQ(some.size(), 6U);
    EXPECT_TRUE(any_more(some));
    for (const auto& c : some) EXPECT_EQ(c.more, c.workspace == kBig);
}

TEST_F(JobsTest, ThePlansConcurrencyCapHolds) {
    sql(fmt::format("UPDATE workspaces SET plan = 'free' WHERE id = '{}'", kSmall.str()));  // 2 at once
    seed(kSmall, 5);
    const auto first = claim(10);
    EXPECT_EQ(first.size(), 2U);
    EXPECT_TRUE(claim(10).empty());
    EXPECT_TRUE(run(store_->succeed(lease_of(first[0]), "{}")));
    EXPECT_EQ(claim(10).size(), 1U);
}

TEST_F(JobsTest, AFailureIsRetriedWhenDueThenDead) {
    enqueue(kSmall, noop());
    for (int attempt = 1; attempt <= 3; ++attempt) {
        const auto c = claim(1);
        ASSERT_EQ(c.size(), 1U) << "attempt " << attempt;
        const auto state = run(store_->fail(lease_of(c[0]), "boom " + std::to_string(attempt), std::chrono::hours(1)));
        ASSERT_TRUE(state.has_value());
        EXPECT_EQ(*state, attempt < 3 ? "failed" : "dead");
        if (attempt == 3) break;
        // Not due yet: maintenance leaves it waiting.
        run(store_->maintain());
        EXPECT_TRUE(claim(1).empty());
        sql("UPDATE jobs SET run_at = now() - interval '1 second'");
        run(store_->maintain());
    }
    EXPECT_EQ(sql("SELECT state || ' ' || jsonb_array_length(errors) FROM jobs"), "dead 3");
    EXPECT_EQ(sql("SELECT errors->2->>'error' FROM jobs"), "boom 3");
}

TEST_F(JobsTest, AUniqueKeyReturnsTheLiveJobUntilItsWindowEnds) {
    const auto a = enqueue(kSmall, noop("report-42"));
    const auto again = enqueue(kSmall, noop("report-42"));
    EXPECT_EQ(again.id, a.id);
    // Another workspace's key is its own.
    EXPECT_NE(enqueue(kBig, noop("report-42")).id, a.id);
    sql("UPDATE jobs SET unique_until = now() - interval '1 second'");
    const auto later = enqueue(kSmall, noop("report-42"));
    EXPECT_NE(later.id, a.id);
}

asio::awaitable<std::string> cancel(Store* store, db::TenantScope scope, core::Uuid id) {
    try {
        const audit::Event e{std::nullopt, "job.cancel", "job", id.str()};
        const audit::Origin origin{"127.0.0.1", "test"};
        auto job = co_await store->cancel(scope, id, e, origin);
        co_return job.state + (job.cancel_requested ? " requested" : "");
    } catch (const core::Problem& p) {
        co_return std::to_string(p.status());
    }
}

TEST_F(JobsTest, CancelStopsAWaitingJobAtOnceAndAsksARunningOne) {
    const auto waiting = enqueue(kSmall, noop());
    EXPECT_EQ(run(cancel(store_.get(), in(kSmall), waiting.id)), "cancelled");
    EXPECT_EQ(run(cancel(store_.get(), in(kSmall), waiting.id)), "409");
    EXPECT_EQ(run(cancel(store_.get(), in(kBig), waiting.id)), "404");
    enqueue(kSmall, noop());
    const auto c = claim(1);
    ASSERT_EQ(c.size(), 1U);
    EXPECT_EQ(run(cancel(store_.get(), in(kSmall), c[0].id)), "running requested");
    const std::vector<Lease> held{lease_of(c[0])};
    const std::vector<std::string> kinds{"test.noop"};
    const auto beat = run(store_->heartbeat(held, std::chrono::seconds(30), "w", "h", 1, kinds));
    ASSERT_EQ(beat.size(), 1U);
    EXPECT_TRUE(beat[0].second);
    EXPECT_TRUE(run(store_->cancelled(lease_of(c[0]))));
    EXPECT_EQ(sql(fmt::format("SELECT state FROM jobs WHERE id = '{}'", c[0].id.str())), "cancelled");
}

TEST_F(JobsTest, ReleasedJobsAreTakenAtOnceWithoutLosingAnAttempt) {
    enqueue(kSmall, noop());
    const auto c = claim(1);
    ASSERT_EQ(c.size(), 1U);
    run(store_->release({lease_of(c[0])}));
    const auto again = claim(1);
    ASSERT_EQ(again.size(), 1U);
    EXPECT_EQ(again[0].attempt, 1);
}

TEST_F(JobsTest, FinishedJobsAreDeletedWithTheirEventsAfterTheRetention) {
    const auto old_job = enqueue(kSmall, noop());
    const auto recent = enqueue(kSmall, noop());
    const auto waiting = enqueue(kSmall, noop());
    sql(fmt::format("UPDATE jobs SET state = 'succeeded', finished_at = now() - interval '8 days' WHERE id = '{}'",
                    old_job.id.str()));
    sql(fmt::format("UPDATE jobs SET state = 'dead', finished_at = now() - interval '1 day' WHERE id = '{}'",
                    recent.id.str()));
    sql(fmt::format("UPDATE jobs SET run_at = now() - interval '30 days' WHERE id = '{}'", waiting.id.str()));
    run(store_->retention(std::chrono::hours(24 * 7)));
    EXPECT_EQ(sql("SELECT count(*) FROM jobs"), "2");
    EXPECT_EQ(sql(fmt::format("SELECT count(*) FROM jobs WHERE id = '{}'", old_job.id.str())), "0");
    EXPECT_EQ(sql(fmt::format("SELECT count(*) FROM job_events WHERE job_id = '{}'", old_job.id.str())), "0");
    EXPECT_NE(sql(fmt::format("SELECT count(*) FROM job_events WHERE job_id = '{}'", recent.id.str())), "0");
}

std::vector<NewJob> noops(int n) {
    std::vector<NewJob> out;
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) out.push_back(noop());
    return out;
}

TEST_F(JobsTest, RetentionDeletesABatchsChildrenAndTheirEventsWithIt) {
    auto parent = noop();
    parent.kind = "test.other";
    auto q = jobs::enqueue_batch(parent, {noop(), noop()});
    run(db::run(*pool_, in(kSmall), std::move(q)));
    const auto children = claim(10);
    ASSERT_EQ(children.size(), 2U);
    for (const auto& c : children) EXPECT_TRUE(run(store_->succeed(lease_of(c), "{}")));
    EXPECT_EQ(sql("SELECT count(DISTINCT job_id) FROM job_events"), "3");
    sql(fmt::format("UPDATE jobs SET state = 'succeeded', finished_at = now() - interval '8 days' WHERE id = '{}'",
                    parent.id.str()));
    run(store_->retention(std::chrono::hours(24 * 7)));
    EXPECT_EQ(sql("SELECT count(*) FROM jobs"), "0");
    EXPECT_EQ(sql("SELECT count(*) FROM job_events"), "0");
}

asio::awaitable<std::unique_ptr<db::Listener>> listen_events(std::string conninfo, core::ThreadPool* blocking) {
    co_return co_await db::Listener::open(std::move(conninfo), "kiln_job_events", *blocking);
}

TEST_F(JobsTest, AStatementsEventsArriveInNotificationsUnderThePayloadLimit) {
    auto listener = run(listen_events(app_conninfo(), &blocking_));
    std::vector<NewJob> many = noops(150);
    run(db::run(*pool_, in(kSmall), jobs::enqueue_many(many)));
    // Progress messages at their longest, JSON-escaped to six bytes a character where possible.
    std::string message;
    for (int i = 0; i < 500; ++i) message += (i % 2 == 0) ? "\x01" : "é";
    sql(fmt::format("UPDATE jobs SET progress_message = E'{}' WHERE state = 'available'", message));
    std::vector<std::string> payloads;
    std::size_t events = 0;
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 100 && events < 300; ++i) {
        ASSERT_TRUE(run(listener->wait()));
        for (auto& p : listener->take_payloads()) {
            for (const auto& e : events_of_notification(p)) {
                EXPECT_EQ(e.workspace_id, kSmall);
                ids.push_back(e.id);
                ++events;
            }
            payloads.push_back(std::move(p));
        }
    }
    EXPECT_EQ(events, 300U);  // 150 job.available, 150 job.progress
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
    EXPECT_GT(payloads.size(), 2U);
    for (const auto& p : payloads) EXPECT_LT(p.size(), 8000U);
}

asio::awaitable<std::unique_ptr<db::Listener>> listen_worker(std::string conninfo, core::ThreadPool* blocking) {
    std::vector<std::string> channels;
    channels.emplace_back("kiln_jobs");
    channels.emplace_back("kiln_job_cancel");
    co_return co_await db::Listener::open(std::move(conninfo), std::move(channels), *blocking);
}

// The worker's one connection hears both its channels, and tells them apart; a channel it does
// not listen on is not delivered to it.
TEST_F(JobsTest, OneListenerHearsSeveralChannelsByName) {
    auto listener = run(listen_worker(app_conninfo(), &blocking_));
    sql("SELECT pg_notify('kiln_job_events', 'not for it'), pg_notify('kiln_job_cancel', 'c1')");
    sql("SELECT pg_notify('kiln_jobs', 'default')");
    std::vector<db::Listener::Notification> heard;
    for (int i = 0; i < 10 && heard.size() < 2; ++i) {
        ASSERT_TRUE(run(listener->wait()));
        for (auto& n : listener->take_notifications()) heard.push_back(std::move(n));
    }
    ASSERT_EQ(heard.size(), 2U);
    EXPECT_EQ(heard[0].channel, "kiln_job_cancel");
    EXPECT_EQ(heard[0].payload, "c1");
    EXPECT_EQ(heard[1].channel, "kiln_jobs");
    EXPECT_EQ(heard[1].payload, "default");
}

TEST_F(JobsTest, ABatchParentRunsOnceEveryChildHasEndedWithTheirCounts) {
    auto parent = noop();
    parent.kind = "test.other";
    auto q = jobs::enqueue_batch(parent, noops(3));
    const auto last = q.size() - 1;
    const auto made = store_->job_at(run(db::run(*pool_, in(kSmall), std::move(q)))[last], 0);
    EXPECT_EQ(made.state, "scheduled");
    EXPECT_FALSE(made.run_at.has_value());
    ASSERT_TRUE(made.batch.has_value());
    EXPECT_EQ(made.batch->total, 3);

    // Only the children are claimable while the parent waits.
    const auto children = claim(10);
    ASSERT_EQ(children.size(), 3U);
    for (const auto& c : children) EXPECT_EQ(c.kind, "test.noop");
    EXPECT_TRUE(run(store_->succeed(lease_of(children[0]), "{\"n\":0}")));
    EXPECT_TRUE(run(store_->cancelled(lease_of(children[1]))));
    auto mid = run(store_->get(in(kSmall), parent.id));
    EXPECT_EQ(mid.state, "scheduled");
    EXPECT_EQ(mid.progress.percent, 66);
    EXPECT_EQ(mid.progress.message, "2 of 3 children done");
    sql(fmt::format("UPDATE jobs SET attempt = max_attempts WHERE id = '{}'", children[2].id.str()));
    EXPECT_EQ(run(store_->fail(lease_of(children[2]), "boom", std::chrono::milliseconds(0))), "dead");

    const auto done = run(store_->get(in(kSmall), parent.id));
    EXPECT_EQ(done.state, "available");
    EXPECT_TRUE(done.run_at.has_value());
    const auto parents = claim(10);
    ASSERT_EQ(parents.size(), 1U);
    EXPECT_EQ(parents[0].id, parent.id);
    EXPECT_EQ(parents[0].batch_json, R"({"total" : 3, "succeeded" : 1, "dead" : 1, "cancelled" : 1})");
    // Its children, listed by batch.
    const auto listed = run(store_->list(in(kSmall), std::nullopt, std::nullopt, parent.id, std::nullopt, 10));
    EXPECT_EQ(listed.size(), 3U);
}

TEST_F(JobsTest, CancellingABatchCancelsItsChildren) {
    auto parent = noop();
    parent.kind = "test.other";
    auto q = jobs::enqueue_batch(parent, noops(3));
    run(db::run(*pool_, in(kSmall), std::move(q)));
    const auto running = claim(1);
    ASSERT_EQ(running.size(), 1U);
    const audit::Event e{kUser, "job.cancel", "job", parent.id.str()};
    const auto cancelled = run(store_->cancel(in(kSmall), parent.id, e, {"127.0.0.1", "test"}));
    EXPECT_EQ(cancelled.state, "cancelled");
    EXPECT_EQ(sql(fmt::format("SELECT string_agg(state || ':' || (cancel_requested_at IS NOT NULL), ',' ORDER BY "
                              "state) FROM jobs WHERE parent_id = '{}'",
                              parent.id.str())),
              "cancelled:false,cancelled:false,running:true");
    // The running child stops at its next check; the batch's counts follow.
    EXPECT_TRUE(run(store_->cancelled(lease_of(running[0]))));
    const auto after = run(store_->get(in(kSmall), parent.id));
    EXPECT_EQ(after.state, "cancelled");
    ASSERT_TRUE(after.batch.has_value());
    EXPECT_EQ(after.batch->cancelled, 3);
    EXPECT_TRUE(claim(10).empty());

    // Retrying the batch runs again what did not succeed, and the parent waits for it again.
    const audit::Event r{kUser, "job.retry", "job", parent.id.str()};
    const auto retried = run(store_->retry(in(kSmall), parent.id, r, {"127.0.0.1", "test"}));
    EXPECT_EQ(retried.state, "scheduled");
    EXPECT_FALSE(retried.run_at.has_value());
    ASSERT_TRUE(retried.batch.has_value());
    EXPECT_EQ(retried.batch->cancelled, 0);
    EXPECT_EQ(retried.progress.message, "0 of 3 children done");
    const auto again = claim(10);
    EXPECT_EQ(again.size(), 3U);
    for (const auto& c : again) EXPECT_NE(c.id, parent.id);
}

TEST_F(JobsTest, APerKindCapHoldsAcrossClaims) {
    for (int i = 0; i < 5; ++i) {
        auto j = noop();
        j.kind = "test.other";
        enqueue(kSmall, j);
    }
    enqueue(kBig, noop());
    ClaimRequest c;
    c.limit = 10;
    c.kinds = {"test.noop", "test.other"};
    c.caps = {{"test.other", 2}};
    c.worker = "w";
    const auto first = run(store_->claim(c));
    int other = 0;
    for (const auto& j : first) other += j.kind == "test.other" ? 1 : 0;
    EXPECT_EQ(other, 2);
    EXPECT_EQ(first.size(), 3U);  // the uncapped kind is not held back
    EXPECT_TRUE(run(store_->claim(c)).empty());
    EXPECT_TRUE(run(store_->succeed(lease_of(first[0].kind == "test.other" ? first[0] : first[1]), "{}")));
    const auto next = run(store_->claim(c));
    ASSERT_EQ(next.size(), 1U);
    EXPECT_EQ(next[0].kind, "test.other");
}

TEST_F(JobsTest, SideEffectsCommitOnlyWithTheSuccessOfTheCurrentLease) {
    enqueue(kSmall, noop());
    const auto first = claim(1, std::nullopt, std::chrono::milliseconds(100));
    ASSERT_EQ(first.size(), 1U);
    sql("UPDATE jobs SET lease_expires_at = now() - interval '1 second'");
    run(store_->maintain());
    const auto second = claim(1);
    ASSERT_EQ(second.size(), 1U);
    std::vector<db::Query> stale;
    stale.push_back(record_effect(kSmall, first[0].id, first[0].attempt));
    EXPECT_FALSE(run(store_->succeed(lease_of(first[0]), "{}", std::move(stale))));
    EXPECT_EQ(sql("SELECT count(*) FROM job_effects"), "0");
    std::vector<db::Query> current;
    current.push_back(record_effect(kSmall, second[0].id, second[0].attempt));
    EXPECT_TRUE(run(store_->succeed(lease_of(second[0]), "{}", std::move(current))));
    EXPECT_EQ(sql("SELECT attempt FROM job_effects"), "2");
}

TEST_F(JobsTest, ManySuccessesAreRecordedInOneStatementOnlyForCurrentLeases) {
    for (int i = 0; i < 3; ++i) enqueue(kSmall, noop());
    const auto claimed = claim(3);
    ASSERT_EQ(claimed.size(), 3U);
    // The third lost its lease: it was rescued and claimed again.
    sql(fmt::format("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = '{}'",
                    claimed[2].id.str()));
    run(store_->maintain());
    const auto again = claim(1);
    ASSERT_EQ(again.size(), 1U);
    std::vector<std::pair<Lease, std::string>> done;
    done.reserve(claimed.size());
    for (const auto& c : claimed) done.emplace_back(lease_of(c), R"({"n":")" + c.id.str() + R"("})");
    const auto recorded = run(store_->succeed_many(done));
    EXPECT_EQ(recorded.size(), 2U);
    EXPECT_EQ(sql("SELECT count(*) FROM jobs WHERE state = 'succeeded' AND result->>'n' = id::text"), "2");
    EXPECT_EQ(sql(fmt::format("SELECT state FROM jobs WHERE id = '{}'", claimed[2].id.str())), "running");
}

TEST_F(JobsTest, ADueScheduleFiresOnceAndMovesToItsNextRunInItsZone) {
    Registry registry;
    int ticks = 0;
    registry.schedule({.name = "test.tick", .cron = "* * * * *", .task = [&ticks]() -> asio::awaitable<void> {
                           ++ticks;
                           co_return;
                       }});
    registry.schedule({.name = "test.morning",
                       .cron = "0 9 * * mon-fri",
                       .time_zone = "America/New_York",
                       .task = []() -> asio::awaitable<void> { co_return; }});
    Scheduler a(*store_, registry);
    Scheduler b(*store_, registry);
    run(a.take_lead("worker-a", 0));
    EXPECT_EQ(sql("SELECT worker FROM job_leader"), "worker-a");
    EXPECT_EQ(sql("SELECT extract(isodow FROM next_run_at AT TIME ZONE 'America/New_York') BETWEEN 1 AND 5 FROM "
                  "job_schedules WHERE name = 'test.morning'"),
              "t");
    EXPECT_EQ(sql("SELECT to_char(next_run_at AT TIME ZONE 'America/New_York', 'HH24:MI') FROM job_schedules "
                  "WHERE name = 'test.morning'"),
              "09:00");
    EXPECT_EQ(run(a.fire_due()), 0);  // nothing due yet
    sql("UPDATE job_schedules SET next_run_at = now() - interval '1 second' WHERE name = 'test.tick'");
    EXPECT_EQ(run(a.fire_due()), 1);
    EXPECT_EQ(run(b.fire_due()), 0);  // the occurrence was taken
    EXPECT_EQ(ticks, 1);
    EXPECT_EQ(sql("SELECT runs || ' ' || (next_run_at > now()) || ' ' || (next_run_at <= now() + interval '1 "
                  "minute') FROM job_schedules WHERE name = 'test.tick'"),
              "1 true true");
    // Taking the lead again keeps the next run of an unchanged schedule.
    const auto before = sql("SELECT next_run_at FROM job_schedules WHERE name = 'test.morning'");
    run(b.take_lead("worker-b", 0));
    EXPECT_EQ(sql("SELECT next_run_at FROM job_schedules WHERE name = 'test.morning'"), before);
}

asio::awaitable<bool> lock_taken(std::string conninfo, core::ThreadPool* blocking, std::unique_ptr<db::Listener>* out,
                                 std::int64_t key = 42) {
    *out = co_await db::Listener::open_locked(std::move(conninfo), "kiln_leader", *blocking, key);
    co_return *out != nullptr;
}

TEST_F(JobsTest, OneSessionHoldsTheLeaderLockUntilItsConnectionEnds) {
    std::unique_ptr<db::Listener> first;
    std::unique_ptr<db::Listener> second;
    EXPECT_TRUE(run(lock_taken(app_conninfo(), &blocking_, &first)));
    EXPECT_FALSE(run(lock_taken(app_conninfo(), &blocking_, &second)));
    // The leader's backend is terminated (its process died, say): the lock frees.
    sql("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 42");
    for (int i = 0; i < 100 && !run(lock_taken(app_conninfo(), &blocking_, &second)); ++i) {
        sql("SELECT pg_sleep(0.05)");  // the backend's exit is asynchronous
    }
    EXPECT_NE(second, nullptr);
}

// The leader named for operators is the worker whose connection holds the lock, never the one
// that held it before: between a new leader taking the lock and writing its row, nobody is named.
TEST_F(JobsTest, TheNamedLeaderIsTheWorkerWhoseConnectionHoldsTheLock) {
    Registry registry;
    Scheduler scheduler(*store_, registry);
    std::unique_ptr<db::Listener> first;
    std::unique_ptr<db::Listener> second;
    ASSERT_TRUE(run(lock_taken(app_conninfo(), &blocking_, &first, kLeaderLock)));
    run(scheduler.take_lead("worker-a", first->backend_pid()));
    EXPECT_EQ(sql("SELECT coalesce(kiln_job_leader(), 'nobody')"), "worker-a");
    sql(fmt::format("SELECT pg_terminate_backend({})", first->backend_pid()));
    for (int i = 0; i < 100 && !run(lock_taken(app_conninfo(), &blocking_, &second, kLeaderLock)); ++i) {
        sql("SELECT pg_sleep(0.05)");  // the backend's exit is asynchronous
    }
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(sql("SELECT worker FROM job_leader"), "worker-a");  // the row is the dead leader's still
    EXPECT_EQ(sql("SELECT coalesce(kiln_job_leader(), 'nobody')"), "nobody");
    run(scheduler.take_lead("worker-b", second->backend_pid()));
    EXPECT_EQ(sql("SELECT coalesce(kiln_job_leader(), 'nobody')"), "worker-b");
}

}  // namespace
}  // namespace kiln::jobs
