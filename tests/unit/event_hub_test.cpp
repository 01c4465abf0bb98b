#include "http/event_hub.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <thread>

#include "support/run.hpp"

namespace kiln::http {

namespace asio = boost::asio;

namespace {

Event make_event(const core::Uuid& workspace, std::int64_t id, std::optional<core::Uuid> job = std::nullopt) {
    return Event{.id = id, .workspace_id = workspace, .job_id = job, .type = "job.progress", .data = "{}"};
}

// Collects `count` events (or until the subscription ends) on the calling io_context.
asio::awaitable<std::vector<std::int64_t>> collect(Subscription& sub, std::size_t count) {
    std::vector<std::int64_t> ids;
    while (ids.size() < count) {
        auto event = co_await sub.next();
        if (!event) break;
        ids.push_back(event->id);
    }
    co_return ids;
}

class EventHubTest : public ::testing::Test {
protected:
    asio::io_context ctx;
    EventHub hub{8};
    core::Uuid ws_a = core::Uuid::v7();
    core::Uuid ws_b = core::Uuid::v7();
};

TEST_F(EventHubTest, DeliversOnlyTheSubscribedWorkspaceInOrder) {
    auto sub = hub.subscribe(ctx.get_executor(), {.workspace_id = ws_a});
    EXPECT_EQ(hub.subscribers(), 1U);
    EXPECT_EQ(hub.publish(make_event(ws_a, 1)), 1U);
    EXPECT_EQ(hub.publish(make_event(ws_b, 2)), 0U);
    EXPECT_EQ(hub.publish(make_event(ws_a, 3)), 1U);
    const auto ids = testing::run(ctx, collect(sub, 2));
    EXPECT_EQ(ids, (std::vector<std::int64_t>{1, 3}));
    EXPECT_EQ(sub.queued(), 0U);
}

TEST_F(EventHubTest, JobFilter) {
    const auto job = core::Uuid::v7();
    auto only_job = hub.subscribe(ctx.get_executor(), {.workspace_id = ws_a, .job_id = job});
    auto whole = hub.subscribe(ctx.get_executor(), {.workspace_id = ws_a});
    hub.publish(make_event(ws_a, 1));
    hub.publish(make_event(ws_a, 2, job));
    hub.publish(make_event(ws_a, 3, core::Uuid::v7()));
    EXPECT_EQ(testing::run(ctx, collect(only_job, 1)), (std::vector<std::int64_t>{2}));
    EXPECT_EQ(only_job.try_next(), nullptr);
    EXPECT_EQ(testing::run(ctx, collect(whole, 3)), (std::vector<std::int64_t>{1, 2, 3}));
}

TEST_F(EventHubTest, OverflowMarksLaggingAndEndsTheSubscription) {
    auto slow = hub.subscribe(ctx.get_executor(), {.workspace_id = ws_a});
    for (int i = 1; i <= 8; ++i) hub.publish(make_event(ws_a, i));
    EXPECT_FALSE(slow.lagging());
    EXPECT_EQ(slow.queued(), 8U);
    hub.publish(make_event(ws_a, 9));
    EXPECT_TRUE(slow.lagging());
    EXPECT_EQ(slow.queued(), 0U);  // the backlog is dropped at once
    EXPECT_EQ(hub.lagged_total(), 1U);
    EXPECT_TRUE(testing::run(ctx, collect(slow, 1)).empty());
    EXPECT_EQ(hub.publish(make_event(ws_a, 10)), 0U);
}

TEST_F(EventHubTest, UnsubscribesOnDestructionAndMove) {
    {
        auto sub = hub.subscribe(ctx.get_executor(), {.workspace_id = ws_a});
        auto moved = std::move(sub);
        EXPECT_EQ(hub.subscribers(), 1U);
        Subscription assigned;
        assigned = std::move(moved);
        EXPECT_EQ(hub.subscribers(), 1U);
    }
    EXPECT_EQ(hub.subscribers(), 0U);
    EXPECT_EQ(hub.publish(make_event(ws_a, 1)), 0U);
}

TEST_F(EventHubTest, CancellingAWaitingSubscriberReturnsNull) {
    auto sub = hub.subscribe(ctx.get_executor(), {.workspace_id = ws_a});
    asio::cancellation_signal cancel;
    auto task = collect(sub, 1);
    auto done = asio::co_spawn(ctx, std::move(task), asio::bind_cancellation_slot(cancel.slot(), asio::use_future));
    ctx.poll();  // now suspended in next()
    cancel.emit(asio::cancellation_type::terminal);
    ctx.run();
    EXPECT_TRUE(done.get().empty());
}

TEST_F(EventHubTest, CloseEndsWaitingSubscribersAndRefusesNewOnes) {
    auto sub = hub.subscribe(ctx.get_executor(), {.workspace_id = ws_a});
    auto done = asio::co_spawn(ctx, collect(sub, 1), asio::use_future);
    ctx.poll();
    hub.close();
    ctx.run();
    EXPECT_TRUE(done.get().empty());
    auto late = hub.subscribe(ctx.get_executor(), {.workspace_id = ws_a});
    EXPECT_EQ(hub.subscribers(), 0U);
    ctx.restart();
    EXPECT_TRUE(testing::run(ctx, collect(late, 1)).empty());
}

// Publishers on other threads wake a subscriber suspended on its own io_context; every event
// arrives once, in publish order, with no lost wake-up.
TEST(EventHubThreads, PublishFromOtherThreads) {
    constexpr std::int64_t kEvents = 20000;
    EventHub hub(kEvents);
    asio::io_context ctx;
    const auto ws_a = core::Uuid::v7();
    const auto ws_b = core::Uuid::v7();
    auto sub_a = hub.subscribe(ctx.get_executor(), {.workspace_id = ws_a});
    auto sub_b = hub.subscribe(ctx.get_executor(), {.workspace_id = ws_b});
    auto got_a = asio::co_spawn(ctx, collect(sub_a, kEvents), asio::use_future);
    auto got_b = asio::co_spawn(ctx, collect(sub_b, kEvents), asio::use_future);
    ctx.poll();  // both suspended before anything is published
    std::thread pub_a([&] {
        for (std::int64_t i = 1; i <= kEvents; ++i) hub.publish(make_event(ws_a, i));
    });
    std::thread pub_b([&] {
        for (std::int64_t i = 1; i <= kEvents; ++i) hub.publish(make_event(ws_b, i));
    });
    ctx.run();
    pub_a.join();
    pub_b.join();
    for (auto* f : {&got_a, &got_b}) {
        const auto ids = f->get();
        ASSERT_EQ(ids.size(), static_cast<std::size_t>(kEvents));
        for (std::int64_t i = 0; i < kEvents; ++i) ASSERT_EQ(ids[static_cast<std::size_t>(i)], i + 1);
    }
    EXPECT_EQ(hub.lagged_total(), 0U);
}

// Subscribing and unsubscribing on one thread while another publishes (ASan/TSan food).
TEST(EventHubThreads, ChurnWhilePublishing) {
    EventHub hub(4);
    asio::io_context ctx;
    const auto ws = core::Uuid::v7();
    std::atomic<bool> stop{false};
    std::thread publisher([&] {
        std::int64_t id = 0;
        while (!stop.load()) hub.publish(make_event(ws, ++id));
    });
    for (int i = 0; i < 2000; ++i) {
        auto sub = hub.subscribe(ctx.get_executor(), {.workspace_id = ws});
        (void)sub.try_next();
        ctx.poll();  // runs any wake posted to this subscriber
    }
    stop.store(true);
    publisher.join();
    ctx.poll();
    EXPECT_EQ(hub.subscribers(), 0U);
}

}  // namespace

}  // namespace kiln::http
