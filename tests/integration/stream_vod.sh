#!/usr/bin/env bash
# A stopped stream's recording becomes a VOD job for the local encoder, end
# to end with real nginx-rtmp recording, ffmpeg broadcasting (RTMP and HTTP
# PUT), the worker encoding, and the result played back through nginx:
# two RTMP sessions -> one VOD of both; a publisher still live at stop ->
# the VOD waits for its recording to close; PUT segments -> VOD; nothing
# broadcast -> no job; callbacks in either order -> exactly one job; the
# worker down at stop -> the job waits and is done later; record_done lost
# -> the settle task makes the job from the recording on disk.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
command -v ffmpeg >/dev/null || { echo "ffmpeg is not installed (scripts/deps installs it)"; exit 1; }

mg_suite || exit 1
PORT=$(mg_free_port)
RTMP_PORT=$(mg_free_port)
export RUN PORT MEDIAGATE_THREADS=4 MEDIAGATE_LEASE_SECONDS=5 MEDIAGATE_ENCODE_NICE=0
export MEDIAGATE_RTMP_URL="rtmp://127.0.0.1:$RTMP_PORT/live" MEDIAGATE_HLS_URL="http://127.0.0.1:$PORT/hls"
export MEDIAGATE_UPLOAD_URL="http://127.0.0.1:$PORT/live"
export MEDIAGATE_MEDIA_DIR=$RUN/media MEDIAGATE_MEDIA_URL=/media-files
export MEDIAGATE_RECORDINGS_DIR=$RUN/recordings MEDIAGATE_LIVE_DIR=$RUN/upload/live
NGINX_MAIN_EXTRA=$(rtmp_conf "$RTMP_PORT")
NGINX_SITE_EXTRA="$(media_conf) $(upload_conf)"
export NGINX_MAIN_EXTRA NGINX_SITE_EXTRA
stack_up || exit 1
# The worker's temporary files (the PUT segments' concatf list) go here.
mkdir -p "$RUN/tmp"
export TMPDIR=$RUN/tmp
"$MG_BIN" worker >>"$RUN/worker.log" 2>&1 &
worker=$!

key=$(mg_apikey caster)
A=(-H "Authorization: Bearer $key")
broadcast() { # STREAM_KEY SECONDS
    ffmpeg -nostdin -hide_banner -loglevel error -re -f lavfi -i "testsrc=size=320x240:rate=25" \
        -f lavfi -i "sine=frequency=440" -c:v libx264 -preset ultrafast -tune zerolatency -g 25 \
        -c:a aac -t "$2" -f flv "$MEDIAGATE_RTMP_URL/$1" >>"$RUN/ff.log" 2>&1
}
start_stream() { # NAME -> sets sid, skey
    req -X POST "${A[@]}" -d type=hls -d "name=$1" "$BASE/stream/start"
    sid=$(jq -r .stream.id <<<"$BODY")
    skey=$(jq -r .endpoint.RTMP.stream_key <<<"$BODY")
}
stream_field() { # ID FIELD
    curl -s "${A[@]}" "$BASE/stream/status?id=$1" | jq -r ".stream.$2 // empty"
}
# The waits' limits are caps against a hang, not measures: a loaded machine
# is slower at everything.
status_is() { [ "$(stream_field "$1" status)" = "$2" ]; } # ID STATUS
wait_status() { mg_wait_for "stream $1 $2" status_is "$@"; } # ID STATUS
finished() { # JOB_ID -> BODY holds its /media/status
    req "$BASE/media/status?job_id=$1"
    grep -Eq '"job_status":"(COMPLETE|ERROR)"' <<<"$BODY"
}
wait_complete() { mg_wait_for -t 600 "job $1 to end" finished "$1"; } # JOB_ID
# vod_of ID: stream ID has a VOD job, in $vod.
vod_of() { vod=$(stream_field "$1" vod_job_id); [ -n "$vod" ]; }
near() { # VALUE WANT TOLERANCE
    awk -v v="$1" -v w="$2" -v t="$3" 'BEGIN { exit !(v >= w - t && v <= w + t) }'
}

