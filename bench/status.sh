#!/usr/bin/env bash
# bench/status.sh: throughput and latency of GET /media/status behind nginx,
# next to nginx serving the same bytes as a static file, on a disposable
# loopback-only stack (PostgreSQL + mediagate + nginx from scripts/lib.sh).
# See bench/README.md. Needs root (lib.sh runs PostgreSQL as postgres and
# nginx workers as www-data), wrk, curl, meson.
#
# Knobs (environment):
#   MG_BIN             reuse this mediagate binary instead of building one
#   BUILDDIR           release build directory (default /tmp/build-bench)
#   DURATION           length of each measured run (default 15s)
#   WARMUP             unmeasured run before each measured one (default 2s)
#   CONNS / LOW_CONNS  connection counts (default 64 / 16)
#   WRK_THREADS        wrk threads (default 2)
#   JOBS               rows loaded into jobs (default 100000)
#   HOT                size of the hot set for the micro-cache runs (default 1000)
#   MEDIAGATE_THREADS  app threads for the main runs (default 16)
#   THREAD_SWEEP       other app thread counts to try at CONNS (default "8 32";
#                      empty to skip)
#   EXTRA_VARIANTS     where the app's time goes (default "nolog keepconn";
#                      empty to skip): nolog = MEDIAGATE_ACCESS_LOG=off;
#                      keepconn = nginx keeps FastCGI connections open
#   CACHE_ROOT         where the micro-cache's (fresh, temporary) directory is
#                      made (default /dev/shm if it is a tmpfs, else the run
#                      directory)
#   CACHE_LOCK         fastcgi_cache_lock in the micro-cache variant (default on)
#   KEEPALIVE          idle FastCGI connections kept per nginx worker (default 4)
#   QUIET_WAIT         wait up to this many seconds for other processes to stop
#                      using the CPUs before measuring (default 0)
#   COUNT_STATUS       count non-200 responses in Lua (default 1; 0 leaves it
#                      to wrk's own non-2xx/3xx count, which is a bit cheaper)
#   MAX_BAD_PCT        a run with more non-200 responses than this percentage,
#                      or any socket error/timeout, is a failed run (default 0.1)
#   MG_BIN_BEFORE      another build (e.g. the parent commit's), measured side by
#                      side with this one: AB_ROUNDS rounds (default 2) of the
#                      static baseline and both builds (which build goes first
#                      alternates), same stack, same data, same load; one table
#   BEFORE_REV         a commit to build for MG_BIN_BEFORE (release, from
#                      git archive, in BEFORE_DIR/<commit>, default
#                      /tmp/build-bench-before; reused when already built)
#   CACHE_CONF_BEFORE  with MG_BIN_BEFORE: that build's nginx/mediagate-cache.conf;
#                      the micro-cache runs (hot set, uniform) are then alternated too
#                      (that build with that file, this one with this one's)
#   AB_ONLY=1          only the baseline, the app runs and the A/B rounds
#   DJANGO=1           also the uniform run against a Django view on gunicorn
#                      over the same table (bench/django_status.py; Debian's
#                      python3-django, gunicorn, python3-psycopg2)
#   DJANGO_WORKERS     gunicorn sync workers (default 2 per CPU)
#   REPLICA=1          also the uniform run with MEDIAGATE_DATABASE_READ_URL on a
#                      streaming replica made by pg_basebackup -R from the
#                      bench's cluster (reads from it, the primary beside it)
#   FAULTS=1           also the fault runs, each build alternated with
#                      MG_BIN_BEFORE when set (FAULT_ROUNDS times, default 1):
#                      reads with a streaming replica healthy, stopped and
#                      frozen (SIGSTOP), and overload (OVERLOAD_CONNS
#                      connections, default 2500, against the app's threads
#                      and backlog; 503s expected, wrk's timeout 20 s so the
#                      slowest answers are counted; nginx's listen backlog is
#                      raised to 4096, so that wrk's burst of connections
#                      does not wait out TCP retransmissions, which would
#                      measure the kernel, not the app)
#   KEEP=1             keep the run directory (lib.sh)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MG_ROOT=$(cd "$BENCH_DIR/.." && pwd)
export MG_ROOT
cd "$MG_ROOT"

DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-64}
LOW_CONNS=${LOW_CONNS:-16}
WRK_THREADS=${WRK_THREADS:-2}
JOBS=${JOBS:-100000}
HOT=${HOT:-1000}
BUILDDIR=${BUILDDIR:-/tmp/build-bench}
THREAD_SWEEP=${THREAD_SWEEP-8 32}
EXTRA_VARIANTS=${EXTRA_VARIANTS-nolog keepconn}
KEEPALIVE=${KEEPALIVE:-4}
CACHE_LOCK=${CACHE_LOCK:-on}
COUNT_STATUS=${COUNT_STATUS:-1}
MAX_BAD_PCT=${MAX_BAD_PCT:-0.1}
export MEDIAGATE_THREADS=${MEDIAGATE_THREADS:-16}
MAIN_THREADS=$MEDIAGATE_THREADS

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (scripts/lib.sh starts PostgreSQL as postgres, nginx as www-data)"
for t in wrk curl python3; do command -v "$t" >/dev/null || die "$t is not installed"; done

