#pragma once
// Argon2id password hashes (libsodium), computed on the CPU pool, and the password policy.
#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

#include "core/problem.hpp"
#include "core/thread_pool.hpp"

namespace kiln::auth {

struct HashCost {
    unsigned memory_kib = 19 * 1024;
    unsigned passes = 2;
};

class Passwords {
public:
    // Computes a dummy hash once (blocking), so that a login for an unknown account costs the
    // same as one for a real account.
    Passwords(core::ThreadPool& cpu, HashCost cost);

    boost::asio::awaitable<std::string> hash(std::string password) const;
    // An empty `stored` (no such account) is checked against the dummy hash and fails.
    boost::asio::awaitable<bool> verify(std::string stored, std::string password) const;
    const HashCost& cost() const noexcept { return cost_; }

private:
    core::ThreadPool& cpu_;
    HashCost cost_;
    std::string dummy_;
};

// 10–128 characters, not the email, its local part or the name, not a common password.
// Adds its findings to `v` under `field`.
void check_password_policy(core::Validator& v, const std::string& field, std::string_view password,
                           std::string_view email, std::string_view name);

}  // namespace kiln::auth
