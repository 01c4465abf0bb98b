// The job-events WebSocket session against PostgreSQL, in an in-process server whose hub the test
// publishes to: a client that falls too far behind is closed with 1013, and subscriptions are
// released from the hub when unsubscribed or when the connection ends.
#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include "http/server.hpp"
#include "jobs/event_socket.hpp"
#include "pg_fixture.hpp"
#include "support/ws_client.hpp"

namespace asio = boost::asio;

namespace kiln::jobs {
namespace {

using kiln::testing::AdminConnection;
using kiln::testing::WsClient;
using namespace std::chrono_literals;

const auto kUser = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000e1");
const auto kWorkspace = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000e0");
const auto kSession = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000e3");
constexpr std::size_t kHubQueue = 16;

struct SocketDeps {
    Service* jobs;
    http::EventHub* hub;
};

asio::awaitable<void> serve_owner(SocketDeps d, http::WebSocket& ws) {
    if (!co_await ws.accept()) co_return;
    const auth::Principal owner{.user = kUser, .workspace = kWorkspace, .session = kSession, .role = "owner"};
    co_await serve_event_socket(*d.jobs, *d.hub, owner, ws);
}

// Polls `done` until it holds or `limit` passes (the server's threads update what it reads).
template <typename F>
bool within(std::chrono::milliseconds limit, F done) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

class EventSocketTest : public kiln::testing::PgTest {
protected:
    void SetUp() override {
        PgTest::SetUp();
        AdminConnection su(superuser_conninfo());
        su.exec(fmt::format(R"sql(
            INSERT INTO users (id, email, name, password_hash) VALUES ('{0}', 'e@example.com', 'E', 'x');
            INSERT INTO workspaces (id, name, personal) VALUES ('{1}', 'E', true);
            INSERT INTO memberships (workspace_id, user_id, role) VALUES ('{1}', '{0}', 'owner');
            INSERT INTO auth_sessions (id, user_id, active_workspace_id, expires_at)
                 VALUES ('{2}', '{0}', '{1}', now() + interval '1 day');)sql",
                            kUser.str(), kWorkspace.str(), kSession.str()));
        pool_ = std::make_unique<db::Pool>(pool_options(true, 2), blocking_);
        store_ = std::make_unique<Store>(*pool_);
        service_ = std::make_unique<Service>(*store_, registry_, config_.jobs);

        server_config_.host = "127.0.0.1";
        server_config_.port = 0;
        server_config_.access_log = false;
        server_config_.stream_queue = 4;
        const SocketDeps d{service_.get(), &hub_};
        router_.add({.method = http::Verb::get,
                     .path = "/ws",
                     .summary = "Job events",
                     .websocket = [d](http::Request& /*req*/, http::WebSocket& ws) { return serve_owner(d, ws); }});
        metrics_.set_routes({{"GET", "/ws"}});
        server_ = std::make_unique<http::Server>(server_config_, router_, metrics_, io_threads_);
        server_->listen();
        server_->start();
        io_threads_.start();
    }

    void TearDown() override {
        asio::co_spawn(io_threads_.at(0), server_->shutdown(), asio::use_future).get();
        io_threads_.stop();
        io_threads_.join();
        server_.reset();
        service_.reset();
        store_.reset();
        pool_.reset();
        PgTest::TearDown();
    }

    http::Event event(std::int64_t id, std::size_t size = 16) const {
        return {.id = id,
                .workspace_id = kWorkspace,
                .type = "job.progress",
                .data = R"({"pad":")" + std::string(size, 'p') + R"("})"};
    }

    // Declared first: the pool's connections were used on these threads' contexts.
    http::IoThreads io_threads_{1};
    http::EventHub hub_{kHubQueue};
    Registry registry_;
    std::unique_ptr<db::Pool> pool_;
    std::unique_ptr<Store> store_;
    std::unique_ptr<Service> service_;
    core::ServerConfig server_config_;
    http::Router router_;
    http::Metrics metrics_;
    std::unique_ptr<http::Server> server_;
};

TEST_F(EventSocketTest, RelaysTheHubsEventsInOrder) {
    WsClient client(server_->port(), "/ws");
    client.write(R"({"type":"subscribe","workspace":true})");
    EXPECT_EQ(client.read(), R"({"type":"subscribed","workspace":true})");
    for (int i = 1; i <= 3; ++i) hub_.publish(event(i));
    hub_.publish(http::Event{.id = 4, .workspace_id = core::Uuid::v7(), .type = "job.progress", .data = "{}"});
    for (int i = 1; i <= 3; ++i) {
        EXPECT_EQ(client.read(),
                  fmt::format(R"({{"type":"event","id":{},"event":"job.progress","data":{}}})", i, event(i).data));
    }
}

TEST_F(EventSocketTest, AClientTooFarBehindIsClosedWith1013) {
    // A small receive window: once the socket buffers are full the server's writer stalls, the
    // send queue fills, the pump waits, and the hub's queue for the subscription overflows.
    WsClient client(server_->port(), "/ws", 4096);
    client.write(R"({"type":"subscribe","workspace":true})");
    ASSERT_EQ(client.read(), R"({"type":"subscribed","workspace":true})");
    constexpr int kEvents = 20000;  // 80 MB of events: far more than any socket buffer holds
    for (int i = 1; i <= kEvents; ++i) hub_.publish(event(i, 4096));
    int received = 0;
    for (;;) {
        auto message = client.read();
        if (!message) break;
        ++received;
    }
    EXPECT_TRUE(client.closed_by_server());
    EXPECT_EQ(client.close_code(), 1013);
    EXPECT_NE(client.close_reason().find("subscribe with after"), std::string::npos) << client.close_reason();
    EXPECT_LT(received, kEvents);
    EXPECT_GE(hub_.lagged_total(), 1U);
    EXPECT_TRUE(within(5000ms, [&] { return hub_.subscribers() == 0; }));
}

TEST_F(EventSocketTest, SubscriptionsLeaveTheHubWhenUnsubscribedOrDisconnected) {
    const auto job = core::Uuid::v7();
    AdminConnection(superuser_conninfo())
        .exec(fmt::format("INSERT INTO jobs (workspace_id, id, kind, state, max_attempts, timeout_ms) "
                          "VALUES ('{}', '{}', 'test.noop', 'scheduled', 3, 60000)",
                          kWorkspace.str(), job.str()));
    {
        WsClient client(server_->port(), "/ws");
        client.write(R"({"type":"subscribe","workspace":true})");
        ASSERT_EQ(client.read(), R"({"type":"subscribed","workspace":true})");
        client.write(fmt::format(R"({{"type":"subscribe","job_id":"{}"}})", job.str()));
        ASSERT_EQ(client.read(), fmt::format(R"({{"type":"subscribed","job_id":"{}"}})", job.str()));
        EXPECT_EQ(hub_.subscribers(), 2U);
        client.write(R"({"type":"unsubscribe","workspace":true})");
        ASSERT_EQ(client.read(), R"({"type":"unsubscribed","workspace":true})");
        EXPECT_TRUE(within(5000ms, [&] { return hub_.subscribers() == 1; }));
        // Only the job's feed is left: an event of another job of the workspace is not relayed.
        hub_.publish(event(1));
        auto mine = event(2);
        mine.job_id = job;
        hub_.publish(mine);
        const auto next = client.read();
        ASSERT_TRUE(next);
        EXPECT_NE(next->find(R"("id":2)"), std::string::npos) << *next;
        client.close();
    }
    EXPECT_TRUE(within(5000ms, [&] { return hub_.subscribers() == 0; }));
}

}  // namespace
}  // namespace kiln::jobs
