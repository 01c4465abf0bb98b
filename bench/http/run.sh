#!/usr/bin/env bash
# bench/http/run.sh: Kiln's HTTP benchmarks, written to bench/results.md (overwritten each run).
#
#   1. GET /health on kiln vs the same bytes as a static file on nginx (wrk, identical settings)
#   2. GET /ready on kiln (one SELECT 1 through its pool) vs pgbench running SELECT 1 directly
#   3. kiln's idle RSS after one /health and one /ready
#
# Needs the database environment of `scripts/pg env` (the dev cluster, migrated); `make bench`
# (scripts/bench) provides it. Every process started here is stopped on exit, even on failure.
#
# Settings (environment):
#   KILN_BIN               binary to measure (default build/kiln; copied first, so a rebuild
#                          during the run cannot swap it)
#   BENCH_DURATION         seconds per measured run (10)
#   BENCH_WARMUP           seconds per warm-up run, discarded (3)
#   BENCH_THREADS          wrk -t and pgbench -j (2)
#   BENCH_CONNECTIONS      wrk -c for /health (64)
#   BENCH_DB_CONNECTIONS   C for /ready: wrk -c, pgbench -c and kiln's pool size (16)
#   BENCH_SETTLE           seconds kiln idles before its RSS is read (2)
#   BENCH_RESULTS          output file (bench/results.md)
#
# Exit status: 0 when every target is met; 1 when a target is missed, a run saw errors or kiln
# crashed (the results file is written either way); 2 or more when the harness itself failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-3}
threads=${BENCH_THREADS:-2}
http_conns=${BENCH_CONNECTIONS:-64}
db_conns=${BENCH_DB_CONNECTIONS:-16}
settle=${BENCH_SETTLE:-2}
results=${BENCH_RESULTS:-$repo/bench/results.md}
kiln_src=${KILN_BIN:-$repo/build/kiln}
pgbench=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
nginx=${NGINX:-/usr/sbin/nginx}

# Targets (ratios are kiln ÷ reference).
target_health_rps=0.80 # kiln req/s ≥ 80% of nginx's
target_health_p99=1.50 # kiln p99 ≤ 1.5× nginx's
target_ready_rps=0.60  # kiln /ready req/s ≥ 60% of pgbench's tps
target_rss_mib=30      # idle VmRSS ≤ 30 MiB

bench_name=bench
# shellcheck source=bench/lib.sh
source "$here/../lib.sh"

for v in KILN_DATABASE_HOST KILN_DATABASE_PORT KILN_DATABASE_NAME KILN_DATABASE_USER KILN_DATABASE_PASSWORD_FILE; do
    [[ -n ${!v:-} ]] || die "$v is not set; run via 'make bench' or eval \"\$(scripts/pg env)\" first"
done
[[ -x $kiln_src ]] || die "no kiln binary at $kiln_src (scripts/build release)"
for tool in wrk curl psql "$nginx" "$pgbench"; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps)"
done

# ---------------------------------------------------------------------------------------------
# Process bookkeeping (bench/lib.sh): everything started goes into `pids`; the EXIT trap stops
# what is left.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all
    # The harness failed: show the servers' logs before they go.
    if [[ $rc -ge 2 && -d $tmp ]]; then show_logs "$tmp/nginx/error.log"; fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Helpers

kiln=$tmp/kiln
cp "$kiln_src" "$kiln"
: >"$tmp/empty.toml"

bench_jwt_key=$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n')
# Every kiln here (start_kiln NAME [VAR=value…], bench/lib.sh): cwd = the temp dir and an empty
# config file, so kiln.toml is not read.
kiln_env=(env -u KILN_SERVER_PORT -u KILN_SERVER_IO_THREADS -u KILN_DATABASE_POOL_SIZE -u KILN_SERVER_ACCESS_LOG
    KILN_CONFIG="$tmp/empty.toml" KILN_AUTH_JWT_KEY="$bench_jwt_key")

