#!/usr/bin/env bash
# bench/uploads/run.sh: the Data Uploader's benchmark (issue 6), written as section 11 of
# bench/results.md (after the other parts, which are kept; a previous uploads part is replaced).
#
#  11. a sync session of many small files and one of a big file, into the server's local blob store
#      and into s3rver, beside references that copy the same bytes with less machinery in the same
#      run: `cp -r` + fsync for the local store, curl PUTs to the same s3rver for S3, kiln's runs
#      interleaved with the reference's (BENCH_UPLOADS_ROUNDS; the small trees' after one kiln run
#      not counted); kiln's RSS while it streams the big file; a re-run of the small tree (everything
#      skipped)
#
# Needs the database environment of `scripts/pg env` (the dev cluster running); `make bench`
# (scripts/bench) provides it. Everything happens in a throwaway database (BENCH_UPLOADS_DATABASE,
# created as the owner role, migrated, dropped on exit) and a temp dir (the trees, kiln's blob
# store, s3rver's directory, the references' copies). Every process started here is stopped on
# exit, even on failure.
#
# Settings (environment), besides BENCH_SETTLE, BENCH_RESULTS and KILN_BIN (see bench/http/run.sh):
#   BENCH_UPLOADS_SMALL_FILES   files in the small tree (2000)
#   BENCH_UPLOADS_SMALL_MIN_KB  smallest of them, KiB (4)
#   BENCH_UPLOADS_SMALL_MAX_KB  biggest, KiB (64); sizes are spread evenly in between (fixed seed)
#   BENCH_UPLOADS_BIG_MB        the big file, MiB (1024)
#   BENCH_UPLOADS_WORKERS       the small tree's session max_workers (lanes) and the curl reference's
#                               parallelism (8)
#   BENCH_UPLOADS_RSS_MS        kiln's VmRSS sampling interval during the big file, ms (100)
#   BENCH_UPLOADS_ROUNDS        kiln runs per workload, each between two reference runs (3); the
#                               workload's ratio is the median round's
#   BENCH_UPLOADS_DATABASE      the throwaway database (kiln_bench_uploads)
#   BENCH_UPLOADS_ONLY          the workloads to run, comma-separated (all): small-local, small-s3,
#                               big-local, big-s3, or local / s3 / small / big for two of them; the
#                               others' rows say "not run" and count for nothing in the verdict
#   TMPDIR                      where the temp dir goes: needs room for about (2 × rounds + 2) ×
#                               BENCH_UPLOADS_BIG_MB (the file, kiln's blobs and the references'
#                               copies, kept until the workload's runs are done)
#
# Exit status: 0 when every target is met; 1 when a target is missed, a run saw errors or kiln
# crashed (the results are written either way); 2 or more when the harness itself failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

settle=${BENCH_SETTLE:-2}
small_files=${BENCH_UPLOADS_SMALL_FILES:-2000}
small_min_kb=${BENCH_UPLOADS_SMALL_MIN_KB:-4}
small_max_kb=${BENCH_UPLOADS_SMALL_MAX_KB:-64}
big_mb=${BENCH_UPLOADS_BIG_MB:-1024}
workers=${BENCH_UPLOADS_WORKERS:-8}
rss_ms=${BENCH_UPLOADS_RSS_MS:-100}
rounds=${BENCH_UPLOADS_ROUNDS:-3}
bench_db=${BENCH_UPLOADS_DATABASE:-kiln_bench_uploads}
only=${BENCH_UPLOADS_ONLY:-all}
results=${BENCH_RESULTS:-$repo/bench/results.md}
kiln_src=${KILN_BIN:-$repo/build/kiln}
s3rver=$repo/web/node_modules/.bin/s3rver

# Targets (issue 6).
target_ratio=0.80    # kiln's throughput ≥ 80% of the reference's, each workload
target_rss_growth=32 # MiB: kiln's peak VmRSS while streaming the big file − its VmRSS at the start

bench_name=bench/uploads
# shellcheck source=bench/lib.sh
source "$here/../lib.sh"

for v in KILN_DATABASE_HOST KILN_DATABASE_PORT KILN_DATABASE_USER KILN_DATABASE_PASSWORD_FILE \
    KILN_DATABASE_OWNER_USER KILN_PG_SUPERUSER KILN_PG_SUPERUSER_PASSWORD_FILE; do
    [[ -n ${!v:-} ]] || die "$v is not set; run via 'make bench' or eval \"\$(scripts/pg env)\" first"
done
[[ -x $kiln_src ]] || die "no kiln binary at $kiln_src (scripts/build release)"
[[ -x $s3rver ]] || die "no s3rver at $s3rver (scripts/install-deps runs npm ci in web/)"
for tool in curl psql node perl split; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps)"
done
[[ $bench_db =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_UPLOADS_DATABASE must be a plain lower-case identifier"
((small_files >= 1 && small_files <= 100000)) || die "BENCH_UPLOADS_SMALL_FILES must be 1–100000 (a sync's max_files)"
((small_min_kb >= 1 && small_max_kb >= small_min_kb)) || die "BENCH_UPLOADS_SMALL_MIN_KB/MAX_KB: 1 ≤ min ≤ max"
((big_mb >= 1)) || die "BENCH_UPLOADS_BIG_MB must be ≥ 1"
((workers >= 1 && workers <= 32)) || die "BENCH_UPLOADS_WORKERS must be 1–32 (a session's max_workers)"
((rss_ms >= 10)) || die "BENCH_UPLOADS_RSS_MS must be ≥ 10"
((rounds >= 1 && rounds <= 9)) || die "BENCH_UPLOADS_ROUNDS must be 1–9"
declare -A selected=()
for w in ${only//,/ }; do
    case $w in
        all) selected=([small-local]=1 [small-s3]=1 [big-local]=1 [big-s3]=1) ;;
        small-local | small-s3 | big-local | big-s3) selected[$w]=1 ;;
        local | s3) selected[small-$w]=1 selected[big-$w]=1 ;;
        small | big) selected[$w-local]=1 selected[$w-s3]=1 ;;
        *) die "BENCH_UPLOADS_ONLY: unknown workload '$w' (small-local, small-s3, big-local, big-s3, local, s3, small, big, all)" ;;
    esac
