// kiln: serve | migrate | version (worker and admin come with the job engine and tenancy).
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
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
    bool migrate_first = false;
    serve->add_option("--host", host, "Address to listen on (server.host)");
    serve->add_option("--port", port, "Port to listen on, 0 for any free port (server.port)")
        ->check(CLI::Range(0, 65535));
    serve->add_option("--io-threads", io_threads, "I/O threads, 0 for one per core (server.io_threads)");
    serve->add_flag("--migrate", migrate_first, "Apply pending migrations (as the owner role) before serving");

    auto* migrate = cli.add_subcommand("migrate", "Apply pending database migrations as the owner role");
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
        config.resolve_secrets();
    } catch (const kiln::core::ConfigError& e) {
        std::cerr << "kiln: " << e.what() << "\n";
        return 2;
    }
    kiln::core::init_crypto();
    kiln::core::log::init(config.log.level);

    if (migrate->parsed()) return kiln::app::migrate(config);
    if (serve->parsed()) {
        if (migrate_first) {
            if (const int rc = kiln::app::migrate(config); rc != 0) return rc;
        }
        return kiln::app::serve(config);
    }
    return 0;
}
