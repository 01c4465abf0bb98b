// bench/auth/argon2_verify: the raw Argon2id verification rate, the reference for kiln's login
// throughput. Verifies one stored hash (a kiln account's, so the parameters are the server's)
// with libsodium's crypto_pwhash_str_verify — the call kiln's CPU pool makes per login — on
// THREADS threads for SECONDS seconds, and prints one machine-readable line:
//
//   ARGON2 threads=2 seconds=10.000 verifications=512 failed=0 rate=51.20 cpu_ms_per_verification=39.1
//
// Usage: argon2_verify HASH_FILE PASSWORD_FILE THREADS SECONDS
// Built by bench/auth/run.sh with one g++ line (not part of the CMake build or make test).
#include <sodium.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string read_first_line(const char* path) {
    std::ifstream in(path);
    if (!in) {
        std::fprintf(stderr, "argon2_verify: cannot read %s\n", path);
        std::exit(2);
    }
    std::string line;
    std::getline(in, line);
    return line;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s HASH_FILE PASSWORD_FILE THREADS SECONDS\n", argv[0]);
        return 2;
    }
    if (sodium_init() < 0) {
        std::fprintf(stderr, "argon2_verify: sodium_init failed\n");
        return 2;
    }
    const std::string stored = read_first_line(argv[1]);
    const std::string password = read_first_line(argv[2]);
    const int threads = std::atoi(argv[3]);
    const double seconds = std::atof(argv[4]);
    if (threads < 1 || seconds <= 0) {
        std::fprintf(stderr, "argon2_verify: THREADS must be ≥ 1 and SECONDS > 0\n");
        return 2;
    }
    // A wrong password or hash would measure the failure path: check once before timing.
    if (crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) != 0) {
        std::fprintf(stderr, "argon2_verify: the password does not verify against the hash\n");
        return 2;
    }

    using Clock = std::chrono::steady_clock;
    std::atomic<bool> stop{false};
    std::atomic<long> done{0};
    std::atomic<long> failed{0};
    std::vector<std::thread> pool;
    const auto start = Clock::now();
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&] {
            long n = 0;
            long bad = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                if (crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) != 0) ++bad;
                ++n;
            }
            done += n;
            failed += bad;
        });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : pool) t.join();
    // Verifications finishing after the deadline count, and so does the time they took.
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    // CPU time of the whole process (user + system): the verifying threads, and the one check above.
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const double cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    const long n = done.load();
    std::printf("ARGON2 threads=%d seconds=%.3f verifications=%ld failed=%ld rate=%.2f cpu_ms_per_verification=%.2f\n",
                threads, elapsed, n, failed.load(), static_cast<double>(n) / elapsed,
                cpu_s * 1000 / static_cast<double>(n + 1));
    return failed.load() == 0 ? 0 : 1;
}
