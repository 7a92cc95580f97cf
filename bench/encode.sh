#!/usr/bin/env bash
# bench/encode.sh: local encoder throughput. JOBS copies of a fixed 10 s
# 1280x720 clip through the worker at the default ladder (720/480/360), with
# 1 and then 2 workers, beside plain ffmpeg running the same ladder command
# from the command line in the same run. Also the delay from an upload
# landing to its job appearing. Loopback only; bounded by JOBS.
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$MG_ROOT"
JOBS=${JOBS:-4}
source bench/encode_lib.sh
bench_binary
source scripts/lib.sh
bench_upload_stack
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; stack_down' EXIT
ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc2=size=1280x720:rate=30" -f lavfi -i "sine" \
    -t 10 -c:v libx264 -preset fast -c:a aac -shortest "$RUN/clip.mp4"
out=bench/results/encode-$(date -u +%Y%m%dT%H%M%SZ).txt
mkdir -p bench/results

plain() { plain_ladder "$RUN/clip.mp4" "$RUN/plain/$1"; }
t0=$(date +%s.%N)
for i in $(seq "$JOBS"); do plain "$i"; done
plain_s=$(echo "$(date +%s.%N) - $t0" | bc)

through_worker() { # WORKERS
    local ids=() t
    for w in $(seq "$1"); do "$MG_BIN" worker >>"$RUN/worker.log" 2>&1 & pids+=($!); done
    t=$(date +%s.%N)
    for i in $(seq "$JOBS"); do cp "$RUN/clip.mp4" "$RUN/w$1-$i.mp4"; ids+=("$("$MG_BIN" submit "$RUN/w$1-$i.mp4")"); done
    while [ "$(psql_q "SELECT count(*) FROM jobs WHERE input_file LIKE '%/w$1-%' AND status IN ('COMPLETE','ERROR')")" != "$JOBS" ]; do
        sleep 0.2
    done
    echo "$(date +%s.%N) - $t" | bc
    kill -TERM "${pids[@]}"
    wait "${pids[@]}" 2>/dev/null || true
    pids=()
}
w1=$(through_worker 1)
w2=$(through_worker 2)

# Upload landing -> job visible.
"$MG_BIN" worker >>"$RUN/worker.log" 2>&1 & pids+=($!)
sleep 0.5
key=$("$MG_BIN" apikey create bench 2>/dev/null)
lat=()
for i in 1 2 3 4 5; do
    t=$(date +%s%N)
    # (each upload is stored under its own id: its input_file comes in the answer)
    answer=$(curl -s -w '\n%{http_code}' -X PUT --data-binary "@$RUN/clip.mp4" \
        -H "Authorization: Bearer $key" "$BASE/uploads/u$i.mp4")
    code=${answer##*$'\n'}
    [ "$code" = 201 ] || { echo "upload answered $code" >&2; exit 1; }
    input=$(jq -r .upload.input_file <<<"${answer%$'\n'*}")
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/media/job_id?input_file=$input")" = 200 ]; do sleep 0.005; done
    lat+=($(( ($(date +%s%N) - t) / 1000000 )))
done
{
    echo "encoder benchmark, $(date -u +%FT%TZ), $(nproc) cores, $JOBS x 10 s 1280x720 clip, ladder 720/480/360"
    awk -v j="$JOBS" -v p="$plain_s" -v a="$w1" -v b="$w2" 'BEGIN {
        printf "plain ffmpeg (same command, one after another): %.1f s, %.2f jobs/min\n", p, j * 60 / p
        printf "mediagate worker x1:                           %.1f s, %.2f jobs/min, ratio %.2f\n", a, j * 60 / a, p / a
        printf "mediagate workers x2:                          %.1f s, %.2f jobs/min, ratio %.2f\n", b, j * 60 / b, p / b }'
    echo "upload PUT start -> job visible (ms, includes the 10 s clip upload): ${lat[*]}"
} | tee "$out"
