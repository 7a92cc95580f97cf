#!/usr/bin/env bash
# bench/queue.sh: queue overhead. TASKS `noop` tasks (app/worker/kinds.c:
# does nothing, returns done) are claimed and finished by the worker's queue
# core (1 worker, 2 workers, 1 worker with 4 slots), and in the same run and
# cluster by pgbench running the same two statements per task (W_CLAIM from
# app/worker/wsql.c, its text read from the binary, then
# mediagate_task_finish) with 1, 2 and 4 clients, each run against the same
# freshly filled queue. Then the insert -> done latency of single tasks at
# idle. PostgreSQL has only a unix socket; no TCP at all. Bounded by TASKS
# and MAX_RUN.
#
#   MG_BIN     reuse this binary (default: a release build in $BUILDDIR)
#   BUILDDIR   release build directory (default /tmp/bench-build)
#   TASKS      tasks per run (default 30000)      MAX_RUN  seconds before a run fails (60)
#   DURABLE=1  PostgreSQL with fsync and synchronous_commit on (default: off, as the tests)
#   RUNS       which runs, in order (default "pg1 w1 pg2 w2 pg4 w1x4")
#   DEPTHS     queue depths for the pgbench -c 1 sweep (default "500 2000"; empty: none)
#   LATENCY    idle latency samples (default 12; 0: none)     KEEP=1  keep the run directory
#   QUIET_WAIT before each run, wait up to this many seconds for the machine to be
#              quiet (under 0.2 busy cores; default 0). A run whose `rest` column
#              (CPU outside the workers/pgbench and PostgreSQL) tops 0.2 is marked noisy.
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$MG_ROOT"
TASKS=${TASKS:-30000}
MAX_RUN=${MAX_RUN:-60}
LATENCY=${LATENCY:-12}
QUIET_WAIT=${QUIET_WAIT:-0}
DEPTHS=${DEPTHS-500 2000}
RUNS=${RUNS:-pg1 w1 pg2 w2 pg4 w1x4}
BUILDDIR=${BUILDDIR:-/tmp/bench-build}
if [ -z "${MG_BIN:-}" ]; then
    [ -f "$BUILDDIR/build.ninja" ] || meson setup "$BUILDDIR" --buildtype=release >/dev/null
    meson compile -C "$BUILDDIR" >/dev/null
    MG_BIN=$BUILDDIR/mediagate
fi
export MG_BIN
if [ -n "${DURABLE:-}" ]; then
    PG_OPTS="-c shared_buffers=256MB"
else
    PG_OPTS="-c shared_buffers=256MB -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
export PG_OPTS
source scripts/lib.sh
RUN=$(mktemp -d /tmp/mediagate-bench.XXXXXX)
export RUN
pids=()
cleanup() {
    [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
    pg_stop immediate || true
    if [ -z "${KEEP:-}" ]; then rm -rf "$RUN"; else mg_log "kept $RUN"; fi
}
trap cleanup EXIT
pg_start
# pgbench logs in as the role the worker uses (scripts/lib.sh: mediagate).
DB_USER=$(sed -n 's/.*[?&]user=\([^&]*\).*/\1/p' <<<"$MEDIAGATE_DATABASE_URL")
DB_USER=${DB_USER:-postgres}
"$MG_BIN" migrate >"$RUN/migrate.log" 2>&1 || { cat "$RUN/migrate.log" >&2; exit 1; }
[ "$(psql_q "SELECT count(*) FROM task_kinds WHERE name = 'noop'")" = 1 ] ||
    { echo "no noop task kind: is $MG_BIN older than app/worker/kinds.c?" >&2; exit 1; }
mkdir -p bench/results
out=bench/results/queue-$(date -u +%Y%m%dT%H%M%SZ).txt

# The slot's statements, for pgbench. The claim is W_CLAIM's text
# (app/worker/wsql.c) as compiled into the binary; wid, lease, kinds and the
# owner cap are the worker's four parameters (-D below), the kinds array as the worker
# builds it (app/worker/queue.c: the names in app/worker/kinds.c's order, so
# that even the = ANY test costs the same).
claim_sql=$(grep -ao 'UPDATE outbox SET locked_by = \$1[[:print:]]*RETURNING id, kind, payload::text, attempts' \
    "$MG_BIN" | head -n 1) || true
[ -n "$claim_sql" ] || { echo "no W_CLAIM statement found in $MG_BIN" >&2; exit 1; }
kinds=$(grep -o '^ *{"[^"]*", kind_' app/worker/kinds.c | sed 's/^ *{//; s/, kind_$//' | paste -sd, | sed 's/^/{/; s/$/}/')
case $kinds in *'"noop"'*) ;; *) echo "no noop kind in app/worker/kinds.c: $kinds" >&2; exit 1 ;; esac
mkdir -p "$RUN/pgb"
{
    sed -e 's/\$1/:wid/; s/\$2/:lease/; s/\$3/:kinds/; s/\$4/2/' <<<"$claim_sql"
    echo '\gset'
    echo "SELECT mediagate_task_finish(:id, :attempts, :wid, 'done', 0, NULL, NULL);"
} >"$RUN/pgb/slot.sql"
chown -R postgres "$RUN/pgb"

