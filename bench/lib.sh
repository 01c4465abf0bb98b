# bench/lib.sh: what bench/http, bench/auth and bench/jobs share — process bookkeeping, starting
# and stopping kiln, reading wrk's and pgbench's reports, and the bits of the report format.
# Sourced by each run.sh after it set `bench_name` (the prefix of its messages), `tmp` (its temp
# dir) and, before starting kiln, `kiln` (the copied binary) and `kiln_env` (an `env …` command
# line that every kiln it starts runs under).
# shellcheck shell=bash disable=SC2034,SC2154 # variables shared with the scripts that source this

die() { echo "$bench_name: $*" >&2; exit 2; }
say() { printf '\n== %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# Processes: everything a script starts goes into `pids`; its EXIT trap stops what is left
# (stop_all).

pids=()

# A zombie still answers kill -0; a process counts as alive only while it runs.
alive() { kill -0 "$1" 2>/dev/null && [[ $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

forget_pid() {
    local keep=() p
    for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    pids=("${keep[@]}")
}

stop_all() {
    local p
    for p in "${pids[@]}"; do stop_pid "$p"; done
    pids=()
}

# After a harness failure (exit status 2 or more): the last lines of the logs in $tmp, and of
# any further files given, before the temp dir goes.
show_logs() {
    local f
    for f in "$tmp"/*.log "$tmp"/*.err "$@"; do
        [[ -s $f ]] || continue
        echo "--- $f (last lines)" >&2
        tail -15 "$f" >&2
    done
}

# Runs a command in the background and waits for it, so a signal to this script interrupts the
# wait and the EXIT trap can stop the command (bash defers traps while a foreground child runs).
run_waited() {
    local pid rc=0
    "$@" &
    pid=$!
    pids+=("$pid")
    wait "$pid" || rc=$?
    forget_pid "$pid"
    return "$rc"
}

# How a process we started ended, into `reason`: "killed by SIGSEGV", "exited with status 1".
# (Not in a $(…) subshell: only this shell can wait for its children.)
reason=
exit_reason() {
    local st=0
    wait "$1" 2>/dev/null || st=$?
    forget_pid "$1"
    if ((st > 128)); then reason="killed by SIG$(kill -l $((st - 128)))"; else reason="exited with status $st"; fi
}

free_port() {
    if command -v node >/dev/null; then
        node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
        return
    fi
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
}

# ---------------------------------------------------------------------------------------------
# kiln: a fresh process per benchmark on a kernel-chosen port (read back from its "listening"
# log line), cwd = $tmp, under "${kiln_env[@]}".

kiln_pid=
kiln_port=
kiln_io_threads=
kiln_cpu_threads=
declare -A kiln_exit=()

# start_kiln NAME [VAR=value…]: logs to $tmp/kiln-NAME.{log,err}.
start_kiln() {
    local name=$1 i line
    shift
    (cd "$tmp" && exec "${kiln_env[@]}" KILN_SERVER_HOST=127.0.0.1 KILN_LOG_LEVEL=info "$@" "$kiln" serve --port 0) \
        >"$tmp/kiln-$name.log" 2>"$tmp/kiln-$name.err" &
    kiln_pid=$!
    pids+=("$kiln_pid")
    kiln_port=
    for ((i = 0; i < 150; i++)); do
        if ! alive "$kiln_pid"; then
            exit_reason "$kiln_pid"
            die "kiln ($name) $reason during startup: $(kiln_tail "$name")"
        fi
        line=$(grep -m1 '"msg":"listening"' "$tmp/kiln-$name.log" || true)
        kiln_port=$(grep -o '"port":[0-9]*' <<<"$line" | cut -d: -f2 || true)
        [[ -n $kiln_port ]] && break
        sleep 0.1
    done
    [[ -n $kiln_port ]] || die "kiln ($name) did not log 'listening' within 15 s"
    kiln_io_threads=$(grep -o '"io_threads":[0-9]*' <<<"$line" | cut -d: -f2 || true)
    kiln_cpu_threads=$(grep -o '"cpu_threads":[0-9]*' <<<"$line" | cut -d: -f2 || true)
}

# stop_kiln NAME: SIGTERM, then records how kiln ended in kiln_exit[NAME] ("exited with status 0"
# is a clean shutdown). Kiln drains for at most its shutdown grace (10 s) before it exits.
stop_kiln() {
    local i p tracked=0
    for p in "${pids[@]}"; do [[ $p == "$kiln_pid" ]] && tracked=1; done
    if ((tracked)); then # not yet reaped (a crash during a run is reaped and reported there)
        kill -TERM "$kiln_pid" 2>/dev/null || true
        for ((i = 0; i < 150; i++)); do
            alive "$kiln_pid" || break
            sleep 0.1
        done
        if alive "$kiln_pid"; then
            kill -KILL "$kiln_pid" 2>/dev/null || true
            kiln_exit[$1]="still running 15 s after SIGTERM (killed)"
        fi
        exit_reason "$kiln_pid"
        kiln_exit[$1]=${kiln_exit[$1]:-$reason}
    else
        kiln_exit[$1]="crashed during the run"
    fi
    kiln_pid=
}

# The last lines kiln wrote, for a crash report in the results.
kiln_tail() { cat "$tmp/kiln-$1.log" "$tmp/kiln-$1.err" 2>/dev/null | tail -8; }
# exit_verdict NAME → PASS when kiln shut down cleanly after SIGTERM.
exit_verdict() { if [[ ${kiln_exit[$1]:-} == "exited with status 0" ]]; then echo PASS; else echo FAIL; fi; }
exit_note() { if [[ ${kiln_exit[$1]:-} == "exited with status 0" ]]; then echo "clean (status 0)"; else echo "${kiln_exit[$1]:-?}"; fi; }
# After a table: kiln's last output when it did not shut down cleanly.
exit_detail() { # NAME
    [[ $(exit_verdict "$1") == PASS || ${kiln_exit[$1]:-} == "crashed during the run" ]] && return 0
    # shellcheck disable=SC2016 # backticks are markdown
    printf '**kiln %s after SIGTERM.** Its last output:\n\n```\n%s\n```\n\n' "${kiln_exit[$1]}" "$(kiln_tail "$1")"
}

# ---------------------------------------------------------------------------------------------
# Arithmetic and verdicts

calc() { awk "BEGIN { printf \"%s\", $* }"; }
ms() { calc "sprintf(\"%.3f ms\", $1 / 1000)"; } # microseconds → "1.234 ms"
ratio() { calc "sprintf(\"%.2f\", $1 / $2)"; }
# verdict "EXPRESSION" → PASS | FAIL
verdict() { if awk "BEGIN { exit !($*) }"; then echo PASS; else echo FAIL; fi; }

# ---------------------------------------------------------------------------------------------
# wrk, with bench/http/report.lua's machine-readable line ("BENCH key=value …")

# kv FILE KEY: the value of KEY on that line.
kv() { grep -m1 '^BENCH ' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
wrk_check() { grep -q '^BENCH ' "$1" || die "wrk printed no report: $(cat "$1")"; }
wrk_rps() { calc "sprintf(\"%.${2:-0}f\", $(kv "$1" requests) / ($(kv "$1" duration_us) / 1e6))"; } # FILE [DECIMALS]
wrk_bpr() { calc "sprintf(\"%.0f\", $(kv "$1" bytes) / $(kv "$1" requests))"; }
wrk_sockerr() { echo $(($(kv "$1" err_connect) + $(kv "$1" err_read) + $(kv "$1" err_write) + $(kv "$1" err_timeout))); }
wrk_sockerr_detail() {
    echo "connect $(kv "$1" err_connect), read $(kv "$1" err_read), write $(kv "$1" err_write), timeout $(kv "$1" err_timeout)"
}

# ---------------------------------------------------------------------------------------------
# pgbench's summary

pgbench_tps() { # FILE → tps without initial connection time, rounded
    local t
    t=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' "$1")
    [[ -n $t ]] || die "could not read tps from pgbench: $(cat "$1")"
    calc "sprintf(\"%.0f\", $t)"
}
pgbench_latency() { sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$1"; } # FILE → ms
pgbench_failed() { # FILE → failed transactions (0 when pgbench does not print the line)
    local f
    f=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$1")
    echo "${f:-0}"
}
# pgbench_summary IN OUT: from "transaction type" on, without per-script sections.
pgbench_summary() { sed -n '/^transaction type/,/^SQL script 1/p' "$1" | grep -v '^SQL script' >"$2"; }

# ---------------------------------------------------------------------------------------------
# The cluster

# super_sql DATABASE ARGS…: psql as the cluster's superuser (bypasses RLS), rows unaligned
super_sql() {
    local db=$1
    shift
    PGPASSWORD=$(cat "$KILN_PG_SUPERUSER_PASSWORD_FILE") psql -X -qAt -v ON_ERROR_STOP=1 \
        -h "$KILN_DATABASE_HOST" -p "$KILN_DATABASE_PORT" -U "$KILN_PG_SUPERUSER" -d "$db" "$@"
}

# CPU accounting: user + system clock ticks of kiln, and of the whole cluster — the postmaster,
# its live children (backends, walwriter, …) and the children it reaped meanwhile (a client's
# backends end with its connections). The postmaster's pid is the first line of the socket's
# lock file.
clk_tck=$(getconf CLK_TCK)
pg_postmaster=
ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }' || true; }
pg_ticks() {
    local p sum t
    [[ -n $pg_postmaster ]] || pg_postmaster=$(head -1 "$KILN_DATABASE_HOST/.s.PGSQL.$KILN_DATABASE_PORT.lock" 2>/dev/null || true)
    [[ -n $pg_postmaster ]] || return 0
    sum=$(sed 's/^.*) //' "/proc/$pg_postmaster/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }')
    for p in $(pgrep -P "$pg_postmaster" || true); do
        t=$(ticks "$p") # empty when it just ended
        sum=$((sum + ${t:-0}))
    done
    echo "$sum"
}
cpu_snapshot() { # OUT: lines "kiln TICKS" (while kiln runs) and "pg TICKS"
    {
        if [[ -n $kiln_pid ]]; then echo "kiln $(ticks "$kiln_pid")"; fi
        echo "pg $(pg_ticks)"
    } >"$1"
}
# cpu_ms_per WHO BEFORE AFTER COUNT [DECIMALS]: CPU milliseconds of kiln or PostgreSQL per COUNT
# events ("?" when WHO was not measured).
cpu_ms_per() {
    awk -v who="$1" -v n="$4" -v hz="$clk_tck" -v fmt="%.${5:-2}f" 'FNR == NR { t[$1] = $2; next }
        $1 == who && $2 != "" && (who in t) { d = $2 - t[who]; ok = 1 }
        END { if (ok) printf fmt, d * 1000 / hz / n; else printf "?" }' "$2" "$3"
}

# json_field NAME < JSON: a top-level string field (enough for kiln's flat replies)
json_field() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
# jwt_claim TOKEN NAME: a string claim of the token's payload (base64url, unpadded)
jwt_claim() {
    local p
    p=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
    while ((${#p} % 4)); do p+='='; done
    base64 -d <<<"$p" 2>/dev/null | json_field "$2"
}

# ---------------------------------------------------------------------------------------------
# results.md

raw_section() { # TITLE FILE
    [[ -s $2 ]] || return 0
    printf '<details><summary>%s</summary>\n\n```\n' "$1"
    if grep -q '^Running' "$2"; then sed -n '/^Running/,/^Transfer/p' "$2"; else cat "$2"; fi
    printf '```\n\n</details>\n\n'
}

# splice_results FILE MARKER NEW: FILE with the part that starts at the line MARKER replaced by the
# file NEW (which starts with MARKER); that part ends before the next line that starts with
# "<!-- bench/" (another script's part), or at the end. Appended when FILE has no MARKER line.
splice_results() {
    local file=$1 marker=$2 new=$3
    if [[ ! -f $file ]]; then
        cp "$new" "$file.tmp"
    else
        awk -v m="$marker" -v new="$new" '
            $0 == m { while ((getline line < new) > 0) print line; skipping = 1; done = 1; next }
            skipping && /^<!-- bench\// { skipping = 0 }
            !skipping { print }
            END { if (!done) while ((getline line < new) > 0) print line }' "$file" >"$file.tmp"
    fi
    mv "$file.tmp" "$file"
}
# An "Overall" line at the top covers every script's targets.
fail_overall() { sed -i 's/^- \*\*Overall:\*\* \*\*PASS\*\*/- **Overall:** **FAIL**/' "$1"; }
