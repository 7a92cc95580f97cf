#!/usr/bin/env bash
# POST /notifications/<backend> through real nginx and PostgreSQL, with the
# providers' documented payloads: happy paths ending in /media/status and
# /media/job_id, secrets, duplicates (one after another and at once),
# ordering, malformed and edge-case bodies (stored, 4xx), the database
# stopped mid-stream, kill -9 of the app under a stream of deliveries, and
# the operator's list/show/replay.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
F=$MG_ROOT/tests/fixtures/providers

export MEDIAGATE_THREADS=8 MEDIAGATE_DB_TIMEOUT_MS=1500
export MEDIAGATE_MEDIACONVERT_SECRET=mc-secret-0123456789abcdef
export MEDIAGATE_MEDIACONVERT_HEADER=X-Api-Key
export MEDIAGATE_ZENCODER_SECRET=zc-secret-0123456789abcdef
export MEDIAGATE_TENCENT_TOKEN=tc-token-0123456789abcdef
stack_up || exit 1

mc() { req -X POST -H "X-Api-Key: $MEDIAGATE_MEDIACONVERT_SECRET" -H 'Content-Type: application/json' --data-binary "@$1" "$BASE/notifications/mediaconvert"; }
zc() { req -X POST -H "X-Zencoder-Notification-Secret: $MEDIAGATE_ZENCODER_SECRET" -H 'Content-Type: application/json' --data-binary "@$1" "$BASE/notifications/zencoder"; }
tc() { req -X POST -H 'Content-Type: application/json' --data-binary "@$1" "$BASE/notifications/tencent?token=$MEDIAGATE_TENCENT_TOKEN"; }
count() { psql_q "SELECT count(*) FROM $1"; }
# mcev JQ-FILTER: a MediaConvert fixture edited with jq, as a file.
edit() { local f; f=$(mktemp "$RUN/ev.XXXXXX"); jq -c "$2" "$1" >"$f"; echo "$f"; }

# --- MediaConvert: the documented events in order ------------------------------
mc "$F/aws-mediaconvert-input-information.json"
expect_status 200
expect_json .result '"applied"'
expect_json .event_id '"1671476818694-phptj0:INPUT_INFORMATION:1671476832075"'
mc "$F/aws-mediaconvert-complete.json"
expect_status 200
req "$BASE/media/job_id?input_file=s3://DOC-EXAMPLE-BUCKET/file/file.mp4"
expect_body '{"success":true,"job_id":"1671476818694-phptj0"}'
req "$BASE/media/status?job_id=1671476818694-phptj0"
expect_body '{"success":true,"job_status":"COMPLETE","progress_rate":100,"duration_ms":30041,"width_px":1920,"height_px":1080,"output_path":"s3://DOC-EXAMPLE-BUCKET/file/","playlists":{}}'

mc "$F/aws-mediaconvert-progressing.json"
req "$BASE/media/status?job_id=1671477617078-2886ye"
expect_body '{"success":true,"job_status":"PROGRESSING","progress_rate":0}'
mc "$F/aws-mediaconvert-status-update.json"
req "$BASE/media/status?job_id=1671477617078-2886ye"
expect_body '{"success":true,"job_status":"PROGRESSING","progress_rate":7}'

mc "$F/aws-mediaconvert-complete-hls-group.json"
req "$BASE/media/status?job_id=1536964333549-opn151"
expect_body '{"success":true,"job_status":"COMPLETE","progress_rate":100,"duration_ms":180041,"width_px":1280,"height_px":720,"output_path":"s3://DOC-EXAMPLE-BUCKET/hls/","playlists":{".m3u8":"main.m3u8"}}'

mc "$F/aws-mediaconvert-error.json"
req "$BASE/media/status?job_id=1515368087458-qnoxtd"
expect_body '{"success":true,"job_status":"ERROR","progress_rate":0,"error_code":1040,"error_message":"Example error message"}'
mc "$F/aws-mediaconvert-canceled.json"
expect_status 200
check "resource holds the latest event" test "$(psql_q "SELECT resource->'detail'->>'status' FROM jobs WHERE id = '1671476818694-phptj0'")" = COMPLETE

# --- secrets: 401 and nothing written --------------------------------------------
before="$(count notifications) $(count jobs)"
fresh=$(edit "$F/aws-mediaconvert-progressing.json" '.detail.jobId = "secret-test"')
for h in 'X-Api-Key: wrong-secret-0123456789abc' 'X-Api-Key: mc-secret-0123456789abcdeF' \
         'X-Api-Key: mc-secret' 'X-Api-Key: ' 'X-Other: mc-secret-0123456789abcdef' \
         "X-Api-Key: $MEDIAGATE_MEDIACONVERT_SECRET$MEDIAGATE_MEDIACONVERT_SECRET"; do
    req -X POST -H "$h" --data-binary "@$fresh" "$BASE/notifications/mediaconvert"
    expect_status 401
    expect_body '{"success":false,"message":"Bad or missing notification secret."}'