# pending: PENDING becomes the number of tasks not done, asked through one
# psql session kept open (a psql per poll would cost a tenth of a core).
coproc POLL { cd / && exec runuser -u postgres -- "$PGBIN/psql" -h "$RUN/pgsock" -U postgres -d mediagate \
    -qAt -v ON_ERROR_STOP=1; }
pending() {
    echo "SELECT count(*) FROM outbox WHERE done_at IS NULL;" >&"${POLL[1]}"
    read -r -t 10 PENDING <&"${POLL[0]}" || { echo "the polling psql session died" >&2; exit 1; }
}
# fill [N]: a fresh queue of N (TASKS) ready noop tasks.
fill() {
    psql_q "TRUNCATE outbox" >/dev/null
    psql_q "INSERT INTO outbox (kind, payload) SELECT 'noop', '{}' FROM generate_series(1, ${1:-$TASKS})" >/dev/null
    psql_q "VACUUM ANALYZE outbox" >/dev/null
    psql_q "CHECKPOINT" >/dev/null
}
# quiet: waits up to QUIET_WAIT s for the machine to use under 0.2 cores.
quiet() {
    local end=$((SECONDS + QUIET_WAIT))
    while [ "$SECONDS" -lt "$end" ]; do
        awk '{ exit !($1 < 0.2) }' <<<"$(python3 bench/cpustat.py busy 1)" && return 0
    done
    return 0 # not quiet: measure anyway (the rest column tells)
}
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# pg_ticks: CPU ticks of PostgreSQL so far: the postmaster, its reaped
# children (cutime, cstime: backends that exited) and its live children.
pg_ticks() {
    local pm c t
    pm=$(head -n 1 "$RUN/pg/postmaster.pid")
    t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat")
    for c in $(cat "/proc/$pm/task/$pm/children"); do
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
# checked: fails unless every task is done once, by its first attempt.
checked() {
    local r
    r=$(psql_q "SELECT count(*) FILTER (WHERE done_at IS NOT NULL AND attempts = 1),
                       count(*) FILTER (WHERE done_at IS NULL OR attempts <> 1) FROM outbox")
    [ "$r" = "$TASKS|0" ] || { echo "$1: expected $TASKS tasks done at attempt 1, got $r" >&2; exit 1; }
}
# The database's own view of a run: first claim to last finish (s).
db_span() { psql_q "SELECT round(extract(epoch FROM max(done_at) - min(started_at))::numeric, 3) FROM outbox"; }

declare -A RES
LOGLINES=
HZ=$(getconf CLK_TCK)
# pgbench_run KEY CLIENTS
pgbench_run() {
    local key=$1 c=$2 per=$(($TASKS / $2)) t0 t1 b0 b1 p0 p1 tps cpu
    [ $((per * c)) -eq "$TASKS" ] || { echo "TASKS must divide by $c" >&2; exit 1; }
    fill
    quiet
    p0=$(pg_ticks)
    b0=$(busy_ticks)
    t0=$EPOCHREALTIME
    (cd "$RUN/pgb" && TIMEFORMAT='%U %S' && time timeout "$MAX_RUN" runuser -u postgres -- \
        "$PGBIN/pgbench" -h "$RUN/pgsock" -U "$DB_USER" -n -M prepared -c "$c" -j "$c" -t "$per" \
        -D wid=pgbench:0 -D lease=60 -D "kinds=$kinds" -f slot.sql mediagate) \
        >"$RUN/pgbench-c$c.out" 2>&1 || { cat "$RUN/pgbench-c$c.out" >&2; exit 1; }
    t1=$EPOCHREALTIME
    b1=$(busy_ticks)
    sleep 0.2 # the postmaster reaps the exited backends
    p1=$(pg_ticks)
    checked "pgbench -c $c"
    tps=$(grep -Eo 'tps = [0-9.]+' "$RUN/pgbench-c$c.out" | head -1 | cut -d' ' -f3)
    cpu=$(tail -n 1 "$RUN/pgbench-c$c.out" | awk '{ print $1 + $2 }')
    RES[$key]="pgbench -c $c|$t0|$t1|$(db_span)|-|$tps|$cpu|$((p1 - p0))|$((b1 - b0))"
}
# worker_run KEY WORKERS SLOTS
worker_run() {
    local key=$1 w=$2 s=$3 t0 t1 b0 b1 p0 p1 first cpu=0 pid log=$RUN/worker-$1.log
    fill
    quiet
    p0=$(pg_ticks)
    b0=$(busy_ticks)
    t0=$EPOCHREALTIME
    for _ in $(seq "$w"); do
        MEDIAGATE_WORKER_CONCURRENCY=$s "$MG_BIN" worker 2>>"$log" &
        pids+=($!)
    done
    local deadline=$((SECONDS + MAX_RUN))
    while pending && [ "$PENDING" != 0 ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "worker ${w}x$s: not done after $MAX_RUN s" >&2; tail -n 5 "$log" >&2; exit 1
        fi
        sleep 0.05
    done
    t1=$EPOCHREALTIME
    b1=$(busy_ticks)
    p1=$(pg_ticks)
    for pid in "${pids[@]}"; do cpu=$((cpu + $(proc_ticks "$pid"))); done
    kill -TERM "${pids[@]}"
    wait "${pids[@]}" 2>/dev/null || true
    pids=()
    checked "worker ${w}x$s"
    grep -qF "kinds $kinds" "$log" || echo "warning: the worker's kinds are not $kinds: $(grep -m1 kinds "$log")" >&2
    first=$(psql_q "SELECT extract(epoch FROM min(started_at)) FROM outbox")
    RES[$key]="worker ${w}x$s|$t0|$t1|$(db_span)|$(echo "$first - $t0" | bc)|-|$(echo "scale=2; $cpu / $HZ" | bc)|$((p1 - p0))|$((b1 - b0))"
    LOGLINES=$(wc -l <"$log")
}

# The claim's cost against the depth of the queue: pgbench -c 1 on fresh
# queues of DEPTHS tasks (first, so they also warm the cluster up), and one
# claim's plan and time on a full queue and on a short one. Before the
# outbox_claim index the claim sorted every ready task: 5 ms at 6,000.
claim_plan() { # N: "execution ms|plan nodes" of one claim on a fresh queue of N
    fill "$1"
    psql_q "BEGIN; EXPLAIN (ANALYZE, COSTS OFF) $(sed -e "s/\$1/'bench'/; s/\$2/60/; s/\$3/'$kinds'/; s/\$4/2/" <<<"$claim_sql"); ROLLBACK" |
        awk '/Execution Time/ { ms = $3 } /\(actual/ { sub(/^[ ->]*/, ""); sub(/ +\(actual.*/, "");
             n = n (n ? ", " : "") $0 } END { print ms "|" n }'
}
declare -A DEPTH_TPS
for d in $DEPTHS; do
    fill "$d"
    (cd "$RUN/pgb" && timeout "$MAX_RUN" runuser -u postgres -- "$PGBIN/pgbench" -h "$RUN/pgsock" -U "$DB_USER" \
        -n -M prepared -c 1 -t "$d" -D wid=pgbench:0 -D lease=60 -D "kinds=$kinds" -f slot.sql mediagate) \
        >"$RUN/pgbench-depth$d.out" 2>&1 || { cat "$RUN/pgbench-depth$d.out" >&2; exit 1; }
    DEPTH_TPS[$d]=$(grep -Eo 'tps = [0-9.]+' "$RUN/pgbench-depth$d.out" | head -1 | cut -d' ' -f3)
done
plan=$(claim_plan "$TASKS")
plan_small=$(claim_plan 10)

for r in $RUNS; do
    case $r in
    pg[0-9]*) pgbench_run "$r" "${r#pg}" ;;
    w[0-9]*x[0-9]*) w=${r#w}; worker_run "$r" "${w%x*}" "${w#*x}" ;;
    w[0-9]*) worker_run "$r" "${r#w}" 1 ;;
    *) echo "unknown run $r" >&2; exit 1 ;;
    esac