# --- a refused second publisher leaves the live one LIVE ------------------------------------
start_stream refused-second
s0=$sid
# (Long enough to outlast the refused ones on a loaded machine; stopped below.)
broadcast "$skey" 120 &
first=$!
wait_status "$s0" LIVE
check "the first publisher is LIVE" test "$(stream_field "$s0" status)" = LIVE
broadcast "${skey%%key=*}key=$(printf '0%.0s' $(seq 64))" 1   # a wrong key: refused
broadcast "$skey" 1                                             # the same name again: refused
# Both ended; what must not follow (a callback of theirs closing the live
# session) has no event of its own to wait for: a grace, not a wait.
sleep 0.5
check "after two refused publishers the stream is still LIVE" test "$(stream_field "$s0" status)" = LIVE
check "and its one accepted session still counts as open" \
    test "$(psql_q "SELECT open_writes FROM streams WHERE id = '$s0'")" = 1
kill -INT "$first"
wait "$first"
wait_status "$s0" IDLE
check "the accepted session's end makes it IDLE" test "$(stream_field "$s0" status)" = IDLE
req -X POST "${A[@]}" -d "id=$s0" "$BASE/stream/stop"
expect_status 200

# --- two RTMP sessions, stopped while idle -> one VOD of both -------------------------------
start_stream two-sessions
s1=$sid
broadcast "$skey" 3
wait_status "$s1" IDLE
broadcast "$skey" 2
recordings_are() { [ "$(psql_q "SELECT cardinality(recordings) FROM streams WHERE id = '$1'")" = "$2" ]; }
check "nginx-rtmp reported both recordings" mg_wait_for "both recordings" recordings_are "$s1" 2
check "the recordings are named by the stream id, not the key" \
    test "$(ls "$RUN/recordings" | grep -c "^$s1-.*\.flv$")" = 2
t0=$(date +%s%N)
req -X POST "${A[@]}" -d "id=$s1" "$BASE/stream/stop"
expect_status 200
expect_json .stream.status '"STOPPED"'
vod1=$(jq -r '.stream.vod_job_id // empty' <<<"$BODY")
check "the stop answers the VOD job id" test -n "$vod1"
req -X POST "${A[@]}" -d "id=$s1" "$BASE/stream/stop"
expect_json .stream.vod_job_id "\"$vod1\""
check "a second stop makes no second job" \
    test "$(psql_q "SELECT count(*) FROM jobs WHERE backend_job_id = 'stream:$s1'"),$(psql_q "SELECT count(*) FROM outbox WHERE kind = 'local.encode' AND payload->>'stream_id' = '$s1'")" = 1,1
req "$BASE/media/job_id?input_file=streams/$s1"
expect_body "{\"success\":true,\"job_id\":\"$vod1\"}"
check "the VOD job ends COMPLETE" wait_complete "$vod1"
echo "stop -> VOD of 5 s COMPLETE: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
expect_json .job_status '"COMPLETE"'
dur=$(jq -r .duration_ms <<<"$BODY")
echo "two sessions (3 s + 2 s): VOD duration $dur ms"
check "its duration is both sessions together, about 5 s ($dur ms)" near "$dur" 5000 800
master=$(jq -r '.output_path + .playlists[".m3u8"]' <<<"$BODY")
probe=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "http://127.0.0.1:$PORT$master" 2>&1)
check "the master playlist, through nginx, plays about 5 s ($probe)" near "${probe:-0}" 5 0.9

