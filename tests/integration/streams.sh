#!/usr/bin/env bash
# Live broadcasts end to end: API keys, /stream/start|status|stop, and real
# RTMP ingest through nginx-rtmp with ffmpeg as the broadcaster, HLS served
# by nginx, keys refused after stop, a live publisher cut after stop.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
command -v ffmpeg >/dev/null || { echo "ffmpeg is not installed (scripts/deps installs it)"; exit 1; }

mg_suite || exit 1
export RUN
# AWS STS is a third-party API: a local stand-in checks the SigV4 signature
# and fields and answers with AWS's documented response.
export MEDIAGATE_AWS_ACCESS_KEY_ID=AKIDMEDIAGATETEST MEDIAGATE_AWS_SECRET_ACCESS_KEY=test-secret/0123456789abcdefEXAMPLE
export MEDIAGATE_S3_BUCKET=media-uploads MEDIAGATE_S3_REGION=eu-west-1
export MEDIAGATE_STS_ROLE_ARN=arn:aws:iam::123456789012:role/mediagate-ingest
python3 "$MG_ROOT/tests/lib/sts_standin.py" "$RUN/sts.port" "$RUN/sts.log" "$MEDIAGATE_AWS_ACCESS_KEY_ID" \
    "$MEDIAGATE_AWS_SECRET_ACCESS_KEY" "$MG_ROOT/tests/fixtures/providers/aws-sts-assumerole-response.xml" &
sts_pid=$!
mg_wait_for "the STS stand-in's port" test -s "$RUN/sts.port"
MEDIAGATE_STS_URL="http://127.0.0.1:$(cat "$RUN/sts.port")/" || { kill "$sts_pid"; exit 1; }
export MEDIAGATE_STS_URL
PORT=$(mg_free_port)
RTMP_PORT=$(mg_free_port)
export PORT MEDIAGATE_THREADS=4
export MEDIAGATE_RTMP_URL="rtmp://127.0.0.1:$RTMP_PORT/live" MEDIAGATE_HLS_URL="http://127.0.0.1:$PORT/hls"
export MEDIAGATE_UPLOAD_URL="http://127.0.0.1:$PORT/live"
NGINX_MAIN_EXTRA=$(rtmp_conf "$RTMP_PORT")
NGINX_SITE_EXTRA="$(media_conf) $(upload_conf)"
export NGINX_MAIN_EXTRA NGINX_SITE_EXTRA
stack_up || exit 1

alice=$(mg_apikey alice)
bob=$(mg_apikey bob)
check "API keys carry 256 random bits" grep -Eq '^mgk_[0-9a-f]{64}$' <<<"$alice"
check "keys are stored hashed" test "$(psql_q "SELECT count(*) FROM api_keys WHERE key_hash = sha256(convert_to('$alice', 'UTF8'))")" = 1
check "the key itself is nowhere in the table" test "$(psql_q "SELECT count(*) FROM api_keys WHERE key_prefix = '$alice' OR name = '$alice'")" = 0
A=(-H "Authorization: Bearer $alice")
B=(-H "Authorization: Bearer $bob")

# --- who may call ----------------------------------------------------------------------
req -X POST -d type=hls "$BASE/stream/start"
expect_status 401
req -X POST -H 'Authorization: Bearer mgk_nope' -d type=hls "$BASE/stream/start"
expect_status 401
expect_body '{"success":false,"message":"Invalid or revoked API key."}'
req -X POST "${A[@]}" "$BASE/stream/start"
expect_status 400
expect_body '{"success":false,"message":"Not found parameter type."}'
req -X POST "${A[@]}" -d type=dash "$BASE/stream/start"
expect_status 400
req -X POST "${A[@]}" -d "type=hls&name=$(head -c 201 /dev/zero | tr '\0' a)" "$BASE/stream/start"
expect_status 400
req -X POST "${A[@]}" -H 'Content-Type: application/json' -d '{"type":"hls"}' "$BASE/stream/start"
expect_status 415

