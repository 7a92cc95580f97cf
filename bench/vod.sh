#!/usr/bin/env bash
# bench/vod.sh: a stopped stream's recording -> VOD. ffmpeg broadcasts
# LIVE_SECONDS (default 20) of 1280x720 over RTMP to nginx-rtmp, which records
# it; then /stream/stop, and the time until the VOD job is visible and until
# it is COMPLETE, beside plain ffmpeg running the worker's ladder command on
# the same recording in the same run. Repeated ROUNDS times (default 3).
# Loopback only; bounded by LIVE_SECONDS x ROUNDS.
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$MG_ROOT"
SECONDS_LIVE=${LIVE_SECONDS:-20}
ROUNDS=${ROUNDS:-3}
source bench/encode_lib.sh
bench_binary
source scripts/lib.sh
export NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-off}   # benchmarks measure without an access log
RUN=$(mktemp -d /tmp/mediagate-bench.XXXXXX)
PORT=$(mg_free_port)
RTMP_PORT=$(mg_free_port)
export RUN PORT MEDIAGATE_MEDIA_DIR=$RUN/media MEDIAGATE_RECORDINGS_DIR=$RUN/recordings
export MEDIAGATE_RTMP_URL="rtmp://127.0.0.1:$RTMP_PORT/live" MEDIAGATE_HLS_URL="http://127.0.0.1:$PORT/hls"
NGINX_MAIN_EXTRA=$(rtmp_conf "$RTMP_PORT")
export NGINX_MAIN_EXTRA
stack_up
"$MG_BIN" worker >>"$RUN/worker.log" 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null; stack_down' EXIT
key=$("$MG_BIN" apikey create bench 2>/dev/null)
out=bench/results/vod-$(date -u +%Y%m%dT%H%M%SZ).txt
mkdir -p bench/results

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
rows=()
for r in $(seq "$ROUNDS"); do
    body=$(curl -s -H "Authorization: Bearer $key" -d type=hls "$BASE/stream/start")
    id=$(jq -r .stream.id <<<"$body")
    skey=$(jq -r .endpoint.RTMP.stream_key <<<"$body")
    ffmpeg -nostdin -hide_banner -loglevel error -re -f lavfi -i "testsrc2=size=1280x720:rate=30" \
        -f lavfi -i "sine" -t "$SECONDS_LIVE" -c:v libx264 -preset veryfast -tune zerolatency \
        -g 60 -b:v 3000k -c:a aac -f flv "$MEDIAGATE_RTMP_URL/$skey"
    until [ "$(psql_q "SELECT open_writes FROM streams WHERE id = '$id'")" = 0 ]; do sleep 0.05; done
    t=$(date +%s%N)
    job=$(curl -s -H "Authorization: Bearer $key" -d "id=$id" "$BASE/stream/stop" | jq -r .stream.vod_job_id)
    visible=$(ms "$t")
    until curl -s "$BASE/media/status?job_id=$job" | grep -q '"COMPLETE"'; do sleep 0.1; done
    complete=$(ms "$t")
    rec=$(ls "$RUN"/recordings/"$id"-*.flv)
    t=$(date +%s%N)
    plain_ladder "$rec" "$RUN/plain/$r"
    rows+=("$visible $complete $(ms "$t")")
done
{
    echo "VOD benchmark, $(date -u +%FT%TZ), $(nproc) cores, $ROUNDS x ${SECONDS_LIVE} s 1280x720 RTMP broadcast, ladder 720/480/360"
    echo "round  stop->job visible  stop->COMPLETE  plain ffmpeg on the recording  ratio"
    i=0
    for row in "${rows[@]}"; do
        i=$((i + 1))
        set -- $row
        awk -v i="$i" -v v="$1" -v c="$2" -v p="$3" \
            'BEGIN { printf "%5d  %14d ms  %11d ms  %26d ms  %5.2f\n", i, v, c, p, p / c }'
    done
} | tee "$out"
