#include "storage/connection_model.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace kiln::storage {

namespace {

constexpr std::size_t kMaxName = 100;
constexpr std::size_t kMaxEndpoint = 500;
constexpr std::size_t kMaxHost = 253;
constexpr std::size_t kMaxRegion = 64;
constexpr std::size_t kMaxAccessKey = 128;
constexpr std::size_t kMaxSecret = 256;
constexpr std::size_t kMinBucket = 3;
constexpr std::size_t kMaxBucket = 63;
constexpr unsigned kMaxPort = 65535;

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || is_digit(c);
}
bool is_alnum(char c) {
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}
bool is_visible_ascii(char c) {
    return c > ' ' && c < '\x7f';
}
std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

// host[:port] or [v6][:port]; host lower-cased, port as written ("" when absent).
struct HostPort {
    std::string host;
    std::string port;
};

// With `wildcards` (allow-list patterns) a host may hold '*' labels.
std::optional<HostPort> split_host_port(std::string_view authority, bool wildcards = false) {
    HostPort out;
    std::string_view rest;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        out.host = lower(authority.substr(0, close + 1));
        rest = authority.substr(close + 1);
        const auto inner = std::string_view(out.host).substr(1, out.host.size() - 2);
        const bool v6 = !inner.empty() && std::all_of(inner.begin(), inner.end(), [](char c) {
            return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
        });
        if (!v6) return std::nullopt;
    } else {
        const auto colon = authority.find(':');
        out.host = lower(authority.substr(0, colon));
        rest = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon);
        const bool name = !out.host.empty() && out.host.size() <= kMaxHost &&
                          std::all_of(out.host.begin(), out.host.end(), [wildcards](char c) {
                              return is_lower_alnum(c) || c == '-' || c == '.' || (wildcards && c == '*');
                          });
        if (!name) return std::nullopt;
    }
    if (rest.empty()) return out;
    if (!rest.starts_with(':')) return std::nullopt;
    out.port = std::string(rest.substr(1));
    if (out.port.empty() || out.port.size() > 5 || !std::all_of(out.port.begin(), out.port.end(), is_digit)) {
        return std::nullopt;
    }
    const auto n = static_cast<unsigned>(std::stoul(out.port));
    if (n == 0 || n > kMaxPort) return std::nullopt;
    return out;
}

struct Endpoint {
    std::string scheme;
    HostPort where;
    std::string effective_port() const {
        if (!where.port.empty()) return where.port;
        return scheme == "https" ? "443" : "80";
    }
};

std::optional<Endpoint> parse_endpoint(std::string_view e) {
    Endpoint out;
    if (e.starts_with("https://")) {
        out.scheme = "https";
    } else if (e.starts_with("http://")) {
        out.scheme = "http";
    } else {
        return std::nullopt;
    }
    auto authority = e.substr(out.scheme.size() + 3);
    if (authority.ends_with('/')) authority.remove_suffix(1);
    auto where = split_host_port(authority);
    if (!where) return std::nullopt;
    out.where = std::move(*where);
    return out;
}

std::vector<std::string_view> labels(std::string_view host) {
    std::vector<std::string_view> out;
    for (std::size_t start = 0;;) {
        const auto dot = host.find('.', start);
        out.push_back(host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
        if (dot == std::string_view::npos) return out;
        start = dot + 1;
    }
}

// A '*' label of the pattern matches one label; a leading one, one or more.
bool host_matches(std::string_view host, std::string_view pattern) {
    const auto h = labels(host);
    auto p = labels(pattern);
    const bool leading = p.size() > 1 && p.front() == "*";
    if (leading) p.erase(p.begin());
    if (leading ? h.size() <= p.size() : h.size() != p.size()) return false;
    const auto offset = h.size() - p.size();
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i] != "*" && p[i] != h[offset + i]) return false;
    }
    return true;
}

bool looks_like_ipv4(std::string_view s) {
    int groups = 0;
    std::size_t start = 0;
    while (start <= s.size()) {
        const auto dot = s.find('.', start);
        const auto part = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (part.empty() || !std::all_of(part.begin(), part.end(), is_digit)) return false;
        ++groups;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return groups == 4;
}

}  // namespace

std::optional<std::string> name_problem(std::string_view name) {
    if (name.empty() || name.size() > kMaxName) return "must be 1 to 100 characters";
    if (std::any_of(name.begin(), name.end(),
                    [](char c) { return static_cast<unsigned char>(c) < ' ' || c == '\x7f'; }))
        return "must not contain control characters";
    if (name.front() == ' ' || name.back() == ' ') return "must not start or end with a space";
    return std::nullopt;
}

std::optional<std::string> endpoint_problem(std::string_view endpoint) {
    if (endpoint.size() > kMaxEndpoint) return "must be at most 500 characters";
    if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://"))
        return "must be an http:// or https:// URL";
    if (!parse_endpoint(endpoint)) return "must be http(s)://host[:port], with no credentials, path or query";
    return std::nullopt;
}