# --- file descriptors --------------------------------------------------------
# wrk holds one fd per connection, nginx two per proxied request (client and
# upstream) plus the static files; 4 * CONNS + slack is plenty.
need_fds=$((4 * CONNS + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 65536 ]; then
    hard=$(ulimit -Hn)
    if [ "$hard" = unlimited ] || [ "$hard" -ge 65536 ]; then ulimit -n 65536; else ulimit -n "$hard"; fi
fi
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$need_fds" ] ||
    die "ulimit -n is $(ulimit -n); need at least $need_fds"

# --- build -------------------------------------------------------------------
if [ -z "${MG_BIN:-}" ]; then
    if [ ! -f "$BUILDDIR/build.ninja" ]; then
        log "meson setup $BUILDDIR --buildtype=release"
        meson setup "$BUILDDIR" --buildtype=release >"${TMPDIR:-/tmp}/bench-meson-setup.log" 2>&1 ||
            { cat "${TMPDIR:-/tmp}/bench-meson-setup.log" >&2; die "meson setup failed"; }
    fi
    # A build directory belongs to one source tree: never measure another
    # checkout's code under this one's name.
    src=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['directories']['source'])" \
          "$BUILDDIR/meson-info/meson-info.json" 2>/dev/null || true)
    [ -z "$src" ] || [ "$(readlink -f "$src")" = "$(readlink -f "$MG_ROOT")" ] ||
        die "$BUILDDIR builds $src, not $MG_ROOT: set BUILDDIR"
    log "meson compile -C $BUILDDIR mediagate"
    meson compile -C "$BUILDDIR" mediagate >/dev/null || die "build failed"
    MG_BIN=$BUILDDIR/mediagate
    grep -q "buildtype = release\|'buildtype': 'release'" "$BUILDDIR/meson-info/intro-buildoptions.json" 2>/dev/null ||
        meson configure "$BUILDDIR" 2>/dev/null | grep -qE '^\s*buildtype\s+release' ||
        log "warning: $BUILDDIR does not look like a release build"
fi
[ -x "$MG_BIN" ] || die "no mediagate binary at $MG_BIN"
MG_BIN=$(readlink -f "$MG_BIN")
export MG_BIN

# --- the build before ------------------------------------------------------------
# rev_of DIR: the commit checked out there, "+dirty" with uncommitted
# changes; "?" outside a git checkout. A build directory inside a worktree
# (its build/) names the commit its binary was built from.
rev_of() {
    local r
    r=$(git -C "$1" rev-parse --short HEAD 2>/dev/null) || { echo '?'; return; }
    git -C "$1" diff --quiet HEAD 2>/dev/null || r="$r+dirty"
    echo "$r"
}
AFTER_LABEL=$(rev_of "$MG_ROOT")
if [ -n "${BEFORE_REV:-}" ] && [ -z "${MG_BIN_BEFORE:-}" ]; then
    rev=$(git -C "$MG_ROOT" rev-parse --verify --short "$BEFORE_REV^{commit}") ||
        die "BEFORE_REV=$BEFORE_REV is not a commit"
    bdir=${BEFORE_DIR:-/tmp/build-bench-before}/$rev
    if [ ! -x "$bdir/build/mediagate" ]; then
        log "building $rev (release) in $bdir"
        rm -rf "$bdir"
        mkdir -p "$bdir/src"
        git -C "$MG_ROOT" archive "$rev" | tar -x -C "$bdir/src" || die "git archive $rev failed"
        { meson setup "$bdir/build" "$bdir/src" --buildtype=release &&
            meson compile -C "$bdir/build" mediagate; } >"$bdir/build.log" 2>&1 ||
            { tail -n 20 "$bdir/build.log" >&2; die "building $rev failed"; }
    fi
    MG_BIN_BEFORE=$bdir/build/mediagate
    BEFORE_LABEL=$rev
fi
if [ -n "${MG_BIN_BEFORE:-}" ]; then
    [ -x "$MG_BIN_BEFORE" ] || die "no mediagate binary at MG_BIN_BEFORE=$MG_BIN_BEFORE"
    MG_BIN_BEFORE=$(readlink -f "$MG_BIN_BEFORE")
    [ "$MG_BIN_BEFORE" != "$MG_BIN" ] || die "MG_BIN_BEFORE is this build's binary"
    BEFORE_LABEL=${BEFORE_LABEL:-$(rev_of "$(dirname "$MG_BIN_BEFORE")")}
fi

# --- stack -------------------------------------------------------------------
# shellcheck source=../scripts/lib.sh
source "$MG_ROOT/scripts/lib.sh"
export NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-off}   # benchmarks measure without an access log
RUN=$(mktemp -d /tmp/mediagate-bench.XXXXXX)
export RUN
chmod 755 "$RUN"
STATIC_ROOT=$RUN/static-root
PLAIN_SITE_EXTRA="location = /static/status.json { root $STATIC_ROOT; }"
export NGINX_SITE_EXTRA=$PLAIN_SITE_EXTRA
CACHE_DIR=
CACHE_ROOT=${CACHE_ROOT:-}
DJANGO_PID= REPL= FROZEN=
trap '[ -z "$FROZEN" ] || kill -CONT $FROZEN 2>/dev/null
      stack_down; [ -z "$CACHE_DIR" ] || rm -rf "$CACHE_DIR"; [ -z "$DJANGO_PID" ] || kill "$DJANGO_PID" 2>/dev/null
      [ -z "$REPL" ] || [ ! -s "$REPL/postmaster.pid" ] || runuser -u postgres -- "$PGBIN/pg_ctl" -D "$REPL" -m immediate stop >/dev/null' EXIT
trap 'exit 130' INT TERM
[ "${FAULTS:-0}" != 1 ] || export NGINX_LISTEN_OPTS=${NGINX_LISTEN_OPTS:-backlog=4096}
log "starting the stack in $RUN ($MEDIAGATE_THREADS app threads)"
stack_up || die "stack_up failed"
log "nginx on $BASE"