# --- start ---------------------------------------------------------------------------------
req -X POST "${A[@]}" --data-urlencode 'type=hls' --data-urlencode 'name=Morning show ü' "$BASE/stream/start"
expect_status 200
id=$(jq -r .stream.id <<<"$BODY")
key=$(jq -r .endpoint.RTMP.stream_key <<<"$BODY")
hls=$(jq -r .playback.hls <<<"$BODY")
check "stream id is a UUID" grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' <<<"$id"
check "start_date is GMT YYYY-MM-DD HH:MM:SS" grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$' <<<"$(jq -r .stream.start_date <<<"$BODY")"
expect_json '[.stream.name, .stream.status, .endpoint.RTMP.url]' "[\"Morning show ü\",\"STARTED\",\"$MEDIAGATE_RTMP_URL\"]"
check "stream key is the id plus 256 random bits" grep -Eq "^$id\\?key=[0-9a-f]{64}\$" <<<"$key"
check "playback URL is the stream id's playlist" test "$hls" = "$MEDIAGATE_HLS_URL/$id.m3u8"
check "stream key stored hashed only" test "$(psql_q "SELECT count(*) FROM streams WHERE stream_key_hash = sha256(convert_to('${key#*key=}', 'UTF8'))")" = 1
# S3: STS credentials scoped to the stream's prefix, mapped into django-broadcast's fields.
expect_json '.endpoint.S3 | keys' '["aws_access_key_id","aws_expiration","aws_secret_access_key","aws_session_token","s3_bucket_name","s3_bucket_path","s3_bucket_region"]'
expect_json '[.endpoint.S3.aws_access_key_id, .endpoint.S3.aws_secret_access_key, .endpoint.S3.aws_expiration, .endpoint.S3.s3_bucket_name, .endpoint.S3.s3_bucket_region]' '["ASIAIOSFODNN7EXAMPLE","wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY","2019-11-09T13:34:41Z","media-uploads","eu-west-1"]'
expect_json '.endpoint.S3.aws_session_token | startswith("AQoDYXdzEPT//////////wEXAMPLE") and endswith("oLxBA==")' true
expect_json .endpoint.S3.s3_bucket_path "\"live/$id/\""
check "STS saw one signed AssumeRole" test "$(wc -l <"$RUN/sts.log")" = 1
check "the session policy allows only s3:PutObject under the stream's prefix" \
    test "$(jq -c '.policy.Statement' "$RUN/sts.log")" = "[{\"Effect\":\"Allow\",\"Action\":\"s3:PutObject\",\"Resource\":\"arn:aws:s3:::media-uploads/live/$id/*\"}]"
