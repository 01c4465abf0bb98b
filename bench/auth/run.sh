#!/usr/bin/env bash
# bench/auth/run.sh: Kiln's auth benchmarks, written as sections 4–6 of bench/results.md (after
# bench/http/run.sh's sections, which are kept; a previous auth section is replaced).
#
#   4. POST /api/v1/auth/login throughput vs the raw Argon2id verification rate (libsodium's
#      crypto_pwhash_str_verify on as many threads as kiln's CPU pool, same hash parameters)
#   5. GET /health p99 on a light paced load during that login storm
#   6. GET /api/v1/auth/me throughput vs pgbench sending the same statements with the same clients
#
# Needs the database environment of `scripts/pg env` (the dev cluster running); `make bench`
# (scripts/bench) provides it. The accounts live in a throwaway database (BENCH_AUTH_DATABASE,
# created as the owner role, migrated, dropped on exit), never in the dev database. Every
# process started here is stopped on exit, even on failure.
#
# Settings (environment), besides bench/http/run.sh's BENCH_DURATION, BENCH_WARMUP,
# BENCH_THREADS, BENCH_DB_CONNECTIONS, BENCH_RESULTS and KILN_BIN:
#   BENCH_AUTH_ACCOUNTS           accounts created and cycled through by the login storm (64)
#   BENCH_AUTH_LOGIN_CONNECTIONS  wrk -c for the login storm (8)
#   BENCH_AUTH_HEALTH_CONNECTIONS wrk -c for /health during the storm (2)
#   BENCH_AUTH_HEALTH_DELAY_MS    pause per /health connection between requests (10)
#   BENCH_AUTH_DATABASE           the throwaway database (kiln_bench_auth)
#   CXX                           compiler for the raw Argon2id verifier (g++)
#
# Exit status: 0 when every target is met; 1 when a target is missed, a run saw errors or kiln
# crashed (the results are written either way); 2 or more when the harness itself failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-3}
threads=${BENCH_THREADS:-2}
db_conns=${BENCH_DB_CONNECTIONS:-16}
accounts=${BENCH_AUTH_ACCOUNTS:-64}
login_conns=${BENCH_AUTH_LOGIN_CONNECTIONS:-8}
health_conns=${BENCH_AUTH_HEALTH_CONNECTIONS:-2}
health_delay=${BENCH_AUTH_HEALTH_DELAY_MS:-10}
bench_db=${BENCH_AUTH_DATABASE:-kiln_bench_auth}
results=${BENCH_RESULTS:-$repo/bench/results.md}
kiln_src=${KILN_BIN:-$repo/build/kiln}
pgbench=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
cxx=${CXX:-g++}

# Targets.
target_login_ratio=0.90 # kiln logins/s ≥ 90% of raw Argon2id verifications/s
target_health_p99_ms=20 # /health p99 during the login storm < 20 ms
target_me_ratio=0.60    # kiln /auth/me req/s ≥ 60% of pgbench's tps

bench_name=bench/auth
# shellcheck source=bench/lib.sh
source "$here/../lib.sh"

for v in KILN_DATABASE_HOST KILN_DATABASE_PORT KILN_DATABASE_USER KILN_DATABASE_PASSWORD_FILE \
    KILN_DATABASE_OWNER_USER KILN_PG_SUPERUSER KILN_PG_SUPERUSER_PASSWORD_FILE; do
    [[ -n ${!v:-} ]] || die "$v is not set; run via 'make bench' or eval \"\$(scripts/pg env)\" first"