nginx_pid=
nginx_port=
start_nginx() {
    local i
    mkdir -p "$tmp/nginx"/{www,client_body,proxy,fastcgi,uwsgi,scgi}
    # Run as root, nginx's workers drop to `nobody`: they must be able to reach the document root.
    chmod 711 "$tmp" "$tmp/nginx"
    chmod 755 "$tmp/nginx/www"
    chmod 644 "$tmp/nginx/www/health"
    for _ in 1 2 3; do
        nginx_port=$(free_port)
        sed -e "s|@PREFIX@|$tmp/nginx|g" -e "s|@PORT@|$nginx_port|g" "$here/nginx.conf.template" >"$tmp/nginx/nginx.conf"
        "$nginx" -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" >"$tmp/nginx.log" 2>&1 &
        nginx_pid=$!
        pids+=("$nginx_pid")
        for ((i = 0; i < 100; i++)); do
            alive "$nginx_pid" || break
            # Up once it answers at all; the body and headers are checked afterwards.
            if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$nginx_port/health" || true) != 000 ]]; then
                return 0
            fi
            sleep 0.1
        done
        stop_pid "$nginx_pid"
        forget_pid "$nginx_pid"
        # Another process took the port between free_port and nginx's bind: try another.
        grep -q 'Address already in use' "$tmp/nginx/error.log" "$tmp/nginx.log" 2>/dev/null || break
    done
    die "nginx did not start (see its error log)"
}

# wrk_bench NAME URL CONNECTIONS SERVER_PID: a discarded warm-up, then the measured run into
# $tmp/wrk-NAME.txt. When the server dies during either, sets `crashed` and returns 1.
crashed=
wrk_bench() {
    local name=$1 url=$2 conns=$3 server=$4
    crashed=
    run_waited wrk -t"$threads" -c"$conns" -d"${warmup}s" "$url" >"$tmp/wrk-$name-warmup.txt" 2>&1 || true
    if ! alive "$server"; then
        exit_reason "$server"
        crashed="$reason during the ${warmup}-second warm-up"
        return 1
    fi
    run_waited wrk -t"$threads" -c"$conns" -d"${duration}s" --latency -s "$here/report.lua" "$url" \
        >"$tmp/wrk-$name.txt" 2>&1 || true
    if ! alive "$server"; then
        exit_reason "$server"
        crashed="$reason during the measured run"
        return 1
    fi
    grep -q '^BENCH ' "$tmp/wrk-$name.txt" || die "wrk ($name) printed no report: $(cat "$tmp/wrk-$name.txt")"
    sed -n '/^Running/,/^Transfer/p' "$tmp/wrk-$name.txt" >&2
}

# ---------------------------------------------------------------------------------------------
# The machine, recorded before anything runs.

run_date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=
if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then dirty=" (working tree has uncommitted changes)"; fi
cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
cpu_model=${cpu_model:-unknown}
cores=$(nproc)
kernel=$(uname -srm)
mem_total=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
kiln_version=$("$kiln" version 2>/dev/null || echo unknown)
kiln_mtime=$(date -u -r "$kiln_src" '+%Y-%m-%d %H:%M:%S UTC')
stale=
if [[ $kiln_src == "$repo/build/kiln" ]] &&
    [[ -n $(find src migrations cmake CMakeLists.txt -type f -newer "$kiln_src" 2>/dev/null | head -1) ]]; then
    stale=" — **sources changed after this binary was built: it may not match the commit**"
fi
wrk_version=$(wrk --version 2>&1 | head -1 | awk '{ print $1, $2 }' || true)
nginx_version=$("$nginx" -v 2>&1 | sed 's/^nginx version: //')
pgbench_version=$("$pgbench" --version)
pgpass=$(cat "$KILN_DATABASE_PASSWORD_FILE")
pg_server_version=$(PGPASSWORD=$pgpass psql -X -qAt -h "$KILN_DATABASE_HOST" -p "$KILN_DATABASE_PORT" \
    -U "$KILN_DATABASE_USER" -d "$KILN_DATABASE_NAME" -c 'SHOW server_version' 2>/dev/null || echo unknown)

# ---------------------------------------------------------------------------------------------
say "1/3 GET /health: kiln vs nginx (wrk -t$threads -c$http_conns -d${duration}s)"

start_kiln health KILN_SERVER_ACCESS_LOG=false
h_io_threads=$kiln_io_threads
# nginx serves kiln's own /health bytes, so the bodies are identical by construction.
mkdir -p "$tmp/nginx/www"
curl -sf "http://127.0.0.1:$kiln_port/health" -o "$tmp/nginx/www/health" || die "kiln /health failed"
start_nginx

