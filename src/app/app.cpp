#include "app/app.hpp"

#include <fmt/format.h>
#include <sys/resource.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>
#include <thread>

#include "admin/routes.hpp"
#include "audit/routes.hpp"
#include "auth/routes.hpp"
#include "core/log.hpp"
#include "db/migrate.hpp"
#include "db/notifier.hpp"
#include "http/server.hpp"
#include "jobs/builtin.hpp"
#include "jobs/diagnostic.hpp"
#include "jobs/events.hpp"
#include "jobs/routes.hpp"
#include "jobs/worker.hpp"
#include "mail/sender.hpp"
#include "modules/uploads/jobs.hpp"
#include "modules/uploads/routes.hpp"
#include "storage/connection_routes.hpp"
#include "storage/jobs.hpp"
#include "storage/routes.hpp"
#include "storage/tus_routes.hpp"
#include "tenancy/routes.hpp"

namespace asio = boost::asio;

namespace kiln::app {

namespace {

unsigned or_cores(unsigned n) {
    return n != 0 ? n : std::max(1U, std::thread::hardware_concurrency());
}

std::string kiln_home() {
    const char* home = std::getenv("KILN_HOME");
    return home != nullptr ? home : "";
}

// Runs the job worker on its own thread, so that handlers never hold up an I/O thread.
class JobThread {
public:
    // `notifier` is started after this (it brings the worker new work and cancel requests).
    JobThread(Services& s, const core::Config& c, db::Notifier& notifier)
        : store_(s.jobs_store),
          worker_(s.jobs_store, s.job_kinds, c.jobs, s.cpu, core::conninfo(c.database, false), s.job_metrics),
          guard_(asio::make_work_guard(ctx_)) {
        worker_.start(ctx_.get_executor());
        worker_.listen(notifier);
        thread_ = std::thread([this] { ctx_.run(); });
        store_.set_local_wake([this] { asio::post(ctx_, [this] { worker_.wake(); }); });
    }
    JobThread(const JobThread&) = delete;
    JobThread& operator=(const JobThread&) = delete;
    ~JobThread() {
        store_.set_local_wake(nullptr);
        guard_.reset();
        ctx_.stop();
        if (thread_.joinable()) thread_.join();
    }
    asio::awaitable<void> stop() { co_await asio::co_spawn(ctx_, worker_.stop(), asio::use_awaitable); }

private:
    jobs::Store& store_;
    asio::io_context ctx_{1};
    jobs::Worker worker_;
    asio::executor_work_guard<asio::io_context::executor_type> guard_;
    std::thread thread_;
};

// The signal sets are made before the threads start (making one installs its handlers), so a
// SIGTERM that comes as soon as the process says it is listening still shuts it down cleanly.
asio::awaitable<void> wait_for_signal(asio::signal_set* signals, http::Server* server, http::IoThreads* io,
                                      mail::Sender* mailer, JobThread* jobs, db::Notifier* notifier) {
    auto [ec, sig] = co_await signals->async_wait(asio::as_tuple(asio::use_awaitable));
    core::log::info("shutting down", {{"signal", sig}, {"connections", server->connections()}});
    co_await server->shutdown();
    // Then the jobs: running ones finish within jobs.shutdown_grace_ms or are handed back.
    if (jobs != nullptr) co_await jobs->stop();
    // After the requests: mail they queued is delivered now or by the next start.
    co_await mailer->stop();
    co_await notifier->stop();
    io->stop();
}

asio::awaitable<void> stop_worker_on_signal(asio::signal_set* signals, JobThread* jobs, db::Notifier* notifier) {
    auto [ec, sig] = co_await signals->async_wait(asio::as_tuple(asio::use_awaitable));
    core::log::info("shutting down", {{"signal", sig}});
    co_await jobs->stop();
    co_await notifier->stop();
}

// Open files are sockets, database connections and, during a sync into the local store, the
// blobs staged for their batch's fsync (up to 32 per lane): more than the usual soft limit of
// 1024 under load. The hard limit is the operator's; the soft one is raised to it, as Go does.
void raise_open_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    const auto was = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
        core::log::warn("cannot raise the open file limit", {{"soft", was}, {"hard", limit.rlim_max}});
    }
}

}  // namespace

