#!/usr/bin/env bash
# bench/s3-upload.sh: a SIZE-byte upload (default 1 GiB) to a real S3 store
# (Ceph RGW, tests/lib/ceph_rgw.py, memstore sized for it) through
# mediagate's presigned URLs (POST /uploads, the PUT(s) straight to the
# store, the completion call that spends the slot with its encode), beside
# `curl --aws-sigv4` PUT of the same file, in one run, alternated ROUNDS
# times (default 1):
#   curl-sigv4     one PUT signed by curl itself (no mediagate)
#   presigned-put  one presigned PUT (MEDIAGATE_STORAGE_PART_BYTES above SIZE)
#   presigned-mpu  a multipart upload: a presigned URL per part, PUT one
#                  after another, then the completion (PART bytes a part,
#                  default 64 MiB)
# Each time is wall time from the first request to the last answer; the
# parts are split off the file before the clock starts. No byte
# passes through nginx or mediagate in the presigned runs; the check at the
# end says each object is in the bucket with SIZE bytes and each slot is
# spent with its encode queued. Loopback only; removes everything it made.
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$MG_ROOT"
SIZE=${SIZE:-1073741824}
PART=${PART:-67108864}
ROUNDS=${ROUNDS:-1}
export MEDIAGATE_THREADS=${MEDIAGATE_THREADS:-4} MEDIAGATE_ACCESS_LOG=off
if [ -z "${MG_BIN:-}" ]; then
    [ -f /tmp/build-bench/build.ninja ] || meson setup /tmp/build-bench --buildtype=release >/dev/null
    meson compile -C /tmp/build-bench >/dev/null
    MG_BIN=/tmp/build-bench/mediagate
fi
export MG_BIN
source scripts/lib.sh
export NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-off}
RUN=$(mktemp -d /tmp/mediagate-bench.XXXXXX)
export RUN
chmod 755 "$RUN"

# The store: memstore holds every object of the run, and some room.
memstore=$(( (3 * ROUNDS + 1) * SIZE + 536870912 ))
python3 -u - "$RUN" "$memstore" >"$RUN/ceph.out" 2>&1 <<'PY' &
import signal, sys
sys.path.insert(0, "tests/lib")
import ceph_rgw
s = ceph_rgw.CephRgw(sys.argv[1], memstore_bytes=int(sys.argv[2]))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    s.start()
    print(f"endpoint {s.endpoint}\naccess {s.access_key}\nsecret {s.secret_key}\nregion {s.region}", flush=True)
    signal.pause()
finally:
    s.stop()
