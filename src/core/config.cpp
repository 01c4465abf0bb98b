#include "core/config.hpp"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>

#include "core/crypto.hpp"
#include "core/proxies.hpp"

namespace kiln::core {

namespace {

// A value arrives either as a TOML node or as an environment string; each parser accepts both.
struct Raw {
    const toml::node* node = nullptr;
    std::optional<std::string> text;
};

[[noreturn]] void fail(const std::string& key, const std::string& expected, const std::string& got) {
    throw ConfigError(fmt::format("config {}: expected {}, got {}", key, expected, got));
}

std::string describe(const Raw& raw) {
    if (raw.text) return fmt::format("\"{}\"", *raw.text);
    std::ostringstream out;
    out << toml::node_view<const toml::node>(raw.node);
    return out.str();
}

void parse(const std::string& key, const Raw& raw, std::string& out) {
    if (raw.text) {
        out = *raw.text;
    } else if (auto v = raw.node->value<std::string>()) {
        out = *v;
    } else {
        fail(key, "a string", describe(raw));
    }
}

void parse(const std::string& key, const Raw& raw, bool& out) {
    if (raw.text) {
        std::string t = *raw.text;
        std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
        if (t == "true" || t == "1" || t == "yes" || t == "on") {
            out = true;
        } else if (t == "false" || t == "0" || t == "no" || t == "off") {
            out = false;
        } else {
            fail(key, "true or false", describe(raw));
        }
    } else if (auto v = raw.node->value<bool>()) {
        out = *v;
    } else {
        fail(key, "true or false", describe(raw));
    }
}

template <typename Int>
void parse_int(const std::string& key, const Raw& raw, Int& out, std::int64_t lo, std::int64_t hi) {
    const std::string expected = fmt::format("an integer from {} to {}", lo, hi);
    std::int64_t v = 0;
    if (raw.text) {
        const auto& t = *raw.text;
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc{} || p != t.data() + t.size()) fail(key, expected, describe(raw));
    } else if (auto n = raw.node->value_exact<std::int64_t>()) {
        v = *n;
    } else {
        fail(key, expected, describe(raw));
    }
    if (v < lo || v > hi) fail(key, expected, describe(raw));
    out = static_cast<Int>(v);
}

void parse(const std::string& key, const Raw& raw, std::vector<std::string>& out) {
    out.clear();
    if (raw.text) {
        std::stringstream in(*raw.text);
        std::string item;
        while (std::getline(in, item, ',')) {
            if (!item.empty()) out.push_back(item);
        }
        return;
    }
    const auto* arr = raw.node->as_array();
    if (arr == nullptr) fail(key, "an array of strings", describe(raw));
    for (const auto& el : *arr) {
        auto v = el.value<std::string>();
        if (!v) fail(key, "an array of strings", describe(raw));
        out.push_back(*v);
    }
}

struct Field {
    std::string key;
    std::function<void(Config&, const std::string&, const Raw&)> set;
};

template <typename Section, typename T>
Field field(std::string key, Section Config::*section, T Section::*member) {
    return {std::move(key),
            [section, member](Config& c, const std::string& k, const Raw& r) { parse(k, r, (c.*section).*member); }};
}

template <typename Section, typename Int>
Field int_field(std::string key, Section Config::*section, Int Section::*member, std::int64_t lo, std::int64_t hi) {
    return {std::move(key), [section, member, lo, hi](Config& c, const std::string& k, const Raw& r) {
                parse_int(k, r, (c.*section).*member, lo, hi);
            }};
}

template <typename Section>
Field ms_field(std::string key, Section Config::*section, Millis Section::*member, std::int64_t lo = 1,
               std::int64_t hi = 86'400'000) {
    return {std::move(key), [section, member, lo, hi](Config& c, const std::string& k, const Raw& r) {
                std::int64_t v = 0;
                parse_int(k, r, v, lo, hi);
                (c.*section).*member = Millis(v);
            }};
}

const std::vector<Field>& fields() {
    constexpr std::int64_t kU16 = std::numeric_limits<std::uint16_t>::max();
    static const std::vector<Field> all = {
        Field{"cpu_threads",
              [](Config& c, const std::string& k, const Raw& r) { parse_int(k, r, c.cpu_threads, 0, 256); }},
        Field{"file_threads",
              [](Config& c, const std::string& k, const Raw& r) { parse_int(k, r, c.file_threads, 1, 1024); }},
        field("server.host", &Config::server, &ServerConfig::host),
        int_field("server.port", &Config::server, &ServerConfig::port, 0, kU16),
        int_field("server.io_threads", &Config::server, &ServerConfig::io_threads, 0, 256),
        int_field("server.max_connections", &Config::server, &ServerConfig::max_connections, 1, 1'000'000),
        int_field("server.body_limit", &Config::server, &ServerConfig::body_limit, 1024, 1LL << 34),
        ms_field("server.header_timeout_ms", &Config::server, &ServerConfig::header_timeout),
        ms_field("server.read_timeout_ms", &Config::server, &ServerConfig::read_timeout),
        ms_field("server.upload_timeout_ms", &Config::server, &ServerConfig::upload_timeout),
        ms_field("server.write_timeout_ms", &Config::server, &ServerConfig::write_timeout),
        ms_field("server.idle_timeout_ms", &Config::server, &ServerConfig::idle_timeout),
        ms_field("server.shutdown_grace_ms", &Config::server, &ServerConfig::shutdown_grace, 0),
        ms_field("server.stream_heartbeat_ms", &Config::server, &ServerConfig::stream_heartbeat, 0),
        int_field("server.stream_queue", &Config::server, &ServerConfig::stream_queue, 1, 1'000'000),
        field("server.access_log", &Config::server, &ServerConfig::access_log),
        field("server.trust_request_id", &Config::server, &ServerConfig::trust_request_id),
        field("server.trusted_proxies", &Config::server, &ServerConfig::trusted_proxies),
        field("server.public_url", &Config::server, &ServerConfig::public_url),
        field("cors.enabled", &Config::cors, &CorsConfig::enabled),
        field("cors.allow_origins", &Config::cors, &CorsConfig::allow_origins),
        field("cors.allow_headers", &Config::cors, &CorsConfig::allow_headers),
        field("cors.allow_credentials", &Config::cors, &CorsConfig::allow_credentials),
        int_field("cors.max_age", &Config::cors, &CorsConfig::max_age, 0, 86400),
        field("database.host", &Config::database, &DatabaseConfig::host),
        int_field("database.port", &Config::database, &DatabaseConfig::port, 1, kU16),
        field("database.name", &Config::database, &DatabaseConfig::name),
        field("database.user", &Config::database, &DatabaseConfig::user),
        field("database.password", &Config::database, &DatabaseConfig::password),
        field("database.password_file", &Config::database, &DatabaseConfig::password_file),
        field("database.owner_user", &Config::database, &DatabaseConfig::owner_user),
        field("database.owner_password", &Config::database, &DatabaseConfig::owner_password),
        field("database.owner_password_file", &Config::database, &DatabaseConfig::owner_password_file),
        int_field("database.pool_size", &Config::database, &DatabaseConfig::pool_size, 1, 1000),
        ms_field("database.acquire_timeout_ms", &Config::database, &DatabaseConfig::acquire_timeout),
        ms_field("database.connect_timeout_ms", &Config::database, &DatabaseConfig::connect_timeout, 1000),
        ms_field("database.statement_timeout_ms", &Config::database, &DatabaseConfig::statement_timeout, 0),
        ms_field("database.health_check_after_ms", &Config::database, &DatabaseConfig::health_check_after, 0),
        field("database.pipeline", &Config::database, &DatabaseConfig::pipeline),
        field("auth.jwt_key", &Config::auth, &AuthConfig::jwt_key),
        field("auth.jwt_key_file", &Config::auth, &AuthConfig::jwt_key_file),
        field("auth.jwt_previous_key", &Config::auth, &AuthConfig::jwt_previous_key),
        field("auth.jwt_previous_key_file", &Config::auth, &AuthConfig::jwt_previous_key_file),
        field("auth.issuer", &Config::auth, &AuthConfig::issuer),
        field("auth.audience", &Config::auth, &AuthConfig::audience),
        int_field("auth.access_ttl_s", &Config::auth, &AuthConfig::access_ttl_s, 60, 86400),
        int_field("auth.refresh_ttl_s", &Config::auth, &AuthConfig::refresh_ttl_s, 300, 366LL * 86400),
        int_field("auth.argon2_memory_kib", &Config::auth, &AuthConfig::argon2_memory_kib, 19LL * 1024,
                  4LL * 1024 * 1024),
        int_field("auth.argon2_passes", &Config::auth, &AuthConfig::argon2_passes, 2, 20),
        int_field("auth.login_account_failures", &Config::auth, &AuthConfig::login_account_failures, 1, 1000),
        int_field("auth.login_ip_failures", &Config::auth, &AuthConfig::login_ip_failures, 1, 1'000'000),
        int_field("auth.login_window_s", &Config::auth, &AuthConfig::login_window_s, 1, 86400),
        int_field("auth.lock_base_s", &Config::auth, &AuthConfig::lock_base_s, 1, 86400),
        int_field("auth.lock_max_s", &Config::auth, &AuthConfig::lock_max_s, 1, 86400),
        int_field("auth.registrations_per_ip_hour", &Config::auth, &AuthConfig::registrations_per_ip_hour, 1,
                  1'000'000),
        int_field("auth.reset_ttl_s", &Config::auth, &AuthConfig::reset_ttl_s, 1, 7LL * 86400),
        int_field("auth.verify_ttl_s", &Config::auth, &AuthConfig::verify_ttl_s, 1, 30LL * 86400),
        int_field("auth.invitation_ttl_s", &Config::auth, &AuthConfig::invitation_ttl_s, 1, 90LL * 86400),
        int_field("auth.realtime_ticket_ttl_s", &Config::auth, &AuthConfig::realtime_ticket_ttl_s, 1, 300),
        int_field("auth.resets_per_email_hour", &Config::auth, &AuthConfig::resets_per_email_hour, 1, 1'000'000),
        int_field("auth.resets_per_ip_hour", &Config::auth, &AuthConfig::resets_per_ip_hour, 1, 1'000'000),
        field("mail.from", &Config::mail, &MailConfig::from),
        field("mail.dir", &Config::mail, &MailConfig::dir),
        field("mail.smtp_url", &Config::mail, &MailConfig::smtp_url),
        field("mail.smtp_user", &Config::mail, &MailConfig::smtp_user),
        field("mail.smtp_password", &Config::mail, &MailConfig::smtp_password),
        field("mail.smtp_password_file", &Config::mail, &MailConfig::smtp_password_file),
        field("mail.smtp_require_tls", &Config::mail, &MailConfig::smtp_require_tls),
        int_field("mail.timeout_ms", &Config::mail, &MailConfig::timeout_ms, 100, 600'000),
        int_field("mail.max_attempts", &Config::mail, &MailConfig::max_attempts, 1, 100),
        int_field("mail.retry_base_ms", &Config::mail, &MailConfig::retry_base_ms, 10, 3'600'000),
        int_field("mail.poll_interval_ms", &Config::mail, &MailConfig::poll_interval_ms, 10, 3'600'000),
        int_field("mail.batch_size", &Config::mail, &MailConfig::batch_size, 1, 1000),
        int_field("jobs.workers", &Config::jobs, &JobsConfig::workers, 0, 10000),
        int_field("jobs.claim_batch", &Config::jobs, &JobsConfig::claim_batch, 1, 1000),
        int_field("jobs.claim_workspaces", &Config::jobs, &JobsConfig::claim_workspaces, 1, 1000),
        int_field("jobs.lease_ms", &Config::jobs, &JobsConfig::lease_ms, 100, 3'600'000),
        int_field("jobs.heartbeat_ms", &Config::jobs, &JobsConfig::heartbeat_ms, 10, 600'000),
        int_field("jobs.poll_interval_ms", &Config::jobs, &JobsConfig::poll_interval_ms, 10, 600'000),
        int_field("jobs.shutdown_grace_ms", &Config::jobs, &JobsConfig::shutdown_grace_ms, 0, 3'600'000),
        int_field("jobs.default_max_attempts", &Config::jobs, &JobsConfig::default_max_attempts, 1, 100),
        int_field("jobs.default_timeout_ms", &Config::jobs, &JobsConfig::default_timeout_ms, 1, 86'400'000),
        int_field("jobs.retry_base_ms", &Config::jobs, &JobsConfig::retry_base_ms, 1, 3'600'000),
        field("jobs.diagnostic_kinds", &Config::jobs, &JobsConfig::diagnostic_kinds),
        int_field("jobs.retention_hours", &Config::jobs, &JobsConfig::retention_hours, 1, 24LL * 3660),
        field("jobs.retention_cron", &Config::jobs, &JobsConfig::retention_cron),
        field("storage.backend", &Config::storage, &StorageConfig::backend),
        field("storage.local_root", &Config::storage, &StorageConfig::local_root),
        field("storage.s3_endpoint", &Config::storage, &StorageConfig::s3_endpoint),
        field("storage.s3_region", &Config::storage, &StorageConfig::s3_region),
        field("storage.s3_bucket", &Config::storage, &StorageConfig::s3_bucket),
        field("storage.s3_access_key_id", &Config::storage, &StorageConfig::s3_access_key_id),
        field("storage.s3_secret_access_key", &Config::storage, &StorageConfig::s3_secret_access_key),
        field("storage.s3_secret_access_key_file", &Config::storage, &StorageConfig::s3_secret_access_key_file),
        field("storage.s3_path_style", &Config::storage, &StorageConfig::s3_path_style),
        int_field("storage.s3_part_size_mb", &Config::storage, &StorageConfig::s3_part_size_mb, 5, 5120),
        field("storage.master_key", &Config::storage, &StorageConfig::master_key),
        field("storage.master_key_file", &Config::storage, &StorageConfig::master_key_file),
        field("storage.connection_hosts", &Config::storage, &StorageConfig::connection_hosts),
        field("storage.tus_dir", &Config::storage, &StorageConfig::tus_dir),
        int_field("storage.tus_expiry_s", &Config::storage, &StorageConfig::tus_expiry_s, 60, 30LL * 86'400),
        int_field("storage.stale_upload_s", &Config::storage, &StorageConfig::stale_upload_s, 60, 30LL * 86'400),
        field("storage.sweep_cron", &Config::storage, &StorageConfig::sweep_cron),
        field("uploads.import_roots", &Config::uploads, &UploadsConfig::import_roots),
        field("log.level", &Config::log, &LogConfig::level),
    };
    return all;
}

template <typename F>
void for_each_field(F&& f) {
    for (const auto& field : fields()) f(field);
}

void validate_storage(const StorageConfig& s) {
    if (s.backend != "local" && s.backend != "s3") fail("storage.backend", "local or s3", "\"" + s.backend + "\"");
    if (s.backend != "s3") return;
    if (!s.s3_endpoint.starts_with("http://") && !s.s3_endpoint.starts_with("https://")) {
        fail("storage.s3_endpoint", "an http:// or https:// URL when storage.backend is s3",
             "\"" + s.s3_endpoint + "\"");
    }
    if (s.s3_bucket.empty()) fail("storage.s3_bucket", "a bucket name when storage.backend is s3", "\"\"");
    if (s.s3_region.empty()) fail("storage.s3_region", "a region (us-east-1 for most S3-compatible servers)", "\"\"");
    if (s.s3_access_key_id.empty())
        fail("storage.s3_access_key_id", "an access key id when storage.backend is s3", "\"\"");
}

// "host", "host:port" or "[v6]:port", where a host label may be "*" (not every label, nor part of one).
void validate_connection_hosts(const std::vector<std::string>& hosts) {
    for (const auto& h : hosts) {
        bool bad = h.empty() || h.find_first_of("/@?# \t") != std::string::npos;
        if (!bad && !h.starts_with('[')) {
            const auto host = std::string_view(h).substr(0, h.find(':'));
            bool literal = false;
            for (std::size_t start = 0; !bad && start <= host.size();) {
                const auto dot = std::min(host.find('.', start), host.size());
                const auto label = host.substr(start, dot - start);
                bad = label.empty() || (label != "*" && label.find('*') != std::string_view::npos);
                literal = literal || label != "*";
                start = dot + 1;
            }
            bad = bad || !literal;
        }
        if (bad) fail("storage.connection_hosts", "host, host:port, *.domain or s3.*.domain entries", "\"" + h + "\"");
    }
}

void validate(const Config& c) {
    static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (!levels.contains(c.log.level)) {
        fail("log.level", "one of trace, debug, info, warn, error, critical, off", "\"" + c.log.level + "\"");
    }
    if (c.database.user.empty()) fail("database.user", "a role name", "\"\"");
    if (!c.server.public_url.starts_with("http://") && !c.server.public_url.starts_with("https://")) {
        fail("server.public_url", "an http:// or https:// URL", "\"" + c.server.public_url + "\"");
    }
    if (!c.mail.smtp_url.empty() && !c.mail.smtp_url.starts_with("smtp://") &&
        !c.mail.smtp_url.starts_with("smtps://")) {
        fail("mail.smtp_url", "an smtp:// or smtps:// URL", "(not shown: it may hold credentials)");
    }
    if (c.jobs.heartbeat_ms * 2 > c.jobs.lease_ms) {
        fail("jobs.heartbeat_ms", "at most half of jobs.lease_ms, so a live worker renews its leases in time",
             std::to_string(c.jobs.heartbeat_ms));
    }
    try {
        const TrustedProxies proxies(c.server.trusted_proxies);
    } catch (const std::invalid_argument& e) {
        fail("server.trusted_proxies", "IP addresses or CIDR networks (10.0.0.0/8, ::1)",
             "\"" + std::string(e.what()) + "\"");
    }
    validate_storage(c.storage);
    validate_connection_hosts(c.storage.connection_hosts);
    for (const auto& root : c.uploads.import_roots) {
        if (!root.starts_with('/')) fail("uploads.import_roots", "absolute paths", "\"" + root + "\"");
    }
    if (c.cors.enabled && c.cors.allow_origins.empty()) {
        fail("cors.allow_origins", "at least one origin when cors.enabled is true", "[]");
    }
}

std::string read_secret_file(const std::string& key, const std::string& path) {
    std::ifstream in(path);
    if (!in) throw ConfigError(fmt::format("config {}: cannot read secret file {}", key, path));
    std::string value((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value.empty()) throw ConfigError(fmt::format("config {}: secret file {} is empty", key, path));
    return value;
}

std::string quote_conninfo(const std::string& v) {
    std::string out = "'";
    for (char c : v) {
        if (c == '\'' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('\'');
    return out;
}

}  // namespace

std::string env_name(const std::string& key) {
    std::string out = "KILN_";
    for (char c : key) out.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return out;
}

Config Config::load(const std::string& path, const Env& env) {
    Config c;
    c.source = path.empty() ? "defaults" : path;
    toml::table table;
    if (!path.empty()) {
        try {
            table = toml::parse_file(path);
        } catch (const toml::parse_error& e) {
            const auto& where = e.source().begin;
            throw ConfigError(fmt::format("config {}:{}:{}: {}", path, where.line, where.column, e.description()));
        }
    }
    std::set<std::string> known;
    for_each_field([&](const Field& f) {
        known.insert(f.key);
        if (const auto* node = table.at_path(f.key).node()) f.set(c, f.key, Raw{node, std::nullopt});
        if (auto text = env(env_name(f.key))) f.set(c, f.key, Raw{nullptr, std::move(text)});
    });
    // Unknown keys are typos more often than not: refuse them rather than silently ignore.
    for (const auto& [k, v] : table) {
        const std::string section(k.str());
        if (const auto* sub = v.as_table()) {
            for (const auto& [k2, v2] : *sub) {
                const std::string full = section + "." + std::string(k2.str());
                if (!known.contains(full)) throw ConfigError(fmt::format("config {}: unknown key", full));
            }
        } else if (!known.contains(section)) {
            throw ConfigError(fmt::format("config {}: unknown key", section));
        }
    }
    validate(c);
    return c;
}

Config Config::load(const std::string& path) {
    std::vector<std::string> names;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        if (entry.starts_with("KILN_")) names.emplace_back(entry.substr(0, entry.find('=')));
    }
    check_environment(names);
    return load(path, [](const std::string& name) -> std::optional<std::string> {
        if (const char* v = std::getenv(name.c_str())) return std::string(v);
        return std::nullopt;
    });
}

void Config::check_environment(const std::vector<std::string>& names) {
    std::set<std::string> variables;
    std::set<std::string> sections;  // "KILN_STORAGE_", from the dotted keys
    for_each_field([&](const Field& f) {
        variables.insert(env_name(f.key));
        const auto dot = f.key.find('.');
        if (dot != std::string::npos) sections.insert(env_name(f.key.substr(0, dot)) + "_");
    });
    for (const auto& name : names) {
        if (variables.contains(name)) continue;
        for (const auto& section : sections) {
            if (name.starts_with(section)) {
                throw ConfigError(fmt::format(
                    "config: environment variable {} is no key's (the keys and their variables: docs/configuration.md)",
                    name));
            }
        }
    }
}

void Config::resolve_secrets() {
    if (database.password.empty() && !database.password_file.empty()) {
        database.password = read_secret_file("database.password_file", database.password_file);
    }
    if (database.owner_password.empty() && !database.owner_password_file.empty()) {
        database.owner_password = read_secret_file("database.owner_password_file", database.owner_password_file);
    }
    if (auth.jwt_key.empty() && !auth.jwt_key_file.empty()) {
        auth.jwt_key = read_secret_file("auth.jwt_key_file", auth.jwt_key_file);
    }
    if (mail.smtp_password.empty() && !mail.smtp_password_file.empty()) {
        mail.smtp_password = read_secret_file("mail.smtp_password_file", mail.smtp_password_file);
    }
    if (storage.s3_secret_access_key.empty() && !storage.s3_secret_access_key_file.empty()) {
        storage.s3_secret_access_key =
            read_secret_file("storage.s3_secret_access_key_file", storage.s3_secret_access_key_file);
    }
    if (storage.master_key.empty() && !storage.master_key_file.empty()) {
        storage.master_key = read_secret_file("storage.master_key_file", storage.master_key_file);
    }
    if (auth.jwt_previous_key.empty() && !auth.jwt_previous_key_file.empty()) {
        auth.jwt_previous_key = read_secret_file("auth.jwt_previous_key_file", auth.jwt_previous_key_file);
    }
    // Checked here, once the file is read; the message never repeats the value.
    if (!storage.master_key.empty()) {
        const auto key = base64_decode(storage.master_key);
        if (!key || key->size() != kMasterKeyBytes) {
            throw ConfigError(
                "config storage.master_key: expected 32 bytes in base64 (head -c 32 /dev/urandom | base64); the "
                "value given is not shown");
        }
    }
}

std::vector<std::pair<std::string, std::string>> Config::keys() {
    std::vector<std::pair<std::string, std::string>> out;
    for_each_field([&](const Field& f) { out.emplace_back(f.key, env_name(f.key)); });
    return out;
}

std::string conninfo(const DatabaseConfig& db, bool owner, const std::string& database_override) {
    const auto& user = owner ? db.owner_user : db.user;
    const auto& password = owner ? db.owner_password : db.password;
    std::string s = fmt::format("host={} port={} dbname={} user={} application_name=kiln connect_timeout={}",
                                quote_conninfo(db.host), db.port,
                                quote_conninfo(database_override.empty() ? db.name : database_override),
                                quote_conninfo(user), std::max<long long>(1, db.connect_timeout.count() / 1000));
    if (!password.empty()) s += " password=" + quote_conninfo(password);
    return s;
}

}  // namespace kiln::core