done
[ -z "${RES[pg1]:-}" ] || DEPTH_TPS[$TASKS]=$(cut -d'|' -f6 <<<"${RES[pg1]}")

# One task at a time at idle: insert -> done_at (both now() in the
# database), 1 worker with 1 slot, tasks spaced irregularly.
lat=""
if [ "$LATENCY" -gt 0 ]; then
    psql_q "TRUNCATE outbox" >/dev/null
    "$MG_BIN" worker 2>>"$RUN/worker-latency.log" &
    pids+=($!)
    sleep 1
    for _ in $(seq "$LATENCY"); do
        psql_q "INSERT INTO outbox (kind, payload) VALUES ('noop', '{}')" >/dev/null
        sleep "0.$((300 + RANDOM % 300))"
    done
    for _ in $(seq 20); do
        pending
        [ "$PENDING" = 0 ] && break
        sleep 0.1
    done
    kill -TERM "${pids[@]}"
    wait "${pids[@]}" 2>/dev/null || true
    pids=()
    lat=$(psql_q "SELECT count(*), round(min(ms)), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)),
                         round(avg(ms)), round(max(ms))
                    FROM (SELECT extract(epoch FROM done_at - created_at) * 1000 AS ms FROM outbox
                           WHERE done_at IS NOT NULL) t")
fi
# The reaper each slot runs every 5 s, on a full queue.
fill
reap_ms=$( (cd / && runuser -u postgres -- "$PGBIN/psql" -h "$RUN/pgsock" -U postgres -d mediagate -qAt \
    -c '\timing on' -c 'SELECT mediagate_task_reap()' -c 'SELECT mediagate_task_reap()' \
    -c 'SELECT mediagate_task_reap()') | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sort -n | head -1)

{
    echo "queue benchmark, $(date -u +%FT%TZ), $(nproc) cores, $TASKS noop tasks per run," \
        "PostgreSQL $([ -n "${DURABLE:-}" ] && echo durable || echo "fsync off, synchronous_commit off")"
    printf '%-14s %7s %8s %10s %8s %8s %7s %6s %6s\n' run wall_s tasks/s db_tasks/s startup pgb_tps \
        client pg rest
    for r in $RUNS; do
        IFS='|' read -r name t0 t1 span first tps cpu pgt busy <<<"${RES[$r]}"
        awk -v n="$name" -v w="$(echo "$t1 - $t0" | bc)" -v s="$span" -v f="$first" -v p="$tps" -v c="$cpu" \
            -v g="$pgt" -v b="$busy" -v t="$TASKS" -v hz="$HZ" 'BEGIN {
            r = (b - g) / hz - c; if (r < 0) r = 0
            printf "%-14s %7.2f %8.0f %10.0f %8s %8s %7.2f %6.2f %6.2f%s\n", n, w, t / w, t / s,
                f == "-" ? "-" : sprintf("%.2f", f), p == "-" ? "-" : sprintf("%.0f", p), c / w,
                g / hz / w, r / w, (r / w > 0.2 ? "  noisy" : "") }'
    done
    echo "  tasks/s     TASKS / wall time, worker or pgbench start to the last task done"
    echo "  db_tasks/s  TASKS / (last done_at - first started_at), the database's own clock"
    echo "  startup     worker start to its first claim"
    echo "  pgb_tps     pgbench's tps (its initial connections excluded)"
    echo "  client, pg, rest  cores used by the workers or pgbench, by PostgreSQL, and by the"
    echo "              rest of the machine (kernel, this script's polling, anything else running)"
    for p in "w1 pg1" "w2 pg2" "w1x4 pg4"; do
        set -- $p
        [ -n "${RES[$1]:-}" ] && [ -n "${RES[$2]:-}" ] || continue
        IFS='|' read -r n1 a0 a1 as _ _ _ _ _ <<<"${RES[$1]}"
        IFS='|' read -r n2 b0 b1 bs _ _ _ _ _ <<<"${RES[$2]}"
        awk -v x="$n1" -v y="$n2" -v a="$(echo "$a1 - $a0" | bc)" -v b="$(echo "$b1 - $b0" | bc)" \
            -v as="$as" -v bs="$bs" \
            'BEGIN { printf "ratio %s / %s: %.2f (tasks/s), %.2f (db_tasks/s)\n", x, y, b / a, bs / as }'
    done
    if [ ${#DEPTH_TPS[@]} -gt 0 ]; then
        printf "pgbench -c 1 tasks/s by queue depth:"
        for d in $(printf '%s\n' "${!DEPTH_TPS[@]}" | sort -n); do printf ' %s: %.0f,' "$d" "${DEPTH_TPS[$d]}"; done
        echo
    fi
    IFS='|' read -r ms nodes <<<"$plan"
    echo "one claim on a fresh queue of $TASKS: $ms ms ($nodes)"
    IFS='|' read -r ms nodes <<<"$plan_small"
    echo "one claim on a fresh queue of 10: $ms ms ($nodes)"
    if [ -n "$lat" ]; then
        IFS='|' read -r n mn md av mx <<<"$lat"
        echo "idle latency, insert -> done_at, 1 worker x1 ($n tasks): min $mn ms, median $md ms," \
            "mean $av ms, max $mx ms (an idle slot naps 0.25 s between claims)"
    fi
    echo "mediagate_task_reap() on a queue of $TASKS pending tasks: ${reap_ms:-?} ms (each slot, every 5 s)"
    [ -z "${LOGLINES:-}" ] || echo "worker stderr: $LOGLINES lines for $TASKS tasks in the last worker run"
} | tee "$out"