# --- a publisher still live at stop: the VOD waits for its recording --------------------------
start_stream live-at-stop
s2=$sid
broadcast "$skey" 120 &
ff=$!
check "status LIVE while ffmpeg publishes" wait_status "$s2" LIVE
# Something recorded before the stop (a recording of some 10 kB).
recorded() { [ "$(cat "$RUN"/recordings/"$s2"-*.flv 2>/dev/null | wc -c)" -gt 10000 ]; }
mg_wait_for "a recording of $s2" recorded
req -X POST "${A[@]}" -d "id=$s2" "$BASE/stream/stop"
expect_json .stream.status '"STOPPED"'
check "no VOD yet: the recording is still being written" \
    test "$(jq -r '.stream.vod_job_id // "none"' <<<"$BODY")" = none
vod=""
check "the VOD job appears once nginx-rtmp closes the cut publisher's recording" mg_wait_for "a VOD job" vod_of "$s2"
vod2=$vod
wait "$ff" 2>/dev/null
check "the VOD job ends COMPLETE" wait_complete "$vod2"
expect_json .job_status '"COMPLETE"'
dur=$(jq -r .duration_ms <<<"$BODY")
# What was broadcast until the cut is the recording nginx-rtmp closed: the
# VOD is that much (a loaded machine publishes more or less of it before
# the cut, so no figure in seconds).
rec2=$(for f in "$RUN"/recordings/"$s2"-*.flv; do ffprobe -v error -show_entries format=duration -of csv=p=0 "$f"; done |
    awk '{ s += $1 } END { printf "%d", s * 1000 }')
echo "live at stop, cut by on_update: VOD duration $dur ms, recorded $rec2 ms"
check "its duration is the recording until the cut ($dur ms, recorded $rec2 ms)" near "$dur" "$rec2" 800
check "... which the cut ended before the broadcast's 120 s ($rec2 ms)" test "$rec2" -lt 119000

# --- HTTP PUT ingest: the uploaded segments become the VOD ------------------------------------
start_stream put
s3=$sid
purl=$(jq -r .endpoint.HTTP.url <<<"$BODY")
pauth=$(jq -r .endpoint.HTTP.headers.Authorization <<<"$BODY")
ffmpeg -nostdin -hide_banner -loglevel error -re -f lavfi -i "testsrc=size=320x240:rate=25" \
    -f lavfi -i "sine=frequency=300" -c:v libx264 -preset ultrafast -g 25 -c:a aac -t 4 \
    -f hls -hls_time 1 -method PUT -headers "Authorization: $pauth"$'\r\n' "${purl}index.m3u8" \
    >>"$RUN/ff.log" 2>&1
check "ffmpeg uploaded HLS by PUT" test "$(ls "$RUN/upload/live/$s3" | grep -c '\.ts$')" -ge 3
# The worker is down when the stream stops: the job and its task are
# committed with the stop, and a worker started later does the work.
kill -9 "$worker"
wait "$worker" 2>/dev/null
req -X POST "${A[@]}" -d "id=$s3" "$BASE/stream/stop"
vod3=$(jq -r '.stream.vod_job_id // empty' <<<"$BODY")
check "the stop answers the VOD job id" test -n "$vod3"
check "with no worker, the job waits SUBMITTED and its task is queued" \
    test "$(psql_q "SELECT j.status || ',' || (o.done_at IS NULL) FROM jobs j JOIN outbox o ON o.payload->>'job_id' = j.id WHERE j.id = '$vod3'")" = SUBMITTED,true
"$MG_BIN" worker >>"$RUN/worker.log" 2>&1 &
worker=$!
check "the VOD job ends COMPLETE" wait_complete "$vod3"
expect_json .job_status '"COMPLETE"'
dur=$(jq -r .duration_ms <<<"$BODY")
echo "PUT ingest (4 s): VOD duration $dur ms"
check "its duration is the uploaded 4 s ($dur ms)" near "$dur" 4000 800
vod0=$(psql_q "SELECT id FROM jobs WHERE backend_job_id = 'stream:$s0'")   # the refused-second stream's VOD
check "the segment list was removed, and no copy of the segments made" \
    test -z "$(ls -A "$RUN/tmp")$(ls -A "$RUN/media" | grep -v "^$vod1$\|^$vod2$\|^$vod3$\|^${vod0:-none}$")"

