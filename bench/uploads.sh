#!/usr/bin/env bash
# bench/uploads.sh: direct uploads, timed from the PUT's last byte to the
# 201, which mediagate sends only after the file is synced in place and its
# job SUBMITTED with the encode queued (one transaction); p50 and p99 over
# N uploads (default 50) of SIZE bytes (default 8 MiB), beside nginx's own
# dav module storing the same bytes (no sync, no database) in the same run.
# Durable PostgreSQL defaults. Loopback only; bounded by N.
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$MG_ROOT"
N=${N:-50}
SIZE=${SIZE:-8388608}
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
export RUN MEDIAGATE_UPLOADS_DIR=$RUN/upload/uploads
mkdir -p "$RUN/dav"
chown www-data:www-data "$RUN/dav"
NGINX_SITE_EXTRA="$(upload_conf) location /dav/ { root $RUN; dav_methods PUT; create_full_put_path on; client_max_body_size 1g; }"
export NGINX_SITE_EXTRA
stack_up
trap stack_down EXIT
key=$("$MG_BIN" apikey create bench 2>/dev/null)
mkdir -p bench/results
out=bench/results/uploads-$(date -u +%Y%m%dT%H%M%SZ).txt

for i in $(seq "$N"); do
    curl -sf -X POST -H "Authorization: Bearer $key" -d "name=b$i.mp4" -d "max_bytes=$SIZE" "$BASE/uploads" | jq -r .upload.url
done >"$RUN/slots.txt"
for i in $(seq "$N"); do echo "/dav/$i/b$i.mp4"; done >"$RUN/dav.txt"
{
    echo "uploads benchmark, $(date -u +%FT%TZ), $(nproc) cores, $N uploads of $SIZE bytes"
    # Alternated, so drift hits both alike.
    python3 bench/upload_client.py nginx-dav "$PORT" "$N" "$SIZE" "$RUN/dav.txt"
    python3 bench/upload_client.py mediagate-direct "$PORT" "$N" "$SIZE" "$RUN/slots.txt"
    stored=$(psql_q "SELECT count(*) FROM uploads u JOIN jobs j ON j.id = u.job_id
                      JOIN outbox o ON o.kind = 'local.encode' AND o.payload->>'job_id' = j.id
                      WHERE u.stored_at IS NOT NULL AND u.size = $SIZE AND j.status = 'SUBMITTED'")
    files=$(find "$MEDIAGATE_UPLOADS_DIR" -type f -size "${SIZE}c" | wc -l)
    echo "check: $stored of $N uploads SUBMITTED with their encode queued; $files files of $SIZE bytes in place"
} | tee "$out"
