#!/usr/bin/env bash
# bench/webhooks.sh: customer webhook deliveries, in one run, loopback only.
#
# 1. Throughput: DELIVERIES deliveries queued at once (jobs turned ERROR in
#    one statement; the trigger of sql/012_webhooks.sql makes one delivery
#    and one webhook.deliver task each), then 1 worker, then 2 workers,
#    each run on a fresh queue, until every delivery is recorded delivered.
#    The receiver is tests/webhook-receiver/receiver.mjs: it verifies every
#    delivery with the npm package standardwebhooks and answers 200.
# 2. Latency: SAMPLES MediaConvert COMPLETE notifications POSTed through
#    nginx one at a time, irregularly spaced, with 1 worker idle: the time
#    from each notification's 200 to its job.complete delivery arriving at
#    the receiver (both clocks are this machine's), p50 and p99.
#
# Bounded: DELIVERIES (default 3000), SAMPLES (default 200), MAX_RUN seconds
# per throughput run (default 120).
#
#   MG_BIN      reuse this binary (default: a release build in $BUILDDIR)
#   BUILDDIR    release build directory (default /tmp/bench-build)
#   KEEP=1      keep the run directory
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$MG_ROOT"
DELIVERIES=${DELIVERIES:-3000}
SAMPLES=${SAMPLES:-200}
MAX_RUN=${MAX_RUN:-120}
BUILDDIR=${BUILDDIR:-/tmp/bench-build}
if [ -z "${MG_BIN:-}" ]; then
    [ -f "$BUILDDIR/build.ninja" ] || meson setup "$BUILDDIR" --buildtype=release >/dev/null
    meson compile -C "$BUILDDIR" >/dev/null
    MG_BIN=$BUILDDIR/mediagate
fi
[ -d tests/webhook-receiver/node_modules/standardwebhooks ] ||
    (cd tests/webhook-receiver && npm ci --no-audit --no-fund --loglevel=error)
export MG_BIN
export BENCH_SECRET=bench-secret-0123456789abcdef
export MEDIAGATE_MEDIACONVERT_SECRET=$BENCH_SECRET MEDIAGATE_ACCESS_LOG=off
export MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK=on MEDIAGATE_THREADS=4
source scripts/lib.sh
export NGINX_ACCESS_LOG=off
RUN=$(mktemp -d /tmp/mediagate-bench.XXXXXX)
export RUN
pids=()
recv=
cleanup() {
    [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
    [ -z "$recv" ] || kill "$recv" 2>/dev/null || true
    stack_down
}
trap cleanup EXIT
stack_up
mkdir -p bench/results
out=bench/results/webhooks-$(date -u +%Y%m%dT%H%M%SZ).txt

node tests/webhook-receiver/receiver.mjs "$RUN/receiver.log" >"$RUN/receiver.out" 2>&1 &
recv=$!
for _ in $(seq 100); do grep -q listening "$RUN/receiver.out" && break; sleep 0.05; done
rport=$(awk '/listening/ { print $2 }' "$RUN/receiver.out")
[ -n "$rport" ] || { cat "$RUN/receiver.out" >&2; exit 1; }
secret=$("$MG_BIN" webhook add "http://127.0.0.1:$rport/hook" 2>/dev/null)
curl -sf -X POST "http://127.0.0.1:$rport/_plan" -d "{\"path\":\"/hook\",\"secret\":\"$secret\"}" >/dev/null

# delivered: how many deliveries are recorded delivered.
delivered() { psql_q "SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'"; }
# fresh: no deliveries, no tasks, no jobs.
fresh() {
    psql_q "SET client_min_messages = warning; TRUNCATE outbox, webhook_deliveries, webhook_throttle, jobs CASCADE" >/dev/null
    psql_q "VACUUM ANALYZE outbox" >/dev/null
}
# throughput W: W workers deliver DELIVERIES queued deliveries; prints
# "wall_s|deliveries/s|db_s|db deliveries/s|verified".
throughput() {
    local w=$1 t0 t1 n=0 deadline
    fresh
    psql_q "INSERT INTO jobs (id, backend, input_file, status, error_code, error_message)
            SELECT 'b' || i, 'local', 'x', 'ERROR', 3, 'ffmpeg failed'
              FROM generate_series(1, $DELIVERIES) i" >/dev/null
    [ "$(psql_q "SELECT count(*) FROM outbox WHERE kind = 'webhook.deliver'")" = "$DELIVERIES" ] ||
        { echo "expected $DELIVERIES queued deliveries" >&2; exit 1; }
    : >"$RUN/receiver.log"
    t0=$EPOCHREALTIME
    for _ in $(seq "$w"); do
        "$MG_BIN" worker 2>>"$RUN/worker-$w.log" &
        pids+=($!)
    done
    deadline=$((SECONDS + MAX_RUN))
    while n=$(delivered) && [ "$n" != "$DELIVERIES" ]; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "$w worker(s): $n of $DELIVERIES after $MAX_RUN s" >&2; exit 1; }
        sleep 0.05
    done
    t1=$EPOCHREALTIME
    kill -TERM "${pids[@]}"
    wait "${pids[@]}" 2>/dev/null || true
    pids=()
    local span verified
    span=$(psql_q "SELECT extract(epoch FROM (SELECT max(delivered_at) FROM webhook_deliveries)
                                           - (SELECT min(started_at) FROM outbox))")
    verified=$(grep -c '"verified":true' "$RUN/receiver.log" || true)
    awk -v a="$t0" -v b="$t1" -v s="$span" -v n="$DELIVERIES" -v v="$verified" \
        'BEGIN { printf "%.2f|%.0f|%.2f|%.0f|%d\n", b - a, n / (b - a), s, n / s, v }'
}
# What else keeps the machine busy (another run, a build) skews the figures.
before=$(python3 bench/cpustat.py busy 1)
r1=$(throughput 1)
r2=$(throughput 2)

