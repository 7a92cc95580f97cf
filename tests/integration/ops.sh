#!/usr/bin/env bash
# What an operator relies on: GET /healthz and /readyz (the database and
# the schema), GET /metrics (counters that move with the requests made,
# loopback only through the snippet), SIGHUP re-reading the settings file
# (reloadable settings applied and logged, restart-only ones named and kept,
# a bad file changing nothing, requests in flight all along), and the
# request id in X-Request-Id and in every log line, text or JSON.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"

mg_suite || exit 1
export RUN
old_secret=$(openssl rand -hex 16)
new_secret=$(openssl rand -hex 16)
mg_secret "$old_secret" "$new_secret"
conf=$RUN/mediagate.conf
write_conf() {
    cat >"$conf" <<EOF
# as an operator writes it
allowed_origins = $1
zencoder_secret = $2
threads = $3
log_format = $4
EOF
}
write_conf 'https://a\.example' "$old_secret" 4 text
export MEDIAGATE_CONFIG=$conf MEDIAGATE_DB_TIMEOUT_MS=1000
unset MEDIAGATE_THREADS MEDIAGATE_ALLOWED_ORIGINS MEDIAGATE_ZENCODER_SECRET MEDIAGATE_LOG_FORMAT
export MEDIAGATE_UPLOADS_DIR=$RUN/upload/uploads MEDIAGATE_MEDIA_DIR=$RUN/media
NGINX_SITE_EXTRA="$(upload_conf)"
export NGINX_SITE_EXTRA
stack_up || exit 1
psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate)
        VALUES ('ops1', 'local', 'a.mp4', 'PROGRESSING', 5)" >/dev/null
LOG=$RUN/mediagate.log
# wait_log TEXT: waits for TEXT in the app's log.
wait_log() { mg_wait_for "'$1' in the app's log" grep -qF -- "$1" "$LOG"; }

# --- /healthz and /readyz ---------------------------------------------------------
req "$BASE/healthz"
expect_status 200
expect_json .status '"serving"'
expect_header Cache-Control no-store
rid=$(header X-Request-Id)
check "healthz answers an X-Request-Id: $rid" grep -Eq '^[0-9a-f]{32}$' <<<"$rid"
req "$BASE/readyz"
expect_status 200
expect_json .status '"ready"'
expect_header Cache-Control no-store
req -H 'Origin: https://a.example' "$BASE/healthz"
expect_status 403
expect_header_absent Access-Control-Allow-Origin
check "successful probes are not in the access log" \
    bash -c "! grep -Eq 'access GET /(healthz|readyz) 200' '$LOG'"
check "a refused probe is" grep -q 'access GET /healthz 403' "$LOG"
# The schema older than the binary: not ready (and healthy).
newest=$(psql_q "SELECT max(version) FROM schema_migrations")
psql_q "UPDATE schema_migrations SET version = 'x' || version WHERE version = '$newest'" >/dev/null
req "$BASE/readyz"
expect_status 503
expect_body '{"success":false,"message":"The database schema is older than this binary; run mediagate migrate."}'
check "503 carries Retry-After" test -n "$(header Retry-After)"
req "$BASE/healthz"
expect_status 200
psql_q "UPDATE schema_migrations SET version = '$newest' WHERE version = 'x$newest'" >/dev/null
req "$BASE/readyz"
expect_status 200