# --- nothing broadcast: no job ----------------------------------------------------------------
start_stream silent
req -X POST "${A[@]}" -d "id=$sid" "$BASE/stream/stop"
expect_json '.stream | has("vod_job_id")' false
check "no job for a stream that recorded nothing" \
    test "$(psql_q "SELECT count(*) FROM jobs WHERE backend_job_id = 'stream:$sid'")" = 0

# --- callbacks in the other order: stop while publishing, record_done, then publish_done -------
start_stream forged-order
s4=$sid
cb() { curl -s -o /dev/null -w '%{http_code}' --data "app=live&$1" "$BASE/notifications/rtmp"; }
check "publish accepted" test "$(cb "call=publish&name=$s4&${skey#*\?}")" = 200
req -X POST "${A[@]}" -d "id=$s4" "$BASE/stream/stop"
check "stopped while publishing: no VOD yet" \
    test "$(jq -r '.stream.vod_job_id // "none"' <<<"$BODY")" = none
check "a recording path outside MEDIAGATE_RECORDINGS_DIR is refused" \
    test "$(cb "call=record_done&name=$s4&path=/etc/passwd")" = 400
check "... and so is one of another stream" \
    test "$(cb "call=record_done&name=$s4&path=$RUN/recordings/$s1-1.flv")" = 400
check "... and a traversal" \
    test "$(cb "call=record_done&name=$s4&path=$RUN/recordings/$s4/../../x.flv")" = 400
check "a refused record_done changes nothing" \
    test "$(psql_q "SELECT cardinality(recordings) || ',' || open_writes FROM streams WHERE id = '$s4'")" = 0,1
cp "$(ls "$RUN"/recordings/"$s1"-*.flv | head -n 1)" "$RUN/recordings/$s4-1.flv"
check "record_done accepted" test "$(cb "call=record_done&name=$s4&path=$RUN/recordings/$s4-1.flv")" = 200
vod4=$(stream_field "$s4" vod_job_id)
check "record_done after stop makes the VOD job" test -n "$vod4"
check "publish_done afterwards is accepted" test "$(cb "call=publish_done&name=$s4")" = 200
check "record_done again (a retry) is accepted" \
    test "$(cb "call=record_done&name=$s4&path=$RUN/recordings/$s4-1.flv")" = 200
check "still exactly one job and one task for the stream" \
    test "$(psql_q "SELECT count(*) FROM jobs WHERE backend_job_id = 'stream:$s4'"),$(psql_q "SELECT count(*) FROM outbox WHERE kind = 'local.encode' AND payload->>'stream_id' = '$s4'"),$(psql_q "SELECT cardinality(recordings) FROM streams WHERE id = '$s4'")" = 1,1,1
check "that VOD job ends COMPLETE" wait_complete "$vod4"
expect_json .job_status '"COMPLETE"'

# --- two publishes' callbacks interleaved: the first's record_done after the second's publish --
start_stream interleaved
s7=$sid
cb "call=publish&name=$s7&${skey#*\?}" >/dev/null
cb "call=publish_done&name=$s7" >/dev/null
cb "call=publish&name=$s7&${skey#*\?}" >/dev/null
cp "$(ls "$RUN"/recordings/"$s1"-*.flv | head -n 1)" "$RUN/recordings/$s7-1.flv"
cb "call=record_done&name=$s7&path=$RUN/recordings/$s7-1.flv" >/dev/null
req -X POST "${A[@]}" -d "id=$s7" "$BASE/stream/stop"
check "stopped during the second publish: no VOD while it is written" \
    test "$(jq -r '.stream.vod_job_id // "none"' <<<"$BODY")" = none
cp "$(ls "$RUN"/recordings/"$s1"-*.flv | tail -n 1)" "$RUN/recordings/$s7-2.flv"
cb "call=publish_done&name=$s7" >/dev/null
check "no VOD on publish_done: the recording closes later" \
    test "$(psql_q "SELECT coalesce(vod_job_id, 'none') || ',' || open_writes FROM streams WHERE id = '$s7'")" = none,1
cb "call=record_done&name=$s7&path=$RUN/recordings/$s7-2.flv" >/dev/null
vod7=$(stream_field "$s7" vod_job_id)
check "the second record_done makes the VOD job" test -n "$vod7"
check "which ends COMPLETE with both recordings (about 5 s)" wait_complete "$vod7"
check "... $(jq -r .duration_ms <<<"$BODY") ms" near "$(jq -r '.duration_ms // 0' <<<"$BODY")" 5000 800

# --- an id in capitals is not a stream id (recordings are named by the id as issued) ---------------
start_stream capitals
check "publish to the id in capitals is refused" \
    test "$(cb "call=publish&name=${sid^^}&${skey#*\?}")" = 403
check "... and as issued accepted" test "$(cb "call=publish&name=$sid&${skey#*\?}")" = 200

# --- record_done lost (the database down when it came): the settle task makes the VOD ---------
start_stream lost-callback
s6=$sid
cb "call=publish&name=$s6&${skey#*\?}" >/dev/null
cb "call=publish_done&name=$s6" >/dev/null
cp "$(ls "$RUN"/recordings/"$s1"-*.flv | head -n 1)" "$RUN/recordings/$s6-1.flv"
pg_stop fast
check "record_done while the database is down gets a 5xx" \
    grep -q '^5' <<<"$(cb "call=record_done&name=$s6&path=$RUN/recordings/$s6-1.flv")"
pg_resume
answers_422() { req "$BASE/media/status?job_id=x"; [ "$STATUS" = 422 ]; }
mg_wait_for "the app to answer again" answers_422
req -X POST "${A[@]}" -d "id=$s6" "$BASE/stream/stop"
expect_status 200
check "no VOD yet: the stream still looks written to" \
    test "$(jq -r '.stream.vod_job_id // "none"' <<<"$BODY")" = none
# 30 s after the stop that queued it (its transaction's time), not after now.
delay=$(psql_q "SELECT round(extract(epoch FROM run_after - created_at)) FROM outbox WHERE kind = 'stream.settle' AND payload->>'stream_id' = '$s6'")
check "a settle task is queued 30 s on ($delay s)" test "${delay:-0}" = 30
# Let the 30 s pass.
psql_q "UPDATE outbox SET run_after = now() WHERE kind = 'stream.settle' AND payload->>'stream_id' = '$s6'" >/dev/null
vod=""
check "the settle task made the VOD job" mg_wait_for "a VOD job" vod_of "$s6"
vod6=$vod
check "which ends COMPLETE from the recording on disk" wait_complete "$vod6"
expect_json .job_status '"COMPLETE"'

# --- a recording that vanished: ERROR with the reason, not a silent success -------------------
start_stream vanished
s5=$sid
cb "call=publish&name=$s5&${skey#*\?}" >/dev/null
echo junk >"$RUN/recordings/$s5-1.flv"
cb "call=record_done&name=$s5&path=$RUN/recordings/$s5-1.flv" >/dev/null
rm -f "$RUN/recordings/$s5-1.flv"
req -X POST "${A[@]}" -d "id=$s5" "$BASE/stream/stop"
vod5=$(jq -r '.stream.vod_job_id // empty' <<<"$BODY")
check "a stop after the recording closed makes the job at once" test -n "$vod5"
check "the job ends" wait_complete "$vod5"
expect_json '[.job_status, .error_code, .error_message]' '["ERROR",1,"the stream left no recording"]'

grep -q 'runtime error\|AddressSanitizer' "$RUN/worker.log" "$RUN/mediagate.log" &&
    fail "sanitizer reports in the logs"
finish