# Latency: a notification's 200 to the delivery's arrival, 1 worker idle.
fresh
: >"$RUN/receiver.log"
"$MG_BIN" worker 2>>"$RUN/worker-latency.log" &
pids+=($!)
sleep 1
lat=$(BASE=$BASE SAMPLES=$SAMPLES LOG=$RUN/receiver.log FIXTURE=tests/fixtures/providers/aws-mediaconvert-complete.json \
    python3 - <<'PY'
import json, os, random, time, urllib.request
base, n, log = os.environ["BASE"], int(os.environ["SAMPLES"]), os.environ["LOG"]
ev = json.load(open(os.environ["FIXTURE"]))
sent = {}
for i in range(n):
    job = f"lat-{i}"
    ev["detail"]["jobId"] = job
    req = urllib.request.Request(base + "/notifications/mediaconvert", data=json.dumps(ev).encode(),
                                 headers={"X-Api-Key": os.environ["BENCH_SECRET"],
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()
        assert r.status == 200
    sent[job] = time.time() * 1000
    time.sleep(random.uniform(0.03, 0.12))
got = {}
end = time.time() + 30
while len(got) < n and time.time() < end:
    got = {}
    for line in open(log):
        e = json.loads(line)
        body = json.loads(e["body"])
        if body["type"] == "job.complete" and e["verified"]:
            got[body["data"]["job_id"]] = e["at"]
    time.sleep(0.2)
ms = sorted(got[j] - sent[j] for j in sent if j in got)
q = lambda p: ms[min(len(ms) - 1, int(p * len(ms)))]
print(f"{len(ms)}|{q(0.5):.1f}|{q(0.99):.1f}|{ms[0]:.1f}|{ms[-1]:.1f}")
PY
)
kill -TERM "${pids[@]}"
wait "${pids[@]}" 2>/dev/null || true
pids=()

{
    echo "webhook benchmark, $(date -u +%FT%TZ), $(nproc) cores, loopback, receiver verifying with npm standardwebhooks"
    echo "busy cores just before, with the stack idle: $before"
    printf '%-10s %8s %12s %8s %15s %9s\n' workers wall_s deliveries/s db_s db_deliveries/s verified
    for w in 1 2; do
        r=r$w
        IFS='|' read -r wall rate span drate ver <<<"${!r}"
        printf '%-10s %8s %12s %8s %15s %9s\n' "$w" "$wall" "$rate" "$span" "$drate" "$ver/$DELIVERIES"
    done
    echo "  deliveries/s     $DELIVERIES / (worker start to the last delivery recorded delivered)"
    echo "  db_deliveries/s  $DELIVERIES / (first claim to the last delivered_at, the database's clock)"
    IFS='|' read -r n p50 p99 mn mx <<<"$lat"
    echo "notification 200 -> delivery arrival, 1 worker idle ($n of $SAMPLES): p50 $p50 ms, p99 $p99 ms," \
        "min $mn ms, max $mx ms (an idle slot naps 0.25 s between claims)"
} | tee "$out"