# --- /metrics ----------------------------------------------------------------------
# metric NAME{LABELS}: its value in a fresh scrape (0 when absent).
scrape() { curl -sS --max-time 10 "$BASE/metrics" >"$RUN/scrape.txt"; }
metric() {
    awk -v k="$1" '{v = $NF; n = substr($0, 1, length($0) - length(v) - 1)}
                   n == k {print v; f = 1} END {if (!f) print 0}' "$RUN/scrape.txt"
}
req "$BASE/metrics"
expect_status 200
expect_header Content-Type 'text/plain; version=0.0.4; charset=utf-8'
expect_header Cache-Control no-store
# Every line is a comment or `name{labels} value`, every family has its
# TYPE, and the histogram is cumulative.
printf '%s\n' "$BODY" >"$RUN/scrape.txt"
fmt=$(python3 - "$RUN/scrape.txt" <<'PY'
import re, sys
types, bad, last = {}, [], {}
for line in open(sys.argv[1]).read().splitlines():
    if line.startswith('# TYPE '):
        _, _, name, t = line.split(' ', 3); types[name] = t; continue
    if line.startswith('#') or not line:
        continue
    m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*",?)*\})? (\S+)', line)
    if not m: bad.append(line); continue
    name = m.group(1); float(m.group(4))
    base = re.sub(r'_(bucket|sum|count)$', '', name)
    if name not in types and base not in types: bad.append('no TYPE: ' + line)
    if name.endswith('_bucket'):
        key = re.sub(r',?le="[^"]*"', '', m.group(2))
        if float(m.group(4)) < last.get(key, 0): bad.append('not cumulative: ' + line)
        last[key] = float(m.group(4))
print('\n'.join(bad))
PY
)
check "the scrape is Prometheus text format: $fmt" test -z "$fmt"
k200='mediagate_http_requests_total{route="GET /media/status",method="GET",status="200"}'
k422='mediagate_http_requests_total{route="GET /media/status",method="GET",status="422"}'
kcount='mediagate_http_request_duration_seconds_count{route="GET /media/status"}'
kinf='mediagate_http_request_duration_seconds_bucket{route="GET /media/status",le="+Inf"}'
scrape
a200=$(metric "$k200") a422=$(metric "$k422") acount=$(metric "$kcount")
for _ in 1 2 3 4 5; do curl -sS -o /dev/null "$BASE/media/status?job_id=ops1"; done
for _ in 1 2; do curl -sS -o /dev/null "$BASE/media/status?job_id=nope"; done
scrape
check "5 more 200s counted ($a200 -> $(metric "$k200"))" test "$(metric "$k200")" = $((a200 + 5))
check "2 more 422s counted ($a422 -> $(metric "$k422"))" test "$(metric "$k422")" = $((a422 + 2))
check "the latency histogram counted 7 more" test "$(metric "$kcount")" = $((acount + 7))
check "its +Inf bucket equals its count" test "$(metric "$kinf")" = "$(metric "$kcount")"
check "no route is its own series" bash -c "curl -s '$BASE/media/nothing' >/dev/null; curl -s '$BASE/metrics' | grep -q 'route=\"none\",method=\"GET\",status=\"404\"'"
# Notifications by backend and result.
kref='mediagate_notifications_total{backend="zencoder",result="refused"}'
kunk='mediagate_notifications_total{backend="zencoder",result="unknown_job"}'
a=$(metric "$kref")
curl -sS -o /dev/null -X POST -H 'X-Zencoder-Notification-Secret: wrong-wrong-wrong' \
    -H 'Content-Type: application/json' --data '{}' "$BASE/notifications/zencoder"
scrape
check "a refused notification counted" test "$(metric "$kref")" = $((a + 1))
zen='{"job":{"id":987654,"state":"processing"},"output":{"id":1,"state":"processing"}}'
curl -sS -o /dev/null -X POST -H "X-Zencoder-Notification-Secret: $old_secret" \
    -H 'Content-Type: application/json' --data "$zen" "$BASE/notifications/zencoder"
scrape
check "an unknown job's notification counted" test "$(metric "$kunk")" = 1
# The queue, read at scrape time.
kq='mediagate_queue_depth{kind="local.encode"}'
a=$(metric "$kq")
touch "$RUN/in.mp4"
"$MG_BIN" submit "$RUN/in.mp4" >/dev/null 2>&1
scrape
check "a submitted encode is in the queue depth ($a -> $(metric "$kq"))" test "$(metric "$kq")" = $((a + 1))
check "tasks by kind and state" grep -q '^mediagate_tasks{kind="local.encode",state="queued"} ' "$RUN/scrape.txt"
check "the scrape read the database" test "$(metric mediagate_db_up)" = 1
# Webhook deliveries: nothing while the table is absent, by state once it exists.
check "no webhook series without the table" bash -c "! grep -q '^mediagate_webhook_deliveries{' '$RUN/scrape.txt'"
if ! psql_q "SELECT to_regclass('webhook_deliveries') IS NOT NULL" | grep -q t; then
    psql_q "CREATE TABLE webhook_deliveries (id serial, state text);
            ALTER TABLE webhook_deliveries OWNER TO mediagate;
            INSERT INTO webhook_deliveries (state) VALUES ('delivered'), ('delivered'), ('failed')" >/dev/null
    scrape
    check "webhook deliveries by state once the table exists" \
        test "$(metric 'mediagate_webhook_deliveries{state="delivered"}')" = 2
    psql_q "DROP TABLE webhook_deliveries" >/dev/null