check "role and duration as configured" test "$(jq -r '.form.RoleArn + " " + .form.DurationSeconds' "$RUN/sts.log")" = "arn:aws:iam::123456789012:role/mediagate-ingest 21600"
# S3_POST: a policy limited to the prefix, a size range and an expiry, signed locally.
policy=$(jq -r '.endpoint.S3_POST.fields.policy' <<<"$BODY" | base64 -d)
check "POST policy: bucket, key prefix, size range" test "$(jq -c '[.conditions[0], .conditions[1], .conditions[2]]' <<<"$policy")" = "[{\"bucket\":\"media-uploads\"},[\"starts-with\",\"\$key\",\"live/$id/\"],[\"content-length-range\",1,1073741824]]"
exp=$(jq -r .expiration <<<"$policy")
check "POST policy expires with the upload token ($exp)" test "$(date -d "$exp" +%s)" -gt "$(( $(date +%s) + 21000 ))"
sig=$(jq -r '.endpoint.S3_POST.fields["x-amz-signature"]' <<<"$BODY")
b64=$(jq -r '.endpoint.S3_POST.fields.policy' <<<"$BODY")
d8=$(jq -r '.endpoint.S3_POST.fields["x-amz-date"][0:8]' <<<"$BODY")
want=$(python3 -c "
import hmac,hashlib,sys
s=lambda k,m: hmac.new(k,m.encode(),hashlib.sha256).digest()
k=s(('AWS4'+sys.argv[1]).encode(),sys.argv[2]); k=s(k,'eu-west-1'); k=s(k,'s3'); k=s(k,'aws4_request')
print(hmac.new(k,sys.argv[3].encode(),hashlib.sha256).hexdigest())" "$MEDIAGATE_AWS_SECRET_ACCESS_KEY" "$d8" "$b64")
check "POST policy signature verifies with the secret" test "$sig" = "$want"
check "the AWS secret never appears in a response" bash -c "! grep -q '$MEDIAGATE_AWS_SECRET_ACCESS_KEY' <<<'$BODY'"

req "${A[@]}" "$BASE/stream/status?id=$id"
expect_json .stream.status '"STARTED"'
etag=$(header ETag)
req "${A[@]}" -H "If-None-Match: $etag" "$BASE/stream/status?id=$id"
expect_status 304

# --- publish over RTMP with ffmpeg -----------------------------------------------------------
broadcast() { # KEY SECONDS LOG
    ffmpeg -nostdin -hide_banner -loglevel error -re -f lavfi -i "testsrc=size=320x240:rate=25" \
        -f lavfi -i "sine=frequency=440" -c:v libx264 -preset ultrafast -tune zerolatency -g 25 \
        -c:a aac -t "$2" -f flv "$MEDIAGATE_RTMP_URL/$1" >"$3" 2>&1
}
broadcast "$key" 8 "$RUN/ff1.log" &
ff=$!
# status_is ID STATUS: stream ID's status is STATUS (as alice sees it).
status_is() { req "${A[@]}" "$BASE/stream/status?id=$1"; [ "$(jq -r .stream.status <<<"$BODY")" = "$2" ]; }
check "status LIVE while ffmpeg publishes" mg_wait_for "LIVE" status_is "$id" LIVE
playlist() { req "$hls"; [ "$STATUS" = 200 ] && grep -q '#EXTM3U' <<<"$BODY"; }
check "the HLS playlist is served at playback.hls" mg_wait_for -t 60 "the HLS playlist" playlist
check "the playlist lists segments" grep -q '\.ts' <<<"$BODY"
check "no HLS file is named after the key" bash -c "! ls '$RUN/hls' | grep -q '${key#*key=}'"
wait "$ff"
rc=$?
check "ffmpeg published for its whole duration (rc $rc: $(cat "$RUN/ff1.log"))" test "$rc" = 0
check "status IDLE after the publisher left" mg_wait_for "IDLE" status_is "$id" IDLE

# --- HTTP PUT ingest: ffmpeg -f hls -method PUT with the returned header ----------------------
req -X POST "${A[@]}" -d type=hls -d name=put "$BASE/stream/start"
pid_=$(jq -r .stream.id <<<"$BODY")
purl=$(jq -r .endpoint.HTTP.url <<<"$BODY")
pauth=$(jq -r .endpoint.HTTP.headers.Authorization <<<"$BODY")
pexp=$(jq -r .endpoint.HTTP.expires <<<"$BODY")
phls=$(jq -r .playback.hls_http <<<"$BODY")
check "playback.hls_http is the playlist the PUT ingest serves" test "$phls" = "${purl}index.m3u8"
check "endpoint.HTTP.playlist_url names it for the broadcaster" \
    test "$(jq -r .endpoint.HTTP.playlist_url <<<"$BODY")" = "${purl}index.m3u8"
check "HTTP endpoint is the stream's prefix" test "$purl" = "$MEDIAGATE_UPLOAD_URL/$pid_/"
check "upload token is 256 random bits" grep -Eq '^Bearer [0-9a-f]{64}$' <<<"$pauth"
check "upload token expires in the future (about 6 h)" test "$pexp" -gt "$(( $(date +%s) + 21000 ))"
check "upload token stored hashed" test "$(psql_q "SELECT count(*) FROM streams WHERE upload_token_hash = sha256(convert_to('${pauth#Bearer }', 'UTF8'))")" = 1
ffmpeg -nostdin -hide_banner -loglevel error -re -f lavfi -i "testsrc=size=320x240:rate=25" \
    -c:v libx264 -preset ultrafast -g 25 -t 4 -f hls -hls_time 1 -method PUT \
    -headers "Authorization: $pauth"$'\r\n' "${purl}index.m3u8" >"$RUN/ffput.log" 2>&1
rc=$?
check "ffmpeg uploaded HLS by PUT (rc $rc: $(head -c 300 "$RUN/ffput.log"))" test "$rc" = 0
req "$phls"
expect_status 200
check "the uploaded playlist is served at playback.hls_http and lists segments" grep -q '\.ts' <<<"$BODY"
check "segments are stored under the stream's prefix" test "$(ls "$RUN/upload/live/$pid_" | grep -c '\.ts$')" -ge 3
echo seg >"$RUN/seg.ts"
req -X PUT --data-binary "@$RUN/seg.ts" "${purl}x.ts"
expect_status 401
req -X PUT -H "Authorization: Bearer 0000" --data-binary "@$RUN/seg.ts" "${purl}x.ts"
expect_status 403
req -X PUT -H "Authorization: $pauth" --data-binary "@$RUN/seg.ts" "$MEDIAGATE_UPLOAD_URL/$id/x.ts"
expect_status 403
req -X PUT -H "Authorization: $pauth" --data-binary "@$RUN/seg.ts" "$MEDIAGATE_UPLOAD_URL/$pid_/sub/x.ts"
expect_status 403
req -X PUT -H "Authorization: $pauth" --data-binary "@$RUN/seg.ts" "$MEDIAGATE_UPLOAD_URL/$pid_/..%2Fx.ts"
check "a traversal name is refused ($STATUS)" test "$STATUS" = 403 -o "$STATUS" = 400
req -X PUT -H "Authorization: $pauth" --data-binary "@$RUN/seg.ts" "${purl}ok.ts"
expect_status 201
# The check nginx runs is no oracle from outside: X-Original-* headers and
# a valid token get no answer, and mark nothing as uploaded.
psql_q "UPDATE streams SET uploaded = false WHERE id = '$pid_'" >/dev/null
for u in "$BASE/stream/upload_auth" "$BASE/_mediagate/upload_auth"; do
    req -H "X-Original-Method: PUT" -H "X-Original-URI: ${purl#"$BASE"}ok2.ts" -H "Authorization: $pauth" "$u"
    expect_status 404
done
check "the outside check set nothing" test "$(psql_q "SELECT uploaded FROM streams WHERE id = '$pid_'")" = f
req -X POST "${A[@]}" -d "id=$pid_" "$BASE/stream/stop"
req -X PUT -H "Authorization: $pauth" --data-binary "@$RUN/seg.ts" "${purl}late.ts"
expect_status 403
check "nothing written outside the prefix or after stop" bash -c "[ ! -e '$RUN/upload/live/$pid_/late.ts' ] && [ ! -e '$RUN/upload/live/$id' ]"
psql_q "UPDATE streams SET upload_expires = now() - interval '1 s', status = 'STARTED' WHERE id = '$pid_'" >/dev/null
req -X PUT -H "Authorization: $pauth" --data-binary "@$RUN/seg.ts" "${purl}expired.ts"
expect_status 403

# --- a wrong key is refused ---------------------------------------------------------------------
timeout 120 bash -c "$(declare -f broadcast); MEDIAGATE_RTMP_URL=$MEDIAGATE_RTMP_URL broadcast ${key}0 3 $RUN/ff2.log"
rc=$?
check "a wrong stream key cannot publish (rc $rc)" test "$rc" -ne 0
# nginx-rtmp's callbacks are a route row of their own: logged by their
# path, counted under their own route label and as backend "rtmp".
check "the app's log shows nginx-rtmp's accepted publish" \
    grep -q ' access POST /notifications/rtmp 200 ' "$RUN/mediagate.log"
check "the app's log shows nginx-rtmp's refused publish" \
    grep -q ' access POST /notifications/rtmp 403 ' "$RUN/mediagate.log"
curl -sS --max-time 10 "$BASE/metrics" >"$RUN/scrape.txt"
check "/metrics counts the callbacks under their own route" \
    grep -Eq '^mediagate_http_requests_total\{route="POST /notifications/rtmp",method="POST",status="403"\} [1-9]' "$RUN/scrape.txt"
check "/metrics counts them as backend rtmp's notifications too" \
    grep -Eq '^mediagate_notifications_total\{backend="rtmp",result="refused"\} [1-9]' "$RUN/scrape.txt"

# --- other callers, stop --------------------------------------------------------------------------
req "${B[@]}" "$BASE/stream/status?id=$id"
expect_status 404
req -X POST "${B[@]}" -d "id=$id" "$BASE/stream/stop"
expect_status 404
req -X POST "${A[@]}" -d "id=not-a-uuid" "$BASE/stream/stop"
expect_status 400
req -X POST "${A[@]}" -d "id=00000000-0000-4000-8000-000000000000" "$BASE/stream/stop"
expect_status 404
req -X POST "${A[@]}" "$BASE/stream/stop"
expect_status 400
req -X POST "${A[@]}" -d "id=$id" "$BASE/stream/stop"
expect_status 200
expect_json .stream.status '"STOPPED"'
stop1=$(jq -r .stream.stop_date <<<"$BODY")
# Another stop now would be a second later: the first one's date stays.
mg_wait_for "a second past the first stop" \
    test "$(psql_q "SELECT now() > '$stop1'::timestamptz + interval '1 second'")" = t
req -X POST "${A[@]}" -d "id=$id" "$BASE/stream/stop"
expect_status 200
expect_json .stream.stop_date "\"$stop1\""
timeout 120 bash -c "$(declare -f broadcast); MEDIAGATE_RTMP_URL=$MEDIAGATE_RTMP_URL broadcast $key 3 $RUN/ff3.log"
rc=$?
check "the key is refused after stop (rc $rc)" test "$rc" -ne 0

# --- a publisher still connected at stop is cut (at its next on_update) ------------------------
req -X POST "${A[@]}" -d type=hls "$BASE/stream/start"
id2=$(jq -r .stream.id <<<"$BODY")
key2=$(jq -r .endpoint.RTMP.stream_key <<<"$BODY")
broadcast "$key2" 120 "$RUN/ff4.log" &
ff=$!
mg_wait_for "LIVE" status_is "$id2" LIVE
req -X POST "${A[@]}" -d "id=$id2" "$BASE/stream/stop"
t0=$(date +%s)
# Its broadcast would last 120 s: a cut ends it early, with an error.
wait "$ff"
rc=$?
check "the live publisher was cut, $(( $(date +%s) - t0 )) s after stop (ffmpeg's status $rc)" test "$rc" -ne 0

# --- STS refusing (a wrong signature): 502, and no stream is created --------------------------
before=$(psql_q "SELECT count(*) FROM streams")
app_stop TERM
MEDIAGATE_AWS_SECRET_ACCESS_KEY=wrong-secret-0123456789 app_start || exit 1
req -X POST "${A[@]}" -d type=hls "$BASE/stream/start"
expect_status 502
expect_body '{"success":false,"message":"Could not obtain upload credentials; retry later."}'
check "no stream created when STS refuses" test "$(psql_q "SELECT count(*) FROM streams")" = "$before"
check "the refusal reason is logged" grep -q 'STS answered 403 The request signature we calculated does not match' "$RUN/mediagate.log"
app_stop TERM
app_start || exit 1

# --- revoked key, keys never logged ---------------------------------------------------------------
"$MG_BIN" apikey revoke "$(psql_q "SELECT id FROM api_keys WHERE name = 'bob'")" >/dev/null
req "${B[@]}" "$BASE/stream/status?id=$id"
expect_status 401
check "stream keys never reach the log" bash -c "! grep -q -e '${key#*key=}' -e '${key2#*key=}' -e '$alice' '$RUN/mediagate.log' '$RUN/nginx/error.log'"
# The limit counts characters: 200 of "é" (400 bytes) are fine, 201 are not.
e200=$(printf '%%C3%%A9%.0s' $(seq 200))
req -X POST "${A[@]}" -d "type=hls&name=$e200" "$BASE/stream/start"
expect_status 200
check "200 characters kept whole" test "$(jq -r '.stream.name | length' <<<"$BODY")" = 200
req -X POST "${A[@]}" -d "type=hls&name=${e200}%C3%A9" "$BASE/stream/start"
expect_status 400
expect_body '{"success":false,"message":"The parameter name is longer than 200 characters."}'
req -X POST "${A[@]}" -d "type=hls&name=bad%FFname" "$BASE/stream/start"
expect_status 400
expect_body '{"success":false,"message":"The parameter name is not valid UTF-8."}'
# --- a hung STS never starves the read routes ----------------------------------------------
# A server that accepts and never answers; 64 concurrent starts; meanwhile
# /media/status must keep answering (4 threads: at most 1 waits on STS).
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(256); open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True:
    c, _ = s.accept(); held.append(c)
' "$RUN/hung.port" &
hung=$!
mg_wait_for "the hung server's port" test -s "$RUN/hung.port"
app_stop TERM
MEDIAGATE_STS_URL="http://127.0.0.1:$(cat "$RUN/hung.port")/" app_start || exit 1
psql_q "INSERT INTO jobs (id, backend, input_file) VALUES ('read-1', 'local', 'uploads/r.mp4')" >/dev/null
starts=()
for i in $(seq 64); do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 "${A[@]}" -d type=hls "$BASE/stream/start" >"$RUN/start.$i" &
    starts+=($!)
done
# sts_waiting: a start holds a connection to the hung STS.
sts_waiting() { [ -n "$(ss -tnH state established "( dport = :$(cat "$RUN/hung.port") )")" ]; }
mg_wait_for "a start waiting on the hung STS" sts_waiting
slow=0 bad=0
for i in $(seq 20); do
    req "$BASE/media/status?job_id=read-1"
    [ "$STATUS" = 200 ] || bad=$((bad + 1))
    # The app's own time on it (its access log), not the client's.
    us=$(took_us)
    [ "${us:-99999999}" -le 1000000 ] || slow=$((slow + 1))
done
wait "${starts[@]}"
check "while STS hung, /media/status answered 200 every time ($bad not), none over 1 s in the app ($slow)" \
    test "$bad,$slow" = 0,0
codes=$(cat "$RUN"/start.* | sort | uniq -c | tr -s ' ' | tr '\n' ';')
check "the starts got 502 (STS timed out) or 503 (too many waiting), never hung: $codes" \
    bash -c "! grep -qv -e ' 502' -e ' 503' <<<'$(cat "$RUN"/start.* | sed 's/^/ /')'"
echo "64 starts against a hung STS: $codes"
kill "$hung" 2>/dev/null
app_stop TERM
app_start || exit 1
finish