# --- data --------------------------------------------------------------------
# 60% COMPLETE, 30% PROGRESSING, 10% ERROR; ids look like UUIDs.
log "loading $JOBS jobs"
t0=$(date +%s.%N)
psql_q "
INSERT INTO jobs (id, backend, backend_job_id, input_file, status, progress_rate,
                  duration_ms, width_px, height_px, output_path, playlists,
                  error_code, error_message, created_at, updated_at)
SELECT md5('mediagate-bench-' || i)::uuid::text,
       'mediaconvert',
       '1700000000000-' || i,
       'uploads/video-' || i || '.mp4',
       s.status,
       CASE s.status WHEN 'COMPLETE' THEN 100 WHEN 'PROGRESSING' THEN (i * 7) % 100
                     ELSE (i * 3) % 100 END,
       CASE WHEN s.status = 'COMPLETE' THEN 30000 + (i * 7919) % 3600000 END,
       CASE WHEN s.status = 'COMPLETE' THEN CASE WHEN i % 2 = 0 THEN 1920 ELSE 1280 END END,
       CASE WHEN s.status = 'COMPLETE' THEN CASE WHEN i % 2 = 0 THEN 1080 ELSE 720 END END,
       CASE WHEN s.status = 'COMPLETE' THEN 's3://media-bucket/out/video-' || i || '/' END,
       CASE WHEN s.status = 'COMPLETE'
            THEN jsonb_build_object('.m3u8', 'video-' || i || '.m3u8') END,
       CASE WHEN s.status = 'ERROR' THEN 1010 + i % 5 END,
       CASE WHEN s.status = 'ERROR' THEN 'Transcoding failed: unsupported input codec.' END,
       now() - i * interval '1 second',
       now() - i * interval '1 second' + interval '5 minutes'
FROM generate_series(1, $JOBS) AS i,
     LATERAL (SELECT CASE WHEN i % 10 < 6 THEN 'COMPLETE'
                          WHEN i % 10 < 9 THEN 'PROGRESSING'
                          ELSE 'ERROR' END AS status) AS s" || die "loading jobs failed"
psql_q "ANALYZE jobs" || die "ANALYZE failed"
log "loaded in $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)") s: $(psql_q "SELECT string_agg(status || '=' || n, ' ' ORDER BY status) FROM (SELECT status, count(*) n FROM jobs GROUP BY status) x")"

IDS=$RUN/ids.txt
HOT_IDS=$RUN/hot-ids.txt
psql_q "SELECT id FROM jobs" >"$IDS"
# The hot set: jobs still in progress, which is what clients poll; these get
# s-maxage=1, the least cache-friendly answer.
psql_q "SELECT id FROM jobs WHERE status = 'PROGRESSING' ORDER BY md5(id) LIMIT $HOT" >"$HOT_IDS"
chmod 644 "$IDS" "$HOT_IDS"
[ "$(wc -l <"$IDS")" -eq "$JOBS" ] || die "expected $JOBS ids"

# --- sanity: what the app answers ---------------------------------------------
id_of() { psql_q "SELECT id FROM jobs WHERE status = '$1' ORDER BY id LIMIT 1"; }
check_status() { # STATUS EXPECTED_CACHE_CONTROL_PREFIX
    local id hdr code
    id=$(id_of "$1")
    hdr=$(curl -s -o "$RUN/sample-$1.json" -D - "$BASE/media/status?job_id=$id" | tr -d '\r')
    code=$(printf '%s\n' "$hdr" | awk 'NR==1 {print $2}')
    [ "$code" = 200 ] || { printf '%s\n' "$hdr" >&2; die "GET /media/status ($1) answered $code"; }
    printf '%s\n' "$hdr" | grep -qi "^cache-control: $2" ||
        { printf '%s\n' "$hdr" >&2; die "unexpected Cache-Control for a $1 job"; }
    printf '%s\n' "$hdr" | grep -qi '^etag: "' || die "no strong ETag for a $1 job"
    grep -q "\"job_status\":\"$1\"" "$RUN/sample-$1.json" || die "unexpected body: $(cat "$RUN/sample-$1.json")"
}
check_status COMPLETE 'public, max-age=0, s-maxage='
check_status PROGRESSING 'public, max-age=0, s-maxage=1'
check_status ERROR 'public, max-age=0, s-maxage='

# The static baseline serves the very bytes the app returns for a job.
mkdir -p "$STATIC_ROOT/static"
cp "$RUN/sample-COMPLETE.json" "$STATIC_ROOT/static/status.json"
chmod 755 "$STATIC_ROOT" "$STATIC_ROOT/static"
chmod 644 "$STATIC_ROOT/static/status.json"
BODY_BYTES=$(wc -c <"$STATIC_ROOT/static/status.json")
code=$(curl -s -o "$RUN/static-check.json" -w '%{http_code}' "$BASE/static/status.json")
{ [ "$code" = 200 ] && cmp -s "$RUN/static-check.json" "$STATIC_ROOT/static/status.json"; } ||
    die "static baseline answered $code or other bytes"
log "status body: $BODY_BYTES bytes: $(cat "$STATIC_ROOT/static/status.json")"