done
req -X POST --data-binary "@$F/zencoder-job-finished.json" "$BASE/notifications/zencoder"
expect_status 401
req -X POST -H 'X-Zencoder-Notification-Secret: nope' --data-binary "@$F/zencoder-job-finished.json" "$BASE/notifications/zencoder"
expect_status 401
req -X POST --data-binary "@$F/tencent-vod-NewFileUpload.json" "$BASE/notifications/tencent"
expect_status 401
req -X POST --data-binary "@$F/tencent-vod-NewFileUpload.json" "$BASE/notifications/tencent?token=tc-token-0123456789abcdeX"
expect_status 401
check "nothing written by refused notifications" test "$(count notifications) $(count jobs)" = "$before"
req -X POST --data-binary '{}' "$BASE/notifications/brightcove"
expect_status 404
req "$BASE/notifications/mediaconvert"
expect_status 405
expect_header Allow 'POST, OPTIONS'

# --- duplicates --------------------------------------------------------------------
dup=$(edit "$F/aws-mediaconvert-status-update.json" '.detail.jobId = "dup-job" | .detail.jobProgress.jobPercentComplete = 40')
mc "$dup"; expect_json .result '"applied"'
mc "$dup"; expect_status 200; expect_json .result '"duplicate"'
check "a redelivery is stored once" test "$(psql_q "SELECT count(*) FROM notifications WHERE job_id = 'dup-job'")" = 1
race=$(edit "$F/aws-mediaconvert-progressing.json" '.detail.jobId = "race-job" | .detail.timestamp = 1700000000000')
pids=()
for i in $(seq 20); do
    curl -s -o "$RUN/race.$i" -w '%{http_code}\n' -X POST -H "X-Api-Key: $MEDIAGATE_MEDIACONVERT_SECRET" \
        --data-binary "@$race" "$BASE/notifications/mediaconvert" >"$RUN/race.$i.code" &
    pids+=($!)
done
wait "${pids[@]}"
check "20 concurrent deliveries all got 200: $(cat "$RUN"/race.*.code | sort | uniq -c | tr '\n' ' ')" \
    test "$(cat "$RUN"/race.*.code | grep -c '^200$')" = 20
check "exactly one applied, 19 duplicates" \
    test "$(cat "$RUN"/race.? "$RUN"/race.?? | grep -c '"applied"')" = 1
check "stored once" test "$(psql_q "SELECT count(*) FROM notifications WHERE job_id = 'race-job'")" = 1

# --- ordering: terminal is final, progress never goes down, older never wins ----------
ord=1671477617078-2886ye
up=$(edit "$F/aws-mediaconvert-status-update.json" '.detail.timestamp = 1671477700000 | .detail.jobProgress.jobPercentComplete = 50')
mc "$up"
down=$(edit "$F/aws-mediaconvert-status-update.json" '.detail.timestamp = 1671477800000 | .detail.jobProgress.jobPercentComplete = 30')
mc "$down"; expect_status 200
req "$BASE/media/status?job_id=$ord"
expect_json .progress_rate 50
old=$(edit "$F/aws-mediaconvert-submitted.json" '.' 2>/dev/null || true)
older=$(edit "$F/aws-mediaconvert-progressing.json" '.detail.timestamp = 1600000000000 | .detail.status = "SUBMITTED"')
mc "$older"; expect_status 200
req "$BASE/media/status?job_id=$ord"
expect_json .job_status '"PROGRESSING"'
done_=$(edit "$F/aws-mediaconvert-complete.json" ".detail.jobId = \"$ord\" | .detail.timestamp = 1671477900000")
mc "$done_"
late=$(edit "$F/aws-mediaconvert-status-update.json" '.detail.timestamp = 1671478000000 | .detail.jobProgress.jobPercentComplete = 60')
mc "$late"; expect_status 200
req "$BASE/media/status?job_id=$ord"
expect_json '[.job_status, .progress_rate]' '["COMPLETE",100]'
err_after=$(edit "$F/aws-mediaconvert-error.json" ".detail.jobId = \"$ord\" | .detail.timestamp = 1671479000000")
mc "$err_after"; expect_status 200
req "$BASE/media/status?job_id=$ord"
expect_json .job_status '"COMPLETE"'

