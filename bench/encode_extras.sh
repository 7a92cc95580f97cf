#!/usr/bin/env bash
# bench/encode_extras.sh: what the local encoder's extras cost. The same
# 10 s 1280x720 clip (with audio) uploaded with two profiles of the default
# ladder (720/480/360): "ladder" (poster, storyboard and audio-only off) and
# "extras" (poster, storyboard, audio-only on, and MP4 copies), through one
# worker, one job at a time, alternating rounds (ROUNDS, default 3) in one
# run, so that both see the same machine. Each job's time is the worker's
# own, from its claim of the local.encode task to the task done (outbox),
# which the ladder's and the extras' ffmpeg runs and every read-back are
# inside. Loopback only; bounded by ROUNDS.
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$MG_ROOT"
ROUNDS=${ROUNDS:-3}
source bench/encode_lib.sh
bench_binary
source scripts/lib.sh
export NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-off}   # benchmarks measure without an access log
RUN=$(mktemp -d /tmp/mediagate-bench.XXXXXX)
export RUN MEDIAGATE_MEDIA_DIR=$RUN/media MEDIAGATE_UPLOADS_DIR=$RUN/upload/uploads
NGINX_SITE_EXTRA=$(upload_conf) || exit 1
export NGINX_SITE_EXTRA
stack_up
pid=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; stack_down' EXIT
ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc2=size=1280x720:rate=30" -f lavfi -i "sine" \
    -t 10 -c:v libx264 -preset fast -c:a aac -shortest "$RUN/clip.mp4"
out=bench/results/encode-extras-$(date -u +%Y%m%dT%H%M%SZ).txt
mkdir -p bench/results

ladder='"renditions": [{"height": 720}, {"height": 480}, {"height": 360}]'
echo "{$ladder, \"poster\": false, \"storyboard\": false, \"audio_only\": false}" >"$RUN/ladder.json"
echo "{$ladder, \"packaging\": [\"hls\", \"mp4\"]}" >"$RUN/extras.json"
for p in ladder extras; do "$MG_BIN" profiles add "$p" --encoder local "$RUN/$p.json" >/dev/null; done
key=$("$MG_BIN" apikey create bench 2>/dev/null)
"$MG_BIN" worker >>"$RUN/worker.log" 2>&1 &
pid=$!

# encode_once PROFILE: one upload with PROFILE, encoded; prints the task's
# seconds from its claim to done (the worker's clock in the database).
encode_once() {
    local answer code job
    answer=$(curl -s -w '\n%{http_code}' -X PUT --data-binary "@$RUN/clip.mp4" \
        -H "Authorization: Bearer $key" "$BASE/uploads/in.mp4?profile=$1")
    code=${answer##*$'\n'}
    [ "$code" = 201 ] || { echo "upload answered $code" >&2; exit 1; }
    job=$(jq -r .job_id <<<"${answer%$'\n'*}")
    until [ "$(psql_q "SELECT status IN ('COMPLETE','ERROR') FROM jobs WHERE id = '$job'")" = t ]; do
        sleep 0.2
    done
    [ "$(psql_q "SELECT status FROM jobs WHERE id = '$job'")" = COMPLETE ] || {
        echo "job $job: $(psql_q "SELECT error_message FROM jobs WHERE id = '$job'")" >&2; exit 1; }
    psql_q "SELECT extract(epoch FROM done_at - started_at) FROM outbox
             WHERE kind = 'local.encode' AND payload->>'job_id' = '$job'"
}
encode_once ladder >/dev/null   # warm-up: the page cache, the worker's connection
a=() b=()
for r in $(seq "$ROUNDS"); do
    a+=("$(encode_once ladder)")
    b+=("$(encode_once extras)")
done
{
    echo "encode extras benchmark, $(date -u +%FT%TZ), $(nproc) cores, 10 s 1280x720 clip, ladder 720/480/360, $ROUNDS alternating rounds"
    echo "ladder alone (s):                               ${a[*]}"
    echo "ladder + poster, storyboard, audio-only, MP4 (s): ${b[*]}"
    printf '%s\n' "${a[@]}" | sort -n | awk '{v[NR] = $1} END {printf "ladder alone median: %.2f s\n", v[int((NR + 1) / 2)]}'
    printf '%s\n' "${b[@]}" | sort -n | awk '{v[NR] = $1} END {printf "with the extras median: %.2f s\n", v[int((NR + 1) / 2)]}'
} | tee "$out"
