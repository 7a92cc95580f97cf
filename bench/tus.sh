#!/usr/bin/env bash
# bench/tus.sh: a resumable (tus) upload of SIZE bytes (default 1 GiB) in
# CHUNK-byte PATCHes (default 8 MiB) beside a single PUT of the same file
# through the same nginx, in the same run (ROUNDS rounds, default 2, the
# order alternating): throughput, and the CPU of mediagate and nginx over
# each upload; then the latency of resuming after a dropped connection
# (RESUMES cuts, default 20): from the HEAD's first byte to the resumed
# PATCH's "100 Continue", measured at the client (bench/tus_client.py).
# Durable PostgreSQL defaults, no worker (the jobs stay SUBMITTED).
# Loopback only; bounded by SIZE, ROUNDS and RESUMES; stops by itself.
# Prints the figures and keeps them in RESULTS (default bench/results).
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$MG_ROOT"
SIZE=${SIZE:-1073741824}
export ROUNDS=${ROUNDS:-2} CHUNK=${CHUNK:-8388608} RESUMES=${RESUMES:-20} RESUME_CHUNK=${RESUME_CHUNK:-8388608}
export MEDIAGATE_THREADS=${MEDIAGATE_THREADS:-16} MEDIAGATE_ACCESS_LOG=off
export MEDIAGATE_UPLOAD_MAX_BYTES=$(( SIZE > 4294967296 ? SIZE : 4294967296 ))
if [ -z "${MG_BIN:-}" ]; then
    [ -f /tmp/build-bench/build.ninja ] || meson setup /tmp/build-bench --buildtype=release >/dev/null
    meson compile -C /tmp/build-bench >/dev/null
    MG_BIN=/tmp/build-bench/mediagate
fi
export MG_BIN PG_OPTS="-c shared_buffers=256MB"
source scripts/lib.sh
export NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-off}   # benchmarks measure without an access log
RUN=$(mktemp -d /tmp/mediagate-bench.XXXXXX)
export RUN MEDIAGATE_UPLOADS_DIR=$RUN/upload/uploads
NGINX_SITE_EXTRA="$(upload_conf)"
export NGINX_SITE_EXTRA
stack_up
trap stack_down EXIT
key=$("$MG_BIN" apikey create bench 2>/dev/null)
head -c "$SIZE" /dev/urandom >"$RUN/file.bin"
RESULTS=${RESULTS:-bench/results}
mkdir -p "$RESULTS"
out=$RESULTS/tus-$(date -u +%Y%m%dT%H%M%SZ).txt
{
    echo "tus benchmark, $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
         "$SIZE bytes, tus chunks of $CHUNK bytes, $ROUNDS rounds; $RESUMES resumes of $RESUME_CHUNK-byte chunks"
    python3 bench/tus_client.py "$PORT" "$key" "$RUN/file.bin" "$(cat "$RUN/mediagate.pid")" \
        "$(cat "$RUN/nginx/nginx.pid")"
    stored=$(psql_q "SELECT count(*) FROM uploads u JOIN jobs j ON j.id = u.job_id
                      JOIN outbox o ON o.kind = 'local.encode' AND o.payload->>'job_id' = j.id
                      WHERE u.stored_at IS NOT NULL AND u.size = $SIZE AND j.status = 'SUBMITTED'")
    files=$(find "$MEDIAGATE_UPLOADS_DIR" -type f -size "${SIZE}c" | wc -l)
    echo "check: $stored of $(( 2 * ROUNDS )) uploads of $SIZE bytes SUBMITTED with their encode queued;" \
         "$files files of $SIZE bytes in place"
    [ "$stored" = $(( 2 * ROUNDS )) ] && [ "$files" = $(( 2 * ROUNDS )) ]
} | tee "$out"