fi
# Reconnects: PostgreSQL restarted under the app.
a=$(metric mediagate_db_reconnects_total)
pg_stop fast
req "$BASE/readyz"
expect_status 503
expect_body '{"success":false,"message":"The database is unavailable; retry later."}'
req "$BASE/healthz"
expect_status 200
req "$BASE/metrics"
expect_status 200
check "a scrape without the database says so" grep -q '^mediagate_db_up 0$' <<<"$BODY"
pg_resume
ready() { curl -sS "$BASE/readyz" | grep -q ready; }
mg_wait_for "/readyz to say ready" ready
for _ in $(seq 20); do curl -sS -o /dev/null "$BASE/media/status?job_id=ops1"; done
scrape
check "reconnects counted ($a -> $(metric mediagate_db_reconnects_total))" \
    test "$(metric mediagate_db_reconnects_total)" -gt "$a"
# Loopback only, through the snippet: another address of this machine is refused.
req --interface 127.0.0.2 "$BASE/metrics"
expect_status 403
req --interface 127.0.0.2 "$BASE/healthz"
expect_status 200

# --- the request id ------------------------------------------------------------------
req "$BASE/media/status?job_id=ops1"
rid=$(header X-Request-Id)
check "nginx's \$request_id is the X-Request-Id: $rid" grep -Eq '^[0-9a-f]{32}$' <<<"$rid"
check "the access line names it" grep -q "access GET /media/status 200 .* request_id=$rid$" "$LOG"
req "$BASE/media/status?job_id=ops1"
check "each request has its own id" test "$(header X-Request-Id)" != "$rid"

# --- into the tasks a request queues, and the worker's log --------------------------------
key=$(mg_apikey ops)
printf 'not a video' >"$RUN/clip.mp4"
req -X PUT -H "Authorization: Bearer $key" -H 'Content-Type: video/mp4' --data-binary "@$RUN/clip.mp4" \
    "$BASE/uploads/clip.mp4"
expect_status 201
rid=$(header X-Request-Id)
check "the upload's encode task carries the request id $rid" \
    test "$(psql_q "SELECT payload->>'request_id' FROM outbox WHERE kind = 'local.encode' ORDER BY id DESC LIMIT 1")" = "$rid"
check "a task queued outside a request carries none" \
    test "$(psql_q "SELECT count(*) FROM outbox WHERE payload->>'job_id' = (SELECT id FROM jobs WHERE input_file LIKE '%in.mp4') AND payload ? 'request_id'")" = 0
"$MG_BIN" worker >>"$RUN/worker.log" 2>&1 &
wpid=$!
mg_wait_for "the worker's line naming $rid" grep -q "request_id=$rid" "$RUN/worker.log"
kill -TERM "$wpid"; wait "$wpid"
check "the worker's lines for that task name the request: $(grep -c "request_id=$rid" "$RUN/worker.log")" \
    grep -q "task [0-9]*: local.encode (attempt 1) by .* request_id=$rid$" "$RUN/worker.log"
check "its other lines do not" bash -c "grep 'worker running' '$RUN/worker.log' | grep -vq request_id"