db::PoolOptions pool_options(const core::Config& c) {
    return {.conninfo = core::conninfo(c.database, false),
            .max_size = c.database.pool_size,
            .acquire_timeout = c.database.acquire_timeout,
            .statement_timeout = c.database.statement_timeout,
            .health_check_after = c.database.health_check_after,
            .pipeline = c.database.pipeline};
}

Services::Services(const core::Config& c)
    : config(c),
      cpu(or_cores(c.cpu_threads)),
      disk(c.file_threads),
      db(pool_options(c), cpu),
      events(c.server.stream_queue),
      passwords(cpu, {c.auth.argon2_memory_kib, c.auth.argon2_passes}),
      jwt(c.auth.jwt_key, c.auth.jwt_previous_key, c.auth.issuer, c.auth.audience,
          std::chrono::seconds(c.auth.access_ttl_s)),
      auth_store(db),
      auth(auth_store, passwords, jwt, c.auth, c.server.public_url),
      tenancy_store(db),
      tenancy(tenancy_store, passwords, {c.auth.invitation_ttl_s, c.server.public_url}),
      admin_store(db),
      admin(admin_store),
      audit(db),
      mail_store(db),
      mail_delivery(c.mail, kiln_home()),
      mail(mail_store, mail_delivery, cpu, c.mail),
      jobs_store(db),
      jobs(jobs_store, job_kinds, c.jobs),
      job_metrics(metrics),
      blobs(c.storage, kiln_home(), disk),
      file_store(db),
      files(file_store, blobs, cpu),
      tus_store(db),
      tus(tus_store, files, disk, c.storage, kiln_home()),
      connection_store(db),
      connections(connection_store, c.storage),
      upload_store(db),
      sync_store(db),
      uploads(upload_store, sync_store, disk, c.uploads.import_roots, [this] { jobs_store.wake_local(); }),
      schema_version(db::latest_version(db::embedded_migrations())) {
    jobs::add_builtin(job_kinds, jobs_store, c.jobs);
    storage::add_jobs(job_kinds, tus, c.storage);
    uploads::add_jobs(job_kinds, {.store = &sync_store,
                                  .connections = &connection_store,
                                  .storage = &c.storage,
                                  .home = kiln_home(),
                                  .blocking = &disk,
                                  .import_roots = c.uploads.import_roots});
    if (c.jobs.diagnostic_kinds) jobs::add_diagnostic_kinds(job_kinds);
    events.register_metrics(metrics);
}

void add_routes(http::Router& router, Services& services) {
    add_system_routes(router, services);
    auth::add_routes(router, services.auth);
    tenancy::add_routes(router, services.auth, services.tenancy);
    admin::add_routes(router, services.auth, services.admin);
    jobs::add_routes(router, services.auth, services.jobs, services.events);
    storage::add_routes(router, services.auth, services.files);
    storage::add_tus_routes(router, services.auth, services.tus);
    storage::add_connection_routes(router, services.auth, services.connections);
    uploads::add_routes(router, services.auth, services.uploads);
    const auth::Service* auth = &services.auth;
    audit::add_routes(
        router, [auth](std::string_view authorization) { return auth->authenticate(authorization); }, services.audit);
    add_docs_routes(router);
    add_openapi_route(router);
    std::vector<std::pair<std::string, std::string>> names;
    for (const auto& r : router.routes())
        names.emplace_back(std::string(http::beast_http::to_string(r.method)), r.path);
    services.metrics.set_routes(std::move(names));
}