# --- CPU accounting ------------------------------------------------------------
# bench/cpustat.py reads /proc before and after each measured run and splits
# the cores used between the app, nginx, PostgreSQL, wrk, other processes on
# the machine and the rest (kernel softirq work for loopback sockets, mostly).
CPUSTAT="python3 $BENCH_DIR/cpustat.py"
quiet_check() { # prints "cores-busy top-processes"; waits up to QUIET_WAIT s for < 0.2 cores
    local waited=0 line
    while :; do
        line=$($CPUSTAT busy 2)
        python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 0.2 else 1)" "${line%% *}" && break
        [ "$waited" -lt "${QUIET_WAIT:-0}" ] || break
        [ "$waited" -gt 0 ] || log "the machine is busy ($line); waiting up to ${QUIET_WAIT}s"
        sleep 3; waited=$((waited + 5))
    done
    echo "$line"
}

# --- runs --------------------------------------------------------------------
RESULTS_DIR=$BENCH_DIR/results
mkdir -p "$RESULTS_DIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$RESULTS_DIR/status-$STAMP.txt
RAW=$RUN/raw.txt
: >"$RAW"
ROWS=()
CACHE_LINES=()
FAULT_LINES=()
FAILED=0
declare -A RPS

secs_of() { # 15s / 2m / 500ms -> seconds
    python3 -c "import re,sys; m=re.fullmatch(r'([0-9.]+)(ms|s|m|h)?', sys.argv[1]); \
v=float(m.group(1)); print(v*{'ms':.001,'s':1,'m':60,'h':3600,None:1}[m.group(2)])" "$1"
}

# run NAME LABEL CONNS IDS_FILE PATH_PREFIX [cache]
# "cache" also tallies nginx's X-Cache-Status answers (micro-cache runs).
run() {
    local name=$1 label=$2 c=$3 ids=$4 prefix=$5 count=count timeout=5s
    [ "$COUNT_STATUS" = 1 ] || count=nocount
    [ "${6:-}" != cache ] || count=cache
    # overload: 503s are the point; the slowest answers must be counted
    [ "${6:-}" != overload ] || { count=count; timeout=20s; }
    local wrk_args=(-t "$WRK_THREADS" -c "$c" --latency --timeout "$timeout" -s "$BENCH_DIR/status.lua" "$BASE"
                    -- "$ids" "$prefix" "$count")
    [ "${QUIET_WAIT:-0}" = 0 ] || quiet_check >/dev/null
    log "run $name: $label, $c connections, $DURATION"
    if [ -n "$WARMUP" ] && [ "$WARMUP" != 0 ]; then
        wrk -d "$WARMUP" "${wrk_args[@]}" >/dev/null 2>&1 || true
    fi
    local out
    $CPUSTAT snap "$RUN/cpu.before"
    out=$(TIMEFORMAT='%U %S'; { time wrk -d "$DURATION" "${wrk_args[@]}" 2>&1; } 2>"$RUN/time.txt") ||
        { printf '%s\n' "$out" >&2; die "wrk failed in run $name"; }
    $CPUSTAT snap "$RUN/cpu.after"
    {
        echo "=== $name: $label, $c connections, $DURATION (app threads $MEDIAGATE_THREADS)"
        echo "\$ wrk -d $DURATION ${wrk_args[*]}"
        printf '%s\n\n' "$out"
    } >>"$RAW"
    local line
    line=$(printf '%s\n' "$out" | grep '^RESULT ') || { printf '%s\n' "$out" >&2; die "no RESULT line in run $name"; }
    local requests rps p50 p99 non200 non2xx sockerr timeouts
    requests=$(kv requests "$line"); rps=$(kv rps "$line")
    p50=$(kv p50_us "$line"); p99=$(kv p99_us "$line")
    non200=$(kv non200 "$line"); non2xx=$(kv non2xx "$line")
    sockerr=$(kv sock_errors "$line"); timeouts=$(kv timeouts "$line")
    [ "$COUNT_STATUS" = 1 ] || non200=$non2xx
    local bad verdict=ok
    bad=$(python3 -c "import sys; r,b=int(sys.argv[1]),int(sys.argv[2]); print(1 if r==0 or b*100.0/r>float(sys.argv[3]) else 0)" \
        "$requests" "$non200" "$MAX_BAD_PCT")
    if [ "${6:-}" = overload ]; then
        verdict=overload
    elif [ "$bad" = 1 ] || [ "$sockerr" -gt 0 ] || [ "$timeouts" -gt 0 ]; then
        verdict=FAILED; FAILED=1
    fi
    local cpu
    cpu=$($CPUSTAT diff "$RUN/cpu.before" "$RUN/cpu.after" "$(secs_of "$DURATION")" \
          "$(cat "$RUN/mediagate.pid")" "$(cat "$RUN/nginx/nginx.pid")" \
          "$(head -n1 "$RUN/pg/postmaster.pid")" \
          "$(awk '{print $1 + $2}' "$RUN/time.txt" | tail -n1)" $$)
    FAULT_LINES+=("$name: $(python3 -c "import sys; n,b,r=int(sys.argv[1]),int(sys.argv[2]),float(sys.argv[3]); \
print(f'{r:,.0f} req/s, {r*(n-b)/max(n,1):,.0f} answered 200/s, {b*100/max(n,1):.1f}% not 200')" "$requests" "$non200" "$rps"), p50 $(fmt_us "$p50"), p99 $(fmt_us "$p99"), max $(fmt_us "$(kv max_us "$line")"), timeouts $timeouts")
    if [ "$verdict" = ok ] &&
        python3 -c "import sys; sys.exit(0 if float(sys.argv[1].split()[4]) > 0.1 else 1)" "$cpu"; then
        verdict=noisy
    fi
    RPS[$name]=$rps
    if [ "$count" = cache ]; then
        CACHE_LINES+=("$name: $(python3 - "$line" <<'PY'
import sys
kv = dict(x.split("=", 1) for x in sys.argv[1].split()[1:])
c = {k[6:]: int(v) for k, v in kv.items() if k.startswith("cache_")}
n = sum(c.values()) or 1
print(", ".join(f"{k} {v * 100 / n:.1f}%" for k, v in sorted(c.items(), key=lambda x: -x[1])))
PY
)")
    fi
    ROWS+=("$name|$label|$c|$MEDIAGATE_THREADS|$rps|$p50|$p99|$requests|$non200|$((sockerr + timeouts))|$cpu|$verdict")
    log "  $(printf '%.0f' "$rps") req/s, p50 $(fmt_us "$p50"), p99 $(fmt_us "$p99"), non-200 $non200, $verdict"
}
kv() { printf '%s\n' "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
fmt_us() { python3 -c "import sys; v=int(sys.argv[1]); print(f'{v/1000:.2f}ms' if v >= 1000 else f'{v}us')" "$1"; }

restart_app() { # THREADS
    app_stop TERM || true
    export MEDIAGATE_THREADS=$1
    rm -f "$RUN/mediagate.sock"
    app_start || die "mediagate did not restart with $1 threads"
}

IDLE_BEFORE=$(quiet_check)
case ${IDLE_BEFORE%% *} in
    0.0*|0.1*) ;;
    *) log "warning: the machine is not quiet before the runs: ${IDLE_BEFORE%% *} cores busy (${IDLE_BEFORE#* }); results will be low and noisy" ;;