# --- malformed and edge-case bodies: 4xx, stored as failed, never a crash ----------------
failed_before=$(psql_q "SELECT count(*) FROM notifications WHERE result = 'failed'")
bad_cases=0
try_bad() { # FILE EXPECTED-STATUS
    mc "$1"
    expect_status "$2"
    expect_json .success false
    bad_cases=$((bad_cases + 1))
}
# AWS's published COMPLETE example has "code": 000000; json-c takes the
# leading zeros, so it is the same event as the mended fixture: a duplicate.
mc "$F/aws-mediaconvert-complete.verbatim.txt"
expect_status 200
expect_json .result '"duplicate"'
printf '{"detail": {"jobId": "trunc' >"$RUN/trunc.json"; try_bad "$RUN/trunc.json" 400
printf '' >"$RUN/empty.json"; try_bad "$RUN/empty.json" 400
printf '[1,2,3]' >"$RUN/array.json"; try_bad "$RUN/array.json" 400
printf '{"detail":{"jobId":"x","status":"PROGRESSING"}}garbage' >"$RUN/trail.json"; try_bad "$RUN/trail.json" 400
printf '{"detail":{"jobId":"bad\xff\xfeutf8","status":"PROGRESSING"}}' >"$RUN/utf8.json"; try_bad "$RUN/utf8.json" 400
try_bad "$(edit "$F/aws-mediaconvert-progressing.json" 'del(.detail.jobId)')" 400
try_bad "$(edit "$F/aws-mediaconvert-progressing.json" 'del(.detail)')" 400
try_bad "$(edit "$F/aws-mediaconvert-progressing.json" '.detail.status = "EXPLODED"')" 400
try_bad "$(edit "$F/aws-mediaconvert-progressing.json" '.detail.jobId = 12345')" 400
try_bad "$(edit "$F/aws-mediaconvert-status-update.json" '.detail.jobProgress.jobPercentComplete = "7"')" 400
try_bad "$(edit "$F/aws-mediaconvert-status-update.json" '.detail.jobProgress.jobPercentComplete = 250')" 400
try_bad "$(edit "$F/aws-mediaconvert-progressing.json" '.detail.timestamp = "yesterday"')" 400
try_bad "$(edit "$F/aws-mediaconvert-progressing.json" '."detail-type" = "EC2 Instance State-change Notification"')" 400
try_bad "$(edit "$F/aws-mediaconvert-complete.json" '.detail.outputGroupDetails = "none"')" 400
try_bad "$(edit "$F/aws-mediaconvert-error.json" '.detail.errorCode = 1.5')" 400
sed 's/"durationInMs": 30041/"durationInMs": 99999999999999999999999/' "$F/aws-mediaconvert-complete.json" >"$RUN/huge.json"
try_bad "$RUN/huge.json" 400
sed 's/"timestamp": 1671476832124/"timestamp": 1e400/' "$F/aws-mediaconvert-complete.json" >"$RUN/huge2.json"
try_bad "$RUN/huge2.json" 400
zc "$(edit "$F/zencoder-job-finished.json" '.job.state = "melted"')"; expect_status 400; bad_cases=$((bad_cases + 1))
zc "$(edit "$F/zencoder-job-finished.json" '.outputs[0].width = "wide"')"; expect_status 400; bad_cases=$((bad_cases + 1))
tc "$(edit "$F/tencent-vod-NewFileUpload.json" '.EventType = "FileDeleted"')"; expect_status 400; bad_cases=$((bad_cases + 1))
tc "$(edit "$F/tencent-vod-NewFileUpload.json" 'del(.FileUploadEvent.FileId)')"; expect_status 400; bad_cases=$((bad_cases + 1))
failed_after=$(psql_q "SELECT count(*) FROM notifications WHERE result = 'failed'")
check "each of $bad_cases bad bodies stored as failed ($failed_before -> $failed_after)" \
    test "$((failed_after - failed_before))" = "$bad_cases"
for f in utf8 trunc huge; do
    sha=$(sha256sum <"$RUN/$f.json" | cut -d' ' -f1)
    check "$f.json stored byte for byte under its hash" \
        test "$(psql_q "SELECT md5(body) || result FROM notifications WHERE event_id = 'sha256:$sha'")" = "$(md5sum <"$RUN/$f.json" | cut -d' ' -f1)failed"
done