curl -sf -D "$tmp/kiln-health.headers" -o "$tmp/kiln-health.body" "http://127.0.0.1:$kiln_port/health" ||
    die "kiln /health failed"
curl -sf -D "$tmp/nginx-health.headers" -o "$tmp/nginx-health.body" "http://127.0.0.1:$nginx_port/health" ||
    die "nginx /health failed"
cmp -s "$tmp/kiln-health.body" "$tmp/nginx-health.body" || die "nginx and kiln /health bodies differ"
content_type() { tr -d '\r' <"$1" | sed -n 's/^[Cc]ontent-[Tt]ype: *//p'; }
kiln_ct=$(content_type "$tmp/kiln-health.headers")
nginx_ct=$(content_type "$tmp/nginx-health.headers")
[[ $kiln_ct == application/json && $nginx_ct == application/json ]] ||
    die "Content-Type differs or is not application/json: kiln '$kiln_ct', nginx '$nginx_ct'"
health_body=$(cat "$tmp/kiln-health.body")
health_body_bytes=$(wc -c <"$tmp/kiln-health.body")
# shellcheck disable=SC2016 # backticks are markdown
header_names() { tr -d '\r' <"$1" | sed -n 's/^\([A-Za-z-]*\):.*/`\1`/p' | paste -sd, - | sed 's/,/, /g'; }
kiln_headers=$(header_names "$tmp/kiln-health.headers")
nginx_headers=$(header_names "$tmp/nginx-health.headers")

wrk_bench nginx-health "http://127.0.0.1:$nginx_port/health" "$http_conns" "$nginx_pid" ||
    die "nginx $crashed"
h_crash=
wrk_bench kiln-health "http://127.0.0.1:$kiln_port/health" "$http_conns" "$kiln_pid" || h_crash=$crashed
stop_pid "$nginx_pid"
forget_pid "$nginx_pid"
stop_kiln health

hn=$tmp/wrk-nginx-health.txt
hk=$tmp/wrk-kiln-health.txt
h_nginx_rps=$(wrk_rps "$hn")
h_nginx_p99=$(kv "$hn" p99_us)
h_nginx_p50=$(kv "$hn" p50_us)
h_nginx_non2xx=$(kv "$hn" non2xx3xx)
h_nginx_sockerr=$(wrk_sockerr "$hn")
h_nginx_bpr=$(wrk_bpr "$hn")
if [[ -z $h_crash ]]; then
    h_kiln_rps=$(wrk_rps "$hk")
    h_kiln_p99=$(kv "$hk" p99_us)
    h_kiln_p50=$(kv "$hk" p50_us)
    h_kiln_non2xx=$(kv "$hk" non2xx3xx)
    h_kiln_sockerr=$(wrk_sockerr "$hk")
    h_rps_ratio=$(ratio "$h_kiln_rps" "$h_nginx_rps")
    h_p99_ratio=$(ratio "$h_kiln_p99" "$h_nginx_p99")
    h_rps_verdict=$(verdict "$h_rps_ratio >= $target_health_rps")
    h_p99_verdict=$(verdict "$h_p99_ratio <= $target_health_p99")
    h_err_verdict=$(verdict "$h_kiln_non2xx + $h_nginx_non2xx + $h_kiln_sockerr + $h_nginx_sockerr == 0")
else
    echo "kiln $h_crash" >&2
    h_rps_verdict=FAIL h_p99_verdict=FAIL h_err_verdict=FAIL
fi

# ---------------------------------------------------------------------------------------------
say "2/3 GET /ready vs pgbench SELECT 1 (C=$db_conns)"

# pgbench_run SECONDS OUT: SELECT 1 over kiln's unix socket, database and role.
pgbench_run() {
    PGPASSWORD=$pgpass run_waited "$pgbench" -n -M prepared -c "$db_conns" -j "$threads" -T "$1" \
        -f "$here/select1.sql" -h "$KILN_DATABASE_HOST" -p "$KILN_DATABASE_PORT" -U "$KILN_DATABASE_USER" \
        "$KILN_DATABASE_NAME" >"$2" 2>&1 || die "pgbench failed: $(tail -5 "$2")"
}
pgbench_run "$warmup" "$tmp/pgbench-warmup.txt"
pgbench_run "$duration" "$tmp/pgbench.txt"
pgbench_summary "$tmp/pgbench.txt" "$tmp/pgbench-summary.txt"
cat "$tmp/pgbench-summary.txt" >&2
pg_tps=$(pgbench_tps "$tmp/pgbench.txt")
pg_lat=$(pgbench_latency "$tmp/pgbench.txt")
pg_failed=$(pgbench_failed "$tmp/pgbench.txt")

