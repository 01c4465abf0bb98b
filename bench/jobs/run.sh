#!/usr/bin/env bash
# bench/jobs/run.sh: the job engine's benchmarks, written as sections 7–10 of bench/results.md
# (after the parts of bench/http and bench/auth, which are kept; a previous jobs part is replaced).
#
#   7. no-op jobs/s: kiln's in-process workers draining a pre-filled queue vs pgbench sending the
#      same claim and succeed statements (src/jobs/store.cpp) on the same queue
#   8. latency on an idle system: enqueue → handler start; a progress report → an SSE client
#   9. the claim statement's cost with 1,000,000 jobs queued vs 1,000
#  10. 10,000 SSE subscribers held: kiln's memory, and one event fanned out to all of them
#
# Needs the database environment of `scripts/pg env` (the dev cluster running); `make bench`
# (scripts/bench) provides it. Everything happens in a throwaway database (BENCH_JOBS_DATABASE,
# created as the owner role, migrated, dropped on exit). Every process started here is stopped
# on exit, even on failure.
#
# Settings (environment), besides BENCH_THREADS (pgbench -j), BENCH_SETTLE, BENCH_RESULTS and
# KILN_BIN (see bench/http/run.sh):
#   BENCH_JOBS_N            jobs queued for each throughput run (20000)
#   BENCH_JOBS_WORKSPACES   workspaces they are spread over (4)
#   BENCH_JOBS_WORKERS      kiln's jobs.workers (job slots) for the throughput run (64: twice a claim,
#                           so that a claim overlaps the completion of the batch before)
#   BENCH_JOBS_CLIENTS      pgbench clients for the reference (2)
#   BENCH_JOBS_BATCH        jobs per claim: kiln's jobs.claim_batch and the reference's (32)
#   BENCH_JOBS_SAMPLES      enqueue → handler start samples (300)
#   BENCH_JOBS_SSE_JOBS     system.sleep jobs reporting progress for the SSE latency (16)
#   BENCH_JOBS_SSE_MS       how long each sleeps (2000; a report every 5 %)
#   BENCH_JOBS_QUEUE_SMALL  jobs queued for the small claim run (1000)
#   BENCH_JOBS_QUEUE_BIG    jobs queued for the big claim run (1000000)
#   BENCH_JOBS_CLAIM_SECONDS  seconds of claims per queue size (5)
#   BENCH_JOBS_SUBSCRIBERS  SSE connections held (10000)
#   BENCH_JOBS_DATABASE     the throwaway database (kiln_bench_jobs)
#
# Exit status: 0 when every target is met; 1 when a target is missed, a run saw errors or kiln
# crashed (the results are written either way); 2 or more when the harness itself failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

threads=${BENCH_THREADS:-2}
settle=${BENCH_SETTLE:-2}
n_jobs=${BENCH_JOBS_N:-20000}
n_ws=${BENCH_JOBS_WORKSPACES:-4}
workers=${BENCH_JOBS_WORKERS:-64}
clients=${BENCH_JOBS_CLIENTS:-2}
batch=${BENCH_JOBS_BATCH:-32}
samples=${BENCH_JOBS_SAMPLES:-300}
sse_jobs=${BENCH_JOBS_SSE_JOBS:-16}
sse_ms=${BENCH_JOBS_SSE_MS:-2000}
queue_small=${BENCH_JOBS_QUEUE_SMALL:-1000}
queue_big=${BENCH_JOBS_QUEUE_BIG:-1000000}
claim_seconds=${BENCH_JOBS_CLAIM_SECONDS:-5}
subscribers=${BENCH_JOBS_SUBSCRIBERS:-10000}
bench_db=${BENCH_JOBS_DATABASE:-kiln_bench_jobs}
results=${BENCH_RESULTS:-$repo/bench/results.md}
kiln_src=${KILN_BIN:-$repo/build/kiln}
pgbench=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
store_cpp=$repo/src/jobs/store.cpp

# Targets (issue 5).
target_rate_ratio=0.70  # kiln jobs/s ≥ 70% of pgbench's with the same statements
target_rate_abs=10000   # and ≥ 10,000 jobs/s
target_pickup_p50=2     # enqueue → handler start, ms
target_pickup_p99=10    # ms
target_sse_p50=3        # progress report → SSE client, ms
target_claim_ratio=1.50 # claim with the big queue ≤ 1.5× the claim with the small one
target_sub_kib=64       # memory per held SSE connection, KiB (bounded: see the README)

bench_name=bench/jobs
# shellcheck source=bench/lib.sh
source "$here/../lib.sh"

for v in KILN_DATABASE_HOST KILN_DATABASE_PORT KILN_DATABASE_USER KILN_DATABASE_PASSWORD_FILE \
    KILN_DATABASE_OWNER_USER KILN_PG_SUPERUSER KILN_PG_SUPERUSER_PASSWORD_FILE; do
    [[ -n ${!v:-} ]] || die "$v is not set; run via 'make bench' or eval \"\$(scripts/pg env)\" first"
