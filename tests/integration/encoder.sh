#!/usr/bin/env bash
# The local encoder through real PostgreSQL, nginx and ffmpeg: submit ->
# progress strictly between 0 and 100 -> COMPLETE with the right duration and
# size -> the master playlist, fetched through nginx, read by ffprobe; a
# corrupt input -> ERROR with ffmpeg's reason; kill -9 of the worker
# mid-encode -> encoded again after the lease, no duplicate outputs; two
# workers and ten jobs -> each encoded exactly once.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
RUN=$(mktemp -d /tmp/mediagate-test.XXXXXX)
export RUN MEDIAGATE_MEDIA_DIR=$RUN/media MEDIAGATE_MEDIA_URL=/media-files MEDIAGATE_LEASE_SECONDS=3
export MEDIAGATE_THREADS=2 MEDIAGATE_ENCODE_NICE=0
export MEDIAGATE_UPLOADS_DIR=$RUN/upload/uploads
export MEDIAGATE_ALLOWED_ORIGINS='https://app\.example\.com'
export NGINX_SITE_EXTRA="$(media_conf) $(upload_conf)"
stack_up || exit 1
workers=()
trap 'kill -9 "${workers[@]}" 2>/dev/null; stack_down' EXIT
start_worker() { "$MG_BIN" worker >>"$RUN/worker.log" 2>&1 & workers+=($!); }
status() { curl -s "$BASE/media/status?job_id=$1"; }
clip() { # NAME SECONDS SIZE
    ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc=size=$3:rate=25" -f lavfi -i "sine=frequency=440" \
        -t "$2" -c:v libx264 -preset ultrafast -c:a aac -shortest "$RUN/$1"
}
clip a.mp4 10 1280x720

# --- upload by HTTP PUT -> job -> progress -> COMPLETE -> playable -----------------------------
key=$("$MG_BIN" apikey create uploader 2>/dev/null)
start_worker
req -X PUT -H "Authorization: Bearer $key" --data-binary "@$RUN/a.mp4" "$BASE/uploads/a.mp4"
expect_status 201
id=""
for _ in $(seq 100); do
    req "$BASE/media/job_id?input_file=uploads/a.mp4"
    [ "$STATUS" = 200 ] && { id=$(jq -r .job_id <<<"$BODY"); break; }
    sleep 0.05
done
check "/media/job_id finds the uploaded file's job" test -n "$id"
# mediagate submit makes the same kind of job from a local file.
sid=$("$MG_BIN" submit "$RUN/a.mp4")
req "$BASE/media/job_id?input_file=$RUN/a.mp4"
expect_body "{\"success\":true,\"job_id\":\"$sid\"}"
seen_mid=""
for _ in $(seq 600); do
    s=$(status "$id")
    p=$(jq -r .progress_rate <<<"$s")
    [ "$p" -gt 0 ] && [ "$p" -lt 100 ] && seen_mid="$seen_mid $p"
    grep -q -E '"(COMPLETE|ERROR)"' <<<"$s" && break
    sleep 0.1
done
check "progress seen strictly between 0 and 100 (${seen_mid:- none})" test -n "$seen_mid"
check "progress only rose" bash -c "[ \"$(tr ' ' '\n' <<<"$seen_mid" | sed '/^$/d' | sort -n | tr '\n' ' ')\" = \"$(tr ' ' '\n' <<<"$seen_mid" | sed '/^$/d' | tr '\n' ' ')\" ]"
req "$BASE/media/status?job_id=$id"
expect_json '[.job_status, .progress_rate, .width_px, .height_px, .output_path, .playlists]' "[\"COMPLETE\",100,1280,720,\"/media-files/$id/\",{\".m3u8\":\"master.m3u8\"}]"
d=$(jq .duration_ms <<<"$BODY")
check "duration_ms is 10 s ($d)" test "$d" -ge 9900 -a "$d" -le 10100
expect_json '[.variations[] | [.format, .width, .height]]' '[["hls",1280,720],["hls",854,480],["hls",640,360]]'
check "every rendition has a size" test "$(jq '[.variations[].size > 10000] | all' <<<"$BODY")" = true
check "the master playlist, through nginx, is read by ffprobe" \
    bash -c "ffprobe -v error -show_entries stream=height -of csv=p=0 '$BASE/media-files/$id/master.m3u8' >/dev/null"
# nginx/mediagate-media.conf: public, playable from any page, typed.
req -H 'Origin: https://player.example.net' "$BASE/media-files/$id/master.m3u8"
expect_status 200
expect_header Access-Control-Allow-Origin '*'
expect_header Content-Type 'application/vnd.apple.mpegurl'
expect_header_absent Access-Control-Allow-Credentials
mkdir -p "$RUN/media/.inprogress.tmp" && echo '#EXTM3U' >"$RUN/media/.inprogress.tmp/master.m3u8"
req "$BASE/media-files/.inprogress.tmp/master.m3u8"
expect_status 404
rm -rf "$RUN/media/.inprogress.tmp"