PY
ceph_pid=$!
cleanup() {
    stack_down || true
    kill "$ceph_pid" 2>/dev/null && wait "$ceph_pid" 2>/dev/null || true
}
trap cleanup EXIT
mg_wait_for -t 300 "the Ceph store" grep -q '^region' "$RUN/ceph.out" || { cat "$RUN/ceph.out" >&2; exit 1; }
field() { awk -v k="$1" '$1 == k {print $2}' "$RUN/ceph.out"; }
endpoint=$(field endpoint) access=$(field access) secret=$(field secret) region=$(field region)
bucket=bench
# A transfer slower than 1 MiB/s for a minute is a stalled store: give up.
STALL=(--speed-limit 1048576 --speed-time 60)
sigv4() {
    curl -sS --fail-with-body "${STALL[@]}" --aws-sigv4 "aws:amz:$region:s3" --user "$access:$secret" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
sigv4 -X PUT "$endpoint/$bucket" >/dev/null

export MEDIAGATE_STORAGE=s3 MEDIAGATE_STORAGE_ENDPOINT=$endpoint MEDIAGATE_STORAGE_REGION=$region \
    MEDIAGATE_STORAGE_BUCKET=$bucket MEDIAGATE_STORAGE_ADDRESSING=path \
    MEDIAGATE_STORAGE_ACCESS_KEY_ID=$access MEDIAGATE_STORAGE_SECRET_ACCESS_KEY=$secret \
    MEDIAGATE_UPLOAD_MAX_BYTES=$((SIZE * 2)) MEDIAGATE_STORAGE_PART_BYTES=$PART
NGINX_SITE_EXTRA="$(upload_conf)"
export NGINX_SITE_EXTRA
stack_up
key=$("$MG_BIN" apikey create bench 2>/dev/null)
head -c "$SIZE" /dev/urandom >"$RUN/file"
split -b "$PART" -d -a 4 "$RUN/file" "$RUN/part."
mkdir -p bench/results
out=bench/results/s3-upload-$(date -u +%Y%m%dT%H%M%SZ).txt

# presigned RUN_NAME: POST /uploads, every PUT to the store, the completion.
# Prints the seconds taken.
presigned() {
    local t0 t1 slot up n i
    t0=$(date +%s%N)
    slot=$(curl -sS --fail-with-body -X POST -H "Authorization: Bearer $key" \
        -d "name=$1.bin" -d "size=$SIZE" "$BASE/uploads")
    up=$(jq -c .upload <<<"$slot")
    mapfile -t hdrs < <(jq -r '.headers | to_entries[] | "-H\n\(.key): \(.value)"' <<<"$up")
    n=$(jq '.parts // [] | length' <<<"$up")
    if [ "$n" -eq 0 ]; then
        curl -sS --fail-with-body "${STALL[@]}" -o /dev/null -X PUT "${hdrs[@]}" -T "$RUN/file" \
            "$(jq -r .url <<<"$up")"
    else
        # The parts' bytes were split off before the clock started (a
        # browser slices its File without a copy).
        [ "$(jq .part_size <<<"$up")" -eq "$PART" ] || { echo "part size $(jq .part_size <<<"$up")" >&2; return 1; }
        for i in $(seq 0 $((n - 1))); do
            curl -sS --fail-with-body "${STALL[@]}" -o /dev/null -X PUT "${hdrs[@]}" \
                -T "$(printf '%s/part.%04d' "$RUN" "$i")" "$(jq -r ".parts[$i].url" <<<"$up")"
        done
    fi
    curl -sS --fail-with-body -o /dev/null -X POST "$BASE$(jq -r .complete_url <<<"$up")"
    t1=$(date +%s%N)
    echo "$(( (t1 - t0) / 1000000 ))"
}

report() { printf '%-15s %8.2f s  %8.1f MiB/s\n' "$1" "$(bc -l <<<"$2/1000")" "$(bc -l <<<"$SIZE/1048576/($2/1000)")"; }
# Not in a pipeline: app_stop waits for mediagate, a child of this shell.
{
    echo "s3 upload benchmark, $(date -u +%FT%TZ), $(nproc) cores, $SIZE bytes, part $PART, Ceph RGW (memstore) on loopback"
    for r in $(seq "$ROUNDS"); do
        t0=$(date +%s%N)
        sigv4 -o /dev/null -T "$RUN/file" "$endpoint/$bucket/direct-$r.bin"
        report curl-sigv4 $(( ($(date +%s%N) - t0) / 1000000 ))
        t=$(presigned "mpu-$r")   # (a failure ends the run: set -e)
        report presigned-mpu "$t"
        app_stop TERM
        MEDIAGATE_STORAGE_PART_BYTES=$((SIZE * 2)) app_start
        t=$(presigned "put-$r")
        report presigned-put "$t"
        app_stop TERM
        app_start
    done
    objects=$(sigv4 "$endpoint/$bucket?list-type=2" | grep -o "<Size>$SIZE</Size>" | wc -l)
    spent=$(psql_q "SELECT count(*) FROM uploads u JOIN outbox o ON o.kind = 'local.encode'
                     AND o.payload->>'job_id' = u.job_id WHERE u.stored_at IS NOT NULL AND u.size = $SIZE")
    echo "check: $objects objects of $SIZE bytes in the bucket (of $((3 * ROUNDS))); $spent slots spent with their encode queued (of $((2 * ROUNDS)))"
} >"$out"
cat "$out"