done
[[ -x $kiln_src ]] || die "no kiln binary at $kiln_src (scripts/build release)"
for tool in curl psql node perl "$pgbench"; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps)"
done
[[ $bench_db =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_JOBS_DATABASE must be a plain lower-case identifier"
((n_ws >= 1 && n_ws <= 9)) || die "BENCH_JOBS_WORKSPACES must be 1–9"
((batch >= 1 && batch <= 1000)) || die "BENCH_JOBS_BATCH must be 1–1000 (jobs.claim_batch)"
((queue_small >= 100)) || die "BENCH_JOBS_QUEUE_SMALL must be ≥ 100"
# 10,000 streams need as many descriptors in kiln and in the client (each inherits this limit).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(($(ulimit -n) > subscribers + 200)) ||
    die "ulimit -n is $(ulimit -n): too low for $subscribers streams (the hard limit caps it)"

# ---------------------------------------------------------------------------------------------
# Process bookkeeping (bench/lib.sh): everything started goes into `pids`; the EXIT trap stops
# what is left, then drops the throwaway database.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-jobs.XXXXXX")
db_created=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all
    if ((db_created)); then
        super_sql postgres -c "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" >/dev/null 2>&1 ||
            echo "bench/jobs: could not drop database $bench_db" >&2
    fi
    # shellcheck disable=SC2119 # no further logs
    if [[ $rc -ge 2 && -d $tmp ]]; then show_logs; fi
    if [[ -n ${BENCH_KEEP_TMP:-} ]]; then echo "bench/jobs: kept $tmp" >&2; else rm -rf "$tmp"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

kiln=$tmp/kiln
cp "$kiln_src" "$kiln"
: >"$tmp/empty.toml"
pgpass=$(cat "$KILN_DATABASE_PASSWORD_FILE")
bench_jwt_key=$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n')
# Every kiln here reads nothing but the environment: the bench database, the diagnostic kinds
# (system.noop, system.sleep), no access log; all else at its defaults unless a run says otherwise.
kiln_env=(env -u KILN_SERVER_PORT -u KILN_SERVER_IO_THREADS -u KILN_DATABASE_POOL_SIZE -u KILN_CPU_THREADS
    -u KILN_SERVER_ACCESS_LOG -u KILN_SERVER_MAX_CONNECTIONS KILN_CONFIG="$tmp/empty.toml"
    KILN_DATABASE_NAME="$bench_db" KILN_AUTH_JWT_KEY="$bench_jwt_key" KILN_SERVER_ACCESS_LOG=false
    KILN_JOBS_DIAGNOSTIC_KINDS=true)

db() { super_sql "$bench_db" "$@"; } # as the superuser (setup and readings; bypasses RLS)
app_db() {                           # as kiln's role, like kiln (RLS applies)
    PGPASSWORD=$pgpass psql -X -qAt -v ON_ERROR_STOP=1 -h "$KILN_DATABASE_HOST" -p "$KILN_DATABASE_PORT" \
        -U "$KILN_DATABASE_USER" -d "$bench_db" "$@"
}
now_s() { date +%s.%N; }
grouped() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; } # 1000000 → 1,000,000

# ---------------------------------------------------------------------------------------------
# The statements kiln's worker sends, read from src/jobs/store.cpp so that the reference follows
# the code: sql_of NAME prints the string constant NAME (a raw string literal or a plain one).
sql_of() {
    NAME=$1 perl -0777 -ne '
        if (/constexpr std::string_view \Q$ENV{NAME}\E = R"sql\((.*?)\)sql";/s) { print $1; exit }
        if (/constexpr std::string_view \Q$ENV{NAME}\E = "(.*?)";/s) { print $1; exit }
        exit 1' "$store_cpp" || die "no constant $1 in src/jobs/store.cpp: update bench/jobs/run.sh"
}
# with_vars SQL NAME…: $1, $2, … replaced by pgbench variables :NAME…; dies when the statement
# has other parameters than NAMEs (its parameters changed: this script must follow).
with_vars() {
    local sql=$1 max
    shift
    max=$(grep -o '\$[0-9]\+' <<<"$sql" | tr -d '$' | sort -n | tail -1)
    [[ ${max:-0} == "$#" ]] || die "a statement of src/jobs/store.cpp takes ${max:-0} parameters, bench/jobs maps $#"
    NAMES="$*" perl -pe 'BEGIN { @n = split / /, $ENV{NAMES} } s/\$(\d+)\b/:$n[$1 - 1]/g' <<<"$sql"
}
sql_scope=$(sql_of kWorkerScope)
sql_lock=$(sql_of kClaimLock)
sql_claim=$(sql_of kClaim)
sql_succeed_many=$(sql_of kSucceedMany)
# kClaim: cursor, workspaces per claim, share basis, kinds, limit, worker, lease ms, kinds with a
# global concurrency cap and those caps (kiln's diagnostic kinds: system.capped, 2).
claim_vars=$(with_vars "$sql_claim" cursor claim_ws batch kinds batch worker lease_ms capped caps)

# ---------------------------------------------------------------------------------------------
say "jobs: setup (database $bench_db)"

run_date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
node_version=$(node --version)
super_sql postgres -c "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" >/dev/null
super_sql postgres -c "CREATE DATABASE $bench_db OWNER $KILN_DATABASE_OWNER_USER" >/dev/null
db_created=1
(cd "$tmp" && "${kiln_env[@]}" KILN_LOG_LEVEL=warn "$kiln" migrate) >"$tmp/migrate.log" 2>&1 ||
    die "kiln migrate of $bench_db failed: $(tail -5 "$tmp/migrate.log")"

# Ten workspaces for the queues (the throughput runs use the first BENCH_JOBS_WORKSPACES; the
# claim runs all ten, the first one big), on the enterprise plan so that its concurrency cap
# (100 running jobs per workspace) never binds: the runs measure the engine, not the plans.
db -c "INSERT INTO workspaces (id, name, plan)
       SELECT ('00000000-0000-7000-8000-0000000000' || lpad(n::text, 2, '0'))::uuid, 'bench jobs ' || n, 'enterprise'
         FROM generate_series(1, 10) n" >/dev/null
ws_of() { printf '00000000-0000-7000-8000-0000000000%02d' "$1"; }

# UUIDv7 ids, as kiln gives its jobs (time-ordered: the primary key grows at its end).
v7="encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing
    substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
    52, 1), 53, 1), 'hex')::uuid"
job_columns="workspace_id, id, kind, queue, args, priority, state, max_attempts, run_at, timeout_ms"
job_values="'system.noop', 'default', '{}', 2, 'available', 5, now(), 300000"

