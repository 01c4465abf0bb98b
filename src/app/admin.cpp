// `kiln admin …`: account administration from the command line (no HTTP server involved).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fstream>
#include <iostream>
#include <thread>

#include "app/app.hpp"
#include "core/crypto.hpp"
#include "core/log.hpp"

namespace asio = boost::asio;

namespace kiln::app {

namespace {

constexpr const char* kInitialEmail = "admin@kiln.local";
constexpr const char* kInitialUsername = "admin";

// What account commands need, without the HTTP side. The command line issues no tokens, so
// its JWT key is a throwaway.
struct AdminTools {
    explicit AdminTools(const core::Config& c)
        : cpu(std::max(1U, std::thread::hardware_concurrency())),
          db(pool_options(c), cpu),
          passwords(cpu, {c.auth.argon2_memory_kib, c.auth.argon2_passes}),
          jwt(core::random_token(32), {}, c.auth.issuer, c.auth.audience, std::chrono::seconds(60)),
          store(db),
          service(store, passwords, jwt, c.auth, c.server.public_url) {}
    core::ThreadPool cpu;
    db::Pool db;
    auth::Passwords passwords;
    auth::Jwt jwt;
    auth::Store store;
    auth::Service service;
};

template <typename T>
T run_task(asio::io_context& io, asio::awaitable<T> task) {
    auto f = asio::co_spawn(io, std::move(task), asio::use_future);
    io.run();
    return f.get();
}

// Writes `text` to `path` readable by its owner only, replacing what was there.
void write_private(const std::string& path, const std::string& text) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot write " + path);
    ::fchmod(fd, 0600);
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok) throw std::runtime_error("cannot write " + path);
}

std::string describe_problem(const core::Problem& p) {
    std::string out = p.detail().empty() ? p.title() : p.detail();
    for (const auto& e : p.errors()) out += "; " + e.field + " " + e.message;
    return out;
}

asio::awaitable<bool> admin_exists(AdminTools* t) {
    co_return co_await t->service.platform_admin_exists();
}

asio::awaitable<auth::RegisterReply> create(AdminTools* t, auth::RegisterRequest r, bool platform_admin) {
    co_return co_await t->service.create_account(std::move(r), platform_admin);
}

}  // namespace

int admin_create_user(const core::Config& config, const AdminUser& user) {
    try {
        // The context outlives the pool: connections are registered with it until closed.
        asio::io_context io;
        AdminTools tools(config);
        auth::RegisterRequest r{user.email, user.password, user.name, user.username};
        const bool generated = r.password.empty();
        if (generated) r.password = core::random_token(18);
        const auto reply = run_task(io, create(&tools, r, user.platform_admin));
        std::cout << "created " << (user.platform_admin ? "platform administrator " : "user ") << reply.user.email
                  << " (" << reply.user.id.str() << ")\n";
        if (generated) std::cout << "password: " << r.password << "\n";
        return 0;
    } catch (const core::Problem& p) {
        std::cerr << "kiln admin create-user: " << describe_problem(p) << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "kiln admin create-user: " << e.what() << "\n";
        return 1;
    }
}

int admin_init(const core::Config& config, const std::string& output) {
    try {
        // The context outlives the pool: connections are registered with it until closed.
        asio::io_context io;
        AdminTools tools(config);
        if (run_task(io, admin_exists(&tools))) return 0;
        auth::RegisterRequest r{kInitialEmail, core::random_token(18), "Administrator", kInitialUsername};
        io.restart();
        run_task(io, create(&tools, r, true));
        const std::string text = fmt::format(
            "Kiln's first platform administrator. Sign in with POST /api/v1/auth/login.\n"
            "email:    {}\nusername: {}\npassword: {}\n",
            kInitialEmail, kInitialUsername, r.password);
        write_private(output, text);
        std::cout << "\n" << text << "(also written to " << output << ", mode 0600; shown this once)\n\n";
        return 0;
    } catch (const core::Problem& p) {
        // Another process created it at the same moment: one administrator is what was wanted.
        if (p.status() == 409) return 0;
        std::cerr << "kiln admin init: " << describe_problem(p) << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "kiln admin init: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace kiln::app
