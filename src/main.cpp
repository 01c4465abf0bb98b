// kiln: serve | worker | migrate | admin | version.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "app/app.hpp"
#include "core/config.hpp"
#include "core/crypto.hpp"
#include "core/log.hpp"

int main(int argc, char** argv) {
    CLI::App cli{"Kiln: multi-tenant platform for asynchronous content processing"};
    cli.require_subcommand(1);
    cli.fallthrough();  // --config is accepted after the subcommand too
    std::string config_path;
    if (const char* env = std::getenv("KILN_CONFIG")) config_path = env;
    cli.add_option("-c,--config", config_path, "Config file (TOML); default kiln.toml when present, env KILN_CONFIG");

    auto* serve = cli.add_subcommand("serve", "Serve the API, the docs and the dashboard");
    std::optional<std::string> host;
    std::optional<int> port;
    std::optional<unsigned> io_threads;
    std::optional<unsigned> workers;
    bool migrate_first = false;
    serve->add_option("--host", host, "Address to listen on (server.host)");
    serve->add_option("--port", port, "Port to listen on, 0 for any free port (server.port)")
        ->check(CLI::Range(0, 65535));
    serve->add_option("--io-threads", io_threads, "I/O threads, 0 for one per core (server.io_threads)");
    serve->add_option("--workers", workers, "jobs run at once by this process, 0 for none (jobs.workers)");
    serve->add_flag("--migrate", migrate_first, "Apply pending migrations (as the owner role) before serving");

    auto* worker = cli.add_subcommand("worker", "Run job workers only (any number, on any machine)");
    worker->add_option("--workers", workers, "jobs run at once by this process (jobs.workers)");
    auto* migrate = cli.add_subcommand("migrate", "Apply pending database migrations as the owner role");

    auto* admin = cli.add_subcommand("admin", "Administer accounts");
    admin->require_subcommand(1);
    auto* create_user = admin->add_subcommand("create-user", "Create an account (and its personal workspace)");
    kiln::app::AdminUser new_user;
    std::string password_file;
    std::optional<std::string> username;
    create_user->add_option("--email", new_user.email, "Email address")->required();
    create_user->add_option("--name", new_user.name, "Display name")->required();
    create_user->add_option("--username", username, "Username (optional)");
    create_user->add_option("--password-file", password_file,
                            "File holding the password; without it one is generated and printed once");
    create_user->add_flag("--platform-admin", new_user.platform_admin, "Make the account a platform administrator");
    auto* init = admin->add_subcommand(
        "init", "Create the first platform administrator when there is none; print its credentials once");
    std::string init_output = ".kiln/initial-admin.txt";
    init->add_option("--output", init_output, "Where to write the credentials (mode 0600)");
    auto* version = cli.add_subcommand("version", "Print the version");

    CLI11_PARSE(cli, argc, argv);

    if (version->parsed()) {
        std::cout << "kiln " << KILN_VERSION << "\n";
        return 0;
    }
    if (config_path.empty() && std::filesystem::exists("kiln.toml")) config_path = "kiln.toml";
    kiln::core::Config config;
    try {
        config = kiln::core::Config::load(config_path);
        if (host) config.server.host = *host;
        if (port) config.server.port = static_cast<std::uint16_t>(*port);
        if (io_threads) config.server.io_threads = *io_threads;
        if (workers) config.jobs.workers = *workers;
        config.resolve_secrets();
    } catch (const kiln::core::ConfigError& e) {
        std::cerr << "kiln: " << e.what() << "\n";
        return 2;
    }
    kiln::core::init_crypto();
    kiln::core::log::init(config.log.level);

    if (migrate->parsed()) return kiln::app::migrate(config);
    if (worker->parsed()) return kiln::app::work(config);
    if (create_user->parsed()) {
        new_user.username = username;
        if (!password_file.empty()) {
            std::ifstream in(password_file);
            if (!in || !std::getline(in, new_user.password)) {
                std::cerr << "kiln admin create-user: cannot read " << password_file << "\n";
                return 2;
            }
        }
        return kiln::app::admin_create_user(config, new_user);
    }
    if (init->parsed()) return kiln::app::admin_init(config, init_output);
    if (serve->parsed()) {
        if (migrate_first) {
            if (const int rc = kiln::app::migrate(config); rc != 0) return rc;
        }
        return kiln::app::serve(config);
    }
    return 0;
}