std::optional<std::string> bucket_problem(std::string_view b) {
    if (b.size() < kMinBucket || b.size() > kMaxBucket) return "must be 3 to 63 characters";
    if (!std::all_of(b.begin(), b.end(), [](char c) { return is_lower_alnum(c) || c == '.' || c == '-'; }))
        return "may contain only lower-case letters, digits, dots and hyphens";
    if (!is_lower_alnum(b.front()) || !is_lower_alnum(b.back())) return "must begin and end with a letter or digit";
    if (b.find("..") != std::string_view::npos) return "must not contain two adjacent dots";
    if (looks_like_ipv4(b)) return "must not be formatted as an IP address";
    static constexpr std::array<std::string_view, 3> kPrefixes{"xn--", "sthree-", "amzn-s3-demo-"};
    static constexpr std::array<std::string_view, 5> kSuffixes{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"};
    for (const auto p : kPrefixes) {
        if (b.starts_with(p)) return "must not begin with a prefix S3 reserves (xn--, sthree-, amzn-s3-demo-)";
    }
    for (const auto s : kSuffixes) {
        if (b.ends_with(s)) return "must not end with a suffix S3 reserves (-s3alias, --ol-s3, .mrap, --x-s3)";
    }
    return std::nullopt;
}

std::optional<std::string> region_problem(std::string_view region) {
    const bool ok =
        !region.empty() && region.size() <= kMaxRegion &&
        std::all_of(region.begin(), region.end(), [](char c) { return is_alnum(c) || c == '-' || c == '_'; });
    if (!ok) return "must be 1 to 64 letters, digits, hyphens or underscores (e.g. us-east-1)";
    return std::nullopt;
}

std::optional<std::string> access_key_id_problem(std::string_view key) {
    const bool ok = !key.empty() && key.size() <= kMaxAccessKey &&
                    std::all_of(key.begin(), key.end(), [](char c) { return is_visible_ascii(c) && c != ':'; });
    if (!ok) return "must be 1 to 128 visible ASCII characters, without ':'";
    return std::nullopt;
}

std::optional<std::string> secret_problem(std::string_view secret) {
    const bool ok =
        !secret.empty() && secret.size() <= kMaxSecret && std::all_of(secret.begin(), secret.end(), is_visible_ascii);
    if (!ok) return "must be 1 to 256 visible ASCII characters";
    return std::nullopt;
}

bool host_allowed(std::string_view endpoint, const std::vector<std::string>& patterns) {
    const auto e = parse_endpoint(endpoint);
    if (!e) return false;
    return std::any_of(patterns.begin(), patterns.end(), [&e](const std::string& pattern) {
        const auto p = split_host_port(pattern, true);
        if (!p || (!p->port.empty() && p->port != e->effective_port())) return false;
        return host_matches(e->where.host, p->host);
    });
}

std::string redact(std::string message, const std::string& secret) {
    constexpr std::string_view kRedacted = "[redacted]";
    if (secret.empty()) return message;
    for (auto at = message.find(secret); at != std::string::npos; at = message.find(secret, at + kRedacted.size())) {
        message.replace(at, secret.size(), kRedacted);
    }
    return message;
}

namespace {

void check(core::Validator& v, const char* field, const std::optional<std::string>& problem) {
    if (problem) v.add(field, *problem);
}

void check_endpoint(core::Validator& v, const std::string& endpoint, const std::vector<std::string>& hosts) {
    if (auto bad = endpoint_problem(endpoint)) {
        v.add("endpoint", *bad);
    } else if (!host_allowed(endpoint, hosts)) {
        v.add("endpoint", "names a host this server does not connect to (storage.connection_hosts)");
    }
}

}  // namespace

void validate(const CreateStorageConnection& c, const std::vector<std::string>& hosts, core::Validator& v) {
    check(v, "name", name_problem(c.name));
    check_endpoint(v, c.endpoint, hosts);
    if (c.region) check(v, "region", region_problem(*c.region));
    check(v, "bucket", bucket_problem(c.bucket));
    check(v, "access_key_id", access_key_id_problem(c.access_key_id));
    check(v, "secret_access_key", secret_problem(c.secret_access_key));
}

void validate(const UpdateStorageConnection& c, const std::vector<std::string>& hosts, core::Validator& v) {
    if (c.name) check(v, "name", name_problem(*c.name));
    if (c.endpoint) check_endpoint(v, *c.endpoint, hosts);
    if (c.region) check(v, "region", region_problem(*c.region));
    if (c.bucket) check(v, "bucket", bucket_problem(*c.bucket));
    if (c.access_key_id) check(v, "access_key_id", access_key_id_problem(*c.access_key_id));
    if (c.secret_access_key) check(v, "secret_access_key", secret_problem(*c.secret_access_key));
}

}  // namespace kiln::storage