esac
t_start=$(date +%s)

# 1. Baseline and the app over all 100k jobs.
run static    "nginx static file"          "$CONNS"     - /static/status.json
run app       "app, uniform over $JOBS ids" "$CONNS"     "$IDS" "/media/status?job_id="
run "app-c$LOW_CONNS" "app, uniform over $JOBS ids" "$LOW_CONNS" "$IDS" "/media/status?job_id="

# 1b. MG_BIN_BEFORE: side by side, AB_ROUNDS rounds of the static baseline
# and both builds on the same stack and data, so a change is judged against
# another build under the same machine load. Which build goes first
# alternates (static, before, after; static, after, before; ...), so neither
# always gets the warmer or the quieter slot.
if [ -n "${MG_BIN_BEFORE:-}" ]; then
    MG_BIN_AFTER=$MG_BIN
    for i in $(seq "${AB_ROUNDS:-2}"); do
        run "static-$i" "nginx static file, round $i" "$CONNS" - /static/status.json
        order=(before after)
        [ $((i % 2)) = 1 ] || order=(after before)
        for side in "${order[@]}"; do
            if [ "$side" = before ]; then
                MG_BIN=$MG_BIN_BEFORE restart_app "$MAIN_THREADS"
                run "before-$i" "MG_BIN_BEFORE, uniform over $JOBS ids" "$CONNS" "$IDS" "/media/status?job_id="
            else
                MG_BIN=$MG_BIN_AFTER restart_app "$MAIN_THREADS"
                run "after-$i" "this build, uniform over $JOBS ids" "$CONNS" "$IDS" "/media/status?job_id="
            fi
        done
    done
    MG_BIN=$MG_BIN_AFTER
    restart_app "$MAIN_THREADS"
fi
[ "${AB_ONLY:-0}" = 0 ] || { THREAD_SWEEP=; EXTRA_VARIANTS=; SKIP_CACHE=1; }

# 1c. DJANGO=1: the same run against a Django view on gunicorn over the same
# table, through the same nginx (proxy_pass to gunicorn's unix socket).
if [ "${DJANGO:-0}" = 1 ]; then
    DJANGO_WORKERS=${DJANGO_WORKERS:-$(( $(nproc) * 2 ))}
    PGHOST=$RUN/pgsock gunicorn --chdir "$BENCH_DIR" -w "$DJANGO_WORKERS" -b "unix:$RUN/django.sock" \
        --log-level warning django_status:application >"$RUN/gunicorn.log" 2>&1 &
    DJANGO_PID=$!
    for _ in $(seq 100); do [ -S "$RUN/django.sock" ] && break; sleep 0.1; done
    chmod 666 "$RUN/django.sock"
    nginx_stop
    NGINX_SITE_EXTRA="$PLAIN_SITE_EXTRA location /django/ { proxy_pass http://unix:$RUN/django.sock:/; proxy_http_version 1.1; proxy_set_header Connection \"\"; }" \
        nginx_start || die "nginx with the Django location did not start"
    first_id=$(head -n1 "$IDS")
    dj=$(curl -s "$BASE/django/media/status?job_id=$first_id")
    app_body=$(curl -s "$BASE/media/status?job_id=$first_id")
    [ "$dj" = "$app_body" ] || die "the Django view answers differently: $dj vs $app_body"
    run django "Django view on gunicorn ($DJANGO_WORKERS sync workers)" "$CONNS" "$IDS" "/django/media/status?job_id="
    kill "$DJANGO_PID"; wait "$DJANGO_PID" 2>/dev/null || true
    DJANGO_PID=
    nginx_stop
    nginx_start || die "nginx did not restart"
fi