start_kiln ready KILN_SERVER_ACCESS_LOG=false KILN_DATABASE_POOL_SIZE="$db_conns"
r_io_threads=$kiln_io_threads
ready_body=$(curl -sf "http://127.0.0.1:$kiln_port/ready") || die "kiln /ready failed: $(kiln_tail ready)"
r_crash=
wrk_bench kiln-ready "http://127.0.0.1:$kiln_port/ready" "$db_conns" "$kiln_pid" || r_crash=$crashed
stop_kiln ready

rk=$tmp/wrk-kiln-ready.txt
if [[ -z $r_crash ]]; then
    r_kiln_rps=$(wrk_rps "$rk")
    r_kiln_p99=$(kv "$rk" p99_us)
    r_kiln_mean=$(kv "$rk" mean_us)
    r_kiln_non2xx=$(kv "$rk" non2xx3xx)
    r_kiln_sockerr=$(wrk_sockerr "$rk")
    r_ratio=$(ratio "$r_kiln_rps" "$pg_tps")
    r_verdict=$(verdict "$r_ratio >= $target_ready_rps")
    r_err_verdict=$(verdict "$r_kiln_non2xx + $r_kiln_sockerr + $pg_failed == 0")
else
    echo "kiln $r_crash" >&2
    r_verdict=FAIL r_err_verdict=FAIL
fi

# ---------------------------------------------------------------------------------------------
say "3/3 idle RSS"

start_kiln rss
rss_io_threads=$kiln_io_threads
curl -sf -o /dev/null "http://127.0.0.1:$kiln_port/health" || die "kiln /health failed (rss run)"
curl -sf -o /dev/null "http://127.0.0.1:$kiln_port/ready" || die "kiln /ready failed (rss run)"
sleep "$settle"
if ! alive "$kiln_pid"; then
    exit_reason "$kiln_pid"
    die "kiln (rss) $reason while idle"
fi
rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$kiln_pid/status")
hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$kiln_pid/status")
rss_threads=$(awk '/^Threads:/ { print $2 }' "/proc/$kiln_pid/status")
stop_kiln rss
rss_mib=$(calc "sprintf(\"%.1f\", $rss_kb / 1024)")
hwm_mib=$(calc "sprintf(\"%.1f\", $hwm_kb / 1024)")
rss_verdict=$(verdict "$rss_kb <= $target_rss_mib * 1024")
echo "VmRSS $rss_kb kB ($rss_mib MiB), VmHWM $hwm_kb kB, $rss_threads threads" >&2

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# bench/results.md

overall=PASS
for v in "$h_rps_verdict" "$h_p99_verdict" "$h_err_verdict" "$r_verdict" "$r_err_verdict" "$rss_verdict" \
    "$(exit_verdict health)" "$(exit_verdict ready)" "$(exit_verdict rss)"; do
    [[ $v == PASS ]] || overall=FAIL
done

crash_note() { # NAME WHAT
    # shellcheck disable=SC2016 # backticks are markdown
    printf '**kiln %s** — no figures. Its last output:\n\n```\n%s\n```\n\n' "$2" "$(kiln_tail "$1")"
}