done
((${#selected[@]} > 0)) || die "BENCH_UPLOADS_ONLY names no workload"
want() { [[ -n ${selected[$1]:-} ]]; } # WORKLOAD: selected by BENCH_UPLOADS_ONLY
ran_list=$(for w in small-local small-s3 big-local big-s3; do if want "$w"; then printf '%s ' "$w"; fi; done)
ran_list=${ran_list% }

# ---------------------------------------------------------------------------------------------
# Process bookkeeping (bench/lib.sh): everything started goes into `pids`; the EXIT trap stops
# what is left, then drops the throwaway database and the temp dir.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-uploads.XXXXXX")
tmp=$(cd "$tmp" && pwd -P) # kiln stores a session's directory resolved (realpath)
db_created=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all
    if ((db_created)); then
        super_sql postgres -c "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" >/dev/null 2>&1 ||
            echo "bench/uploads: could not drop database $bench_db" >&2
    fi
    if [[ $rc -ge 2 && -d $tmp ]]; then show_logs "$tmp/s3rver.out"; fi
    if [[ -n ${BENCH_KEEP_TMP:-} ]]; then echo "bench/uploads: kept $tmp" >&2; else rm -rf "$tmp"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

kiln=$tmp/kiln
cp "$kiln_src" "$kiln"
: >"$tmp/empty.toml"
src=$tmp/src     # the trees (kiln's uploads.import_roots)
blobs=$tmp/blobs # kiln's local blob store (storage.local_root)
s3dir=$tmp/s3    # s3rver's directory
copies=$tmp/copies
mkdir -p "$src/small" "$src/big" "$blobs" "$s3dir" "$copies"
bucket=bench
bench_jwt_key=$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n')
kiln_env=(env -u KILN_SERVER_PORT -u KILN_SERVER_IO_THREADS -u KILN_DATABASE_POOL_SIZE -u KILN_CPU_THREADS -u KILN_FILE_THREADS
    -u KILN_SERVER_ACCESS_LOG -u KILN_SERVER_MAX_CONNECTIONS -u KILN_STORAGE_BACKEND KILN_CONFIG="$tmp/empty.toml"
    KILN_DATABASE_NAME="$bench_db" KILN_AUTH_JWT_KEY="$bench_jwt_key" KILN_SERVER_ACCESS_LOG=false
    KILN_STORAGE_LOCAL_ROOT="$blobs" KILN_UPLOADS_IMPORT_ROOTS="$src" KILN_STORAGE_CONNECTION_HOSTS=127.0.0.1
    KILN_STORAGE_MASTER_KEY="$(head -c 32 /dev/urandom | base64)")

db() { super_sql "$bench_db" "$@"; }
now_s() { date +%s.%N; }
json_num() { grep -o "\"$1\":[0-9.]*" | head -1 | cut -d: -f2; } # a top-level number field
mib_of() { calc "sprintf(\"%.1f\", $1 / 1048576)"; }               # bytes → MiB
kib_mib() { calc "sprintf(\"%.1f MiB\", $1 / 1024)"; }             # KiB → "12.3 MiB"
rate() { calc "sprintf(\"%.1f\", $1 / 1048576 / $2)"; }            # BYTES SECONDS → MiB/s
# The page cache's dirty pages of the previous run are not the next one's to write.
flush() { sync; }

# ---------------------------------------------------------------------------------------------
say "uploads: setup (database $bench_db, trees in $tmp)"

run_date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
fs_type=$(stat -f -c %T "$tmp")
super_sql postgres -c "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" >/dev/null
super_sql postgres -c "CREATE DATABASE $bench_db OWNER $KILN_DATABASE_OWNER_USER" >/dev/null
db_created=1
(cd "$tmp" && "${kiln_env[@]}" KILN_LOG_LEVEL=warn "$kiln" migrate) >"$tmp/migrate.log" 2>&1 ||
    die "kiln migrate of $bench_db failed: $(tail -5 "$tmp/migrate.log")"

# The small tree: BENCH_UPLOADS_SMALL_FILES files of random bytes in 100-file directories, sizes
# spread evenly over [min, max] KiB by a fixed seed (every run has the same sizes). The big file:
# one file of random bytes. Both written before anything is timed; they stay in the page cache, so
# every run reads them from memory alike.
SMALL_N=$small_files SMALL_MIN=$((small_min_kb * 1024)) SMALL_MAX=$((small_max_kb * 1024)) perl -e '
    use strict; use warnings;
    my ($n, $min, $max, $root) = ($ENV{SMALL_N}, $ENV{SMALL_MIN}, $ENV{SMALL_MAX}, $ARGV[0]);
    open(my $rnd, "<:raw", "/dev/urandom") or die "urandom: $!";
    srand(42);
    my $total = 0;
    for my $i (0 .. $n - 1) {
        my $dir = sprintf("%s/d%03d", $root, int($i / 100));
        mkdir $dir unless -d $dir;
        my $size = $min + int(rand($max - $min + 1));
        read($rnd, my $bytes, $size) == $size or die "urandom: short read";
        open(my $f, ">:raw", sprintf("%s/f%05d.bin", $dir, $i)) or die "$dir: $!";
        print $f $bytes;
        close($f) or die "$dir: $!";
        $total += $size;
    }
    print "$total\n";' "$src/small" >"$tmp/small-bytes.txt" || die "could not write the small tree"
small_bytes=$(cat "$tmp/small-bytes.txt")
if want big-local || want big-s3; then
    head -c "$((big_mb * 1048576))" /dev/urandom >"$src/big/big.bin" || die "could not write the big file"
fi
big_bytes=$((big_mb * 1048576))
echo "small tree: $small_files files, $small_bytes bytes; big file: $big_bytes bytes ($fs_type)" >&2

# s3rver on a kernel-chosen port (read back from its log, as scripts/test does), its own directory.
: >"$tmp/s3rver.out" # before the sed below: the background child opens it when it gets to it
"$s3rver" -d "$s3dir" -a 127.0.0.1 -p 0 --service-endpoint localhost --configure-bucket "$bucket" \
    >"$tmp/s3rver.out" 2>&1 &
s3_pid=$!
pids+=("$s3_pid")
s3_port=
for ((i = 0; i < 200; i++)); do
    s3_port=$(sed -n 's/^S3rver listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/s3rver.out")
    [[ -n $s3_port ]] && break
    alive "$s3_pid" || die "s3rver stopped during startup: $(tail -5 "$tmp/s3rver.out")"
    sleep 0.05
done
[[ -n $s3_port ]] || die "s3rver did not start within 10 s"
s3_url=http://127.0.0.1:$s3_port
s3rver_version=$(node -e "console.log(require('$repo/web/node_modules/s3rver/package.json').version)")

# One kiln for every run: job slots for every lane of a session at once.
start_kiln uploads KILN_JOBS_WORKERS=$((workers + 2)) KILN_AUTH_REGISTRATIONS_PER_IP_HOUR=1000
base_url=http://127.0.0.1:$kiln_port
account_password="Bench-$(head -c 12 /dev/urandom | base64 | tr -d '/+=\n')"
reg=$(curl -s -o "$tmp/register.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "{\"email\":\"bench-uploads@example.com\",\"password\":\"$account_password\",\"name\":\"Bench\"}" \
    "$base_url/api/v1/auth/register")
[[ $reg == 201 ]] || die "registering the bench account answered $reg: $(cat "$tmp/register.json")"
login=$(curl -sf -H 'Content-Type: application/json' \
    --data-binary "{\"email\":\"bench-uploads@example.com\",\"password\":\"$account_password\"}" \
    "$base_url/api/v1/auth/login") || die "login of the bench account failed"
token=$(json_field access_token <<<"$login")
account_ws=$(jwt_claim "$token" wid)
[[ -n $token && -n $account_ws ]] || die "no access token or workspace in the login reply"
# The free plan runs 2 jobs of a workspace at once, which would hold back the lanes; the account is
# alone here.
db -c "UPDATE workspaces SET plan = 'enterprise' WHERE id = '$account_ws'" >/dev/null

# api METHOD PATH [BODY] → the reply's body; dies unless the status is 2xx.
api() {
    local code body=()
    [[ -z ${3:-} ]] || body=(-H 'Content-Type: application/json' --data-binary "$3")
    code=$(curl -s -o "$tmp/api.json" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $token" \
        "${body[@]}" "$base_url/api/v1$2") || code=000
    [[ $code == 2* ]] || die "$1 $2 answered $code: $(cat "$tmp/api.json")"
    cat "$tmp/api.json"
}
conn_id=$(api POST /storage-connections "{\"name\":\"s3rver\",\"endpoint\":\"$s3_url\",\"bucket\":\"$bucket\",
    \"access_key_id\":\"S3RVER\",\"secret_access_key\":\"bench-secret\"}" | json_field id)
[[ -n $conn_id ]] || die "no storage connection id"

# A destination: a project (on s3rver, or the server's local store) with one cycle. Each gets a
# fresh prefix, so that nothing a previous run stored is skipped.
cycle=
make_cycle() { # STORE(local|s3) NAME → $cycle, the cycle's id
    local conn="" project
    [[ $1 == s3 ]] && conn=",\"storage_connection_id\":\"$conn_id\""
    project=$(api POST /projects "{\"name\":\"bench $2 $1\",\"base_prefix\":\"kiln-$2\"$conn}" | json_field id)
    [[ -n $project ]] || die "could not create the project $2 $1"
    cycle=$(api POST /cycles "{\"project_id\":\"$project\",\"cycle_name\":\"$2\",\"cycle_number\":1,\"s3_prefix\":\"c1\"}" |
        json_field id)
    [[ -n $cycle ]] || die "could not create the cycle of $2 $1"
}

# CPU: kiln's, the cluster's (bench/lib.sh) and s3rver's ticks.
cpu_snap() { # OUT
    cpu_snapshot "$1"
    echo "s3 $(ticks "$s3_pid")" >>"$1"
}

# ---------------------------------------------------------------------------------------------
# kiln: one sync session, timed from the start request until its last sync.progress event arrives
# on the workspace's event stream, with the session's own started_at → finished_at beside it. During it, optionally, kiln's
# VmRSS every BENCH_UPLOADS_RSS_MS.

declare -A k_phases=() k_secs=() k_session_secs=() k_state=() k_done=() k_skipped=() k_failed=() k_cpu=() k_pg=() k_s3=()
declare -A rss_start=() rss_peak=() rss_end=()
crash=

rss_sampler() { # PID INTERVAL_S: prints VmRSS (kB) until the process goes or this is stopped
    local k v _
    while [[ -r /proc/$1/status ]]; do
        while read -r k v _; do [[ $k == VmRSS: ]] && echo "$v"; done <"/proc/$1/status"
        sleep "$2"
    done
}

# watch_events SESSION DEADLINE_S < the event stream: waits for the session's last sync.progress event
# (the settle job writes it with the final state) and prints "STATE EPOCH_SECONDS" as it arrives.
# Exit status 1 when the stream ended first (kiln gone), 3 when DEADLINE_S passed. Runs in the
# background: the main shell only waits for it, so a signal reaches the EXIT trap at once.
watch_events() {
    local line rc of_session="\"session_id\": ?\"$1\"" state_re='"state": ?"([a-z_]+)"'
    while :; do
        rc=0
        IFS= read -r -t 5 line || rc=$?
        if ((rc > 128)); then
            ((SECONDS < $2)) || return 3
            continue
        fi
        ((rc == 0)) || return 1
        [[ $line == data:* && $line =~ $of_session && $line =~ $state_re ]] || continue
        case ${BASH_REMATCH[1]} in pending | in_progress) continue ;; esac
        echo "${BASH_REMATCH[1]} $EPOCHREALTIME"
        return 0
    done
}

kiln_sync() { # NAME CYCLE DIR WORKERS [rss]
    local name=$1 session t0 t1 reply state="" sampler="" ev ev_pid watcher wrc=0
    [[ -z $crash ]] || return 0
    session=$(api POST /sync-sessions "{\"cycle_id\":\"$2\",\"local_directory\":\"$3\",\"max_workers\":$4,
        \"times_to_retry\":1}" | json_field id)
    [[ -n $session ]] || die "no session id"
    # The end: the session's final sync.progress event on the workspace's event stream, stamped as
    # it arrives (no polling beside the run).
    exec {ev}< <(exec curl -sN -H "Authorization: Bearer $token" -D "$tmp/events-$name.headers" \
        "$base_url/api/v1/events" 2>"$tmp/events-$name.err")
    ev_pid=$!
    pids+=("$ev_pid")
    for ((i = 0; i < 200; i++)); do
        [[ -s $tmp/events-$name.headers ]] && break
        sleep 0.05
    done
    grep -q '^HTTP/[0-9.]* 200' "$tmp/events-$name.headers" || die "GET /api/v1/events did not answer 200"
    watch_events "$session" $((SECONDS + 600 + big_mb)) <&"$ev" >"$tmp/end-$name.txt" &
    watcher=$!
    pids+=("$watcher")
    flush
    cpu_snap "$tmp/cpu-$name-before.txt"
    if [[ ${5:-} == rss ]]; then
        rss_sampler "$kiln_pid" "$(calc "$rss_ms / 1000")" >"$tmp/rss-$name.txt" &
        sampler=$!
        pids+=("$sampler")
        sleep "$(calc "$rss_ms / 1000")"
    fi
    t0=$EPOCHREALTIME
    api POST "/sync-sessions/$session/start" >/dev/null
    wait "$watcher" || wrc=$?
    forget_pid "$watcher"
    if ((wrc != 0)); then
        if ! alive "$kiln_pid"; then
            exit_reason "$kiln_pid"
            crash="$reason during the run $name"
        elif ((wrc == 3)); then
            die "the session $name did not end within $((600 + big_mb)) s"
        else
            die "the event stream ended during the run $name: $(cat "$tmp/events-$name.err")"
        fi
    fi
    read -r _ t1 <"$tmp/end-$name.txt" || t1=$EPOCHREALTIME
    if [[ -n $sampler ]]; then
        sleep "$(calc "$rss_ms / 1000")"
        stop_pid "$sampler"
        forget_pid "$sampler"
    fi
    exec {ev}<&-
    stop_pid "$ev_pid"
    forget_pid "$ev_pid"
    [[ -z $crash ]] || return 0
    cpu_snap "$tmp/cpu-$name-after.txt"
    reply=$(api GET "/sync-sessions/$session")
    echo "$reply" >"$tmp/session-$name.json"
    state=$(json_field state <<<"$reply")
    k_secs[$name]=$(calc "sprintf(\"%.3f\", $t1 - $t0)")
    k_state[$name]=$state
    k_done[$name]=$(json_num files_done <<<"$reply")
    k_skipped[$name]=$(json_num files_skipped <<<"$reply")
    k_failed[$name]=$(json_num files_failed <<<"$reply")
    k_session_secs[$name]=$(calc "sprintf(\"%.3f\", $(date -d "$(json_field finished_at <<<"$reply")" +%s.%N) - \
        $(date -d "$(json_field started_at <<<"$reply")" +%s.%N))")
    k_cpu[$name]=$(cpu_ms_per kiln "$tmp/cpu-$name-before.txt" "$tmp/cpu-$name-after.txt" 1 0)
    k_pg[$name]=$(cpu_ms_per pg "$tmp/cpu-$name-before.txt" "$tmp/cpu-$name-after.txt" 1 0)
    k_s3[$name]=$(cpu_ms_per s3 "$tmp/cpu-$name-before.txt" "$tmp/cpu-$name-after.txt" 1 0)
    if [[ -n $sampler ]]; then
        rss_start[$name]=$(head -1 "$tmp/rss-$name.txt")
        rss_peak[$name]=$(sort -n "$tmp/rss-$name.txt" | tail -1)
        rss_end[$name]=$(tail -1 "$tmp/rss-$name.txt")
    fi
    # Where the session's time went: each of its jobs' kinds, from the first claim to the last end,
    # in ms after the session's start (PostgreSQL's clock).
    k_phases[$name]=$(super_sql "$bench_db" -At -c "WITH s AS (SELECT started_at, job_id FROM upload_sync_sessions
        WHERE id = '$session') SELECT string_agg(format('%s ×%s %s–%s ms', kind, n, a, f), '; ' ORDER BY a)
        FROM (SELECT j.kind, count(*) AS n, round(extract(epoch FROM min(j.attempted_at) - s.started_at) * 1000) AS a,
                     round(extract(epoch FROM max(j.finished_at) - s.started_at) * 1000) AS f
                FROM jobs j, s WHERE j.id = s.job_id OR j.parent_id = s.job_id GROUP BY j.kind, s.started_at) x")
    echo "kiln $name phases: ${k_phases[$name]}" >&2
    echo "kiln $name: $state in ${k_secs[$name]} s (session ${k_session_secs[$name]} s): done ${k_done[$name]}," \
        "skipped ${k_skipped[$name]}, failed ${k_failed[$name]}; CPU kiln ${k_cpu[$name]} ms, PostgreSQL" \
        "${k_pg[$name]} ms, s3rver ${k_s3[$name]} ms" >&2
}

# ---------------------------------------------------------------------------------------------
# References, timed the same way from their first to their last byte stored.
#
# Local: kiln's store writes each blob to a temporary file, fsyncs it, renames it into place and
# fsyncs its directory (src/storage/local.cpp), so the reference makes its copies durable too:
# `cp -r`, then `sync FILE…` (GNU sync: fsync each argument) of every file and directory it made,
# in as many processes at once as kiln has lanes (concurrent fsyncs share journal commits, which
# kiln's lanes get too). (kiln fsyncs a file's directory after its rename — one fsync
# shared by the puts landing there at once — the reference once per directory: that, and the
# renames, are kiln's extra work for never showing a half-written blob.)
# S3: curl PUTs of the same bytes to the same s3rver, signed with SigV4 as any S3 service requires
# (curl --aws-sigv4, the payload unsigned: less than kiln, which also sends each object's
# SHA-256), one curl process with BENCH_UPLOADS_WORKERS transfers at a time for the tree, one
# request for the big file; and (info) the tree unsigned: s3rver does more for a request that
# carries credentials (it checks the key and keeps the owner) even without checking the signature.
sigv4=(--aws-sigv4 "aws:amz:us-east-1:s3" -u "S3RVER:S3RVER" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD')

declare -A r_secs=() r_s3=()
ref_cp() { # NAME SOURCE_DIR PARALLEL
    local t0 t1 out=$copies/$1 per
    per=$((($(find "$2" | wc -l) + $3 - 1) / $3))
    flush
    cpu_snap "$tmp/cpu-ref-$1-before.txt"
    t0=$(now_s)
    cp -r "$2" "$out" || die "cp -r failed"
    find "$out" -print0 | xargs -0 -P "$3" -n "$per" sync || die "sync of the copies failed"
    t1=$(now_s)
    r_secs[$1]=$(calc "sprintf(\"%.3f\", $t1 - $t0)")
    echo "cp $1: ${r_secs[$1]} s" >&2
}
# The copies go once both references and kiln have run: deleting 2,000 files right before the next
# run makes ext4 skip their inodes, recently freed, on every create of that run (measured:
# recently_deleted() was a third of kiln's CPU in a run that followed the reference's rm).
drop_copies() { rm -rf "${copies:?}"/*; }
ref_curl() { # NAME SOURCE_DIR PARALLEL [unsigned]
    local t0 t1 f rel sign=("${sigv4[@]}")
    [[ ${4:-} != unsigned ]] || sign=()
    {
        while IFS= read -r -d '' f; do
            rel=${f#"$2"/}
            printf 'upload-file = "%s"\nurl = "%s/%s/curl-%s/%s"\noutput = "/dev/null"\n' "$f" "$s3_url" "$bucket" "$1" "$rel"
        done < <(find "$2" -type f -print0 | sort -z)
    } >"$tmp/curl-$1.cfg"
    flush
    cpu_snap "$tmp/cpu-ref-$1-before.txt"
    t0=$(now_s)
    run_waited curl -sS --fail -H 'Expect:' "${sign[@]}" --parallel --parallel-max "$3" -K "$tmp/curl-$1.cfg" \
        2>"$tmp/curl-$1.err" || die "curl PUT to s3rver failed: $(tail -3 "$tmp/curl-$1.err")"
    t1=$(now_s)
    cpu_snap "$tmp/cpu-ref-$1-after.txt"
    r_secs[$1]=$(calc "sprintf(\"%.3f\", $t1 - $t0)")
    r_s3[$1]=$(cpu_ms_per s3 "$tmp/cpu-ref-$1-before.txt" "$tmp/cpu-ref-$1-after.txt" 1 0)
    echo "curl $1: ${r_secs[$1]} s (s3rver CPU ${r_s3[$1]} ms)" >&2
}
ref_curl_one() { # NAME FILE
    local t0 t1
    flush
    cpu_snap "$tmp/cpu-ref-$1-before.txt"
    t0=$(now_s)
    run_waited curl -sS --fail -H 'Expect:' "${sigv4[@]}" -T "$2" -o /dev/null "$s3_url/$bucket/curl-$1/$(basename "$2")" \
        2>"$tmp/curl-$1.err" || die "curl PUT to s3rver failed: $(tail -3 "$tmp/curl-$1.err")"
    t1=$(now_s)
    cpu_snap "$tmp/cpu-ref-$1-after.txt"
    r_secs[$1]=$(calc "sprintf(\"%.3f\", $t1 - $t0)")
    r_s3[$1]=$(cpu_ms_per s3 "$tmp/cpu-ref-$1-before.txt" "$tmp/cpu-ref-$1-after.txt" 1 0)
    echo "curl $1: ${r_secs[$1]} s (s3rver CPU ${r_s3[$1]} ms)" >&2
    rm -rf "${s3dir:?}/$bucket/curl-$1"
}

# ---------------------------------------------------------------------------------------------
# Each workload: BENCH_UPLOADS_ROUNDS kiln runs, each between two runs of the reference (ref, kiln,
# ref, kiln, …, ref), each kiln run to a new cycle and key prefix. A round's ratio is kiln's rate ÷
# the mean rate of the reference runs on either side of it, so that drift (this VM's disk and CPU
# speed swing 2-4× within a minute) weighs on both alike; the workload's figure is the median
# round. The copies and objects stay until the workload ends (see drop_copies).
# The small trees' workloads start with one kiln run that is reported but not counted: the first
# sync of 2,000 files after kiln starts took 15-25 % longer than the ones after it, every time
# (measured: 0.23-0.26 s against 0.20-0.21 s), and a warm-up of one file did not take that away;
# the median of three rounds was then in effect the slower of the two later ones. What warms is
# not pinned down (not the statements' plans: ~3 ms; not page faults: ~1,000). See
# docs/uploads.md, Performance.

declare -A k_rounds=() k_warmup=() # WORKLOAD → its kiln runs' names; its warm-up run's
interleave() { # WORKLOAD STORE(local|s3) SOURCE_DIR WORKERS RSS(rss|-) WARMUP(warmup|-) REFERENCE ARGS…
    local w=$1 store=$2 dir=$3 n=$4 rss=$5 warmup=$6 ref=$7 round
    shift 7
    if [[ $warmup == warmup ]]; then
        make_cycle "$store" "$w-warmup"
        kiln_sync "$w-warmup" "$cycle" "$dir" "$n" -
        k_warmup[$w]=$w-warmup
    fi
    "$ref" "$w-ref0" "$@"
    for ((round = 1; round <= rounds; round++)); do
        make_cycle "$store" "$w-$round"
        kiln_sync "$w-$round" "$cycle" "$dir" "$n" "$rss"
        k_rounds[$w]+="$w-$round "
        "$ref" "$w-ref$round" "$@"
    done
}

if want small-local; then
    say "11 uploads: $small_files small files ($(mib_of "$small_bytes") MiB), local store, $rounds rounds"
    interleave small-local local "$src/small" "$workers" - warmup ref_cp "$src/small" "$workers"
    kiln_sync small-local-rerun "$cycle" "$src/small" "$workers"
    drop_copies
fi

if want small-s3; then
    say "11 uploads: $small_files small files, s3rver, $rounds rounds"
    # Not measured: s3rver's first thousands of requests run before node has compiled its hot
    # paths; its CPU per 2,000 PUTs kept falling over the first five passes (4.3, 3.4, 2.7, 2.1,
    # 2.0 s, measured), which would weigh on whichever side went first: three passes.
    for pass in 1 2 3; do ref_curl "small-s3-warmup$pass" "$src/small" "$workers"; done
    interleave small-s3 s3 "$src/small" "$workers" - warmup ref_curl "$src/small" "$workers"
    ref_curl small-s3-unsigned "$src/small" "$workers" unsigned
    kiln_sync small-s3-rerun "$cycle" "$src/small" "$workers"
    # Only now, as drop_copies does for the local tree: deleting a run's 2,000 objects (4,000
    # files to s3rver) right before the next run made s3rver's creates in that run skip the
    # recently freed inodes, doubling its CPU for whoever came next (measured).
    rm -rf "${s3dir:?}/$bucket"/curl-small-s3-*
fi

if want big-local; then
    say "11 uploads: one $big_mb MiB file, local store, $rounds rounds"
    interleave big-local local "$src/big" 1 rss - ref_cp "$src/big" 1
    drop_copies
    rm -rf "${blobs:?}/ws"
fi

if want big-s3; then
    say "11 uploads: one $big_mb MiB file, s3rver, $rounds rounds"
    interleave big-s3 s3 "$src/big" 1 rss - ref_curl_one "$src/big/big.bin"
    rm -rf "${s3dir:?}/$bucket"/kiln-big-s3-*
fi

if [[ -z $crash ]]; then
    sleep "$settle"
    hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$kiln_pid/status")
    rss_idle=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$kiln_pid/status")
fi
stop_kiln uploads
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# Figures and verdicts

commas() { sed 's/ *$//; s/ /, /g' <<<"$1"; } # "a b c " → "a, b, c"
median() { # "a b c " → their median
    tr ' ' '\n' <<<"$1" | grep . | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
declare -A row_k=() row_r=() row_ratio=() row_verdict=() row_rounds=() k_median=()
errors=0
workload() { # NAME BYTES FILES REFERENCE_LABEL
    local k r q i run ratios="" ks="" rs="" rounds_text="" bad=0
    if ! want "$1"; then
        row_k[$1]="not run" row_r[$1]="not run" row_ratio[$1]="—" row_verdict[$1]=skipped row_rounds[$1]="not run"
        return
    fi
    for ((i = 0; i <= rounds; i++)); do rs+="${r_secs[$1-ref$i]} "; done
    run=${k_warmup[$1]:-}
    if [[ -n $run && -n ${k_secs[$run]:-} ]]; then
        # against the reference run right after it: reported, not counted
        rounds_text="warm-up, not counted: $(calc "sprintf(\"%.2f\", ${r_secs[$1-ref0]} / ${k_secs[$run]})") (**${k_secs[$run]}** / ${r_secs[$1-ref0]} s)"
        if [[ ${k_state[$run]} != completed || ${k_done[$run]} != "$3" || ${k_failed[$run]} != 0 ]]; then
            errors=$((errors + 1)) bad=1
        fi
    fi
    for run in ${k_rounds[$1]:-}; do
        i=${run##*-}
        if [[ -z ${k_secs[$run]:-} ]]; then continue; fi
        ks+="${k_secs[$run]} "
        # kiln's rate ÷ the mean of the rates of the reference runs before and after it
        q=$(calc "2 / (${k_secs[$run]} / ${r_secs[$1-ref$((i - 1))]} + ${k_secs[$run]} / ${r_secs[$1-ref$i]})")
        ratios+="$q "
        rounds_text+="${rounds_text:+; }$(calc "sprintf(\"%.2f\", $q)") (${r_secs[$1-ref$((i - 1))]} / **${k_secs[$run]}** / ${r_secs[$1-ref$i]} s)"
        if [[ ${k_state[$run]} != completed || ${k_done[$run]} != "$3" || ${k_failed[$run]} != 0 ]]; then
            errors=$((errors + 1)) bad=1
        fi
    done
    r=$(median "$rs")
    row_r[$1]="$(rate "$2" "$r") MiB/s"
    if (($3 > 1)); then row_r[$1]+=" ($(calc "sprintf(\"%.0f\", $3 / $r)") files/s)"; fi
    row_r[$1]+="; $4 median of $(commas "$rs") s"
    if [[ -z $ks ]]; then
        row_k[$1]="—" row_ratio[$1]="—" row_verdict[$1]=FAIL row_rounds[$1]="—"
        return
    fi
    k=$(median "$ks")
    k_median[$1]=$k
    row_k[$1]="$(rate "$2" "$k") MiB/s"
    if (($3 > 1)); then row_k[$1]+=" ($(calc "sprintf(\"%.0f\", $3 / $k)") files/s)"; fi
    row_k[$1]+="; median of $(commas "$ks") s"
    row_ratio[$1]=$(calc "sprintf(\"%.2f\", $(median "$ratios"))")
    row_rounds[$1]=$rounds_text
    row_verdict[$1]=$(verdict "${row_ratio[$1]} >= $target_ratio")
    # A round that did not run (kiln crashed) or did not copy every file fails the workload.
    if [[ $(wc -w <<<"$ks") != "$rounds" ]] || ((bad)); then row_verdict[$1]=FAIL; fi
}
workload small-local "$small_bytes" "$small_files" "cp -r + fsync:"
workload small-s3 "$small_bytes" "$small_files" "curl:"
workload big-local "$big_bytes" 1 "cp + fsync:"
workload big-s3 "$big_bytes" 1 "curl:"
declare -A rerun=()
rerun_row() { # NAME → rerun[NAME]
    rerun[$1]="—"
    [[ -n ${k_secs[$1]:-} ]] || return 0
    if [[ ${k_state[$1]} != completed || ${k_skipped[$1]} != "$small_files" ]]; then errors=$((errors + 1)); fi
    rerun[$1]="${k_secs[$1]} s, $(calc "sprintf(\"%.0f\", $small_files / ${k_secs[$1]})") files/s; ${k_skipped[$1]} of $small_files skipped"
}
rerun_row small-local-rerun
rerun_row small-s3-rerun
unsigned_rate="—" unsigned_ratio="—" unsigned_text="not run"
if [[ -n ${r_secs[small-s3-unsigned]:-} ]]; then
    unsigned_rate=$(rate "$small_bytes" "${r_secs[small-s3-unsigned]}")
    unsigned_text="$unsigned_rate MiB/s ($(calc "sprintf(\"%.0f\", $small_files / ${r_secs[small-s3-unsigned]})") files/s); ${r_secs[small-s3-unsigned]} s"
    [[ -z ${k_median[small-s3]:-} ]] || unsigned_ratio=$(ratio "$(rate "$small_bytes" "${k_median[small-s3]}")" "$unsigned_rate")
fi
declare -A rss_text=() rss_growth=() rss_verdict=()
rss_row() { # WORKLOAD → rss_text[…] "start / peak / end", rss_growth[…], rss_verdict[…]: its round that grew most
    local run g worst="" growth=-1
    if ! want "$1"; then
        rss_text[$1]="not run" rss_growth[$1]="—" rss_verdict[$1]=skipped
        return
    fi
    for run in ${k_rounds[$1]:-}; do
        [[ -n ${rss_start[$run]:-} ]] || continue
        g=$(calc "sprintf(\"%.1f\", (${rss_peak[$run]} - ${rss_start[$run]}) / 1024)")
        if [[ -z $worst ]] || awk "BEGIN { exit !($g > $growth) }"; then worst=$run growth=$g; fi
    done
    if [[ -z $worst || $(wc -w <<<"${k_rounds[$1]:-}") != "$rounds" ]]; then
        rss_text[$1]="—" rss_growth[$1]="—" rss_verdict[$1]=FAIL
        return
    fi
    rss_growth[$1]=$growth
    rss_verdict[$1]=$(verdict "$growth <= $target_rss_growth")
    rss_text[$1]="$(kib_mib "${rss_start[$worst]}") / $(kib_mib "${rss_peak[$worst]}") / $(kib_mib "${rss_end[$worst]}") ($(wc -l <"$tmp/rss-$worst.txt") samples; round ${worst##*-} of $rounds, the one that grew most)"
}
rss_row big-local
rss_row big-s3
err_verdict=$(verdict "$errors == 0")
[[ -z $crash ]] || err_verdict=FAIL

overall=PASS
for v in "${row_verdict[small-local]}" "${row_verdict[small-s3]}" "${row_verdict[big-local]}" "${row_verdict[big-s3]}" \
    "${rss_verdict[big-local]}" "${rss_verdict[big-s3]}" "$err_verdict" "$(exit_verdict uploads)"; do
    [[ $v == PASS || $v == skipped ]] || overall=FAIL
done

# CPU of each run, ms: kiln / PostgreSQL / s3rver.
cpu_cell() { if [[ -n ${k_cpu[$1]:-} ]]; then echo "${k_cpu[$1]} / ${k_pg[$1]} / ${k_s3[$1]}"; else echo "—"; fi; }
detail_row() { # NAME LABEL
    echo "| $2 | ${k_secs[$1]:-—} s | ${k_session_secs[$1]:-—} s | $(cpu_cell "$1") | ${k_done[$1]:-—} / ${k_skipped[$1]:-—} / ${k_failed[$1]:-—} |"
}
detail_rows() { # WORKLOAD LABEL: one row per round, after the warm-up's if it had one
    local run
    if [[ -n ${k_warmup[$1]:-} ]]; then detail_row "${k_warmup[$1]}" "$2, warm-up (not counted)"; fi
    for run in ${k_rounds[$1]:-}; do detail_row "$run" "$2, round ${run##*-}"; done
}
ref_cpu() { # WORKLOAD → s3rver's CPU for each reference run, ms
    local i out=""
    for ((i = 0; i <= rounds; i++)); do out+="${out:+, }${r_s3[$1-ref$i]:-—}"; done
    echo "$out"
}

# ---------------------------------------------------------------------------------------------
# bench/results.md: replace the uploads part (bench/lib.sh splice_results), keep the rest.

marker='<!-- bench/uploads/run.sh: this part is replaced by each run -->'
{
    cat <<EOF
$marker

# Data Uploader benchmarks (bench/uploads)

- **Date:** $run_date; **load average** $load_before before, $load_after after (includes the benchmark's own load)
- **kiln:** \`kiln serve --port 0\` in database \`$bench_db\` (created, migrated and dropped by the run),
  \`KILN_JOBS_WORKERS=$((workers + 2))\`, \`KILN_STORAGE_LOCAL_ROOT\` and \`KILN_UPLOADS_IMPORT_ROOTS\` in the run's temp
  dir (\`$fs_type\`), \`KILN_STORAGE_CONNECTION_HOSTS=127.0.0.1\`, \`KILN_SERVER_ACCESS_LOG=false\`, empty config file;
  otherwise defaults (S3 parts of 8 MiB)
- **Tools:** s3rver $s3rver_version (node $(node --version)), $(curl --version | head -1 | cut -d' ' -f1-2), $(cp --version | head -1)
- **Workloads run:** $ran_list (\`BENCH_UPLOADS_ONLY=$only\`)
- **Uploads overall:** **$overall**

Two cores run kiln, PostgreSQL, s3rver and the references together; see the load average.

## 11. Sync sessions — kiln vs \`cp -r\` and curl PUT of the same bytes

EOF
    if [[ -n $crash ]]; then
        # shellcheck disable=SC2016 # backticks are markdown
        printf '**kiln %s** — no figures after it. Its last output:\n\n```\n%s\n```\n\n' "$crash" "$(kiln_tail uploads)"
    fi
    cat <<EOF
| Workload | kiln (start request → session ended; median of $rounds runs) | Reference (median of its $((rounds + 1)) runs, one before and one after each of kiln's) | Ratio (median round: kiln ÷ the mean rate of the reference runs before and after it) | Target | Result |
|---|---:|---:|---:|---|:---:|
| $small_files files, $(mib_of "$small_bytes") MiB → local store | ${row_k[small-local]} | ${row_r[small-local]} | ${row_ratio[small-local]} | ≥ $target_ratio | **${row_verdict[small-local]}** |
| $small_files files → s3rver | ${row_k[small-s3]} | ${row_r[small-s3]} | ${row_ratio[small-s3]} | ≥ $target_ratio | **${row_verdict[small-s3]}** |
| one $big_mb MiB file → local store | ${row_k[big-local]} | ${row_r[big-local]} | ${row_ratio[big-local]} | ≥ $target_ratio | **${row_verdict[big-local]}** |
| … the small tree's reference unsigned (no credentials), once after | — | $unsigned_text | $unsigned_ratio | — | info |
| one $big_mb MiB file → s3rver (both: one PUT) | ${row_k[big-s3]} | ${row_r[big-s3]} | ${row_ratio[big-s3]} | ≥ $target_ratio | **${row_verdict[big-s3]}** |
| kiln VmRSS while streaming the big file → local: start / peak / end | ${rss_text[big-local]} | — | — | peak − start ≤ $target_rss_growth MiB (${rss_growth[big-local]} MiB) | **${rss_verdict[big-local]}** |
| kiln VmRSS while streaming the big file → s3rver: start / peak / end | ${rss_text[big-s3]} | — | — | peak − start ≤ $target_rss_growth MiB (${rss_growth[big-s3]} MiB) | **${rss_verdict[big-s3]}** |
| kiln VmRSS idle after the runs; VmHWM | $(kib_mib "${rss_idle:-0}"); $(kib_mib "${hwm:-0}") | — | — | — | info |
| Re-run of the small tree (all skipped) → local store | ${rerun[small-local-rerun]} | — | — | — | info |
| Re-run of the small tree (all skipped) → s3rver | ${rerun[small-s3-rerun]} | — | — | — | info |
| Errors: sessions not \`completed\` with every file uploaded (re-runs: skipped) | $errors | curl and cp exit 0 | — | 0 | **$err_verdict** |
| kiln exit after SIGTERM | $(exit_note uploads) | — | — | clean | **$(exit_verdict uploads)** |

Each round's ratio, with the times it comes from (reference before / **kiln** / reference after):

| Workload | Rounds |
|---|---|
| $small_files files → local store | ${row_rounds[small-local]} |
| $small_files files → s3rver | ${row_rounds[small-s3]} |
| one $big_mb MiB file → local store | ${row_rounds[big-local]} |
| one $big_mb MiB file → s3rver | ${row_rounds[big-s3]} |

EOF
    exit_detail uploads
    cat <<EOF
Each kiln run in detail — the wall time above, the session's own \`started_at\` → \`finished_at\` (the start
request's transaction → the settle job), and CPU time over the run (\`/proc/<pid>/stat\`, user + system):

| Run | Wall | Session | CPU ms: kiln / PostgreSQL / s3rver | Files uploaded / skipped / failed |
|---|---:|---:|---:|---:|
$(detail_rows small-local "small tree → local")
$(detail_row small-local-rerun "small tree → local, re-run")
$(detail_rows small-s3 "small tree → s3rver")
$(detail_row small-s3-rerun "small tree → s3rver, re-run")
$(detail_rows big-local "big file → local")
$(detail_rows big-s3 "big file → s3rver")

s3rver's CPU for the curl references, ms, in order: small tree $(ref_cpu small-s3), ${r_s3[small-s3-unsigned]:-—} unsigned;
big file $(ref_cpu big-s3).

- The data: $small_files files of random bytes in directories of 100, sizes spread evenly over
  $small_min_kb–$small_max_kb KiB (fixed seed; $small_bytes bytes), and one file of $big_mb MiB, written into the temp dir
  before anything is timed (read from the page cache by every run alike). Before each timed run, \`sync\`, so
  nothing written earlier is flushed on its clock.
- Rounds: each workload runs the reference, then kiln and the reference again, $rounds times (kiln's runs
  interleaved with the reference's, so that the speed of this machine's disk and CPU, which swings 2–4× within
  a minute here, weighs on both alike); a round's ratio is kiln's rate over the mean rate of the reference runs
  just before and just after it, and the workload's ratio is the median round's. The small trees' workloads
  start with one more kiln run, before the first reference run, reported (Rounds, and below) but not counted: the
  first sync of the tree after kiln starts is slower than the ones after it (see \`docs/uploads.md\`, Performance).
- kiln: per run a new project (the server's local store, or a storage connection to s3rver) with a new key
  prefix, so nothing is skipped, and a cycle; then \`POST /api/v1/sync-sessions\` with the tree as
  \`local_directory\`, \`max_workers\` $workers for the small tree (1 for the big file: one file, one lane),
  \`times_to_retry\` 1. Timed from \`POST /sync-sessions/{id}/start\` until the session's final \`sync.progress\` event
  (written by the settle job with the final state) arrives on \`GET /api/v1/events\`, opened before the start: the scan job
  (which also lists the key prefix: one request, empty here), the lanes' transfers (to s3rver: per small file one
  PUT, verified by its MD5 ETag, the big file hashed first, then one PUT signed with its SHA-256 and a HEAD to verify;
  to the local store: small files written 16 to a pool trip, the big file copied in the kernel and hashed as it is
  read back; outcomes recorded 128 files a statement) and the settle job. The re-run: a second session on the last
  round's cycle (same keys), in
  which every file's HEAD finds the same size and SHA-256, so the file is read and hashed but not sent.
- Local reference: \`cp -r <tree> <dir>\` on the same file system, then \`find <dir> -print0 | xargs -0 -P $workers sync\`
  for the tree (GNU \`sync FILE…\` fsyncs each file and directory; as many at once as kiln's lanes, so that
  both sides have fsyncs in flight side by side), \`cp\` + \`sync\` of the file and its directory for the big file. kiln's local store writes each blob to a temporary file, fsyncs it,
  renames it into place and fsyncs the directory (\`src/storage/local.cpp\`), so both make every file durable; kiln
  also renames each file and fsyncs its directory after the rename (one fsync shared by the puts that land in a
  directory at once; the reference: one per directory), the price of never showing a half-written blob. The
  references' copies and kiln's blobs are deleted only once all the workload's runs are done: files deleted just before a run make
  ext4 pass over their recently freed inodes on every create of that run, which is not the run's own cost.
- S3 reference: curl PUTs of the same files to the same s3rver and bucket, signed as S3 requires
  (\`curl --aws-sigv4 aws:amz:us-east-1:s3 -u S3RVER:S3RVER\`, \`x-amz-content-sha256: UNSIGNED-PAYLOAD\`; kiln
  also signs each small object's SHA-256 and sends it as \`x-amz-meta-sha256\`), \`-H 'Expect:'\`: the tree through one
  \`curl --parallel --parallel-max $workers -K <list>\` (kiln's lanes), the big file as one request. s3rver does not
  check SigV4 signatures, but a request with credentials costs it more CPU than one without (it looks the key up
  and records the owner): the unsigned row shows the tree without them, for reference.
- RSS: kiln's \`VmRSS\` from \`/proc/<pid>/status\` every $rss_ms ms from just before the start request to just after
  the session ended; start = the first sample, end = the last.

EOF
} >"$tmp/results.md"
splice_results "$results" "$marker" "$tmp/results.md"
if [[ $overall == FAIL ]]; then fail_overall "$results"; fi

say "uploads results: ${results#"$repo"/} — uploads overall $overall"
for w in small-local small-s3 big-local big-s3; do
    printf '  %-12s kiln %s | reference %s | ratio %s (≥ %s) %s\n' "$w" "${row_k[$w]}" "${row_r[$w]%%;*}" \
        "${row_ratio[$w]}" "$target_ratio" "${row_verdict[$w]}" >&2
done
printf '  rss growth  local %s MiB %s, s3 %s MiB %s (≤ %s)\n' "${rss_growth[big-local]}" "${rss_verdict[big-local]}" \
    "${rss_growth[big-s3]}" "${rss_verdict[big-s3]}" "$target_rss_growth" >&2
printf '  re-run      local %s; s3 %s\n' "${rerun[small-local-rerun]}" "${rerun[small-s3-rerun]}" >&2
[[ $overall == PASS ]] || exit 1
