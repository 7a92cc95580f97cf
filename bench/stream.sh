#!/usr/bin/env bash
# bench/stream.sh: /stream/start + /stream/stop pairs per second, and
# GET /stream/status polls per second with p50/p99, through nginx at 64
# connections (and 16), beside nginx serving a same-sized static file in the
# same run. Durable PostgreSQL defaults. Loopback only; bounded by DURATION.
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$MG_ROOT"
DURATION=${DURATION:-10}
export MEDIAGATE_THREADS=${MEDIAGATE_THREADS:-16} MEDIAGATE_ACCESS_LOG=off
if [ -z "${MG_BIN:-}" ]; then
    [ -f /tmp/build-bench/build.ninja ] || meson setup /tmp/build-bench --buildtype=release >/dev/null
    meson compile -C /tmp/build-bench >/dev/null
    MG_BIN=/tmp/build-bench/mediagate
fi
export MG_BIN PG_OPTS="-c shared_buffers=256MB"
source scripts/lib.sh
export NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-off}   # benchmarks measure without an access log
RUN=$(mktemp -d /tmp/mediagate-bench.XXXXXX)
export RUN
NGINX_SITE_EXTRA="location = /static/stream.json { alias $RUN/www/stream.json; default_type application/json; }"
export NGINX_SITE_EXTRA
stack_up
trap stack_down EXIT
BENCH_KEY=$("$MG_BIN" apikey create bench 2>/dev/null)
export BENCH_KEY
mkdir -p bench/results
out=bench/results/stream-$(date -u +%Y%m%dT%H%M%SZ).txt

for i in $(seq 1000); do
    curl -s -H "Authorization: Bearer $BENCH_KEY" -d type=hls "$BASE/stream/start"
    echo
done | jq -r .stream.id >"$RUN/ids.txt"
curl -s -H "Authorization: Bearer $BENCH_KEY" "$BASE/stream/status?id=$(head -1 "$RUN/ids.txt")" >"$RUN/www/stream.json"
chmod 644 "$RUN/www/stream.json"

run() { wrk -t2 -c"$1" -d"${DURATION}s" --latency -s bench/stream.lua "$BASE$2" -- "${@:3}" | grep '^BENCH'; }
wrk -t2 -c64 -d2s -s bench/stream.lua "$BASE" -- status "$RUN/ids.txt" >/dev/null
{
    echo "stream routes benchmark, $(date -u +%FT%TZ), $(nproc) cores, $MEDIAGATE_THREADS app threads"
    echo "status polls, 64 conns:  $(run 64 / status "$RUN/ids.txt")"
    echo "status polls, 16 conns:  $(run 16 / status "$RUN/ids.txt")"
    echo "nginx static same body:  $(run 64 /static/stream.json static)"
    echo "start+stop pairs, 64 conns: $(run 64 / pairs)"
} | tee "$out"