# Unicode file names go through.
uni=$(edit "$F/aws-mediaconvert-progressing.json" '.detail.jobId = "uni-job" | .detail.userMetadata.input_file = "uploads/映画 – Ünïcødé.mp4"')
mc "$uni"; expect_status 200
req -G --data-urlencode 'input_file=uploads/映画 – Ünïcødé.mp4' "$BASE/media/job_id"
expect_body '{"success":true,"job_id":"uni-job"}'
# An input_file past PostgreSQL's btree entry limit (about 2.7 kB; here
# 8,000 random characters, which do not compress): applied, and found by
# /media/job_id with one index probe.
longname="uploads/$(head -c 6000 /dev/urandom | base64 -w0 | tr '+/' '-_' | head -c 8000).mp4"
long=$(edit "$F/aws-mediaconvert-progressing.json" ".detail.jobId = \"long-job\" | .detail.userMetadata.input_file = \"$longname\"")
mc "$long"
expect_status 200
req -G --data-urlencode "input_file=$longname" "$BASE/media/job_id"
expect_body '{"success":true,"job_id":"long-job"}'
plan=$(psql_q "SET enable_seqscan = off; EXPLAIN SELECT id FROM jobs WHERE md5(input_file) = md5('x') AND input_file = 'x' ORDER BY created_at DESC, id DESC LIMIT 1")
check "the lookup is one probe of jobs_input_file_latest: $plan" grep -q 'Index Scan using jobs_input_file_latest' <<<"$plan"