# --- SIGHUP ----------------------------------------------------------------------------
req -H 'Origin: https://b.example' "$BASE/media/status?job_id=ops1"
expect_status 422
# Requests keep coming while the settings are swapped, many times.
(for _ in $(seq 400); do
    curl -s -o /dev/null -w '%{http_code}\n' -H 'Origin: https://a.example' "$BASE/media/status?job_id=ops1"
done) >"$RUN/load.codes" &
load=$!
pid=$(cat "$RUN/mediagate.pid")
reloads() { grep -c 'SIGHUP: settings re-read' "$LOG"; }
reloaded_past() { [ "$(reloads)" -gt "$1" ]; }
for i in $(seq 20); do
    write_conf "https://a\.example https://x$i\.example" "$old_secret" 4 text
    n=$(reloads)
    kill -HUP "$pid"
    mg_wait_for "reload $i" reloaded_past "$n"
done
wait "$load"
check "400 requests during 20 reloads all answered 200: $(sort "$RUN/load.codes" | uniq -c | tr '\n' ' ')" \
    test "$(grep -c '^200$' "$RUN/load.codes")" = 400
check "the app lived through them" kill -0 "$pid"
: >"$RUN/hup.mark"; hup_from=$(wc -l <"$LOG")
write_conf 'https://b\.example' "$new_secret" 7 json
kill -HUP "$pid"
check "the reload is logged" wait_log "settings re-read from $conf: 3 applied, 1 need a restart"
since=$(tail -n +"$((hup_from + 1))" "$LOG")
check "the changed origins are named" grep -q 'MEDIAGATE_ALLOWED_ORIGINS changed; applied' <<<"$since"
check "the changed secret is named" grep -q 'MEDIAGATE_ZENCODER_SECRET changed; applied' <<<"$since"
check "the restart-only setting is named as such" \
    grep -q 'MEDIAGATE_THREADS changed, but it needs a restart' <<<"$since"
req -H 'Origin: https://b.example' "$BASE/media/status?job_id=ops1"
expect_status 200
expect_header Access-Control-Allow-Origin https://b.example
req -H 'Origin: https://a.example' "$BASE/media/status?job_id=ops1"
expect_status 422
req -X POST -H "X-Zencoder-Notification-Secret: $old_secret" -H 'Content-Type: application/json' \
    --data "$zen" "$BASE/notifications/zencoder"
expect_status 401
req -X POST -H "X-Zencoder-Notification-Secret: $new_secret" -H 'Content-Type: application/json' \
    --data "$zen" "$BASE/notifications/zencoder"
expect_status 404
check "the running threads stay 4 (one connection each)" \
    test "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'mediagate%' AND usename = 'mediagate' AND backend_type = 'client backend'")" -le 4
# JSON lines now, each with the request's id.
req "$BASE/media/status?job_id=ops1"
rid=$(header X-Request-Id)
line=$(grep -F "\"request_id\":\"$rid\"" "$LOG" | tail -n 1)
check "a JSON access line with the request id: $line" \
    test "$(jq -r '[.level, .method, .path, .status, .request_id] | join(" ")' <<<"$line" 2>&1)" = \
    "access GET /media/status 200 $rid"
check "it has the duration and bytes" test "$(jq -r '.duration_us > 0 and .bytes > 0' <<<"$line")" = true
# A line the request causes besides the access line: the database down mid-request.
pg_stop fast
req "$BASE/media/status?job_id=ops1"
rid=$(header X-Request-Id)
pg_resume
lines=$(grep -F "\"request_id\":\"$rid\"" "$LOG")
check "the request's warning carries its id too: $lines" \
    test "$(jq -s '[.[] | select(.level != "access")] | length > 0' <<<"$lines")" = true
check "every JSON line parses" bash -c "tail -n +$((hup_from + 1)) '$LOG' | grep '^{' | jq -e . >/dev/null"
# A bad file changes nothing.
printf 'threads = lots\nallowed_origins = (\n' >"$conf"
kill -HUP "$pid"
check "a bad file is refused and named" wait_log "the running settings stay"
check "each problem is logged" wait_log "MEDIAGATE_THREADS must be an integer"
req -H 'Origin: https://b.example' "$BASE/media/status?job_id=ops1"
expect_status 200
expect_header Access-Control-Allow-Origin https://b.example
finish