done
[[ -x $kiln_src ]] || die "no kiln binary at $kiln_src (scripts/build release)"
for tool in wrk curl psql base64 "$pgbench" "$cxx"; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps)"
done
[[ $bench_db =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_AUTH_DATABASE must be a plain lower-case identifier"
((accounts >= db_conns)) || die "BENCH_AUTH_ACCOUNTS ($accounts) must be ≥ BENCH_DB_CONNECTIONS ($db_conns)"
((db_conns <= 128)) || die "BENCH_DB_CONNECTIONS must be ≤ 128 (one pgbench script per session)"
((duration >= 4)) || die "BENCH_DURATION must be ≥ 4 (the /health run sits 1 s inside the login storm)"

# ---------------------------------------------------------------------------------------------
# Process bookkeeping (bench/lib.sh): everything started goes into `pids`; the EXIT trap stops
# what is left, then drops the throwaway database.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-auth.XXXXXX")
db_created=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all
    if ((db_created)); then
        super_sql postgres -c "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" >/dev/null 2>&1 ||
            echo "bench/auth: could not drop database $bench_db" >&2
    fi
    # shellcheck disable=SC2119 # no further logs
    if [[ $rc -ge 2 && -d $tmp ]]; then show_logs; fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Helpers (bench/lib.sh has the shared ones)

kiln=$tmp/kiln
cp "$kiln_src" "$kiln"
: >"$tmp/empty.toml"

# Every kiln here reads nothing but the environment: the bench database, no access log.
bench_jwt_key=$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n')
kiln_env=(env -u KILN_SERVER_PORT -u KILN_SERVER_IO_THREADS -u KILN_DATABASE_POOL_SIZE -u KILN_CPU_THREADS
    -u KILN_SERVER_ACCESS_LOG KILN_CONFIG="$tmp/empty.toml" KILN_DATABASE_NAME="$bench_db"
    KILN_AUTH_JWT_KEY="$bench_jwt_key")

# A crash during a wrk run: set `crashed` (checked after each run).
crashed=
check_alive() { # WHEN
    if [[ -z $crashed ]] && ! alive "$kiln_pid"; then
        exit_reason "$kiln_pid"
        crashed="$reason $1"
    fi
}

# ---------------------------------------------------------------------------------------------
say "auth: setup (database $bench_db, $accounts accounts)"

run_date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
cxx_version=$("$cxx" --version | head -1)
sodium_version=$(pkg-config --modversion libsodium 2>/dev/null || echo unknown)

# The reference program: one g++ line, outside the CMake build (make test never builds it).
"$cxx" -std=c++20 -O2 -Wall -Wextra -Wpedantic -Werror "$here/argon2_verify.cpp" -o "$tmp/argon2_verify" \
    -lsodium -pthread || die "could not build bench/auth/argon2_verify.cpp (libsodium-dev?)"

super_sql postgres -c "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" >/dev/null
super_sql postgres -c "CREATE DATABASE $bench_db OWNER $KILN_DATABASE_OWNER_USER" >/dev/null
db_created=1
(cd "$tmp" && "${kiln_env[@]}" KILN_LOG_LEVEL=warn "$kiln" migrate) >"$tmp/migrate.log" 2>&1 ||
    die "kiln migrate of $bench_db failed: $(tail -5 "$tmp/migrate.log")"

# One kiln for all three benchmarks. Only the registration limit is raised, to create the
# accounts over HTTP; the login throttles keep their defaults: they count failures only, and
# every login here succeeds (a 429 would show as a non-2xx response and fail the run).
start_kiln auth KILN_SERVER_ACCESS_LOG=false KILN_DATABASE_POOL_SIZE="$db_conns" \
    KILN_AUTH_REGISTRATIONS_PER_IP_HOUR=1000000
[[ -n $kiln_cpu_threads ]] || die "kiln's 'listening' line has no cpu_threads: $(head -1 "$tmp/kiln-auth.log")"
base_url=http://127.0.0.1:$kiln_port

# Accounts: bench-auth-N@example.com, each with its own random password.
mkdir -p "$tmp/register"
: >"$tmp/accounts.tsv"
for ((i = 1; i <= accounts; i++)); do
    pw="Bench-$(head -c 12 /dev/urandom | base64 | tr -d '/+=\n')"
    printf '{"email":"bench-auth-%d@example.com","password":"%s","name":"Bench %d"}' "$i" "$pw" "$i" \
        >"$tmp/register/$i.json"
    printf 'bench-auth-%d@example.com\t%s\n' "$i" "$pw" >>"$tmp/accounts.tsv"
done
seq 1 "$accounts" | xargs -P 4 -I{} curl -s -o /dev/null -w '%{http_code}\n' \
    -H 'Content-Type: application/json' --data-binary "@$tmp/register/{}.json" "$base_url/api/v1/auth/register" \
    >"$tmp/register.codes"
[[ $(grep -c '^201$' "$tmp/register.codes") == "$accounts" ]] ||
    die "registering $accounts accounts: status codes $(sort "$tmp/register.codes" | uniq -c | tr '\n' ' ')"

# One session per /auth/me client: log the first $db_conns accounts in once; their access tokens
# (15 minutes, longer than the run) go to wrk, their ids to pgbench.
: >"$tmp/tokens.txt"
: >"$tmp/sessions.tsv"
for ((i = 1; i <= db_conns; i++)); do
    IFS=$'\t' read -r email pw < <(sed -n "${i}p" "$tmp/accounts.tsv")
    reply=$(curl -sf -H 'Content-Type: application/json' \
        --data-binary "{\"email\":\"$email\",\"password\":\"$pw\"}" "$base_url/api/v1/auth/login") ||
        die "login of $email failed"
    token=$(json_field access_token <<<"$reply")
    [[ -n $token ]] || die "no access_token in the login reply"
    echo "$token" >>"$tmp/tokens.txt"
    printf '%s\t%s\t%s\n' "$(jwt_claim "$token" sid)" "$(jwt_claim "$token" sub)" "$(jwt_claim "$token" wid)" \
        >>"$tmp/sessions.tsv"
done
me_status=$(curl -s -o "$tmp/me.json" -w '%{http_code}' -H "Authorization: Bearer $(head -1 "$tmp/tokens.txt")" \
    "$base_url/api/v1/auth/me")
[[ $me_status == 200 ]] || die "GET /auth/me answered $me_status: $(cat "$tmp/me.json")"

# The Argon2id parameters are the server's: the reference verifies a hash kiln stored.
first_email=$(head -1 "$tmp/accounts.tsv" | cut -f1)
head -1 "$tmp/accounts.tsv" | cut -f2 >"$tmp/password.txt"
super_sql "$bench_db" -c "SELECT password_hash FROM users WHERE email = '$first_email'" >"$tmp/hash.txt"
# shellcheck disable=SC2016 # a literal $ in the pattern
argon2_params=$(grep -o '^\$argon2id\$v=[0-9]*\$m=[0-9]*,t=[0-9]*,p=[0-9]*' "$tmp/hash.txt") ||
    die "the stored hash is not Argon2id: $(cut -c1-40 "$tmp/hash.txt")"
argon2_m=$(sed -n 's/.*m=\([0-9]*\).*/\1/p' <<<"$argon2_params")
argon2_t=$(sed -n 's/.*t=\([0-9]*\).*/\1/p' <<<"$argon2_params")
argon2_p=$(sed -n 's/.*p=\([0-9]*\).*/\1/p' <<<"$argon2_params")

# ---------------------------------------------------------------------------------------------
say "4/6 raw Argon2id verification rate ($argon2_params, $kiln_cpu_threads threads)"

# raw_run SECONDS OUT: the reference program on kiln's CPU pool size.
raw_run() {
    run_waited "$tmp/argon2_verify" "$tmp/hash.txt" "$tmp/password.txt" "$kiln_cpu_threads" "$1" >"$2" 2>&1 ||
        die "argon2_verify failed: $(cat "$2")"
    grep -q 'rate=[0-9]' "$2" || die "no rate from argon2_verify: $(cat "$2")"
}
raw_rate_of() { grep -o 'rate=[0-9.]*' "$1" | cut -d= -f2; }
# Measured before and after the storm; the reference is their mean, so a machine whose load drifts
# during the run skews both sides alike (the two figures are shown; far apart means a noisy run).
raw_run "$warmup" "$tmp/argon2-warmup.txt"
raw_run "$duration" "$tmp/argon2-before.txt"
cat "$tmp/argon2-before.txt" >&2
raw_before=$(raw_rate_of "$tmp/argon2-before.txt")

say "4-5/6 login storm (wrk -t$threads -c$login_conns) with paced /health (wrk -t1 -c$health_conns)"

cat "$here/login.lua" bench/http/report.lua >"$tmp/login.lua"
cat "$here/paced.lua" bench/http/report.lua >"$tmp/paced.lua"
cat "$here/me.lua" bench/http/report.lua >"$tmp/me.lua"
health_duration=$((duration - 2))
login_opts=(-t"$threads" -c"$login_conns" --timeout 10s --latency -s "$tmp/login.lua" "$base_url")
run_waited wrk -d"${warmup}s" "${login_opts[@]}" -- "$tmp/accounts.tsv" >"$tmp/wrk-login-warmup.txt" 2>&1 || true
check_alive "during the login warm-up"
# wrk stops with logins in flight; kiln still hashes them. Let its CPU pool drain (the in-flight
# count over the raw rate, plus a second) so that they do not eat into the measured run.
drain=$(calc "sprintf(\"%d\", $login_conns / $raw_before + 2)")
sleep "$drain"
if [[ -z $crashed ]]; then
    cpu_snapshot "$tmp/cpu-before.txt"
    wrk -d"${duration}s" "${login_opts[@]}" -- "$tmp/accounts.tsv" >"$tmp/wrk-login.txt" 2>&1 &
    login_wrk=$!
    pids+=("$login_wrk")
    sleep 1
    run_waited wrk -t1 -c"$health_conns" -d"${health_duration}s" --latency -s "$tmp/paced.lua" "$base_url/health" \
        -- "$health_delay" >"$tmp/wrk-health.txt" 2>&1 || true
    wait "$login_wrk" || true
    forget_pid "$login_wrk"
    cpu_snapshot "$tmp/cpu-after.txt"
    check_alive "during the login storm"
fi
login_crash=$crashed
# The storm's last logins finish before the second reference run starts.
sleep "$drain"
raw_run "$duration" "$tmp/argon2-after.txt"
cat "$tmp/argon2-after.txt" >&2
raw_after=$(raw_rate_of "$tmp/argon2-after.txt")
raw_rate=$(calc "sprintf(\"%.2f\", ($raw_before + $raw_after) / 2)")
raw_cpu_of() { grep -o 'cpu_ms_per_verification=[0-9.]*' "$1" | cut -d= -f2; }
raw_cpu_ms=$(calc "sprintf(\"%.2f\", ($(raw_cpu_of "$tmp/argon2-before.txt") + $(raw_cpu_of "$tmp/argon2-after.txt")) / 2)")
raw_failed_of() { grep -o 'failed=[0-9]*' "$1" | cut -d= -f2; }
raw_failed=$(($(raw_failed_of "$tmp/argon2-before.txt") + $(raw_failed_of "$tmp/argon2-after.txt")))

if [[ -z $login_crash ]]; then
    wrk_check "$tmp/wrk-login.txt"
    wrk_check "$tmp/wrk-health.txt"
    sed -n '/^Running/,/^Transfer/p' "$tmp/wrk-login.txt" "$tmp/wrk-health.txt" >&2
    lk=$tmp/wrk-login.txt
    hk=$tmp/wrk-health.txt
    login_rps=$(wrk_rps "$lk" 1)
    login_ratio=$(ratio "$login_rps" "$raw_rate")
    # Per login, over the whole storm (its /health probe included: ~1% of kiln's work).
    login_count=$(kv "$lk" requests)
    kiln_cpu_ms=$(cpu_ms_per kiln "$tmp/cpu-before.txt" "$tmp/cpu-after.txt" "$login_count")
    pg_cpu_ms=$(cpu_ms_per pg "$tmp/cpu-before.txt" "$tmp/cpu-after.txt" "$login_count")
    if [[ $pg_cpu_ms != "?" ]]; then
        cpu_ratio=$(ratio "$raw_cpu_ms" "($kiln_cpu_ms + $pg_cpu_ms)")
    else
        pg_cpu_ms="?" cpu_ratio="—"
    fi
    login_verdict=$(verdict "$login_ratio >= $target_login_ratio")
    login_err_verdict=$(verdict "$(kv "$lk" non2xx3xx) + $(wrk_sockerr "$lk") == 0")
    health_p99=$(kv "$hk" p99_us)
    health_verdict=$(verdict "$health_p99 < $target_health_p99_ms * 1000")
    health_err_verdict=$(verdict "$(kv "$hk" non2xx3xx) + $(wrk_sockerr "$hk") == 0")
else
    echo "kiln $login_crash" >&2
    login_verdict=FAIL login_err_verdict=FAIL health_verdict=FAIL health_err_verdict=FAIL
fi

# ---------------------------------------------------------------------------------------------
say "6/6 GET /auth/me vs pgbench with the same statements (C=$db_conns)"

# One pgbench script per session (pgbench variables hold one value for all clients): script k
# uses -D sid_k/uid_k/wid_k; pgbench picks a script at random per transaction, as wrk cycles
# through the tokens.
pg_args=()
k=0
while IFS=$'\t' read -r sid uid wid; do
    k=$((k + 1))
    grep -v '^--' "$here/me.sql" | sed -e "s/:sid\b/:sid_$k/g" -e "s/:uid\b/:uid_$k/g" -e "s/:wid\b/:wid_$k/g" \
        >"$tmp/me-$k.sql"
    pg_args+=(-f "$tmp/me-$k.sql@1" -D "sid_$k=$sid" -D "uid_$k=$uid" -D "wid_$k=$wid")
done <"$tmp/sessions.tsv"
pgpass=$(cat "$KILN_DATABASE_PASSWORD_FILE")
pgbench_run() { # SECONDS OUT
    PGPASSWORD=$pgpass run_waited "$pgbench" -n -M prepared -c "$db_conns" -j "$threads" -T "$1" "${pg_args[@]}" \
        -h "$KILN_DATABASE_HOST" -p "$KILN_DATABASE_PORT" -U "$KILN_DATABASE_USER" "$bench_db" >"$2" 2>&1 ||
        die "pgbench failed: $(tail -5 "$2")"
}
pgbench_run "$warmup" "$tmp/pgbench-warmup.txt"
pgbench_run "$duration" "$tmp/pgbench.txt"
# The summary, without the per-script sections (one per session).
pgbench_summary "$tmp/pgbench.txt" "$tmp/pgbench-summary.txt"
cat "$tmp/pgbench-summary.txt" >&2
pg_tps=$(pgbench_tps "$tmp/pgbench.txt")
pg_lat=$(pgbench_latency "$tmp/pgbench.txt")
pg_failed=$(pgbench_failed "$tmp/pgbench.txt")

if [[ -z $login_crash ]]; then
    me_opts=(-t"$threads" -c"$db_conns" --latency -s "$tmp/me.lua" "$base_url")
    run_waited wrk -d"${warmup}s" "${me_opts[@]}" -- "$tmp/tokens.txt" >"$tmp/wrk-me-warmup.txt" 2>&1 || true
    check_alive "during the /auth/me warm-up"
    if [[ -z $crashed ]]; then
        run_waited wrk -d"${duration}s" "${me_opts[@]}" -- "$tmp/tokens.txt" >"$tmp/wrk-me.txt" 2>&1 || true
    fi
    check_alive "during the /auth/me run"
fi
me_crash=$crashed
mk=$tmp/wrk-me.txt
if [[ -z $me_crash ]]; then
    wrk_check "$mk"
    sed -n '/^Running/,/^Transfer/p' "$mk" >&2
    me_rps=$(wrk_rps "$mk" 1)
    me_ratio=$(ratio "$me_rps" "$pg_tps")
    me_verdict=$(verdict "$me_ratio >= $target_me_ratio")
    me_err_verdict=$(verdict "$(kv "$mk" non2xx3xx) + $(wrk_sockerr "$mk") + $pg_failed == 0")
else
    echo "kiln $me_crash" >&2
    me_verdict=FAIL me_err_verdict=FAIL
fi
if [[ -n $kiln_pid ]]; then stop_kiln auth; fi
exit_verdict=$(exit_verdict auth)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# bench/results.md: replace the auth part (from its marker to the next script's part or the end),
# keep the rest (bench/lib.sh splice_results).

overall=PASS
for v in "$login_verdict" "$login_err_verdict" "$health_verdict" "$health_err_verdict" "$me_verdict" \
    "$me_err_verdict" "$exit_verdict"; do
    [[ $v == PASS ]] || overall=FAIL
done

marker='<!-- bench/auth/run.sh: this part is replaced by each run -->'

{
    cat <<EOF
$marker

# Auth benchmarks (bench/auth)

- **Date:** $run_date; **load average** $load_before before, $load_after after (includes the benchmark's own load)
- **Argon2id:** \`$argon2_params\` (${argon2_m} KiB, ${argon2_t} passes, ${argon2_p} lane), read from a hash kiln
  stored for a bench account, i.e. the server's configured \`auth.argon2_memory_kib\` / \`auth.argon2_passes\`
- **kiln:** one \`kiln serve --port 0\` for sections 4–6: I/O threads $kiln_io_threads, CPU pool $kiln_cpu_threads threads
  (both default: one per core), \`KILN_SERVER_ACCESS_LOG=false\`, \`KILN_DATABASE_POOL_SIZE=$db_conns\`,
  \`KILN_AUTH_REGISTRATIONS_PER_IP_HOUR=1000000\` (only to create the accounts; the login throttles keep their
  defaults — they count failed logins only, and every login here succeeds), database \`$bench_db\` (created, migrated
  and dropped by the run), empty config file
- **Tools:** $cxx_version, libsodium $sodium_version
- **Auth overall:** **$overall**

EOF
    if [[ -n $login_crash ]]; then
        # shellcheck disable=SC2016 # backticks are markdown
        printf '**kiln %s** — no figures for sections 4–6. Its last output:\n\n```\n%s\n```\n\n' "$login_crash" \
            "$(kiln_tail auth)"
    else
        cat <<EOF
## 4. POST /api/v1/auth/login — kiln vs raw Argon2id verification

| Metric | kiln login | raw \`crypto_pwhash_str_verify\` | Ratio (kiln ÷ raw) | Target | Result |
|---|---:|---:|---:|---|:---:|
| Throughput | $login_rps logins/s | $raw_rate verifications/s (mean of $raw_before before, $raw_after after) | $login_ratio | ≥ $target_login_ratio | **$login_verdict** |
| CPU per login / verification | kiln $kiln_cpu_ms ms + PostgreSQL $pg_cpu_ms ms | $raw_cpu_ms ms | $cpu_ratio (raw ÷ kiln + PostgreSQL) | — | info |
| p50 / p99 latency | $(ms "$(kv "$lk" p50_us)") / $(ms "$(kv "$lk" p99_us)") | — | — | — | info |
| Errors | $(kv "$lk" non2xx3xx) non-2xx/3xx; $(wrk_sockerr "$lk") socket ($(wrk_sockerr_detail "$lk")) | $raw_failed failed | — | 0 | **$login_err_verdict** |

- Raw: \`bench/auth/argon2_verify.cpp\` (\`g++ -O2\`, libsodium), $kiln_cpu_threads threads (kiln's CPU pool size) verifying
  that stored hash with its password in a loop for ${duration} s, alone: once right before the storm (after a
  discarded ${warmup}-second run) and once right after it (after kiln finished the storm's last logins); the
  reference is the mean of the two.
- kiln: $accounts accounts (\`bench-auth-N@example.com\`, distinct random passwords) registered over HTTP before the
  runs; \`wrk -t$threads -c$login_conns -d${duration}s --timeout 10s --latency -s bench/auth/login.lua <url> -- accounts.tsv\`
  after a discarded ${warmup}-second run and ${drain} s for kiln to finish the warm-up's last logins; each request
  posts \`{"email","password"}\` for the next account (threads start at different accounts). A login is a throttle
  check + account lookup, one Argon2id verification on the CPU pool, then the session, refresh token, throttle reset
  and audit insert in one batch.
- CPU per login: user + system time of kiln's process and of the whole cluster (the postmaster, its children and
  the children it reaped, from \`/proc/<pid>/stat\`) over the measured storm, divided by the logins; per verification: the reference program's
  own CPU time (mean of its two runs). Their difference is what a login costs beyond its hash; their ratio does not
  depend on how much of the cores other work on the machine took, unlike the throughput ratio.

## 5. GET /health during the login storm

| Metric | kiln /health | Target | Result |
|---|---:|---|:---:|
| p99 latency | $(ms "$health_p99") | < $target_health_p99_ms ms | **$health_verdict** |
| p50 / max latency | $(ms "$(kv "$hk" p50_us)") / $(ms "$(kv "$hk" max_us)") | — | info |
| Requests/s | $(wrk_rps "$hk" 1) | — | info |
| Errors | $(kv "$hk" non2xx3xx) non-2xx/3xx; $(wrk_sockerr "$hk") socket ($(wrk_sockerr_detail "$hk")) | 0 | **$health_err_verdict** |

- \`wrk -t1 -c$health_conns -d${health_duration}s --latency -s bench/auth/paced.lua <url>/health -- $health_delay\`: each connection
  waits $health_delay ms between requests (a light load, not a second storm), started 1 s into the measured login run
  and finished 1 s before its end, so every /health request overlaps the storm.

EOF
    fi
    if [[ -n $me_crash && -z $login_crash ]]; then
        # shellcheck disable=SC2016 # backticks are markdown
        printf '**kiln %s** — no figures for section 6. Its last output:\n\n```\n%s\n```\n\n' "$me_crash" \
            "$(kiln_tail auth)"
    fi
    if [[ -z $me_crash ]]; then
        cat <<EOF
## 6. GET /api/v1/auth/me — kiln vs pgbench sending the same statements

| Metric | kiln /auth/me (wrk) | pgbench, same SQL | Ratio (kiln ÷ pgbench) | Target | Result |
|---|---:|---:|---:|---|:---:|
| Throughput | $me_rps req/s | $pg_tps tps | $me_ratio | ≥ $target_me_ratio | **$me_verdict** |
| Mean latency | $(ms "$(kv "$mk" mean_us)") | ${pg_lat:-?} ms | — | — | info |
| p99 latency | $(ms "$(kv "$mk" p99_us)") | — | — | — | info |
| Errors | $(kv "$mk" non2xx3xx) non-2xx/3xx; $(wrk_sockerr "$mk") socket ($(wrk_sockerr_detail "$mk")) | $pg_failed failed transactions | — | 0 | **$me_err_verdict** |
| kiln exit after SIGTERM | $(exit_note auth) | — | — | clean | **$exit_verdict** |

- The statements are what kiln sends per /auth/me (\`db::run\` with the pipeline on, \`Store::user\`):
  \`set_config\` ×3 for the tenant scope, \`SELECT kiln_require_session(sid, NULL)\`, the user/membership/workspace
  query — in one pipeline with one Sync (one implicit transaction, one round trip):
  [\`bench/auth/me.sql\`](auth/me.sql) between \`\\startpipeline\` and \`\\endpipeline\`.
- C = $db_conns: $db_conns sessions (the first $db_conns accounts, logged in once before the runs), wrk connections,
  pgbench clients and \`KILN_DATABASE_POOL_SIZE\`.
- pgbench: \`pgbench -n -M prepared -c $db_conns -j $threads -T $duration\` with one copy of \`me.sql\` per session
  (\`-f me-k.sql@1\`, \`-D sid_k=… -D uid_k=… -D wid_k=…\`; pgbench picks one per transaction), as \`$KILN_DATABASE_USER\`
  over kiln's unix socket, after a discarded ${warmup}-second run. tps without initial connection time.
- kiln: \`wrk -t$threads -c$db_conns -d${duration}s --latency -s bench/auth/me.lua <url> -- tokens.txt\` (each request carries the
  next session's access token), after a discarded ${warmup}-second run; pgbench first, then kiln.

EOF
    fi
    exit_detail auth
    echo "## Raw output (auth)"
    echo
    raw_section "argon2_verify (raw Argon2id) before the storm" "$tmp/argon2-before.txt"
    raw_section "argon2_verify (raw Argon2id) after the storm" "$tmp/argon2-after.txt"
    raw_section "wrk: kiln POST /auth/login" "$tmp/wrk-login.txt"
    raw_section "wrk: kiln /health during the login storm" "$tmp/wrk-health.txt"
    raw_section "pgbench: /auth/me statements" "$tmp/pgbench-summary.txt"
    raw_section "wrk: kiln GET /auth/me" "$tmp/wrk-me.txt"
} >"$tmp/results.md"
splice_results "$results" "$marker" "$tmp/results.md"
if [[ $overall == FAIL ]]; then fail_overall "$results"; fi

say "auth results: ${results#"$repo"/} — auth overall $overall"
if [[ -z $login_crash ]]; then
    printf '  login    kiln %s/s vs raw Argon2id %s/s (%s before, %s after): %s (target ≥ %s) %s\n' \
        "$login_rps" "$raw_rate" "$raw_before" "$raw_after" "$login_ratio" "$target_login_ratio" "$login_verdict" >&2
    printf '  /health  p99 during the storm %s (target < %s ms) %s\n' "$(ms "$health_p99")" "$target_health_p99_ms" \
        "$health_verdict" >&2
else
    printf '  login    kiln %s: FAIL\n' "$login_crash" >&2
fi
if [[ -z $me_crash ]]; then
    printf '  /me      kiln %s req/s vs pgbench %s tps: %s (target ≥ %s) %s\n' \
        "$me_rps" "$pg_tps" "$me_ratio" "$target_me_ratio" "$me_verdict" >&2
else
    printf '  /me      kiln %s: FAIL\n' "$me_crash" >&2
fi
printf '  errors   login %s, /health %s, /me %s; kiln after SIGTERM: %s\n' "$login_err_verdict" \
    "$health_err_verdict" "$me_err_verdict" "$(exit_note auth)" >&2
[[ $overall == PASS ]] || exit 1