# 1d. REPLICA=1: reads from a streaming replica of the same cluster.
if [ "${REPLICA:-0}" = 1 ]; then
    REPL=$RUN/replica REPLSOCK=$RUN/replsock
    echo 'local replication postgres peer map=mg_admin' >>"$RUN/pg/pg_hba.conf"
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$RUN/pg" reload >/dev/null
    mkdir -p "$REPL" "$REPLSOCK"; chown postgres "$REPL" "$REPLSOCK"; chmod 700 "$REPL"
    touch "$RUN/replica.log"; chown postgres "$RUN/replica.log"
    (cd / && runuser -u postgres -- "$PGBIN/pg_basebackup" -h "$RUN/pgsock" -U postgres -D "$REPL" -R -X stream -c fast) ||
        die "pg_basebackup failed"
    repl_start() {
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$REPL" -l "$RUN/replica.log" -w -t 30 \
            -o "-k $REPLSOCK -c listen_addresses='' -c max_connections=200 ${PG_OPTS:-}" start >/dev/null ||
            die "the replica did not start"
    }
    repl_start
    MEDIAGATE_DATABASE_READ_URL="postgresql:///mediagate?host=$REPLSOCK&user=mediagate" restart_app "$MAIN_THREADS"
    run app-replica "app, reads from a streaming replica" "$CONNS" "$IDS" "/media/status?job_id="
    restart_app "$MAIN_THREADS"
    run app-primary "app, reads from the primary (beside the replica run)" "$CONNS" "$IDS" "/media/status?job_id="
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$REPL" -m fast -w stop >/dev/null || true
fi

# 1e. FAULTS=1: reads with the replica healthy, stopped and frozen, then
# overload; each build in turn (MG_BIN_BEFORE first, when set).
if [ "${FAULTS:-0}" = 1 ]; then
    [ -n "$REPL" ] || die "FAULTS=1 needs REPLICA=1 (the replica it stops and freezes)"
    MG_BIN_AFTER=$MG_BIN
    builds=(after)
    [ -z "${MG_BIN_BEFORE:-}" ] || builds=(before after)
    repl_start
    for i in $(seq "${FAULT_ROUNDS:-1}"); do
        for b in "${builds[@]}"; do
            bin=$MG_BIN_AFTER; [ "$b" = after ] || bin=$MG_BIN_BEFORE
            MEDIAGATE_DATABASE_READ_URL="postgresql:///mediagate?host=$REPLSOCK&user=mediagate" \
                MG_BIN=$bin restart_app "$MAIN_THREADS"
            run "replica-healthy-$b-$i" "$b build, replica healthy" "$CONNS" "$IDS" "/media/status?job_id=" overload
            runuser -u postgres -- "$PGBIN/pg_ctl" -D "$REPL" -m fast -w stop >/dev/null
            run "replica-stopped-$b-$i" "$b build, replica stopped" "$CONNS" "$IDS" "/media/status?job_id=" overload
            repl_start
            sleep 1
            curl -s -o /dev/null "$BASE/media/status?job_id=$(head -n1 "$IDS")"
            pm=$(head -n 1 "$REPL/postmaster.pid")
            kill -STOP "$pm"; FROZEN="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
            # shellcheck disable=SC2086
            kill -STOP $FROZEN
            run "replica-frozen-$b-$i" "$b build, replica frozen (SIGSTOP)" "$CONNS" "$IDS" "/media/status?job_id=" overload
            # shellcheck disable=SC2086
            kill -CONT $FROZEN; FROZEN=
        done
    done
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$REPL" -m fast -w stop >/dev/null || true
    for i in $(seq "${FAULT_ROUNDS:-1}"); do
        for b in "${builds[@]}"; do
            bin=$MG_BIN_AFTER; [ "$b" = after ] || bin=$MG_BIN_BEFORE
            MG_BIN=$bin restart_app "$MAIN_THREADS"
            run "overload-$b-$i" "$b build, overload" "${OVERLOAD_CONNS:-2500}" "$IDS" "/media/status?job_id=" overload
        done
    done
    MG_BIN=$MG_BIN_AFTER restart_app "$MAIN_THREADS"
fi

# 2. The hot set, without and then with nginx's micro-cache.
if [ "${SKIP_CACHE:-0}" = 0 ]; then
run hot-nocache "app, hot set of $HOT in-progress ids" "$CONNS" "$HOT_IDS" "/media/status?job_id="

# The shipped micro-cache: nginx/mediagate-cache.conf in the server before
# mediagate.conf, nginx/mediagate-cache-http.conf in http { } (below).
CACHE_SNIPPET=$RUN/mediagate-microcache.conf
cache_snippet() { # CACHE_CONF: the micro-cache's server part and mediagate.conf, in $CACHE_SNIPPET
    sed "s/^fastcgi_cache_lock on;/fastcgi_cache_lock $CACHE_LOCK;/" "$1" >"$CACHE_SNIPPET"
    cat "$MG_ROOT/nginx/mediagate.conf" >>"$CACHE_SNIPPET"
}
cache_snippet "$MG_ROOT/nginx/mediagate-cache.conf"
# On tmpfs by default: creating ~10k cache files a second on a disk file
# system measures the file system (ext4's inode allocator, on a machine where
# other work churns inodes) more than nginx.
if [ -z "${CACHE_ROOT:-}" ]; then
    CACHE_ROOT=$RUN
    [ "$(stat -f -c %T /dev/shm 2>/dev/null)" != tmpfs ] || CACHE_ROOT=/dev/shm
