#include "auth/password.hpp"

#include <sodium.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <stdexcept>
#include <unordered_set>

#include "core/crypto.hpp"
#include "core/embedded.hpp"

namespace kiln::auth {

namespace {

std::string hash_now(const std::string& password, const HashCost& cost) {
    std::string out(crypto_pwhash_STRBYTES, '\0');
    if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), cost.passes,
                              std::size_t{cost.memory_kib} * 1024, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        throw std::runtime_error("password hashing ran out of memory");
    }
    out.resize(out.find('\0'));
    return out;
}

// Named callables for ThreadPool::run (see its note on g++ 12 and lambda temporaries).
struct HashJob {
    std::string password;
    HashCost cost;
    std::string operator()() const { return hash_now(password, cost); }
};

struct VerifyJob {
    std::string stored;
    std::string password;
    bool operator()() const { return crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0; }
};

std::string random_dummy() {
    return core::random_token(24);
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

// zxcvbn-ts's list of common passwords (npm @zxcvbn-ts/language-common), embedded at build time.
const std::unordered_set<std::string>& common_passwords() {
    static const std::unordered_set<std::string> set = [] {
        std::unordered_set<std::string> out;
        for (const auto& f : core::embedded_auth()) {
            if (f.name != "common-passwords.json") continue;
            const auto doc = boost::json::parse(f.data);
            for (const auto& v : doc.as_array()) out.insert(lower(v.as_string()));
        }
        if (out.empty()) throw std::logic_error("the common password list is not embedded");
        return out;
    }();
    return set;
}

}  // namespace

Passwords::Passwords(core::ThreadPool& cpu, HashCost cost)
    : cpu_(cpu), cost_(cost), dummy_(hash_now(random_dummy(), cost)) {}

boost::asio::awaitable<std::string> Passwords::hash(std::string password) const {
    HashJob job{std::move(password), cost_};
    co_return co_await cpu_.run(std::move(job));
}

boost::asio::awaitable<bool> Passwords::verify(std::string stored, std::string password) const {
    const bool known = !stored.empty();
    VerifyJob job{std::move(stored), std::move(password)};
    if (!known) job.stored = dummy_;
    const bool ok = co_await cpu_.run(std::move(job));
    const bool verified = known && ok;
    co_return verified;
}

void check_password_policy(core::Validator& v, const std::string& field, std::string_view password,
                           std::string_view email, std::string_view name) {
    // Characters, not bytes: a 10-character password in any script is accepted.
    std::size_t chars = 0;
    for (unsigned char c : password) chars += (c & 0xC0) != 0x80 ? 1 : 0;
    if (chars < 10) return v.add(field, "must be at least 10 characters");
    if (chars > 128) return v.add(field, "must be at most 128 characters");
    const auto p = lower(password);
    const auto mail = lower(email);
    const auto local = mail.substr(0, mail.find('@'));
    if (p == mail || (!name.empty() && p == lower(name))) return v.add(field, "must not be your email or name");
    if (local.size() >= 4 && p.find(local) != std::string::npos) return v.add(field, "must not contain your email");
    if (common_passwords().contains(p)) return v.add(field, "is too common; choose another");
}

}  // namespace kiln::auth
