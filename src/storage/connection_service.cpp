#include "storage/connection_service.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstring>

#include "auth/scope.hpp"
#include "core/page.hpp"
#include "db/error.hpp"
#include "http/client.hpp"
#include "storage/factory.hpp"

namespace asio = boost::asio;

namespace kiln::storage {

namespace {

constexpr std::string_view kProbePrefix = ".kiln-probe/";
constexpr std::string_view kProbeBody = "kiln storage connection probe\n";
constexpr std::string_view kRegion = "us-east-1";

class BytesSource final : public Source {
public:
    explicit BytesSource(std::string_view bytes) : rest_(bytes) {}
    asio::awaitable<std::size_t> read(std::span<char> buffer) override {
        const std::size_t n = std::min(buffer.size(), rest_.size());
        std::memcpy(buffer.data(), rest_.data(), n);
        rest_.remove_prefix(n);
        co_return n;
    }

private:
    std::string_view rest_;
};

// The audit detail of a change: what it names, never the secret (only whether it was replaced).
std::string detail_of(const std::optional<std::string>& name, const std::optional<std::string>& endpoint,
                      const std::optional<std::string>& bucket, bool secret) {
    boost::json::object o;
    if (name) o["name"] = *name;
    if (endpoint) o["endpoint"] = *endpoint;
    if (bucket) o["bucket"] = *bucket;
    o["secret_changed"] = secret;
    return boost::json::serialize(o);
}

bool name_taken(const db::Error& e) {
    return e.sqlstate() == "23505" && e.constraint() == "storage_connections_name";
}

core::Problem name_conflict() {
    return core::Problem::conflict("Another live storage connection of this workspace has that name.");
}

}  // namespace

ConnectionService::ConnectionService(ConnectionStore& store, const core::StorageConfig& config, ProbeLimits limits)
    : store_(store),
      hosts_(config.connection_hosts),
      box_(SecretBox::from_base64(config.master_key)),
      limits_(limits) {}

const SecretBox& ConnectionService::box() const {
    if (!box_) {
        throw core::Problem::unavailable(
            "Storage connections cannot be created, changed or tested: this server has no storage.master_key.");
    }
    return *box_;
}

asio::awaitable<StorageConnection> ConnectionService::create(auth::Principal p, CreateStorageConnection r,
                                                             audit::Origin origin) {
    core::Validator v;
    validate(r, hosts_, v);
    v.throw_if_failed();
    NewConnection c;
    c.name = r.name;
    auto& a = c.access;
    a.id = core::Uuid::v7();
    a.endpoint = r.endpoint;
    a.region = r.region.value_or(std::string(kRegion));
    a.bucket = r.bucket;
    a.access_key_id = r.access_key_id;
    a.secret = box().seal(r.secret_access_key);
    a.path_style = r.path_style.value_or(true);
    const auto scope = auth::scope_of(p, p.workspace, "admin");
    const audit::Event e{p.user, "storage_connection.create", "storage_connection", a.id.str(),
                         detail_of(c.name, a.endpoint, a.bucket, true)};
    try {
        co_return co_await store_.create(scope, c, e, origin);
    } catch (const db::Error& err) {
        if (!name_taken(err)) throw;
    }
    throw name_conflict();
}

asio::awaitable<StorageConnectionList> ConnectionService::list(auth::Principal p, ConnectionListQuery q) {
    core::Validator v;
    const auto page = core::parse_page(q.limit, q.cursor, v);
    v.throw_if_failed();
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    auto rows = co_await store_.list(scope, page.before, page.limit + 1);
    co_return core::paged<StorageConnectionList>(std::move(rows), page);
}

asio::awaitable<StorageConnection> ConnectionService::get(auth::Principal p, core::Uuid id) {
    const auto scope = auth::scope_of(p, p.workspace, "viewer");
    co_return co_await store_.get(scope, id);
}

asio::awaitable<StorageConnection> ConnectionService::update(auth::Principal p, core::Uuid id,
                                                             UpdateStorageConnection r, audit::Origin origin) {
    core::Validator v;
    validate(r, hosts_, v);
    v.throw_if_failed();
    ConnectionChanges c;
    c.name = r.name;
    c.endpoint = r.endpoint;
    c.region = r.region;
    c.bucket = r.bucket;
    c.access_key_id = r.access_key_id;
    if (r.secret_access_key) c.secret = box().seal(*r.secret_access_key);
    c.path_style = r.path_style;
    const auto scope = auth::scope_of(p, p.workspace, "admin");
    const audit::Event e{p.user, "storage_connection.update", "storage_connection", id.str(),
                         detail_of(c.name, c.endpoint, c.bucket, c.secret.has_value())};
    try {
        co_return co_await store_.update(scope, id, c, e, origin);
    } catch (const db::Error& err) {
        if (!name_taken(err)) throw;
    }
    throw name_conflict();
}

asio::awaitable<void> ConnectionService::remove(auth::Principal p, core::Uuid id, audit::Origin origin) {
    const auto scope = auth::scope_of(p, p.workspace, "admin");
    const audit::Event e{p.user, "storage_connection.delete", "storage_connection", id.str()};
    co_await store_.remove(scope, id, e, origin);
}

asio::awaitable<ConnectionTestResult> ConnectionService::test(auth::Principal p, core::Uuid id, audit::Origin origin) {
    const auto& sealer = box();
    const auto scope = auth::scope_of(p, p.workspace, "admin");
    const auto connection = co_await store_.access(scope, id);
    ConnectionTestResult result;
    std::string secret;
    const auto started = std::chrono::steady_clock::now();
    try {
        auto options = s3_options(connection, sealer, hosts_);
        secret = options.credentials.secret_access_key;
        options.max_attempts = 1;
        options.connect_timeout = limits_.connect_timeout;
        options.low_speed_time = limits_.low_speed_time;
        const auto executor = co_await asio::this_coro::executor;
        http::Client client(executor);
        S3BlobStore store(std::move(options), client);
        const std::string key = std::string(kProbePrefix) + core::Uuid::v7().str();
        BytesSource body(kProbeBody);
        co_await store.put(key, body, kProbeBody.size(), std::nullopt);
        const auto seen = co_await store.head(key);
        co_await store.remove(key);
        if (!seen || seen->size != kProbeBody.size()) {
            result.error = "the probe object was written but could not be read back";
        } else {
            result.ok = true;
        }
    } catch (const std::exception& failure) {
        result.error = redact(failure.what(), secret);
    }
    result.latency_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    boost::json::object detail;
    detail["ok"] = result.ok;
    const audit::Event e{p.user, "storage_connection.test", "storage_connection", id.str(),
                         boost::json::serialize(detail)};
    co_await store_.record(scope, e, origin);
    co_return result;
}

}  // namespace kiln::storage