# --- a corrupt upload ---------------------------------------------------------------------
head -c 200000 /dev/urandom >"$RUN/corrupt.mp4"
bad=$("$MG_BIN" submit "$RUN/corrupt.mp4")
for _ in $(seq 100); do grep -q '"ERROR"' <<<"$(status "$bad")" && break; sleep 0.1; done
req "$BASE/media/status?job_id=$bad"
expect_json '[.job_status, .error_code]' '["ERROR",1]'
check "the error names ffmpeg's reason: $(jq -r .error_message <<<"$BODY")" \
    grep -qi 'invalid data' <<<"$(jq -r .error_message <<<"$BODY")"
check "and no server path" bash -c "! grep -q -e '$RUN' -e / <<<'$(jq -r .error_message <<<"$BODY")'"
check "a bad input is not retried" test "$(psql_q "SELECT attempts || (failed_at IS NOT NULL)::text FROM outbox WHERE payload->>'job_id' = '$bad'")" = 1true

# --- kill -9 of the worker mid-encode ------------------------------------------------------
clip long.mp4 30 1280x720
k=$("$MG_BIN" submit "$RUN/long.mp4")
for _ in $(seq 300); do
    [ "$(jq -r .progress_rate <<<"$(status "$k")")" -gt 0 ] && break
    sleep 0.1
done
kill -9 "${workers[0]}"
for _ in $(seq 40); do pgrep -f "ffmpeg.*$RUN/long.mp4" >/dev/null || break; sleep 0.05; done
check "its ffmpeg died with it" bash -c "! pgrep -f '[f]fmpeg.*$RUN/long.mp4'"
check "the killed attempt left its lease behind" test "$(psql_q "SELECT locked_by IS NOT NULL FROM outbox WHERE payload->>'job_id' = '$k'")" = t
start_worker
for _ in $(seq 900); do grep -q -E '"(COMPLETE|ERROR)"' <<<"$(status "$k")" && break; sleep 0.1; done
req "$BASE/media/status?job_id=$k"
expect_json .job_status '"COMPLETE"'
check "encoded again after the lease: 2 attempts" test "$(psql_q "SELECT attempts FROM outbox WHERE payload->>'job_id' = '$k'")" = 2
check "no leftover partial outputs" test -z "$(ls -A "$RUN/media" | grep '^\.')"
check "one set of outputs" test "$(find "$RUN/media/$k" -name master.m3u8 | wc -l)" = 1
check "no duplicate segments" test "$(ls "$RUN/media/$k/v0" | grep -c '\.ts$')" = "$(grep -c '\.ts$' "$RUN/media/$k/v0/index.m3u8")"

# --- two workers, ten jobs ------------------------------------------------------------------
start_worker
clip short.mp4 2 320x240
ids=()
for i in $(seq 10); do cp "$RUN/short.mp4" "$RUN/s$i.mp4"; ids+=("$("$MG_BIN" submit "$RUN/s$i.mp4")"); done
for _ in $(seq 600); do
    [ "$(psql_q "SELECT count(*) FROM outbox WHERE done_at IS NOT NULL AND payload->>'input' LIKE '%/s%.mp4'")" = 10 ] && break
    sleep 0.1
done
check "all ten jobs COMPLETE" test "$(psql_q "SELECT count(*) FROM jobs WHERE backend = 'local' AND input_file LIKE '%/s%.mp4' AND status = 'COMPLETE'")" = 10
check "each encoded exactly once" test "$(psql_q "SELECT count(*) FROM outbox WHERE payload->>'input' LIKE '%/s%.mp4' AND attempts = 1")" = 10
by=$(for t in $(psql_q "SELECT id FROM outbox WHERE payload->>'input' LIKE '%/s%.mp4'"); do
    grep -o "task $t: local.encode (attempt [0-9]*) by [^ ]*" "$RUN/worker.log" | awk '{print $NF}'
done | sort -u | wc -l)
check "both workers took part in the ten jobs ($by)" test "$by" = 2
check "each task logged done once" test "$(grep -c ': done$' "$RUN/worker.log")" = "$(grep ': done$' "$RUN/worker.log" | awk '{print $4}' | sort -u | wc -l)"