# fill_as_app "WS:N …": N system.noop jobs per workspace in one transaction, as kiln's role in each
# workspace's tenant scope, with the columns kiln's enqueue (kInsert) sets: the jobs trigger
# writes their job.available events and notifications, as for jobs enqueued by the API.
fill_as_app() {
    local spec ws n
    {
        echo "BEGIN;"
        for spec in $1; do
            ws=${spec%%:*} n=${spec##*:}
            echo "SELECT set_config('kiln.workspace_id', '$ws', true) \\g /dev/null"
            echo "INSERT INTO jobs ($job_columns)
                  SELECT kiln_current_workspace(), $v7, $job_values FROM generate_series(1, $n);"
        done
        echo "COMMIT;"
    } >"$tmp/fill.sql"
    app_db -f "$tmp/fill.sql" >/dev/null
}
# fill_fast "WS:N …": the same rows as the superuser with triggers off (no events): setup for the
# claim runs, which read only the queue.
fill_fast() {
    local spec ws n
    {
        echo "BEGIN;"
        echo "SET LOCAL session_replication_role = replica;"
        for spec in $1; do
            ws=${spec%%:*} n=${spec##*:}
            echo "INSERT INTO jobs ($job_columns) SELECT '$ws', $v7, $job_values FROM generate_series(1, $n);"
        done
        echo "COMMIT;"
    } >"$tmp/fill.sql"
    db -f "$tmp/fill.sql" >/dev/null
}
empty_queue() { db -c "TRUNCATE jobs, job_events" >/dev/null; }
vacuum_jobs() { db -c "VACUUM ANALYZE jobs" -c "VACUUM ANALYZE job_events" >/dev/null; }
spread_even() { # N WORKSPACES → "WS:n …", the remainder to the first
    local i n=$1 k=$2 out=""
    for ((i = 1; i <= k; i++)); do out+="$(ws_of "$i"):$((n / k + (i == 1 ? n % k : 0))) "; done
    echo "$out"
}

# metric NAME_WITH_LABELS: its value on kiln's /metrics (0 when absent).
metric() {
    curl -sf "http://127.0.0.1:$kiln_port/metrics" | awk -v m="$1" '$1 == m { v = $2 } END { print v + 0 }'
}

# The account of sections 8 and 10: one registered over HTTP in its own (personal) workspace.
# Registering needs a kiln; the latency kiln does it (start_latency_kiln).
account_email="bench-jobs@example.com"
account_password="Bench-$(head -c 12 /dev/urandom | base64 | tr -d '/+=\n')"
token=
account_ws=

# ---------------------------------------------------------------------------------------------
say "7/10 no-op throughput: $n_jobs jobs over $n_ws workspaces; kiln (jobs.workers $workers) vs pgbench (-c $clients)"

# The claim filters on the kinds the worker runs: kiln's, as its worker registers them at start.
start_kiln kinds
for ((i = 0; i < 100; i++)); do
    kiln_kinds=$(db -c "SELECT kinds FROM workers LIMIT 1")
    [[ -n $kiln_kinds ]] && break
    sleep 0.1
done
stop_kiln kinds
[[ -n $kiln_kinds ]] || die "kiln's worker did not register within 10 s: $(kiln_tail kinds)"
db -c "DELETE FROM workers" >/dev/null

# pgbench: the same queue, the same statements. One script run = one claim of up to $batch
# jobs, then one batched succeed of all it claimed. kiln sends the claim's three statements as
# one pipeline (one round trip, one transaction); pgbench cannot read a pipelined result into
# variables (\gset), so its claim takes two round trips: BEGIN + the worker scope + the lock
# pipelined, then the claim, whose rows one wrapping SELECT turns into array variables. The
# succeed is kiln's batched one: the worker scope + kSucceedMany pipelined with the claim's
# COMMIT, one round trip, one transaction (kiln's worker batches what finished meanwhile, which
# under load is about a claim's worth).
nil=00000000-0000-0000-0000-000000000000
{
    echo '-- generated by bench/jobs/run.sh from src/jobs/store.cpp (kWorkerScope, kClaimLock, kClaim, kSucceedMany)'
    echo '\startpipeline'
    echo 'BEGIN;'
    echo "$sql_scope;"
    echo "$sql_lock;"
    printf '%s\n' '\endpipeline'
    echo "WITH claimed AS ($claim_vars)"
    echo "SELECT coalesce(array_agg(workspace_id), '{}')::text AS w, coalesce(array_agg(id), '{}')::text AS i,"
    echo "       coalesce(array_agg(lease_token), '{}')::text AS t,"
    echo "       coalesce(array_agg(:result::text), '{}')::text AS r"
    printf '  FROM claimed \\gset\n'
    echo '\startpipeline'
    echo 'COMMIT;'
    echo "$sql_scope;"
    echo "$(with_vars "$sql_succeed_many" w i t r);"
    printf '%s\n' '\endpipeline'
} >"$tmp/claim_succeed.sql"
pg_vars=(-D "cursor=$nil" -D claim_ws=16 -D "batch=$batch" -D "kinds=$kiln_kinds"
    -D "worker=bench-pgbench" -D lease_ms=30000 -D 'capped={system.capped}' -D 'caps={2}'
    -D 'result={"started_at":"2026-01-01T00:00:00.000000Z"}')

# Each drain: the queue filled (as the app would, see fill_as_app) and vacuumed, then drained;
# jobs/s = jobs ÷ (the last completion's finished_at − the first claim's attempted_at).
declare -A d_ok=() d_left=() d_secs=() d_retried=() d_rate=() d_cpu_pg=() d_cpu_kiln=() d_failed=() d_claims=()
fill_s=
drain_setup() {
    local t0
    empty_queue
    t0=$(now_s)
    fill_as_app "$(spread_even "$n_jobs" "$n_ws")"
    fill_s=${fill_s:-$(calc "sprintf(\"%.2f\", $(now_s) - $t0)")}
    vacuum_jobs
}
drain_result() { # NAME
    db -F ' ' -c "SELECT count(*) FILTER (WHERE state = 'succeeded'), count(*) FILTER (WHERE state <> 'succeeded'),
                         extract(epoch FROM max(finished_at) - min(attempted_at)), count(*) FILTER (WHERE attempt > 1),
                         count(DISTINCT (lease_owner, attempted_at))
                    FROM jobs" >"$tmp/drain-$1.txt"
    read -r "d_ok[$1]" "d_left[$1]" "d_secs[$1]" "d_retried[$1]" "d_claims[$1]" <"$tmp/drain-$1.txt"
    d_secs[$1]=$(calc "sprintf(\"%.2f\", ${d_secs[$1]})")
    d_rate[$1]=$(calc "sprintf(\"%.0f\", ${d_ok[$1]} / ${d_secs[$1]})")
    d_cpu_pg[$1]=$(cpu_ms_per pg "$tmp/cpu-$1-before.txt" "$tmp/cpu-$1-after.txt" "${d_ok[$1]}" 3)
    echo "$1: ${d_ok[$1]} jobs in ${d_secs[$1]} s = ${d_rate[$1]} jobs/s; ${d_left[$1]} unfinished" >&2
}
drain_pgbench() { # NAME CLIENTS
    drain_setup
    cpu_snapshot "$tmp/cpu-$1-before.txt"
    # Enough runs to drain the queue, plus one each: the last claims find nothing.
    PGPASSWORD=$pgpass run_waited "$pgbench" -n -M prepared -c "$2" -j "$(($2 < threads ? $2 : threads))" \
        -t $(((n_jobs + $2 * batch - 1) / ($2 * batch) + 1)) "${pg_vars[@]}" -f "$tmp/claim_succeed.sql" \
        -h "$KILN_DATABASE_HOST" -p "$KILN_DATABASE_PORT" -U "$KILN_DATABASE_USER" "$bench_db" \
        >"$tmp/pgbench-$1.txt" 2>&1 || die "pgbench failed: $(tail -5 "$tmp/pgbench-$1.txt")"
    cpu_snapshot "$tmp/cpu-$1-after.txt"
    d_failed[$1]=$(pgbench_failed "$tmp/pgbench-$1.txt")
    pgbench_summary "$tmp/pgbench-$1.txt" "$tmp/pgbench-$1-summary.txt"
    drain_result "$1"
}
# kiln starts once the queue is filled; its window starts at its first claim, so its start-up
# is not counted.
tp_crash=
drain_kiln() {
    local done_jobs deadline=$((SECONDS + 60 + n_jobs / 200))
    drain_setup
    cpu_snapshot "$tmp/cpu-kiln-before.txt"
    echo "kiln 0" >>"$tmp/cpu-kiln-before.txt" # kiln's own ticks count from its start
    start_kiln throughput KILN_JOBS_WORKERS="$workers" KILN_JOBS_CLAIM_BATCH="$batch"
    while :; do
        if ! alive "$kiln_pid"; then
            exit_reason "$kiln_pid"
            tp_crash="$reason during the run"
            break
        fi
        done_jobs=$(metric 'kiln_jobs_finished_total{kind="system.noop",outcome="succeeded"}')
        ((done_jobs >= n_jobs)) && break
        ((SECONDS < deadline)) || die "kiln finished $done_jobs of $n_jobs jobs before the deadline"
        sleep 0.2
    done
    [[ -n $tp_crash ]] || cpu_snapshot "$tmp/cpu-kiln-after.txt"
    stop_kiln throughput
    d_failed[kiln]=0
    if [[ -z $tp_crash ]]; then
        drain_result kiln
        d_cpu_kiln[kiln]=$(cpu_ms_per kiln "$tmp/cpu-kiln-before.txt" "$tmp/cpu-kiln-after.txt" "${d_ok[kiln]}" 3)
    fi
}
# The reference runs right before and right after kiln; it is their mean, so load that drifts
# during the run skews both sides alike. Then pgbench with one client, kiln's number of
# connections for this work (info).
drain_pgbench before "$clients"
drain_kiln
drain_pgbench after "$clients"
drain_pgbench one 1
p_rate=$(calc "sprintf(\"%.0f\", (${d_rate[before]} + ${d_rate[after]}) / 2)")
p_errors=$((d_left[before] + d_left[after] + d_left[one] + d_retried[before] + d_retried[after] + d_retried[one] +
    d_failed[before] + d_failed[after] + d_failed[one]))
p_all=$((d_ok[before] + d_ok[after] + d_ok[one]))
if [[ -z $tp_crash ]]; then
    k_rate=${d_rate[kiln]}
    tp_ratio=$(ratio "$k_rate" "$p_rate")
    tp_one_ratio=$(ratio "$k_rate" "${d_rate[one]}")
    tp_verdict=$(verdict "$tp_ratio >= $target_rate_ratio")
    tp_abs_verdict=$(verdict "$k_rate >= $target_rate_abs")
    tp_err_verdict=$(verdict "${d_left[kiln]} + ${d_retried[kiln]} + $p_errors == 0 && ${d_ok[kiln]} == $n_jobs && $p_all == 3 * $n_jobs")
else
    echo "kiln $tp_crash" >&2
    k_rate="—" tp_ratio="—" tp_one_ratio="—"
    tp_verdict=FAIL tp_abs_verdict=FAIL tp_err_verdict=FAIL
fi

# ---------------------------------------------------------------------------------------------
say "8/10 latency on an idle system: enqueue → handler start ($samples jobs), progress → SSE ($sse_jobs jobs)"

empty_queue
# One kiln for sections 8 and 10 (default job settings; connections raised for section 10).
start_kiln latency KILN_SERVER_MAX_CONNECTIONS=$((subscribers + 100)) KILN_AUTH_REGISTRATIONS_PER_IP_HOUR=1000
base_url=http://127.0.0.1:$kiln_port
reg=$(curl -s -o "$tmp/register.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "{\"email\":\"$account_email\",\"password\":\"$account_password\",\"name\":\"Bench\"}" \
    "$base_url/api/v1/auth/register")
[[ $reg == 201 ]] || die "registering the bench account answered $reg: $(cat "$tmp/register.json")"
login=$(curl -sf -H 'Content-Type: application/json' \
    --data-binary "{\"email\":\"$account_email\",\"password\":\"$account_password\"}" "$base_url/api/v1/auth/login") ||
    die "login of the bench account failed"
token=$(json_field access_token <<<"$login")
account_ws=$(jwt_claim "$token" wid)
[[ -n $token && -n $account_ws ]] || die "no access token or workspace in the login reply"
# Its plan's cap (free: 2 running jobs) would queue the SSE run's jobs; the account is alone.
db -c "UPDATE workspaces SET plan = 'enterprise' WHERE id = '$account_ws'" >/dev/null

# client MODE ARGS…: bench/jobs/client.mjs against this kiln. A failure with kiln gone is kiln's
# crash (lat_crash, reported); with kiln alive, the harness's.
lat_crash=
client() {
    [[ -z $lat_crash ]] || return 0
    run_waited node "$here/client.mjs" "$1" "$base_url" "$token" "${@:2}" 2>>"$tmp/client.err" && return 0
    alive "$kiln_pid" && die "the $1 client failed: $(tail -3 "$tmp/client.err")"
    exit_reason "$kiln_pid"
    lat_crash="$reason during the latency runs"
}
# A short discarded round first (connections, prepared statements, caches).
client pickup 20 "$tmp/pickup-warmup.txt"
pickup_hist_before=$(curl -sf "$base_url/metrics" | grep '^kiln_job_pickup_seconds' || true)
client pickup "$samples" "$tmp/pickup.txt"
pickup_hist_after=$(curl -sf "$base_url/metrics" | grep '^kiln_job_pickup_seconds' || true)
client progress "$sse_jobs" "$sse_ms" "$tmp/progress.tsv"
if [[ -n $lat_crash ]]; then : >"$tmp/pickup.txt"; : >"$tmp/progress.tsv"; fi

# Enqueue → handler start: the job's created_at (the enqueue transaction's start) to the
# started_at its system.noop handler returned (kiln's clock), split at the claim's start
# (attempted_at). All on this machine's clock.
db -c "CREATE TABLE bench_ids (id uuid PRIMARY KEY, replied_us bigint NOT NULL)" >/dev/null
db -c "\\copy bench_ids FROM '$tmp/pickup.txt'" >/dev/null
percentiles() { # EXPRESSION FROM… → "n p50 p99 max" in ms, 3 decimals
    db -F ' ' -c "SELECT count(*), round(percentile_disc(0.5) WITHIN GROUP (ORDER BY d)::numeric, 3),
                         round(percentile_disc(0.99) WITHIN GROUP (ORDER BY d)::numeric, 3),
                         round(max(d)::numeric, 3)
                    FROM (SELECT ($1) * 1000 AS d FROM $2) x"
}
read -r pk_n pk_p50 pk_p99 pk_max < <(percentiles \
    "extract(epoch FROM (j.result->>'started_at')::timestamptz - j.created_at)" \
    "jobs j JOIN bench_ids USING (id) WHERE j.state = 'succeeded'")
# From the commit that made the job exist (the job.available event's row was written by the
# enqueue transaction: its xmin's commit timestamp; scripts/pg turns track_commit_timestamp on).
# The enqueue transaction's own work (here an API request: session check, insert, read-back,
# audit) is the caller's, not the engine's pickup.
committed_job="jobs j JOIN bench_ids USING (id)
    JOIN job_events e ON e.workspace_id = j.workspace_id AND e.job_id = j.id AND e.type = 'job.available'
    WHERE j.state = 'succeeded'"
read -r pm_n pm_p50 pm_p99 pm_max < <(percentiles \
    "extract(epoch FROM (j.result->>'started_at')::timestamptz - pg_xact_commit_timestamp(e.xmin))" "$committed_job")
read -r _ pmc_p50 pmc_p99 _ < <(percentiles "extract(epoch FROM j.attempted_at - pg_xact_commit_timestamp(e.xmin))" \
    "$committed_job")
read -r _ pc_p50 pc_p99 _ < <(percentiles "extract(epoch FROM j.attempted_at - j.created_at)" \
    "jobs j JOIN bench_ids USING (id) WHERE j.state = 'succeeded'")
read -r _ ph_p50 ph_p99 _ < <(percentiles \
    "extract(epoch FROM (j.result->>'started_at')::timestamptz - j.attempted_at)" \
    "jobs j JOIN bench_ids USING (id) WHERE j.state = 'succeeded'")
# The enqueue's reply reached the client after its commit: what came before the reply and what
# after (negative when the claim started first).
read -r _ pr_p50 pr_p99 _ < <(percentiles "b.replied_us / 1e6 - extract(epoch FROM j.created_at)" \
    "jobs j JOIN bench_ids b USING (id) WHERE j.state = 'succeeded'")
read -r _ pa_p50 pa_p99 _ < <(percentiles "extract(epoch FROM j.attempted_at) - b.replied_us / 1e6" \
    "jobs j JOIN bench_ids b USING (id) WHERE j.state = 'succeeded'")
# The pickup histogram's share of these samples at or under 2 ms and 10 ms (its buckets).
hist_le() { # TEXT LE → cumulative count
    awk -v le="$2" 'index($0, "kiln_job_pickup_seconds_bucket{le=\"" le "\"}") == 1 { print $2 }' <<<"$1"
}
hist_count() { awk '/^kiln_job_pickup_seconds_count/ { print $2 }' <<<"$1"; }
h_n=$(($(hist_count "$pickup_hist_after") - $(hist_count "$pickup_hist_before")))
h_le2=$(($(hist_le "$pickup_hist_after" 0.002) - $(hist_le "$pickup_hist_before" 0.002)))
h_le10=$(($(hist_le "$pickup_hist_after" 0.01) - $(hist_le "$pickup_hist_before" 0.01)))

# Progress → SSE client: each job.progress event's created_at (the progress UPDATE's transaction
# start) to its arrival at the client.
db -c "CREATE TABLE bench_arrivals (id bigint PRIMARY KEY, arrival_us bigint NOT NULL)" >/dev/null
db -c "\\copy bench_arrivals FROM '$tmp/progress.tsv'" >/dev/null
read -r ss_n ss_p50 ss_p99 ss_max < <(percentiles "a.arrival_us / 1e6 - extract(epoch FROM e.created_at)" \
    "bench_arrivals a JOIN job_events e USING (id) WHERE e.type = 'job.progress'")
ss_expected=$(db -c "SELECT count(*) FROM job_events WHERE type = 'job.progress' AND workspace_id = '$account_ws'")
echo "pickup (from commit) p50 $pm_p50 ms p99 $pm_p99 ms (n $pm_n); from the transaction's start p50 $pk_p50 ms p99 $pk_p99 ms; progress → SSE p50 $ss_p50 ms p99 $ss_p99 ms (n $ss_n of $ss_expected)" >&2

pk_verdict=$(verdict "${pm_n:-0} == $samples && ${pm_p50:-1e9} <= $target_pickup_p50")
pk99_verdict=$(verdict "${pm_n:-0} == $samples && ${pm_p99:-1e9} <= $target_pickup_p99")
ss_verdict=$(verdict "${ss_n:-0} > 0 && ${ss_n:-0} == ${ss_expected:-0} && ${ss_p50:-1e9} <= $target_sse_p50")

# ---------------------------------------------------------------------------------------------
say "10/10 $subscribers SSE subscribers (same kiln)"

vm() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$kiln_pid/status"; }
sub_crash=$lat_crash
sub_deadline=$((SECONDS + 180))
if [[ -z $sub_crash ]]; then
    sleep "$settle"
    rss_before=$(vm VmRSS)
    node "$here/client.mjs" subscribers "$base_url" "$token" "$subscribers" "$tmp/subscribers.txt" \
        2>>"$tmp/client.err" &
    sub_pid=$!
    pids+=("$sub_pid")
fi
until [[ -n $sub_crash ]] || grep -q '^OPEN ' "$tmp/subscribers.txt" 2>/dev/null; do
    alive "$sub_pid" || die "the subscribers client stopped: $(tail -3 "$tmp/client.err")"
    if ! alive "$kiln_pid"; then
        exit_reason "$kiln_pid"
        sub_crash="$reason while the streams opened"
        break
    fi
    ((SECONDS < sub_deadline)) || die "$subscribers streams did not open within 180 s"
    sleep 0.2
done
if [[ -z $sub_crash ]]; then
    read -r _ sub_open sub_open_us < <(grep '^OPEN ' "$tmp/subscribers.txt")
    sleep "$settle"
    sub_gauge=$(metric kiln_events_subscribers)
    rss_held=$(vm VmRSS)
    kill -USR2 "$sub_pid"
    until grep -q '^FANOUT ' "$tmp/subscribers.txt" 2>/dev/null; do
        alive "$sub_pid" || die "the subscribers client stopped: $(tail -3 "$tmp/client.err")"
        ((SECONDS < sub_deadline + 60)) || die "the fan-out did not reach every stream within 60 s"
        sleep 0.1
    done
    read -r _ fan_n fan_p50 fan_p99 fan_max fan_first_min fan_first_p50 fan_first_max fan_replied \
        < <(grep '^FANOUT ' "$tmp/subscribers.txt")
    rss_fanout=$(vm VmRSS)
    hwm=$(vm VmHWM)
    kiln_threads=$(vm Threads)
    stop_pid "$sub_pid"
    forget_pid "$sub_pid"
    # The streams are gone: kiln's count goes back to zero (no leak).
    for ((i = 0; i < 50; i++)); do
        sub_gauge_after=$(metric kiln_events_subscribers)
        ((sub_gauge_after == 0)) && break
        sleep 0.1
    done
    sleep "$settle"
    rss_after=$(vm VmRSS)
    per_conn=$(calc "sprintf(\"%.0f\", ($rss_held - $rss_before) * 1024 / $sub_open)")
    per_conn_kib=$(calc "sprintf(\"%.1f\", ($rss_held - $rss_before) / $sub_open)")
    sub_verdict=$(verdict "$sub_open == $subscribers && $sub_gauge == $subscribers && $per_conn_kib <= $target_sub_kib")
    sub_err_verdict=$(verdict "$fan_n == $subscribers && $sub_gauge_after == 0")
else
    echo "kiln $sub_crash" >&2
    sub_verdict=FAIL sub_err_verdict=FAIL
fi
stop_kiln latency

# ---------------------------------------------------------------------------------------------
say "9/10 claim cost: $queue_big vs $queue_small jobs queued"

# The queue as it might stand: one big workspace with 90 % of the jobs, nine others sharing the
# rest. The claim is kiln's, rolled back after each run so that every run sees the same queue;
# pgbench -r times each statement (the claim: one round trip plus its execution).
spread_claim() { # N → "WS:n …"
    local i n=$1 small=$(($1 / 90)) out
    out="$(ws_of 1):$((n - 9 * small)) "
    for ((i = 2; i <= 10; i++)); do out+="$(ws_of "$i"):$small "; done
    echo "$out"
}
{
    echo '-- generated by bench/jobs/run.sh from src/jobs/store.cpp (kWorkerScope, kClaimLock, kClaim)'
    echo 'BEGIN;'
    echo "$sql_scope;"
    echo "$sql_lock;"
    echo "$claim_vars;"
    echo 'ROLLBACK;'
} >"$tmp/claim.sql"
# The claim's plan and buffers, once, for the report.
explain_claim() { # OUT
    local literal
    literal=$(NAMES="'$nil' 16 $batch '$kiln_kinds' $batch 'bench-explain' 30000 '{system.capped}' '{2}'" perl -pe \
        'BEGIN { @n = split / /, $ENV{NAMES} } s/\$(\d+)\b/$n[$1 - 1]/g' <<<"$sql_claim")
    db -c "BEGIN" -c "$sql_scope" -c "$sql_lock" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $literal" -c "ROLLBACK" >"$1"
}
# claim_latency FILE → the claim statement's average latency in ms (pgbench -r)
claim_latency() { awk '/statement latencies/ { on = 1; next } on && /WITH RECURSIVE/ { print $1; exit }' "$1"; }
claim_run() { # NAME QUEUE
    empty_queue
    t0=$(now_s)
    fill_fast "$(spread_claim "$2")"
    fill_secs[$1]=$(calc "sprintf(\"%.1f\", $(now_s) - $t0)")
    vacuum_jobs
    claim_queued[$1]=$(db -c "SELECT count(*) FROM jobs WHERE state = 'available'")
    PGPASSWORD=$pgpass run_waited "$pgbench" -n -M prepared -r -c 1 -T 1 "${pg_vars[@]}" -f "$tmp/claim.sql" \
        -h "$KILN_DATABASE_HOST" -p "$KILN_DATABASE_PORT" -U "$KILN_DATABASE_USER" "$bench_db" \
        >"$tmp/pgbench-claim-$1-warmup.txt" 2>&1 || die "pgbench failed: $(tail -5 "$tmp/pgbench-claim-$1-warmup.txt")"
    PGPASSWORD=$pgpass run_waited "$pgbench" -n -M prepared -r -c 1 -T "$claim_seconds" "${pg_vars[@]}" \
        -f "$tmp/claim.sql" -h "$KILN_DATABASE_HOST" -p "$KILN_DATABASE_PORT" -U "$KILN_DATABASE_USER" "$bench_db" \
        >"$tmp/pgbench-claim-$1.txt" 2>&1 || die "pgbench failed: $(tail -5 "$tmp/pgbench-claim-$1.txt")"
    claim_ms[$1]=$(claim_latency "$tmp/pgbench-claim-$1.txt")
    [[ -n ${claim_ms[$1]} ]] || die "no claim latency in pgbench's report: $(tail -20 "$tmp/pgbench-claim-$1.txt")"
    claim_failed[$1]=$(pgbench_failed "$tmp/pgbench-claim-$1.txt")
    explain_claim "$tmp/explain-$1.txt"
    claim_rows[$1]=$(grep -o 'Update on jobs j (actual time=[0-9.]*\.\.[0-9.]* rows=[0-9]*' "$tmp/explain-$1.txt" |
        sed 's/.*rows=//' || true)
    claim_exec[$1]=$(sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p' "$tmp/explain-$1.txt")
    echo "claim with $2 queued: ${claim_ms[$1]} ms" >&2
}
declare -A fill_secs=() claim_queued=() claim_ms=() claim_failed=() claim_rows=() claim_exec=()
claim_run small "$queue_small"
claim_run big "$queue_big"
claim_ratio=$(ratio "${claim_ms[big]}" "${claim_ms[small]}")
claim_verdict=$(verdict "$claim_ratio <= $target_claim_ratio && ${claim_failed[small]} + ${claim_failed[big]} == 0")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# bench/results.md: replace the jobs part (bench/lib.sh splice_results), keep the rest.

overall=PASS
for v in "$tp_verdict" "$tp_abs_verdict" "$tp_err_verdict" "$(exit_verdict throughput)" "$pk_verdict" \
    "$pk99_verdict" "$ss_verdict" "$claim_verdict" "$sub_verdict" "$sub_err_verdict" "$(exit_verdict latency)"; do
    [[ $v == PASS ]] || overall=FAIL
done
marker='<!-- bench/jobs/run.sh: this part is replaced by each run -->'
mib() { calc "sprintf(\"%.1f MiB\", $1 / 1024)"; }

{
    cat <<EOF
$marker

# Job engine benchmarks (bench/jobs)

- **Date:** $run_date; **load average** $load_before before, $load_after after (includes the benchmark's own load)
- **kiln:** \`kiln serve --port 0\` in database \`$bench_db\` (created, migrated and dropped by the run) with
  \`KILN_JOBS_DIAGNOSTIC_KINDS=true\` (\`system.noop\`, \`system.sleep\`), \`KILN_SERVER_ACCESS_LOG=false\`, empty config
  file; otherwise defaults (database pool with the shared pipeline, I/O threads one per core)
- **Tools:** $("$pgbench" --version), node $node_version
- **Jobs overall:** **$overall**

Two cores run kiln, PostgreSQL and the load (pgbench, psql, node) together; figures move by tens of percent
between runs on a busy machine (see the load average).

## 7. No-op jobs/s — kiln's workers vs pgbench with the same statements

EOF
    if [[ -n $tp_crash ]]; then
        # shellcheck disable=SC2016 # backticks are markdown
        printf '**kiln %s** — no figures. Its last output:\n\n```\n%s\n```\n\n' "$tp_crash" "$(kiln_tail throughput)"
    fi
    cat <<EOF
| Metric | kiln | pgbench, same SQL | Ratio (kiln ÷ pgbench) | Target | Result |
|---|---:|---:|---:|---|:---:|
| Throughput (pgbench -c $clients) | $k_rate jobs/s | $p_rate jobs/s (mean of ${d_rate[before]} before, ${d_rate[after]} after) | $tp_ratio | ≥ $target_rate_ratio | **$tp_verdict** |
| Throughput, absolute | $k_rate jobs/s | — | — | ≥ $target_rate_abs | **$tp_abs_verdict** |
| Throughput, pgbench -c 1 (kiln's connections for this work) | $k_rate jobs/s | ${d_rate[one]} jobs/s | $tp_one_ratio | — | info |
| Drain window (first claim → last completion) | ${d_secs[kiln]:-?} s | ${d_secs[before]} s, ${d_secs[after]} s; -c 1: ${d_secs[one]} s | — | — | info |
| CPU per job | kiln ${d_cpu_kiln[kiln]:-?} ms + PostgreSQL ${d_cpu_pg[kiln]:-?} ms | PostgreSQL ${d_cpu_pg[before]} ms, ${d_cpu_pg[after]} ms; -c 1: ${d_cpu_pg[one]} ms (pgbench's own not counted) | — | — | info |
| Claims that took jobs | ${d_claims[kiln]:-?} ($(calc "sprintf(\"%.1f\", ${d_ok[kiln]:-0} / (${d_claims[kiln]:-0} + 1e-9))") jobs each) | ${d_claims[before]}, ${d_claims[after]}; -c 1: ${d_claims[one]} | — | — | info |
| Errors: jobs not succeeded or retried, failed transactions | $(( ${d_left[kiln]:-0} + ${d_retried[kiln]:-0} )) | $p_errors | — | 0 | **$tp_err_verdict** |
| kiln exit after SIGTERM | $(exit_note throughput) | — | — | clean | **$(exit_verdict throughput)** |

EOF
    exit_detail throughput
    cat <<EOF
- The queue, the same for every drain: $n_jobs \`system.noop\` jobs over $n_ws workspaces (enterprise plan: a cap of
  100 running jobs each, which never binds here), inserted in one transaction as kiln's role in each
  workspace's tenant scope with the columns kiln's enqueue sets (the jobs trigger writes their events;
  $fill_s s, i.e. $(calc "sprintf(\"%.0f\", $n_jobs / $fill_s)") jobs/s enqueued in bulk, info), then \`VACUUM ANALYZE\`.
  Jobs/s = jobs ÷ (the last completion's \`finished_at\` − the first claim's \`attempted_at\`), PostgreSQL's clock,
  for every drain.
- kiln: started once its queue was filled; its in-process worker drains it with \`KILN_JOBS_WORKERS=$workers\` (slots)
  and \`KILN_JOBS_CLAIM_BATCH=$batch\`. Each claim is \`kWorkerScope\` + \`kClaimLock\` + \`kClaim\` in one round trip on
  the pool's main lane; successes are batched — what finished while the previous completion statement ran goes in
  the next (\`kWorkerScope\` + \`kSucceedMany\`, one round trip) — on the side lane, a second shared connection, so
  that completions run beside claims. A slot is held until its success is recorded, hence twice a claim's slots.
- pgbench: \`pgbench -n -M prepared -c $clients -t <enough to drain> -f claim_succeed.sql\` as \`$KILN_DATABASE_USER\`, right
  before and right after kiln (the reference is their mean), then with \`-c 1\`. Per script run one claim of up to
  $batch jobs (\`BEGIN\` + \`kWorkerScope\` + \`kClaimLock\` pipelined, then \`kClaim\` wrapped in a \`SELECT\` that
  turns its rows into arrays — \`\\gset\` cannot read a pipelined result), then, pipelined, the claim's \`COMMIT\`,
  \`kWorkerScope\` and \`kSucceedMany\` of every job it claimed: kiln's statements, with the biggest completion batch kiln
  could send. The script reads the SQL from \`src/jobs/store.cpp\`; kinds \`$kiln_kinds\` (kiln's, from its \`workers\` row).
- CPU per job: user + system time of kiln's process (from its start) and of the whole cluster over the drain,
  ÷ jobs.

## 8. Latency on an idle system

EOF
    if [[ -n $lat_crash ]]; then
        # shellcheck disable=SC2016 # backticks are markdown
        printf '**kiln %s** — no figures. Its last output:\n\n```\n%s\n```\n\n' "$lat_crash" "$(kiln_tail latency)"
    fi
    cat <<EOF
| Metric | kiln | Target | Result |
|---|---:|---|:---:|
| Enqueue (commit) → handler start, p50 | $pm_p50 ms | ≤ $target_pickup_p50 ms | **$pk_verdict** |
| Enqueue (commit) → handler start, p99 | $pm_p99 ms | ≤ $target_pickup_p99 ms | **$pk99_verdict** |
| Enqueue (commit) → handler start, max (n) | $pm_max ms ($pm_n) | — | info |
| of which commit → claim starts: p50 / p99 | $pmc_p50 / $pmc_p99 ms | — | info |
| Enqueue transaction's start → handler start, p50 / p99 / max | $pk_p50 / $pk_p99 / $pk_max ms | — | info |
| of which transaction's start → claim starts: p50 / p99 | $pc_p50 / $pc_p99 ms | — | info |
| of which claim starts → handler starts: p50 / p99 | $ph_p50 / $ph_p99 ms | — | info |
| transaction's start → its HTTP reply at the client; reply → claim starts: p50 / p99 | $pr_p50 / $pr_p99 ms; $pa_p50 / $pa_p99 ms | — | info |
| \`kiln_job_pickup_seconds\` (due → claimed) of these jobs: ≤ 2 ms / ≤ 10 ms | $h_le2 / $h_le10 of $h_n | — | info |
| Progress report → SSE client, p50 | $ss_p50 ms | ≤ $target_sse_p50 ms | **$ss_verdict** |
| Progress report → SSE client, p99 / max (n of expected) | $ss_p99 / $ss_max ms ($ss_n of $ss_expected) | — | info |

- Enqueue → handler start: $samples \`system.noop\` jobs (after 20 discarded), one at a time: \`POST /api/v1/jobs\`,
  wait for its \`job.succeeded\` on \`GET /api/v1/events\`, pause 5–15 ms, next. The target is timed from the
  commit of the enqueue transaction (a job exists iff that commits: the commit timestamp of the transaction that wrote
  its \`job.available\` event, \`track_commit_timestamp\`) to the \`started_at\` its handler returns (kiln's clock,
  µs). The same from the job's \`created_at\` (the enqueue transaction's start: this API request's session check,
  insert, read-back and audit, ~1 ms of PostgreSQL time, are the caller's) is given beside it, split at the
  claim transaction's start (\`attempted_at\`) and at the enqueue's HTTP reply reaching the client (after its
  commit; negative when the claim started first). The worker waits on \`LISTEN kiln_jobs\` (default
  \`jobs.workers\` 8, \`jobs.poll_interval_ms\` 1000).
- Progress → SSE: $sse_jobs \`system.sleep {"ms": $sse_ms}\` jobs enqueued at once (default slots), each reporting
  progress every 5 %; a client on \`GET /api/v1/events\` stamps each \`job.progress\` event on arrival
  (\`performance.timeOrigin + performance.now()\`); compared with the event's \`created_at\` in \`job_events\`
  (the progress UPDATE's transaction start). The path: worker → PostgreSQL (trigger: event row +
  \`NOTIFY\`) → kiln's \`LISTEN kiln_job_events\` relay → event hub → the stream's I/O thread → client.
- [\`bench/jobs/client.mjs\`](jobs/client.mjs) is the client (node $node_version, no dependencies).

## 9. Claim cost — $(grouped "${claim_queued[big]}") jobs queued vs $(grouped "${claim_queued[small]}")

| Metric | $(grouped "${claim_queued[big]}") queued | $(grouped "${claim_queued[small]}") queued | Ratio (big ÷ small) | Target | Result |
|---|---:|---:|---:|---|:---:|
| \`kClaim\` latency (pgbench -r) | ${claim_ms[big]} ms | ${claim_ms[small]} ms | $claim_ratio | ≤ $target_claim_ratio | **$claim_verdict** |
| Execution time (EXPLAIN ANALYZE, once) | ${claim_exec[big]} ms | ${claim_exec[small]} ms | — | — | info |
| Jobs claimed per claim | ${claim_rows[big]:-?} | ${claim_rows[small]:-?} | — | — | info |
| Failed transactions | ${claim_failed[big]} | ${claim_failed[small]} | — | 0 | (with the first row) |

- The queue: one workspace with 90 % of the jobs, nine with the rest in equal parts (enterprise plan), all
  \`available\`, inserted as the superuser with triggers off (no events: the claim reads the queue only;
  ${fill_secs[big]} s for the big one), then \`VACUUM ANALYZE\`.
- Each run: \`BEGIN\`, \`kWorkerScope\`, \`kClaimLock\`, \`kClaim\` (cursor at the start, \`claim_workspaces\` 16,
  $batch jobs), \`ROLLBACK\` — so every claim sees the same queue; \`pgbench -n -M prepared -r -c 1 -T $claim_seconds\`
  after a discarded 1-second run. The figure is pgbench's average latency of the claim statement (one round trip
  plus its execution).

## 10. $(grouped "$subscribers") SSE subscribers

EOF
    if [[ -n $sub_crash ]]; then
        # shellcheck disable=SC2016 # backticks are markdown
        printf '**kiln %s** — no figures. Its last output:\n\n```\n%s\n```\n\n' "$sub_crash" "$(kiln_tail latency)"
    else
        cat <<EOF
| Metric | kiln | Target | Result |
|---|---:|---|:---:|
| Streams held (client / \`kiln_events_subscribers\`) | $sub_open / $sub_gauge | $subscribers | (with the next row) |
| Memory per stream (VmRSS held − before, ÷ streams) | $per_conn_kib KiB ($per_conn bytes) | ≤ $target_sub_kib KiB | **$sub_verdict** |
| VmRSS before / held / after the fan-out / after closing | $(mib "$rss_before") / $(mib "$rss_held") / $(mib "$rss_fanout") / $(mib "$rss_after") | — | info |
| VmHWM (peak RSS); threads | $(mib "$hwm"); $kiln_threads | — | info |
| Time to open all streams | $(calc "sprintf(\"%.1f\", $sub_open_us / 1e6)") s | — | info |
| One job's events to all streams, from the enqueue request: its reply | $(ms "$fan_replied") | — | info |
| … the job's first event (\`job.available\`) on each stream: min / p50 / max | $(ms "$fan_first_min") / $(ms "$fan_first_p50") / $(ms "$fan_first_max") | — | info |
| … its \`job.succeeded\` on each stream: p50 / p99 / max | $(ms "$fan_p50") / $(ms "$fan_p99") / $(ms "$fan_max") | — | info |
| Streams that got it; subscribers left after closing | $fan_n; $sub_gauge_after | $subscribers; 0 | **$sub_err_verdict** |
| kiln exit after SIGTERM | $(exit_note latency) | clean | **$(exit_verdict latency)** |

EOF
        exit_detail latency
    fi
    cat <<EOF
- The kiln of section 8 (\`KILN_SERVER_MAX_CONNECTIONS=$((subscribers + 100))\`, else defaults: \`server.stream_queue\`
  256 events per stream, a keep-alive every 15 s), after those runs and ${settle} s idle. One node process opens
  $subscribers \`GET /api/v1/events\` streams with the account's token (200 at a time, each on its own
  connection), waits until all are open and ${settle} s more (RSS "held"), then enqueues one \`system.noop\`
  job and times the arrival of its events on every stream (three: available, running, succeeded — 3 ×
  $subscribers frames, each written by kiln and parsed by the one client process, on the same cores),
  then closes them.

## Raw output (jobs)

EOF
    raw_section "pgbench -c $clients: claim + succeed, before kiln (section 7)" "$tmp/pgbench-before-summary.txt"
    raw_section "pgbench -c $clients: claim + succeed, after kiln (section 7)" "$tmp/pgbench-after-summary.txt"
    raw_section "pgbench -c 1: claim + succeed (section 7)" "$tmp/pgbench-one-summary.txt"
    raw_section "pgbench: claim, $(grouped "${claim_queued[small]}") queued (section 9)" "$tmp/pgbench-claim-small.txt"
    raw_section "pgbench: claim, $(grouped "${claim_queued[big]}") queued (section 9)" "$tmp/pgbench-claim-big.txt"
    raw_section "EXPLAIN ANALYZE of the claim, $(grouped "${claim_queued[small]}") queued" "$tmp/explain-small.txt"
    raw_section "EXPLAIN ANALYZE of the claim, $(grouped "${claim_queued[big]}") queued" "$tmp/explain-big.txt"
} >"$tmp/results.md"
splice_results "$results" "$marker" "$tmp/results.md"
if [[ $overall == FAIL ]]; then fail_overall "$results"; fi

say "jobs results: ${results#"$repo"/} — jobs overall $overall"
printf '  no-op    kiln %s jobs/s vs pgbench %s: %s (target ≥ %s) %s; ≥ %s jobs/s %s; vs pgbench -c 1 %s: %s\n' \
    "$k_rate" "$p_rate" "$tp_ratio" "$target_rate_ratio" "$tp_verdict" "$target_rate_abs" "$tp_abs_verdict" \
    "${d_rate[one]}" "$tp_one_ratio" >&2
printf '  pickup   p50 %s ms (≤ %s) %s, p99 %s ms (≤ %s) %s\n' "$pm_p50" "$target_pickup_p50" "$pk_verdict" \
    "$pm_p99" "$target_pickup_p99" "$pk99_verdict" >&2
printf '  sse      progress p50 %s ms (≤ %s) %s\n' "$ss_p50" "$target_sse_p50" "$ss_verdict" >&2
printf '  claim    %s ms with %s queued vs %s ms with %s: %s (≤ %s) %s\n' "${claim_ms[big]}" "${claim_queued[big]}" \
    "${claim_ms[small]}" "${claim_queued[small]}" "$claim_ratio" "$target_claim_ratio" "$claim_verdict" >&2
printf '  streams  %s held, %s KiB each (≤ %s) %s\n' "${sub_open:-0}" "${per_conn_kib:-?}" "$target_sub_kib" "$sub_verdict" >&2
[[ $overall == PASS ]] || exit 1
