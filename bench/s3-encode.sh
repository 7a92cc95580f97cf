#!/usr/bin/env bash
# bench/s3-encode.sh: the local encoder with its media on an S3 store (Ceph's
# RADOS Gateway, tests/lib/ceph_rgw.py, on loopback) beside the same encode
# on local disk, in one run: a 10 s 1280x720 clip through the default ladder
# (720/480/360), input read from and outputs published to the bucket, then
# the same clip from and to the media disk; the time from the task queued
# to COMPLETE, and the worker's peak RSS (VmHWM, ffmpeg not counted) for
# each. Then one encode whose outputs total about BIG_MIB MiB (default
# 2048: eight 1080-line renditions of a 16-pixel-wide noise video at the
# ladder's 4320 kb/s each), published to the store, with the worker's peak
# RSS against the outputs' size: the worker streams, so it must not grow
# with them. BIG_MIB=0 leaves that run out.
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$MG_ROOT"
BIG_MIB=${BIG_MIB:-2048}
source bench/encode_lib.sh
bench_binary
source scripts/lib.sh
export NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-off}
RUN=$(mktemp -d /tmp/mediagate-bench.XXXXXX)
export RUN MEDIAGATE_MEDIA_DIR=$RUN/media MEDIAGATE_UPLOADS_DIR=$RUN/upload/uploads
stack_up
mkdir -p "$RUN/tmp"
# The store: memstore holds every object in the OSD's memory.
python3 -c '
import signal, sys
sys.path.insert(0, "tests/lib")
import ceph_rgw
s = ceph_rgw.CephRgw(sys.argv[1], memstore_bytes=int(sys.argv[2]) << 20)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    s.start()
    print(f"endpoint {s.endpoint} {s.access_key} {s.secret_key} {s.region}", flush=True)
    signal.pause()
finally:
    s.stop()
' "$RUN" $((BIG_MIB + 1024)) >"$RUN/ceph.out" 2>&1 &
ceph=$!
mg_at_exit "kill $ceph 2>/dev/null; wait $ceph 2>/dev/null"
until grep -q '^endpoint ' "$RUN/ceph.out"; do
    mg_gone "$ceph" && { cat "$RUN/ceph.out" >&2; exit 1; }
    sleep 0.5
done
read -r _ endpoint ak sk region < <(grep '^endpoint ' "$RUN/ceph.out")
bucket=mg-bench
s3curl() { curl -sf --aws-sigv4 "aws:amz:$region:s3" --user "$ak:$sk" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"; }
s3curl -X PUT "$endpoint/$bucket" >/dev/null
s3env=(MEDIAGATE_STORAGE=s3 MEDIAGATE_STORAGE_ENDPOINT="$endpoint" MEDIAGATE_STORAGE_REGION="$region"
       MEDIAGATE_STORAGE_BUCKET=$bucket MEDIAGATE_STORAGE_ADDRESSING=path
       MEDIAGATE_STORAGE_ACCESS_KEY_ID="$ak" MEDIAGATE_STORAGE_SECRET_ACCESS_KEY="$sk"
       MEDIAGATE_STORAGE_PUBLIC_URL="$endpoint/$bucket" TMPDIR="$RUN/tmp")

ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc2=size=1280x720:rate=30" -f lavfi -i "sine" \
    -t 10 -c:v libx264 -preset fast -c:a aac -shortest "$RUN/clip.mp4"

# encode NAME PAYLOAD [ENV...]: queues one job with PAYLOAD's input, runs a
# worker with ENV until the job is done; prints "seconds peak_rss_kib bytes".
encode() {
    local name=$1 payload=$2 id w t hwm=0 st
    shift 2
    id=$(psql_q "SELECT gen_random_uuid()")
    psql_q "INSERT INTO jobs (id, backend, backend_job_id, input_file) VALUES ('$id', 'local', '$id', '$name');
            INSERT INTO outbox (kind, payload) VALUES ('local.encode', '{\"job_id\": \"$id\", $payload}')"
    t=$(date +%s.%N)
    env "$@" "$MG_BIN" worker >>"$RUN/worker-$name.log" 2>&1 &
    w=$!
    while st=$(psql_q "SELECT status FROM jobs WHERE id = '$id'"); [ "$st" != COMPLETE ] && [ "$st" != ERROR ]; do
        hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$w/status" 2>/dev/null || echo "$hwm")
        sleep 0.2
    done
    t=$(echo "$(date +%s.%N) - $t" | bc)
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$w/status" 2>/dev/null || echo "$hwm")
    kill -TERM "$w"; wait "$w" 2>/dev/null || true
    [ "$st" = COMPLETE ] || { echo "$name: $st: $(psql_q "SELECT error_message FROM jobs WHERE id = '$id'")" >&2; exit 1; }
    echo "$t $hwm $(psql_q "SELECT sum((v->>'size')::bigint) FROM jobs, jsonb_array_elements(variations) v WHERE id = '$id'")"
}

s3curl -T "$RUN/clip.mp4" "$endpoint/$bucket/uploads/bench/clip.mp4" >/dev/null
read -r s3_s s3_rss s3_bytes < <(encode s3 '"input_key": "uploads/bench/clip.mp4"' "${s3env[@]}")
read -r local_s local_rss local_bytes < <(encode local "\"input\": \"$RUN/clip.mp4\"")
big=""
if [ "$BIG_MIB" -gt 0 ]; then
    secs=$(( BIG_MIB * 1024 * 1024 * 8 / (8 * 4320 * 1000) + 1 ))
    ffmpeg -nostdin -loglevel error -f lavfi -i "nullsrc=size=16x1080:rate=25,geq=lum='random(1)*255':cb=128:cr=128" \
        -t "$secs" -c:v libx264 -preset ultrafast -qp 0 "$RUN/noise.mkv"
    read -r big_s big_rss big_bytes < <(encode big "\"input\": \"$RUN/noise.mkv\"" "${s3env[@]}" \
        MEDIAGATE_RENDITIONS=1080,1080,1080,1080,1080,1080,1080,1080 MEDIAGATE_ENCODE_TIMEOUT=7200)
    big=$(awk -v s="$big_s" -v r="$big_rss" -v b="$big_bytes" -v l="$s3_rss" -v sb="$s3_bytes" 'BEGIN {
        printf "worker peak RSS, %.0f MiB of outputs to the store: %.1f MiB (%.1f MiB for the %.1f MiB clip above), %.0f s\n",
            b / 1048576, r / 1024, l / 1024, sb / 1048576, s }')
fi
out=bench/results/s3-encode-$(date -u +%Y%m%dT%H%M%SZ).txt
mkdir -p bench/results
{
    echo "encode on the store beside local disk, $(date -u +%FT%TZ), $(nproc) cores, 10 s 1280x720 clip, ladder 720/480/360"
    awk -v a="$s3_s" -v b="$local_s" -v ra="$s3_rss" -v rb="$local_rss" -v ba="$s3_bytes" 'BEGIN {
        printf "input and outputs on the store (Ceph RGW): %.1f s, worker peak RSS %.1f MiB, %.1f MiB published\n", a, ra / 1024, ba / 1048576
        printf "input and outputs on local disk:           %.1f s, worker peak RSS %.1f MiB (store/local %.2f)\n", b, rb / 1024, a / b }'
    [ -z "$big" ] || echo "$big"
} | tee "$out"
