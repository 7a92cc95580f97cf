#!/usr/bin/env bash
# bench/encode_extras.sh: what the local encoder's extras cost. The same
# 10 s 1280x720 clip (with audio) uploaded with two profiles of the default
# ladder (720/480/360): "ladder" (poster, storyboard and audio-only off) and
# "extras" (poster, storyboard, audio-only on, and MP4 copies), through one
# worker, one job at a time, alternating rounds (ROUNDS, default 5) in one
# run, so that both see the same machine. Per job: the worker's time from
# its claim of the local.encode task to the task done (outbox: the ladder's
# ffmpeg run, the MP4 copy and every read-back are inside), and the CPU
# seconds its ffmpeg children used (the worker's log). Loopback only;
# bounded by ROUNDS.
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$MG_ROOT"
ROUNDS=${ROUNDS:-5}
source bench/encode_lib.sh
bench_binary
source scripts/lib.sh
bench_upload_stack
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

# encode_once PROFILE: one upload with PROFILE, encoded; prints "WALL CPU":
# the task's seconds from its claim to done, and its ffmpeg runs' CPU seconds.
encode_once() {
    local answer code job task
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
    task=$(psql_q "SELECT id FROM outbox WHERE kind = 'local.encode' AND payload->>'job_id' = '$job'")
    printf '%s %s\n' \
        "$(psql_q "SELECT round(extract(epoch FROM done_at - started_at), 2) FROM outbox WHERE id = $task")" \
        "$(awk -v t="task $task:" 'index($0, t) && /s CPU\)/ { gsub(/.*\(/, ""); s += $1 } END { printf "%.2f", s }' \
            "$RUN/worker.log")"
}
encode_once ladder >/dev/null   # warm-up: the page cache, the worker's connection
: >"$RUN/ladder.txt"
: >"$RUN/extras.txt"
for _ in $(seq "$ROUNDS"); do
    encode_once ladder >>"$RUN/ladder.txt"
    encode_once extras >>"$RUN/extras.txt"
done
# median FILE COLUMN
median() { cut -d' ' -f"$2" "$1" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
{
    echo "encode extras benchmark, $(date -u +%FT%TZ), $(nproc) cores, 10 s 1280x720 clip, ladder 720/480/360, $ROUNDS alternating rounds"
    echo "round  ladder alone: wall s, CPU s  |  with poster, storyboard, audio-only, MP4: wall s, CPU s"
    paste -d' ' "$RUN/ladder.txt" "$RUN/extras.txt" | awk '{printf "%5d  %8.2f %8.2f  |  %8.2f %8.2f\n", NR, $1, $2, $3, $4}'
    awk -v aw="$(median "$RUN/ladder.txt" 1)" -v ac="$(median "$RUN/ladder.txt" 2)" \
        -v bw="$(median "$RUN/extras.txt" 1)" -v bc="$(median "$RUN/extras.txt" 2)" 'BEGIN {
        printf "median wall: ladder alone %.2f s, with the extras %.2f s (%+.0f %%)\n", aw, bw, (bw / aw - 1) * 100
        printf "median CPU:  ladder alone %.2f s, with the extras %.2f s (%+.0f %%)\n", ac, bc, (bc / ac - 1) * 100 }'
} | tee "$out"