# --- an authenticated upload becomes a job, without polling ------------------------------------
req -X PUT --data-binary "@$RUN/short.mp4" "$BASE/uploads/up1.mp4"
expect_status 401
req -X PUT -H "Authorization: Bearer $key" --data-binary "@$RUN/short.mp4" "$BASE/uploads/../x.mp4"
check "a path outside uploads is refused ($STATUS)" test "$STATUS" != 201
# CORS: browsers of allowed origins may upload; others are refused even
# when they skip the preflight.
req -X OPTIONS -H 'Origin: https://app.example.com' -H 'Access-Control-Request-Method: PUT' \
    -H 'Access-Control-Request-Headers: authorization,content-type' "$BASE/uploads/c1.mp4"
expect_status 204
expect_header Access-Control-Allow-Origin 'https://app.example.com'
expect_header Access-Control-Allow-Methods 'PUT, OPTIONS'
expect_header Access-Control-Allow-Headers 'Authorization, Content-Type, If-None-Match'
req -X OPTIONS -H 'Origin: https://app.example.com.evil.net' -H 'Access-Control-Request-Method: PUT' \
    "$BASE/uploads/c1.mp4"
expect_status 422
expect_header_absent Access-Control-Allow-Origin
req -X PUT -H 'Origin: https://evil.example.net' -H "Authorization: Bearer $key" \
    --data-binary "@$RUN/short.mp4" "$BASE/uploads/c1.mp4"
expect_status 403
expect_header_absent Access-Control-Allow-Origin
expect_json .success false
check "a PUT from a disallowed origin stores nothing" test ! -e "$RUN/upload/uploads/c1.mp4"
req -X PUT -H 'Origin: https://app.example.com' --data-binary "@$RUN/short.mp4" "$BASE/uploads/c1.mp4"
expect_status 401
expect_header Access-Control-Allow-Origin 'https://app.example.com'
expect_body '{"success":false,"message":"Authentication required: Authorization: Bearer <API key>."}'
# A page of the site itself (Origin = the site's own) is not a CORS request.
req -X PUT -H "Origin: $BASE" -H "Authorization: Bearer $key" --data-binary "@$RUN/short.mp4" \
    "$BASE/uploads/same-origin.mp4"
expect_status 201
expect_header_absent Access-Control-Allow-Origin
t0=$(date +%s%N)
req -X PUT -H 'Origin: https://app.example.com' -H "Authorization: Bearer $key" \
    --data-binary "@$RUN/short.mp4" "$BASE/uploads/up1.mp4"
expect_status 201
expect_header Access-Control-Allow-Origin 'https://app.example.com'
expect_header Vary 'Origin'
job=""
for _ in $(seq 100); do
    req "$BASE/media/job_id?input_file=uploads/up1.mp4"
    [ "$STATUS" = 200 ] && { job=$(jq -r .job_id <<<"$BODY"); break; }
    sleep 0.02
done
landing_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "upload landed -> job visible: ${landing_ms} ms"
check "the upload became a job ($landing_ms ms)" test -n "$job"
for _ in $(seq 300); do grep -q '"COMPLETE"' <<<"$(status "$job")" && break; sleep 0.1; done
req "$BASE/media/status?job_id=$job"
expect_json .job_status '"COMPLETE"'
check "one job per upload, though two workers watch" \
    test "$(psql_q "SELECT count(*) FROM jobs WHERE input_file = 'uploads/up1.mp4'")" = 1

# --- SIGTERM hands back and exits ------------------------------------------------------------
kill -TERM "${workers[@]:1}"
t0=$(date +%s)
wait "${workers[@]:1}"
check "workers exit on SIGTERM within 5 s" test $(( $(date +%s) - t0 )) -le 5

# --- SIGTERM mid-encode hands the task back; a time limit ends in ERROR ---------------------
h=$("$MG_BIN" submit "$RUN/long.mp4")
MEDIAGATE_ENCODE_TIMEOUT=5 "$MG_BIN" worker >>"$RUN/worker.log" 2>&1 &
w=$!
for _ in $(seq 300); do [ "$(jq -r .progress_rate <<<"$(status "$h")")" -gt 0 ] && break; sleep 0.1; done
kill -TERM "$w"
wait "$w"
check "a running task is handed back on SIGTERM" \
    test "$(psql_q "SELECT (locked_by IS NULL)::text || attempts || (done_at IS NULL)::text FROM outbox WHERE payload->>'job_id' = '$h'")" = true0true
MEDIAGATE_ENCODE_TIMEOUT=5 "$MG_BIN" worker >>"$RUN/worker.log" 2>&1 &
workers+=($!)
for _ in $(seq 200); do grep -q '"ERROR"' <<<"$(status "$h")" && break; sleep 0.1; done
req "$BASE/media/status?job_id=$h"
expect_json '[.job_status, .error_code, .error_message]' '["ERROR",4,"the encode ran past its 5 s limit"]'
check "no partial outputs after the time limit" test -z "$(ls -A "$RUN/media" | grep '^\.')"
finish
