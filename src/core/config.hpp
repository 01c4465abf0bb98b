#pragma once
// Configuration: kiln.toml, overridden key by key by KILN_<SECTION>_<KEY> environment variables.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::core {

using Millis = std::chrono::milliseconds;

struct ServerConfig {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    unsigned io_threads = 0;  // 0: one per core
    std::size_t max_connections = 10000;
    std::size_t body_limit = std::size_t{1024} * 1024;
    Millis header_timeout{10000};
    Millis read_timeout{30000};
    // Streamed uploads: the whole body within upload_timeout, each read within read_timeout.
    Millis upload_timeout{3600000};
    Millis write_timeout{30000};
    Millis idle_timeout{60000};
    Millis shutdown_grace{10000};
    // Event streams (SSE): a `: keep-alive` comment after this long without a write (0: none),
    // and how many events a subscriber may fall behind before its stream is ended (lagging).
    Millis stream_heartbeat{15000};
    std::size_t stream_queue = 256;
    bool access_log = true;
    bool trust_request_id = true;
    // Reverse proxies (IP addresses or CIDR networks) whose X-Forwarded-For names the client;
    // empty: the TCP peer is the client (core/proxies.hpp).
    std::vector<std::string> trusted_proxies;
    // Where users reach this deployment: the base of links in mail (reset, verification, invitations).
    std::string public_url = "http://127.0.0.1:8080";
};

struct CorsConfig {
    bool enabled = false;
    std::vector<std::string> allow_origins;
    std::vector<std::string> allow_headers{"Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"};
    bool allow_credentials = false;
    unsigned max_age = 600;
};

struct DatabaseConfig {
    std::string host = "127.0.0.1";  // a directory means a unix socket
    std::uint16_t port = 5432;
    std::string name = "kiln";
    std::string user = "kiln_app";
    std::string password;  // secret: prefer password_file or KILN_DATABASE_PASSWORD
    std::string password_file;
    std::string owner_user = "kiln_owner";
    std::string owner_password;  // secret
    std::string owner_password_file;
    unsigned pool_size = 16;
    Millis acquire_timeout{2000};
    Millis connect_timeout{5000};
    Millis statement_timeout{30000};
    Millis health_check_after{30000};  // idle connections older than this are pinged before reuse
    bool pipeline = true;
};

struct AuthConfig {
    // Secrets: the HS256 signing key, and optionally the previous one (still accepted while
    // tokens it signed live, so a key can be rotated without signing everyone out).
    std::string jwt_key;
    std::string jwt_key_file;
    std::string jwt_previous_key;
    std::string jwt_previous_key_file;
    std::string issuer = "kiln";
    std::string audience = "kiln-api";
    unsigned access_ttl_s = 900;
    unsigned refresh_ttl_s = 30 * 24 * 3600;
    // Argon2id cost (OWASP minimum: 19 MiB, 2 passes).
    unsigned argon2_memory_kib = 19 * 1024;
    unsigned argon2_passes = 2;
    // Failed logins: an account locks after this many in the window, an address after
    // login_ip_failures, first for lock_base_s; each further failure doubles the lock, up to
    // lock_max_s.
    unsigned login_account_failures = 5;
    unsigned login_ip_failures = 50;
    unsigned login_window_s = 900;
    unsigned lock_base_s = 15;
    unsigned lock_max_s = 900;
    unsigned registrations_per_ip_hour = 20;
    // Single-use mailed tokens: password reset, email verification, workspace invitation.
    unsigned reset_ttl_s = 30 * 60;
    unsigned verify_ttl_s = 24 * 3600;
    unsigned invitation_ttl_s = 7 * 24 * 3600;
    // Single-use tickets for realtime routes (?ticket=): only long enough to open the connection.
    unsigned realtime_ticket_ttl_s = 30;
    // Password-reset requests (and verification resends) per address and per client address.
    unsigned resets_per_email_hour = 5;
    unsigned resets_per_ip_hour = 50;
};

struct MailConfig {
    std::string from = "Kiln <no-reply@kiln.local>";
    // Without smtp_url, messages are written as .eml files here ("": $KILN_HOME/mail, else .kiln/mail).
    std::string dir;
    std::string smtp_url;  // smtp://host:587 or smtps://host:465
    std::string smtp_user;
    std::string smtp_password;  // secret
    std::string smtp_password_file;
    // STARTTLS must succeed on smtp:// (smtps:// is TLS from the start). Off only for a local relay.
    bool smtp_require_tls = true;
    unsigned timeout_ms = 15000;
    unsigned max_attempts = 5;
    unsigned retry_base_ms = 30000;    // the n-th retry waits retry_base_ms * 2^(n-1), at most an hour
    unsigned poll_interval_ms = 5000;  // LISTEN/NOTIFY wakes the sender at once; this is the fallback
    unsigned batch_size = 10;
};

