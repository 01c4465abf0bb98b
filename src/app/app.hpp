#pragma once
// Wiring: builds the services, registers every route, runs the processes' main loops.
#include <atomic>
#include <memory>

#include "admin/service.hpp"
#include "admin/store.hpp"
#include "audit/service.hpp"
#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "auth/service.hpp"
#include "auth/store.hpp"
#include "core/config.hpp"
#include "core/thread_pool.hpp"
#include "db/pool.hpp"
#include "http/event_hub.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"
#include "jobs/metrics.hpp"
#include "jobs/registry.hpp"
#include "jobs/service.hpp"
#include "jobs/store.hpp"
#include "mail/delivery.hpp"
#include "mail/service.hpp"
#include "mail/store.hpp"
#include "modules/uploads/service.hpp"
#include "modules/uploads/store.hpp"
#include "modules/uploads/sync_store.hpp"
#include "storage/connection_service.hpp"
#include "storage/connection_store.hpp"
#include "storage/factory.hpp"
#include "storage/service.hpp"
#include "storage/store.hpp"
#include "storage/tus_service.hpp"
#include "storage/tus_store.hpp"
#include "tenancy/service.hpp"
#include "tenancy/store.hpp"

namespace kiln::app {

struct Services {
    // Throws std::invalid_argument when auth.jwt_key is missing or shorter than 32 characters.
    explicit Services(const core::Config& config);

    const core::Config& config;
    core::ThreadPool cpu;   // CPU-bound work and blocking libpq calls
    core::ThreadPool disk;  // blocking file I/O (blob store, sync reads, tus staging): file_threads
    db::Pool db;
    http::Metrics metrics;
    http::EventHub events;  // live job events for stream subscribers (fed by jobs::EventRelay)
    auth::Passwords passwords;
    auth::Jwt jwt;
    auth::Store auth_store;
    auth::Service auth;
    tenancy::Store tenancy_store;
    tenancy::Service tenancy;
    admin::Store admin_store;
    admin::Service admin;
    audit::Service audit;
    mail::Store mail_store;
    mail::Delivery mail_delivery;
    mail::Service mail;
    jobs::Registry job_kinds;  // every domain's kinds, registered by the constructor
    jobs::Store jobs_store;
    jobs::Service jobs;
    jobs::JobMetrics job_metrics;
    storage::BlobStores blobs;  // attached to the I/O threads by serve()
    storage::FileStore file_store;
    storage::FileService files;
    storage::TusStore tus_store;
    storage::TusService tus;
    storage::ConnectionStore connection_store;
    storage::ConnectionService connections;
    uploads::Store upload_store;
    uploads::SyncStore sync_store;
    uploads::Service uploads;
    int schema_version = 0;                   // the latest migration this binary knows
    std::atomic<bool> schema_current{false};  // set once /ready saw the database caught up
};

void add_system_routes(http::Router& router, Services& services);
void add_docs_routes(http::Router& router);
// Last: the document lists every route added before it.
void add_openapi_route(http::Router& router);
// Registers every route of the product; called once by serve and by tests.
void add_routes(http::Router& router, Services& services);

// `kiln serve`: runs until SIGINT/SIGTERM, then drains. Returns the process exit code.
int serve(const core::Config& config);
// `kiln worker`: runs job workers only (no HTTP) until SIGINT/SIGTERM, then drains them.
int work(const core::Config& config);
// `kiln migrate`: applies pending migrations as the owner role.
int migrate(const core::Config& config);

struct AdminUser {
    std::string email;
    std::string name;
    std::optional<std::string> username;
    std::string password;  // empty: generate one and print it
    bool platform_admin = false;
};
// `kiln admin create-user`.
int admin_create_user(const core::Config& config, const AdminUser& user);
// `kiln admin init`: when no platform administrator exists, creates one with a generated
// password, writes the credentials to `output` (mode 0600) and prints them; else does nothing.
int admin_init(const core::Config& config, const std::string& output);
// The pool settings of a configuration (serve and the admin commands).
db::PoolOptions pool_options(const core::Config& c);

}  // namespace kiln::app