fi
CACHE_DIR=$(mktemp -d "$CACHE_ROOT/mg-cache.XXXXXX") || die "cannot create a cache directory"
chown www-data:www-data "$CACHE_DIR"
nginx_stop
sed "s#/var/cache/nginx/mediagate#$CACHE_DIR#" "$MG_ROOT/nginx/mediagate-cache-http.conf" >"$RUN/cache-http.conf"
NGINX_EXTRA="include $RUN/cache-http.conf;" MG_SNIPPET=$CACHE_SNIPPET nginx_start || die "nginx with the micro-cache did not start"
hot_id=$(head -n1 "$HOT_IDS")
curl -s -o /dev/null "$BASE/media/status?job_id=$hot_id"
cache_state=$(curl -s -o /dev/null -D - "$BASE/media/status?job_id=$hot_id" | tr -d '\r' |
              awk -F': ' 'tolower($1) == "x-cache-status" {print $2}')
case $cache_state in
    HIT|UPDATING|STALE|REVALIDATED) ;;
    *) die "the micro-cache does not answer the second request (X-Cache-Status: '${cache_state:-none}')" ;;
esac
run hot-cache "micro-cache, hot set of $HOT in-progress ids" "$CONNS" "$HOT_IDS" "/media/status?job_id=" cache
if [ -n "${CACHE_CONF_BEFORE:-}" ] && [ -n "${MG_BIN_BEFORE:-}" ]; then
    MG_BIN_AFTER=$MG_BIN
    for i in $(seq "${AB_ROUNDS:-2}"); do
        for side in before after; do
            if [ $side = before ]; then conf=$CACHE_CONF_BEFORE bin=$MG_BIN_BEFORE
            else conf=$MG_ROOT/nginx/mediagate-cache.conf bin=$MG_BIN_AFTER; fi
            nginx_stop
            rm -rf "${CACHE_DIR:?}"/*
            cache_snippet "$conf"
            MG_BIN=$bin restart_app "$MAIN_THREADS"
            NGINX_EXTRA="include $RUN/cache-http.conf;" MG_SNIPPET=$CACHE_SNIPPET nginx_start ||
                die "nginx with the micro-cache did not start"
            run "hot-cache-$side-$i" "micro-cache, hot set, $side" "$CONNS" "$HOT_IDS" "/media/status?job_id=" cache
            run "app-cache-$side-$i" "micro-cache, uniform, $side" "$CONNS" "$IDS" "/media/status?job_id=" cache
        done
    done
    MG_BIN=$MG_BIN_AFTER
fi
run app-cache "micro-cache, uniform over $JOBS ids" "$CONNS" "$IDS" "/media/status?job_id=" cache
nginx_stop
nginx_start || die "nginx did not restart"
rm -rf "$CACHE_DIR"
fi

# 3. Other app thread counts.
for n in $THREAD_SWEEP; do
    [ "$n" = "$MAIN_THREADS" ] && continue
    restart_app "$n"
    run "app-t$n" "app, uniform over $JOBS ids" "$CONNS" "$IDS" "/media/status?job_id="
done
[ "$MEDIAGATE_THREADS" = "$MAIN_THREADS" ] || restart_app "$MAIN_THREADS"

# 4. Where the app's time goes (EXTRA_VARIANTS): without its access log, and
# with nginx keeping FastCGI connections open (fastcgi_keep_conn + an
# upstream keepalive pool), which saves the connect/accept/close per request.
for v in $EXTRA_VARIANTS; do
    case $v in
    nolog)
        [ "${MEDIAGATE_ACCESS_LOG:-on}" != off ] || continue
        MEDIAGATE_ACCESS_LOG=off restart_app "$MAIN_THREADS"
        run app-nolog "app, MEDIAGATE_ACCESS_LOG=off" "$CONNS" "$IDS" "/media/status?job_id="
        restart_app "$MAIN_THREADS"
        ;;
    keepconn)
        KEEP_SNIPPET=$RUN/mediagate-keepconn.conf
        # shellcheck disable=SC2016
        sed 's#^set \$mediagate_socket .*#set $mediagate_socket mediagate_keep;#' \
            "$MG_ROOT/nginx/mediagate.conf" |
            awk '!done && /^location ~ / && /\{[[:space:]]*$/ {
                     print; print "    fastcgi_keep_conn on;"; done = 1; next }
                 { print } END { if (!done) exit 1 }' >"$KEEP_SNIPPET" ||
            die "could not find the outer location in nginx/mediagate.conf"
        grep -q 'mediagate_socket mediagate_keep' "$KEEP_SNIPPET" ||
            die "could not find the socket line in nginx/mediagate.conf"
        nginx_stop
        # Fewer idle connections than app threads: libfcgi keeps a thread on
        # its connection until nginx closes it.
        NGINX_EXTRA="upstream mediagate_keep { server unix:$RUN/mediagate.sock; keepalive $KEEPALIVE; }" \
            MG_SNIPPET=$KEEP_SNIPPET nginx_start || die "nginx with keepalive did not start"
        run app-keepconn "app, fastcgi_keep_conn, keepalive $KEEPALIVE/worker" "$CONNS" "$IDS" "/media/status?job_id="
        nginx_stop
        nginx_start || die "nginx did not restart"
        ;;
    *) die "unknown EXTRA_VARIANTS entry: $v" ;;
    esac
done
t_total=$(( $(date +%s) - t_start ))

# --- summary -------------------------------------------------------------------
{
    echo "mediagate GET /media/status benchmark, $STAMP"
    echo "host: $(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), $(uname -r)"
    echo "binary: $MG_BIN ($AFTER_LABEL)"
    [ -z "${MG_BIN_BEFORE:-}" ] || echo "before: $MG_BIN_BEFORE ($BEFORE_LABEL)"
    echo "nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //'), wrk: $WRK_THREADS threads, $DURATION per run after a $WARMUP warm-up"
    echo "data: $JOBS jobs (60% COMPLETE, 30% PROGRESSING, 10% ERROR); body $BODY_BYTES bytes; hot set $HOT PROGRESSING jobs"
    [ "${SKIP_CACHE:-0}" != 0 ] ||
        echo "micro-cache: fastcgi_cache_lock $CACHE_LOCK, directory in $CACHE_ROOT ($(stat -f -c %T "$CACHE_ROOT"))"
    echo "app: MEDIAGATE_ACCESS_LOG=${MEDIAGATE_ACCESS_LOG:-on (default)}; PostgreSQL opts: $PG_OPTS"
    echo "machine before the runs: ${IDLE_BEFORE%% *} cores busy (top: ${IDLE_BEFORE#* })"
    echo
    python3 - "${ROWS[@]}" <<'PY'
import sys
hdr = ["run", "what", "conns", "app thr", "req/s", "p50", "p99", "requests", "non-200",
       "sock err", "CPU app", "nginx", "pg", "wrk", "others", "rest", "verdict"]
def ms(us):
    us = int(us)
    return f"{us/1000:.2f} ms" if us >= 1000 else f"{us} us"
rows = []
for r in sys.argv[1:]:
    name, what, c, thr, rps, p50, p99, n, bad, serr, cpu, verdict = r.split("|")
    rows.append([name, what, c, thr, f"{float(rps):,.0f}", ms(p50), ms(p99), n, bad, serr]
                + cpu.split() + [verdict])
w = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
right = set(range(2, 16))
def line(cells):
    return "  ".join(str(c).rjust(w[i]) if i in right else str(c).ljust(w[i])
                     for i, c in enumerate(cells)).rstrip()
print(line(hdr))
print(line(["-" * x for x in w]))
for r in rows:
    print(line(r))
print()
print("CPU columns: cores used during the measured run. app = mediagate, nginx and pg =")
print("their process trees, wrk = the load generator, others = processes outside the")
print("stack (should be ~0; if not, something else was running), rest = the kernel's")
print("softirq work for loopback sockets, kernel threads, processes that exited.")
busy = [float(r[14]) for r in rows]
if "noisy" in [r[-1] for r in rows]:
    print("noisy: other processes used more than 0.1 cores during that run.")
if max(busy) > 0.1:
    print(f"WARNING: other processes used up to {max(busy):.2f} cores during the runs;")
    print("the numbers are low and noisy. Rerun on a quiet machine (QUIET_WAIT=120).")
PY
    echo
    [ -z "${MG_BIN_BEFORE:-}" ] ||
        python3 "$BENCH_DIR/ab_table.py" "$BEFORE_LABEL" "$AFTER_LABEL" "${AB_ROUNDS:-2}" "${ROWS[@]}"
    python3 - "${RPS[static]}" "${RPS[app]}" "${RPS[hot-nocache]:-}" "${RPS[hot-cache]:-}" "$CONNS" \
        "${RPS[app-nolog]:-}" "${RPS[app-keepconn]:-}" "" "${RPS[django]:-}" \
        "${RPS[app-replica]:-}" "${RPS[app-primary]:-}" <<'PY'
import sys
static, app = float(sys.argv[1]), float(sys.argv[2])
c = sys.argv[5]
print(f"ratio app/static at {c} connections:         {app/static:.3f} (static is {static/app:.1f}x the app)")
if sys.argv[3] and sys.argv[4]:
    hot, hotc = float(sys.argv[3]), float(sys.argv[4])
    print(f"micro-cache on the hot set (cache/no cache):  {hotc/hot:.2f}x")
    print(f"micro-cache on the hot set vs static:         {hotc/static:.2f}")
if len(sys.argv) > 9 and sys.argv[9]:
    dj = float(sys.argv[9])
    print(f"app vs the Django view on gunicorn:           {app/dj:.2f}x ({app:,.0f} vs {dj:,.0f} req/s)")
if len(sys.argv) > 11 and sys.argv[10] and sys.argv[11]:
    rep, pri = float(sys.argv[10]), float(sys.argv[11])
    print(f"reads from the replica vs the primary:        {rep/pri:.2f}x ({rep:,.0f} vs {pri:,.0f} req/s)")
if sys.argv[6]:
    print(f"access log off vs on:                         {float(sys.argv[6])/app:.2f}x")
if sys.argv[7]:
    print(f"FastCGI keep-conn vs a connection per request: {float(sys.argv[7])/app:.2f}x")
PY
    for l in "${CACHE_LINES[@]}"; do echo "X-Cache-Status, $l"; done
    for l in "${FAULT_LINES[@]}"; do case $l in replica-*|overload-*) echo "fault run $l" ;; esac; done
    echo "reference for 2 cores: nginx static ~120k req/s @64; thinnest libfcgi+libpq"
    echo "program ~15k req/s, p99 3 ms @16 connections, 7 ms @64."
    echo "wall time of the runs: ${t_total}s (warm-ups and any waits for a quiet machine included)"
    [ "$FAILED" = 0 ] || echo "SOME RUNS FAILED (non-200 answers or socket errors): see the verdict column"
} | tee "$OUT"
{
    echo
    echo "################ raw wrk output ################"
    cat "$RAW"
    echo "################ mediagate log (warnings and errors) ################"
    grep -v ' access ' "$RUN/mediagate.log" | tail -n 50 || true
} >>"$OUT"
log "results: $OUT"
exit "$FAILED"