int serve(const core::Config& config) {
    raise_open_file_limit();
    // No built-in default: a missing key is a setup error, said in one line.
    if (config.auth.jwt_key.size() < 32) {
        std::cerr << "kiln: config auth.jwt_key: expected a secret of at least 32 characters (set KILN_AUTH_JWT_KEY "
                     "or auth.jwt_key_file; make run generates one)\n";
        return 2;
    }
    Services services(config);
    http::Router router(config.cors);
    add_routes(router, services);

    http::IoThreads io(config.server.io_threads);
    http::Server server(config.server, router, services.metrics, io);
    try {
        server.listen();
    } catch (const std::exception& e) {
        core::log::error("cannot listen",
                         {{"host", config.server.host}, {"port", config.server.port}, {"error", e.what()}});
        return 1;
    }
    // Each I/O thread its own blob store; closed below once the threads have stopped.
    std::vector<asio::any_io_executor> executors;
    for (std::size_t i = 0; i < io.size(); ++i) executors.emplace_back(io.at(i).get_executor());
    try {
        services.blobs.attach(executors);
    } catch (const core::ConfigError& e) {  // storage.* is checked when the stores are made
        std::cerr << "kiln: " << e.what() << "\n";
        return 2;
    }
    server.start();
    if (config.storage.master_key.empty()) {
        core::log::warn("storage connections cannot be created or tested: storage.master_key is not set", {});
    }
    // The process's one LISTEN connection: the mail sender, the worker and the event relay
    // subscribe, then it starts.
    db::Notifier notifier(core::conninfo(config.database, false), services.cpu);
    mail::Sender mailer(services.mail, config.mail);
    mailer.start(io.at(0).get_executor());
    mailer.listen(notifier);
    core::log::info("mail sender started",
                    {{"delivery", services.mail_delivery.smtp() ? "smtp" : "files"},
                     {"dir", services.mail_delivery.smtp() ? "" : services.mail_delivery.dir().string()}});
    std::unique_ptr<JobThread> job_thread;
    if (config.jobs.workers > 0) job_thread = std::make_unique<JobThread>(services, config, notifier);
    jobs::relay_events(notifier, services.events);
    notifier.start(io.at(0).get_executor());
    asio::signal_set signals(io.at(0), SIGINT, SIGTERM);
    asio::co_spawn(io.at(0), wait_for_signal(&signals, &server, &io, &mailer, job_thread.get(), &notifier),
                   [](std::exception_ptr e) {
                       if (!e) return;
                       try {
                           std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                           core::log::error("signal handling failed", {{"error", ex.what()}});
                       }
                   });
    io.start();
    core::log::info("listening", {{"address", config.server.host},
                                  {"port", server.port()},
                                  {"io_threads", io.size()},
                                  {"cpu_threads", services.cpu.threads()},
                                  {"file_threads", services.disk.threads()},
                                  {"config", config.source},
                                  {"version", KILN_VERSION}});
    core::log::flush();
    std::cerr << fmt::format("kiln {} listening on http://{}:{}\n", KILN_VERSION, config.server.host, server.port());
    io.join();
    services.blobs.close();  // the clients go while their (stopped) io_contexts still exist
    services.db.close();
    core::log::info("stopped");
    core::log::flush();
    return 0;
}

int migrate(const core::Config& config) {
    try {
        const auto report =
            db::migrate(core::conninfo(config.database, true), config.database.user, db::embedded_migrations());
        for (const auto& name : report.applied) core::log::info("migration applied", {{"name", name}});
        core::log::info("schema current", {{"version", report.current}, {"applied", report.applied.size()}});
        core::log::flush();
        return 0;
    } catch (const db::MigrationError& e) {
        core::log::error("migration failed", {{"error", e.what()}});
        core::log::flush();
        std::cerr << "kiln migrate: " << e.what() << "\n";
        return 1;
    }
}

int work(const core::Config& config) {
    raise_open_file_limit();
    if (config.jobs.workers == 0) {
        std::cerr << "kiln worker: config jobs.workers: expected at least 1 (set KILN_JOBS_WORKERS or --workers)\n";
        return 2;
    }
    if (config.auth.jwt_key.size() < 32) {
        std::cerr << "kiln: config auth.jwt_key: expected a secret of at least 32 characters (set KILN_AUTH_JWT_KEY "
                     "or auth.jwt_key_file; make run generates one)\n";
        return 2;
    }
    Services services(config);
    asio::io_context main_ctx(1);
    {
        db::Notifier notifier(core::conninfo(config.database, false), services.cpu);
        JobThread jobs(services, config, notifier);
        notifier.start(main_ctx.get_executor());
        asio::signal_set signals(main_ctx, SIGINT, SIGTERM);
        asio::co_spawn(main_ctx, stop_worker_on_signal(&signals, &jobs, &notifier), [](std::exception_ptr e) {
            if (e) core::log::error("worker shutdown failed", {});
        });
        core::log::info("worker running",
                        {{"workers", config.jobs.workers}, {"kinds", services.job_kinds.names().size()}});
        core::log::flush();
        main_ctx.run();
    }
    services.db.close();
    core::log::info("stopped");
    core::log::flush();
    return 0;
}

}  // namespace kiln::app
