// db::Notifier: one LISTEN connection serving several subscribers, delivering by channel, and
// coming back by itself (telling its subscribers) when its session is terminated.
#include "db/notifier.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>

#include "pg_fixture.hpp"

namespace asio = boost::asio;

namespace kiln::db {
namespace {

using testing::AdminConnection;

class NotifierTest : public testing::PgTest {};

// Polls `done` every 5 ms for up to 10 s; false when it never held.
asio::awaitable<bool> until(const std::function<bool()>& done) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) co_return false;
        timer.expires_after(std::chrono::milliseconds(5));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return true;
}

struct Seen {
    std::vector<std::string> jobs;
    std::vector<std::string> mail;
    int connected = 0;
};

asio::awaitable<void> scenario(Notifier* notifier, AdminConnection* admin, Seen* seen) {
    const auto listening = [admin] {
        return admin->exec(
                   "SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN kiln_jobs; LISTEN kiln_mail' "
                   "AND state = 'idle'") == "1";
    };
    EXPECT_TRUE(co_await until([&] { return seen->connected == 2 && listening(); })) << "both told it connected";
    admin->exec("SELECT pg_notify('kiln_mail', 'm1'), pg_notify('kiln_other', 'x'), pg_notify('kiln_jobs', 'j1')");
    EXPECT_TRUE(co_await until([&] { return seen->jobs.size() == 1 && seen->mail.size() == 1; }));

    admin->exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %kiln_jobs%' "
        "AND pid <> pg_backend_pid()");
    EXPECT_TRUE(co_await until([&] { return seen->connected == 4 && listening(); })) << "back, and said so";
    admin->exec("SELECT pg_notify('kiln_jobs', 'j2')");
    EXPECT_TRUE(co_await until([&] { return seen->jobs.size() == 2; }));
    co_await notifier->stop();
}

TEST_F(NotifierTest, OneConnectionServesEveryChannelAndComesBackWhenKilled) {
    Notifier notifier(app_conninfo(), blocking_);
    Seen seen;
    notifier.subscribe(
        "kiln_jobs",
        [&seen](const std::vector<std::string>& p) { seen.jobs.insert(seen.jobs.end(), p.begin(), p.end()); },
        [&seen] { ++seen.connected; });
    notifier.subscribe(
        "kiln_mail",
        [&seen](const std::vector<std::string>& p) { seen.mail.insert(seen.mail.end(), p.begin(), p.end()); },
        [&seen] { ++seen.connected; });
    AdminConnection admin(superuser_conninfo());
    notifier.start(io_.get_executor());
    run(scenario(&notifier, &admin, &seen));
    EXPECT_EQ(seen.jobs, (std::vector<std::string>{"j1", "j2"}));
    EXPECT_EQ(seen.mail, (std::vector<std::string>{"m1"}));
}

}  // namespace
}  // namespace kiln::db