# --- Zencoder -----------------------------------------------------------------------
before="$(count notifications) $(count jobs)"
zc "$F/zencoder-job-finished.json"
expect_status 404
expect_body '{"success":false,"message":"Unknown job."}'
check "an unknown Zencoder job writes nothing" test "$(count notifications) $(count jobs)" = "$before"
psql_q "INSERT INTO jobs (id, backend, backend_job_id, input_file, status, variations) VALUES
        ('zc-1', 'zencoder', '447043841', 'uploads/zc.mkv', 'PROGRESSING',
         '[{\"format\": \"webm\", \"width\": 1920}, {\"format\": \"mp4\", \"width\": 1280},
           {\"format\": \"mp4\", \"width\": 1920}]'),
        ('zc-2', 'zencoder', 'koro-007', 'uploads/zc2.mkv', 'SUBMITTED', NULL)" >/dev/null
zc "$F/zencoder-job-finished.json"
expect_status 200
req "$BASE/media/status?job_id=zc-1"
expect_json '[.job_status, .duration_ms, .width_px, .height_px]' '["COMPLETE",100840,1920,1080]'
expect_json '[.variations[] | [.format, .width, .file_size_in_bytes]]' '[["webm",1920,null],["mp4",1280,null],["mp4",1920,6050358]]'
zc "$F/zencoder-job-failed.json"
expect_status 200
req "$BASE/media/status?job_id=zc-2"
expect_json '[.job_status, .error_message]' '["ERROR","Lama support malfunctioning"]'

# --- POST /media/jobs registers an external job, so its events find it ---------------------
reg=$(mg_apikey registrar)
ext=$(edit "$F/zencoder-job-finished.json" '.job.id = 770001')
zc "$ext"
expect_status 404
req -X POST -d backend=zencoder -d backend_job_id=770001 -d input_file=uploads/ext.mkv "$BASE/media/jobs"
expect_status 401
req -X POST -H "Authorization: Bearer $reg" -d backend=zencoder -d backend_job_id=770001 \
    --data-urlencode 'input_file=uploads/ext ü.mkv' "$BASE/media/jobs"
expect_status 201
expect_json '[.success, .backend, .backend_job_id, .input_file]' '[true,"zencoder","770001","uploads/ext ü.mkv"]'
extjob=$(jq -r .job_id <<<"$BODY")
req -G --data-urlencode 'input_file=uploads/ext ü.mkv' "$BASE/media/job_id"
expect_body "{\"success\":true,\"job_id\":\"$extjob\"}"
zc "$ext"
expect_status 200
req "$BASE/media/status?job_id=$extjob"
expect_json .job_status '"COMPLETE"'
# It says where its outputs are: the outputs' directory and each output.
expect_json '[.output_path, .playlists, [.variations[] | [.format, .width, .height, .file_size_in_bytes, .url]]]' \
    '["gcs://59d69c94f488551661254569/_/",{},[["mp4",1920,1080,6050358,"gcs://59d69c94f488551661254569/_/02-mp4.mp4"]]]'
# An HLS job: the playlist output names output_path and playlists; the
# renditions are the variations; a destination's credentials are never shown.
psql_q "INSERT INTO jobs (id, backend, backend_job_id, input_file) VALUES ('zc-hls', 'zencoder', '770002', 'x')" >/dev/null
zc "$(edit "$F/zencoder-job-finished.json" '.job.id = 770002 | .outputs = [
    (.outputs[0] | .format = "ts" | .type = "segmented" | .label = "1080p"
                 | .url = "ftp://u:p@w@ftp.example.com/out/v0/index.m3u8"),
    (.outputs[0] | .format = "ts" | .type = "segmented" | .label = "720p" | .width = 1280 | .height = 720
                 | .file_size_in_bytes = 3000 | .url = "ftp://u:p@w@ftp.example.com/out/v1/index.m3u8"),
    {"type": "playlist", "state": "finished", "url": "ftp://u:p@w@ftp.example.com/out/master.m3u8"}]')"
expect_status 200
req "$BASE/media/status?job_id=zc-hls"
expect_json '[.job_status, .output_path, .playlists, .width_px, .height_px]' \
    '["COMPLETE","ftp://ftp.example.com/out/",{".m3u8":"master.m3u8"},1920,1080]'
expect_json '[.variations[] | [.label, .format, .width, .height, .file_size_in_bytes, .url]]' \
    '[["1080p","ts",1920,1080,6050358,"ftp://ftp.example.com/out/v0/index.m3u8"],["720p","ts",1280,720,3000,"ftp://ftp.example.com/out/v1/index.m3u8"]]'
req -X POST -H "Authorization: Bearer $reg" -d backend=zencoder -d backend_job_id=770001 -d input_file=x "$BASE/media/jobs"
expect_status 409
expect_body '{"success":false,"message":"That backend job id is registered already."}'
for bad in "backend=local&backend_job_id=1&input_file=x" "backend=zencoder&input_file=x" \
           "backend=zencoder&backend_job_id=1" "backend=tencent&backend_job_id=%FF&input_file=x"; do
    req -X POST -H "Authorization: Bearer $reg" -d "$bad" "$BASE/media/jobs"
    expect_status 400
done

# --- Tencent VOD ------------------------------------------------------------------------
tc "$F/tencent-vod-NewFileUpload-matching.json"
expect_status 200
req "$BASE/media/job_id?input_file=http://125676836723.vod2.myqcloud.com/xxx/xxx/q1BORBPQH1IA.mp4"
expect_body '{"success":true,"job_id":"5285890784246869930"}'
req "$BASE/media/status?job_id=5285890784246869930"
expect_body '{"success":true,"job_status":"SUBMITTED","progress_rate":0}'
# No worker serves tencent.process_media yet: a kind no row serves is never
# queued (and the constraint would refuse it).
check "ProcessMedia is not queued while no worker serves it" \
    test "$(psql_q "SELECT count(*) FROM outbox")" = 0
psql_q "INSERT INTO outbox (kind, payload) VALUES ('tencent.process_media', '{}')" >/dev/null 2>&1
rc=$?
check "an unserved kind is refused by a constraint" test "$rc" != 0
tc "$F/tencent-vod-NewFileUpload-matching.json"
expect_json .result '"duplicate"'
check "and still nothing queued" test "$(psql_q "SELECT count(*) FROM outbox")" = 0
tc "$F/tencent-vod-ProcedureStateChanged.json"
expect_status 200
req "$BASE/media/status?job_id=5285890784246869930"
expect_json '[.job_status, .width_px, .height_px, .duration_ms, .output_path]' '["COMPLETE",640,480,60000,"https://1256768367.vod2.myqcloud.com/xxx/xxx/"]'
check "every transcoding output recorded" \
    test "$(psql_q "SELECT outputs->0->>'url' || ' ' || (outputs->0->>'definition') || ' ' || (outputs->0->>'size') || ' ' || (outputs->0->>'bitrate') FROM jobs WHERE id = '5285890784246869930'")" = "https://1256768367.vod2.myqcloud.com/xxx/xxx/v.f20.mp4 20 4189073 552218"
failtc=$(edit "$F/tencent-vod-ProcedureStateChanged.json" '.ProcedureStateChangeEvent.FileId = "tc-fail" | .ProcedureStateChangeEvent.ErrCode = 70000 | .ProcedureStateChangeEvent.Message = "source file broken"')
psql_q "INSERT INTO jobs (id, backend, backend_job_id, input_file) VALUES ('tc-fail', 'tencent', 'tc-fail', 'x')" >/dev/null
tc "$failtc"
req "$BASE/media/status?job_id=tc-fail"
expect_body '{"success":true,"job_status":"ERROR","progress_rate":0,"error_code":70000,"error_message":"source file broken"}'

# --- jobs of one backend are out of another's reach ---------------------------------------
psql_q "INSERT INTO jobs (id, backend, backend_job_id, input_file, status) VALUES
        ('zjob1', 'zencoder', 'z-777', 'z.mkv', 'PROGRESSING'),
        ('ours-1', 'mediaconvert', 'mcX', 'm.mp4', 'SUBMITTED')" >/dev/null
mc "$(edit "$F/aws-mediaconvert-error.json" '.detail.jobId = "zjob1"')"
expect_status 200
check "a MediaConvert event named like a Zencoder job leaves it alone" \
    test "$(psql_q "SELECT status FROM jobs WHERE id = 'zjob1'")" = PROGRESSING
check "and makes its own job under a prefixed id" \
    test "$(psql_q "SELECT status FROM jobs WHERE id = 'mediaconvert:zjob1'")" = ERROR
mc "$(edit "$F/aws-mediaconvert-progressing.json" '.detail.jobId = "mcX"')"
expect_status 200
expect_json .result '"applied"'
check "an event finds a job by the backend's own id" \
    test "$(psql_q "SELECT status FROM jobs WHERE id = 'ours-1'")" = PROGRESSING
# Two different first events of one new job at once: both stored, one job.
pids=()
for i in $(seq 10); do
    a=$(edit "$F/aws-mediaconvert-progressing.json" ".detail.jobId = \"pair-$i\"")
    b=$(edit "$F/aws-mediaconvert-input-information.json" ".detail.jobId = \"pair-$i\"")
    curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "X-Api-Key: $MEDIAGATE_MEDIACONVERT_SECRET" --data-binary "@$a" "$BASE/notifications/mediaconvert" >>"$RUN/pairs" &
    pids+=($!)
    curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "X-Api-Key: $MEDIAGATE_MEDIACONVERT_SECRET" --data-binary "@$b" "$BASE/notifications/mediaconvert" >>"$RUN/pairs" &
    pids+=($!)
done
wait "${pids[@]}"
check "20 racing first events all 200: $(sort "$RUN/pairs" | uniq -c | tr '\n' ' ')" test "$(grep -c '^200$' "$RUN/pairs")" = 20
check "and 20 stored for 10 jobs" test "$(psql_q "SELECT count(*), count(DISTINCT job_id) FROM notifications WHERE job_id LIKE 'pair-%'")" = "20|10"
# An event id too long to keep whole (with multibyte characters) is named by its hash.
long=$(edit "$F/tencent-vod-NewFileUpload.json" ".EventHandle = \"$(printf 'a%.0s' $(seq 254))é\" | .FileUploadEvent.FileId = \"long-handle\"")
tc "$long"
expect_status 200
expect_json '.event_id | startswith("sha256:")' true
# EventBridge events up to 256 KB pass nginx and the app.
big=$(edit "$F/aws-mediaconvert-complete.json" ".detail.jobId = \"big-job\" | .detail.userMetadata.pad = \"$(head -c 70000 /dev/zero | tr '\0' p)\"")
mc "$big"
expect_status 200
# A time that is not finite cannot freeze a job.
psql_q "INSERT INTO jobs (id, backend, backend_job_id, input_file) VALUES ('zc-inf', 'zencoder', 'inf-1', 'x')" >/dev/null
zc "$(edit "$F/zencoder-job-finished.json" '.job.id = "inf-1" | .job.state = "processing" | .job.updated_at = "infinity"')"
expect_status 200
check "an infinite event time is not kept" test "$(psql_q "SELECT status || coalesce(event_time::text, '-') FROM jobs WHERE id = 'zc-inf'")" = "PROGRESSING-"

# --- the route's policy: senders are servers, one prefix row ---------------------
# A browser on another origin never reaches a verifier, even with the
# right secret, and no answer carries Access-Control headers.
before="$(count notifications) $(count jobs)"
req -X POST -H 'Origin: https://app.example.com' -H "X-Zencoder-Notification-Secret: $MEDIAGATE_ZENCODER_SECRET" \
    --data-binary "@$F/zencoder-job-finished.json" "$BASE/notifications/zencoder"
expect_status 403
expect_body '{"success":false,"message":"This route is not for browsers."}'
expect_header_absent Access-Control-Allow-Origin
req -X OPTIONS -H 'Origin: https://app.example.com' -H 'Access-Control-Request-Method: POST' "$BASE/notifications/tencent"
expect_status 403
expect_header_absent Access-Control-Allow-Origin
check "a browser's request stored nothing" test "$(count notifications) $(count jobs)" = "$before"
req -X POST --data-binary '{}' "$BASE/notifications/nope"
expect_status 404
expect_body '{"success":false,"message":"No notification backend has that name."}'
req "$BASE/notifications/zencoder"
expect_status 405
expect_header Allow 'POST, OPTIONS'
check "the app's log names each sender's path" grep -q ' access POST /notifications/zencoder 403 ' "$RUN/mediagate.log"

# --- a backend that is not configured gets 403 ---------------------------------------------
app_stop TERM
MEDIAGATE_ZENCODER_SECRET= app_start || exit 1
zc "$F/zencoder-job-finished.json"
expect_status 403
expect_body '{"success":false,"message":"Notifications from zencoder are not configured."}'
app_stop TERM
# mediagate down: Tencent's callback (its token in the URL) gets nginx's 503,
# and no log line carries the token (finish greps them).
tc "$F/tencent-vod-NewFileUpload.json"
expect_status 503
expect_header Retry-After 2
app_start || exit 1

# --- a transient database error never occupies the dedupe key ------------------------
# lock_timeout (55P03) while another session holds the job: 503, nothing
# stored under the event's key, and the sender's retry is applied. A
# Zencoder body has no event id: its key is the body's hash.
psql_q "INSERT INTO jobs (id, backend, backend_job_id, input_file, status)
        VALUES ('zc-lock', 'zencoder', '990001', 'uploads/lock.mkv', 'PROGRESSING')" >/dev/null
lockev=$(edit "$F/zencoder-job-finished.json" '.job.id = 990001')
psql_q "ALTER ROLE mediagate SET lock_timeout = '300ms'" >/dev/null
app_stop TERM
app_start || exit 1
# The row stays locked until the test lets it go (its holder sleeps).
psql_q "BEGIN; SELECT 1 FROM jobs WHERE id = 'zc-lock' FOR UPDATE; SELECT pg_sleep(3600); COMMIT" >/dev/null 2>&1 &
locker=$!
holding() { [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE '%zc-lock%'")" = 1 ]; }
check "the job's row is locked" mg_wait_for "the row lock" holding
zc "$lockev"
expect_status 503
expect_header Retry-After 2
check "nothing stored for the locked-out event" test "$(psql_q "SELECT count(*) FROM notifications
    WHERE backend = 'zencoder' AND event_id LIKE '%$(sha256sum <"$lockev" | cut -d' ' -f1)'")" = 0
psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE '%zc-lock%'" >/dev/null
wait "$locker"
zc "$lockev"
expect_status 200
expect_json .result '"applied"'
check "the retry applied it" test "$(psql_q "SELECT status FROM jobs WHERE id = 'zc-lock'")" = COMPLETE
psql_q "ALTER ROLE mediagate RESET lock_timeout" >/dev/null

# --- a read-only database (a failover to a standby): 503, like an outage ----------------
psql_q "ALTER DATABASE mediagate SET default_transaction_read_only = on" >/dev/null
app_stop TERM
app_start || exit 1
ro=$(edit "$F/aws-mediaconvert-progressing.json" '.detail.jobId = "ro-1" | .id = "ro-event-1"')
mc "$ro"
expect_status 503
expect_header Retry-After 2
(cd / && runuser -u postgres -- "$PGBIN/psql" -h "$RUN/pgsock" -U postgres -d postgres -qAtc \
    "ALTER DATABASE mediagate RESET default_transaction_read_only") >/dev/null
app_stop TERM
app_start || exit 1
mc "$ro"
expect_status 200
check "applied once writable again" test "$(psql_q "SELECT count(*) FROM jobs WHERE backend_job_id = 'ro-1'")" = 1

# --- operator commands ------------------------------------------------------------------
out=$("$MG_BIN" notifications list 2>&1)
check "list shows failed notifications" grep -q 'unknown detail.status' <<<"$out"
fid=$(psql_q "SELECT id FROM notifications WHERE event_id = 'sha256:$(sha256sum <"$RUN/utf8.json" | cut -d' ' -f1)'")
check "show prints the raw body" cmp <("$MG_BIN" notifications show "$fid" 2>/dev/null) "$RUN/utf8.json"
check "replay of a still-broken body fails" bash -c "! '$MG_BIN' notifications replay $fid >/dev/null 2>&1"
for c in show replay; do
    out=$("$MG_BIN" notifications $c 12x 2>&1)
    rc=$?
    check "notifications $c 12x is a usage error (rc $rc)" test "$rc" = 2
    check "notifications $c 12x says what an id is: $out" \
        grep -q "a notification id is a whole number, not '12x'" <<<"$out"
    check "notifications $c 12x passes no database error through" bash -c "! grep -q 'bigint' <<<\"\$1\"" _ "$out"
done
# A failed event whose cause is fixed: the job it names did not exist (a
# database-refused value stands in for "a bug fixed since"); replay applies it.
body=$(jq -c . "$F/aws-mediaconvert-error.json" | sed "s/'/''/g")
psql_q "INSERT INTO notifications (backend, event_id, body, result, error)
        VALUES ('mediaconvert', 'manual-1', convert_to('$body', 'UTF8'), 'failed', 'simulated')" >/dev/null
rid=$(psql_q "SELECT id FROM notifications WHERE event_id = 'manual-1'")
check "replay applies a stored event" "$MG_BIN" notifications replay "$rid"
check "and marks it applied" test "$(psql_q "SELECT result || replays FROM notifications WHERE id = $rid")" = applied1

# --- the database stopped mid-stream: 5xx, never a 200 for an unstored event -------------
pg_stop fast
evs=()
for i in 1 2 3; do
    e=$(edit "$F/aws-mediaconvert-progressing.json" ".detail.jobId = \"outage-$i\"")
    evs+=("$e")
    mc "$e"
    check "delivery during the outage gets 5xx ($STATUS)" test "${STATUS:0:1}" = 5
done
pg_resume || exit 1
for e in "${evs[@]}"; do mc "$e"; expect_status 200; expect_json .result '"applied"'; done
check "the retried deliveries are stored" test "$(psql_q "SELECT count(*) FROM notifications WHERE job_id LIKE 'outage-%'")" = 3

# --- kill -9 under a stream of deliveries --------------------------------------------------
for i in $(seq 300); do
    jq -c ".detail.jobId = \"k9-$i\" | .detail.timestamp = $((1700000000000 + i))" \
        "$F/aws-mediaconvert-progressing.json" >"$RUN/k9-$i.json"
done
sender() { # deliver events FROM..TO once each, logging "id code"
    for i in $(seq "$1" "$2"); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST \
            -H "X-Api-Key: $MEDIAGATE_MEDIACONVERT_SECRET" --data-binary "@$RUN/k9-$i.json" \
            "$BASE/notifications/mediaconvert")
        echo "k9-$i $code"
    done
}
sender 1 100 >"$RUN/k9.a" & s1=$!
sender 101 200 >"$RUN/k9.b" & s2=$!
sender 201 300 >"$RUN/k9.c" & s3=$!
# The kill comes once deliveries are being acknowledged, and the app stays
# down until the senders have been refused (not for a set time).
k9_seen() { cat "$RUN"/k9.? 2>/dev/null | grep -q " $1\$"; }
k9_refused() { cat "$RUN"/k9.? 2>/dev/null | grep -qv ' 200$'; }
mg_wait_for "a delivery acknowledged" k9_seen 200
kill -9 "$(cat "$RUN/mediagate.pid")"
wait "$(cat "$RUN/mediagate.pid")" 2>/dev/null
refused_or_done() { k9_refused || mg_gone "$s1"; }
mg_wait_for "a refused delivery" refused_or_done
app_start || exit 1
wait "$s1" "$s2" "$s3"
cat "$RUN"/k9.? >"$RUN/k9.all"
acked=$(grep -c ' 200$' "$RUN/k9.all")
lost=0
while read -r id code; do
    [ "$code" = 200 ] || continue
    [ "$(psql_q "SELECT count(*) FROM notifications WHERE job_id = '$id'")" = 1 ] || lost=$((lost + 1))
done <"$RUN/k9.all"
echo "kill -9: $acked of 300 deliveries acknowledged, $(grep -vc ' 200$' "$RUN/k9.all") refused (5xx), $lost acknowledged but missing"
check "some deliveries were refused while the app was down" grep -qv ' 200$' "$RUN/k9.all"
check "every acknowledged delivery is stored ($lost missing)" test "$lost" = 0
# The senders retry what was refused, as EventBridge does; then all are applied once.
while read -r id code; do
    [ "$code" = 200 ] && continue
    i=${id#k9-}
    mc "$RUN/k9-$i.json"
    [ "$STATUS" = 200 ] || fail "retry of $id got $STATUS"
done <"$RUN/k9.all"
check "after retries all 300 events are stored once and each made one job" \
    test "$(psql_q "SELECT count(*), count(DISTINCT event_id) FROM notifications WHERE job_id LIKE 'k9-%'")|$(psql_q "SELECT count(*) FROM jobs WHERE id LIKE 'k9-%'")" = "300|300|300"

check "no errors beyond expected in the log" bash -c "! grep -E ' error ' '$RUN/mediagate.log' | grep -v 'prepare' | grep -q ."
finish