{
    cat <<EOF
# Kiln benchmark results

Generated by \`make bench\` (\`bench/http/run.sh\`, then \`bench/auth/run.sh\`, \`bench/jobs/run.sh\` and
\`bench/uploads/run.sh\` for the auth, job engine and Data Uploader sections after these); overwritten on every run. See
[README.md](README.md) for what each benchmark measures and how to read it.

- **Date:** $run_date
- **Commit:** \`$commit\`$dirty — \`$kiln_version\` (Release build, \`${kiln_src#"$repo"/}\`, built $kiln_mtime)$stale
- **Machine:** $cores cores (\`nproc\`), $cpu_model, $mem_total RAM, $kernel
- **Load average** (1/5/15 min): $load_before before the run; $load_after after (includes the benchmark's own load)
- **Tools:** $wrk_version, $nginx_version, $pgbench_version, PostgreSQL server $pg_server_version
- **Overall:** **$overall**

The load generator, the server under test and PostgreSQL all share these $cores cores, so absolute
figures are modest and noisy; both sides of each comparison are measured the same way.

## 1. GET /health — kiln vs nginx serving the same bytes

EOF
    if [[ -n $h_crash ]]; then
        crash_note health "$h_crash"
        cat <<EOF
| Metric | kiln | nginx | Ratio (kiln ÷ nginx) | Target | Result |
|---|---:|---:|---:|---|:---:|
| Requests/s | crashed | $h_nginx_rps | — | ≥ $target_health_rps | **FAIL** |
| p99 latency | crashed | $(ms "$h_nginx_p99") | — | ≤ $target_health_p99 | **FAIL** |

EOF
    else
        cat <<EOF
| Metric | kiln | nginx | Ratio (kiln ÷ nginx) | Target | Result |
|---|---:|---:|---:|---|:---:|
| Requests/s | $h_kiln_rps | $h_nginx_rps | $h_rps_ratio | ≥ $target_health_rps | **$h_rps_verdict** |
| p99 latency | $(ms "$h_kiln_p99") | $(ms "$h_nginx_p99") | $h_p99_ratio | ≤ $target_health_p99 | **$h_p99_verdict** |
| p50 latency | $(ms "$h_kiln_p50") | $(ms "$h_nginx_p50") | $(ratio "$h_kiln_p50" "$h_nginx_p50") | — | info |
| Non-2xx/3xx responses | $h_kiln_non2xx | $h_nginx_non2xx | — | 0 | **$h_err_verdict** |
| Socket errors | $h_kiln_sockerr ($(wrk_sockerr_detail "$hk")) | $h_nginx_sockerr ($(wrk_sockerr_detail "$hn")) | — | 0 | (with the row above) |
| Bytes per response (headers + body) | $(wrk_bpr "$hk") | $h_nginx_bpr | — | — | info |
| kiln exit after SIGTERM | $(exit_note health) | — | — | clean | **$(exit_verdict health)** |

EOF
        exit_detail health
    fi
    cat <<EOF
- Body \`$health_body\` ($health_body_bytes bytes), \`Content-Type: application/json\` from both: nginx serves
  kiln's own /health bytes from a file, compared byte for byte before the runs.
- Load, the same for both (nginx first, then kiln): a discarded \`wrk -t$threads -c$http_conns -d${warmup}s <url>\` warm-up,
  then \`wrk -t$threads -c$http_conns -d${duration}s --latency -s bench/http/report.lua <url>\`.
- kiln: \`kiln serve --port 0\`, default I/O threads ($h_io_threads), \`KILN_SERVER_ACCESS_LOG=false\`, empty config file.
- nginx: [\`bench/http/nginx.conf.template\`](http/nginx.conf.template) — daemon off, \`worker_processes 2\`,
  \`access_log off\`, \`keepalive_requests\` unbounded (kiln has no per-connection cap), 127.0.0.1 only.
- Neither server logs per request (kiln's access log off, nginx \`access_log off\`).
- Response headers — kiln: $kiln_headers; nginx: $nginx_headers.

## 2. GET /ready — kiln vs pgbench \`SELECT 1\`

EOF
    if [[ -n $r_crash ]]; then
        crash_note ready "$r_crash"
        cat <<EOF
| Metric | kiln /ready (wrk) | pgbench SELECT 1 | Ratio (kiln ÷ pgbench) | Target | Result |
|---|---:|---:|---:|---|:---:|
| Throughput | crashed | $pg_tps tps | — | ≥ $target_ready_rps | **FAIL** |
| Errors | kiln crashed | $pg_failed failed transactions | — | 0 | **FAIL** |

EOF
    else
        cat <<EOF
| Metric | kiln /ready (wrk) | pgbench SELECT 1 | Ratio (kiln ÷ pgbench) | Target | Result |
|---|---:|---:|---:|---|:---:|
| Throughput | $r_kiln_rps req/s | $pg_tps tps | $r_ratio | ≥ $target_ready_rps | **$r_verdict** |
| Mean latency | $(ms "$r_kiln_mean") | ${pg_lat:-?} ms | — | — | info |
| p99 latency | $(ms "$r_kiln_p99") | — | — | — | info |
| Errors | $r_kiln_non2xx non-2xx/3xx; $r_kiln_sockerr socket ($(wrk_sockerr_detail "$rk")) | $pg_failed failed transactions | — | 0 | **$r_err_verdict** |
| kiln exit after SIGTERM | $(exit_note ready) | — | — | clean | **$(exit_verdict ready)** |

EOF
        exit_detail ready
    fi
    cat <<EOF
- C = $db_conns: wrk connections, pgbench clients and kiln's pool size (\`KILN_DATABASE_POOL_SIZE=$db_conns\`).
- pgbench: \`PGPASSWORD=<kiln_app's> pgbench -n -M prepared -c $db_conns -j $threads -T $duration -f bench/http/select1.sql
  -h $KILN_DATABASE_HOST -p $KILN_DATABASE_PORT -U $KILN_DATABASE_USER $KILN_DATABASE_NAME\` (tps without initial
  connection time), after a discarded ${warmup}-second run with the same options.
- kiln: \`kiln serve --port 0\`, default I/O threads ($r_io_threads), \`KILN_SERVER_ACCESS_LOG=false\`; the same unix
  socket, database and role (\`$KILN_DATABASE_USER\`) as pgbench. Each request is one \`SELECT 1\` round trip;
  reply \`$ready_body\`.
- Load: a discarded \`wrk -t$threads -c$db_conns -d${warmup}s\` warm-up, then
  \`wrk -t$threads -c$db_conns -d${duration}s --latency -s bench/http/report.lua <url>/ready\` (pgbench first, then kiln).

## 3. Idle memory

| Metric | kiln | Target | Result |
|---|---:|---|:---:|
| VmRSS | $rss_mib MiB ($rss_kb kB) | ≤ $target_rss_mib MiB | **$rss_verdict** |
| VmHWM (peak RSS) | $hwm_mib MiB ($hwm_kb kB) | — | info |
| Exit after SIGTERM | $(exit_note rss) | clean | **$(exit_verdict rss)** |

EOF
    exit_detail rss
    cat <<EOF
- A fresh \`kiln serve --port 0\` with default settings (pool size, access log; I/O threads: $rss_io_threads;
  $rss_threads threads in all), after one GET /health and one GET /ready and $settle s idle; from \`/proc/<pid>/status\`.

## Raw output

EOF
    raw_section "wrk: nginx /health" "$hn"
    raw_section "wrk: kiln /health" "$hk"
    raw_section "pgbench" "$tmp/pgbench-summary.txt"
    raw_section "wrk: kiln /ready" "$rk"
} >"$results.tmp"
mv "$results.tmp" "$results"

say "results: ${results#"$repo"/} — overall $overall"
if [[ -z $h_crash ]]; then
    printf '  /health  kiln %s req/s vs nginx %s: %s (target ≥ %s) %s; p99 %s vs %s: %s (target ≤ %s) %s\n' \
        "$h_kiln_rps" "$h_nginx_rps" "$h_rps_ratio" "$target_health_rps" "$h_rps_verdict" \
        "$(ms "$h_kiln_p99")" "$(ms "$h_nginx_p99")" "$h_p99_ratio" "$target_health_p99" "$h_p99_verdict" >&2
else
    printf '  /health  kiln %s: FAIL\n' "$h_crash" >&2
fi
if [[ -z $r_crash ]]; then
    printf '  /ready   kiln %s req/s vs pgbench %s tps: %s (target ≥ %s) %s\n' \
        "$r_kiln_rps" "$pg_tps" "$r_ratio" "$target_ready_rps" "$r_verdict" >&2
else
    printf '  /ready   kiln %s: FAIL\n' "$r_crash" >&2
fi
printf '  idle RSS %s MiB (target ≤ %s) %s\n' "$rss_mib" "$target_rss_mib" "$rss_verdict" >&2
printf '  errors   /health %s, /ready %s\n' "$h_err_verdict" "$r_err_verdict" >&2
printf '  kiln after SIGTERM: /health run %s; /ready run %s; rss run %s\n' \
    "$(exit_note health)" "$(exit_note ready)" "$(exit_note rss)" >&2
[[ $overall == PASS ]] || exit 1