// The job engine (docs/jobs.md). Times in milliseconds.
struct JobsConfig {
    unsigned workers = 8;  // jobs this process runs at once; 0: none (kiln serve --workers)
    unsigned claim_batch = 32;
    unsigned claim_workspaces = 16;    // workspaces served per claim, in turn (fairness)
    unsigned lease_ms = 30000;         // a running job's lease; heartbeats extend it
    unsigned heartbeat_ms = 2000;      // lease extension, cancel requests, worker registration
    unsigned poll_interval_ms = 1000;  // fallback wake-up: due retries, expired leases, lost NOTIFYs
    unsigned shutdown_grace_ms = 10000;
    unsigned default_max_attempts = 5;
    unsigned default_timeout_ms = 300000;
    unsigned retry_base_ms = 1000;               // attempt n waits retry_base_ms * 2^(n-1) ± 25%, at most an hour
    bool diagnostic_kinds = false;               // system.sleep and system.fail, for operators and tests
    unsigned retention_hours = 168;              // finished jobs (and their events) are deleted after this
    std::string retention_cron = "*/5 * * * *";  // when the leader deletes them (UTC)
};

// Where blobs live (docs/storage.md). Per-workspace storage connections come on top of this.
struct StorageConfig {
    std::string backend = "local";  // "local" or "s3"
    std::string local_root;         // "": $KILN_HOME/blobs, else .kiln/blobs
    std::string s3_endpoint;        // http(s)://host[:port]
    std::string s3_region = "us-east-1";
    std::string s3_bucket;
    std::string s3_access_key_id;
    std::string s3_secret_access_key;  // secret
    std::string s3_secret_access_key_file;
    bool s3_path_style = true;  // endpoint/bucket/key; false: bucket.endpoint/key
    unsigned s3_part_size_mb = 8;
    // Seals the secrets of per-workspace storage connections: 32 bytes, base64 (secret).
    std::string master_key;
    std::string master_key_file;
    // Hosts a storage connection's endpoint may name ("host", "host:port"; a "*" label matches one
    // label, a leading one any names below): outbound requests never go to an address a tenant
    // chose freely. The defaults are public S3 services' endpoints (not all of amazonaws.com:
    // EC2's public names resolve to private addresses inside AWS).
    std::vector<std::string> connection_hosts{
        "s3.amazonaws.com",           "*.s3.amazonaws.com",       "s3.*.amazonaws.com",   "*.s3.*.amazonaws.com",
        "*.r2.cloudflarestorage.com", "*.digitaloceanspaces.com", "s3.*.backblazeb2.com", "*.s3.*.backblazeb2.com",
        "s3.wasabisys.com",           "s3.*.wasabisys.com",       "*.s3.*.wasabisys.com", "storage.googleapis.com"};
    // Resumable (tus) uploads: staged under this directory ("": $KILN_HOME/tus, else .kiln/tus),
    // an unfinished one expires this long after its last PATCH.
    std::string tus_dir;
    unsigned tus_expiry_s = 86'400;
    // The storage sweep (expired tus uploads; 'uploading' files older than stale_upload_s, left by
    // a process that died mid-upload): when the job worker's leader runs it (UTC).
    unsigned stale_upload_s = 86'400;
    std::string sweep_cron = "*/10 * * * *";
};

// The Data Uploader.
struct UploadsConfig {
    // Absolute paths a sync session's local_directory may lie in (symlinks resolved); empty:
    // server paths are refused, files come through the API only.
    std::vector<std::string> import_roots;
};

// storage.master_key decodes to exactly this many bytes (a crypto_secretbox key).
constexpr std::size_t kMasterKeyBytes = 32;

struct LogConfig {
    std::string level = "info";
};

struct Config {
    ServerConfig server;
    CorsConfig cors;
    DatabaseConfig database;
    AuthConfig auth;
    MailConfig mail;
    JobsConfig jobs;
    StorageConfig storage;
    UploadsConfig uploads;
    LogConfig log;
    unsigned cpu_threads = 0;    // 0: one per core
    unsigned file_threads = 16;  // blocking file I/O: mostly waiting on the disk, so more than cores
    std::string source;          // where the config came from, for messages

    using Env = std::function<std::optional<std::string>(const std::string&)>;
    // Loads `path` (if non-empty) and applies overrides from `env`; throws ConfigError naming the key.
    static Config load(const std::string& path, const Env& env);
    // The same with the process environment, refusing a KILN_ variable of a known section that
    // names no key (check_environment).
    static Config load(const std::string& path);
    // Throws ConfigError for the first of `names` (environment variable names) that starts like a
    // section's variables (KILN_STORAGE_…) but is no key's: a typo there (KILN_UPLOADS_IMPORT_ROOT)
    // would otherwise leave the setting at its default without a word, as an unknown key in the
    // file would. Other KILN_ variables (KILN_HOME, the scripts' own) are not config keys.
    static void check_environment(const std::vector<std::string>& names);
    // Reads *_file secrets into their values; throws ConfigError when a named file cannot be read.
    void resolve_secrets();
    // Every known key with its environment variable name, for documentation and tests.
    static std::vector<std::pair<std::string, std::string>> keys();
};

class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// KILN_<SECTION>_<KEY> for "section.key".
std::string env_name(const std::string& key);
// A libpq connection string for the given role; values are quoted for libpq.
std::string conninfo(const DatabaseConfig& db, bool owner, const std::string& database_override = {});

}  // namespace kiln::core
