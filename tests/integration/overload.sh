#!/usr/bin/env bash
# Overload sheds instead of queueing. Every request thread is held by a
# stuck database while more requests pile up in the app's listen backlog;
# once a thread is free, each request that waited longer than
# MEDIAGATE_QUEUE_WAIT_MS (the app's own measure: nginx's $msec, passed as
# MEDIAGATE_REQUEST_START, against its clock) is answered 503 + Retry-After
# at once and its route never runs: the queued POST /media/jobs create no
# job. /healthz is answered all the same, and the next fresh request is
# served. Nothing here measures the machine's speed: the queued requests
# wait for the test to release the database, however long that takes.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"

# Two threads, each held for as long as the lock is (the statement deadline
# is far beyond the test); a queue-wait budget of 1 s.
export MEDIAGATE_THREADS=2 MEDIAGATE_DB_TIMEOUT_MS=600000 MEDIAGATE_QUEUE_WAIT_MS=1000
QUEUED=6
pids=()
release() { psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mg-locker'" >/dev/null 2>&1; }
cleanup() {
    release
    [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null
}
mg_at_exit cleanup   # on every way out, before the stack stops (scripts/lib.sh)
stack_up || exit 1
# until_true DESC CMD...: waits for CMD (mg_wait_for); when it never
# succeeds, the test stops with DESC.
until_true() {
    mg_wait_for "$@" && return 0
    fail "never: $1"
    finish
    exit 1
}
psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate)
        VALUES ('j1', 'local', 'a.mp4', 'PROGRESSING', 5)" >/dev/null
key=$(mg_apikey overload)
url="$BASE/media/status?job_id=j1"

req "$url"
expect_status 200
# The start comes from nginx alone: a client's header of that name is
# HTTP_MEDIAGATE_REQUEST_START to the app, and changes nothing.
req -H 'Mediagate-Request-Start: 1.000' "$url"
expect_status 200

# --- every thread held by a locked table -------------------------------------------------
(cd / && PGAPPNAME=mg-locker runuser -u postgres -- "$PGBIN/psql" -h "$RUN/pgsock" -U postgres -d mediagate \
    -qc "BEGIN; LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3600);" >/dev/null 2>&1) &
pids+=($!)
locked() {
    [ "$(psql_q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                 WHERE c.relname = 'jobs' AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ]
}
until_true "the table is locked" locked
for i in 1 2; do
    curl -s --max-time 120 -o /dev/null "$url" &
    pids+=($!)
done
# Both threads wait on the lock: anything sent now waits in the backlog.
held() {
    [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mediagate'
                 AND wait_event_type = 'Lock'")" = 2 ]
}
until_true "both threads wait on the lock" held

# --- requests pile up ---------------------------------------------------------------------
for i in $(seq "$QUEUED"); do
    curl -sS --max-time 120 -o "$RUN/q$i.body" -D "$RUN/q$i.headers" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer $key" --data "backend=zencoder&backend_job_id=queued-$i&input_file=q$i.mp4" \
        "$BASE/media/jobs" >"$RUN/q$i.code" 2>&1 &
    pids+=($!)
done
curl -sS --max-time 120 -o "$RUN/health.body" -w '%{http_code}' "$BASE/healthz" >"$RUN/health.code" 2>&1 &
pids+=($!)
# nginx has passed all of them on when the app's socket holds them
# (ss: a listening socket's Recv-Q is its queue of connections).
queued() { [ "$(ss -xlnH | awk -v s="$RUN/mediagate.sock" '$5 == s {print $3}')" -ge $((QUEUED + 1)) ] 2>/dev/null; }
until_true "the requests wait in the app's backlog" queued
# Past the budget, as the app will measure it (its clock, nginx's start,
# which came before they all were in the backlog), by a margin.
until_true "the queue-wait budget to pass" mg_past $(( $(mg_now_ms) + MEDIAGATE_QUEUE_WAIT_MS + 300 ))
release
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
pids=()

# --- what they were answered ----------------------------------------------------------------
for i in $(seq "$QUEUED"); do
    BODY=$(cat "$RUN/q$i.body" 2>/dev/null) STATUS=$(cat "$RUN/q$i.code") HEADERS=$RUN/q$i.headers
    REQ_DESC="queued POST /media/jobs #$i"
    _record_answer "mg-answer POST $STATUS $BASE/media/jobs"   # for the openapi.yaml check
    expect_status 503
    expect_json .message '"mediagate is overloaded; retry later."'
    expect_header Retry-After 2
    expect_header Cache-Control no-store
    check "queued request $i has its X-Request-Id" test -n "$(header X-Request-Id)"
done
check "/healthz, queued as long, was answered ($(cat "$RUN/health.code"))" test "$(cat "$RUN/health.code")" = 200
check "no queued POST ran: no job was created" \
    test "$(psql_q "SELECT count(*) FROM jobs WHERE backend_job_id LIKE 'queued-%'")" = 0
curl -sS "$BASE/metrics" >"$RUN/scrape.txt" 2>/dev/null
check "the shed requests are counted ($(grep '^mediagate_http_requests_shed_total' "$RUN/scrape.txt"))" \
    grep -qx "mediagate_http_requests_shed_total $QUEUED" "$RUN/scrape.txt"
check "the app's log says why" grep -q 'queue wait [0-9]* ms passed MEDIAGATE_QUEUE_WAIT_MS (1000 ms)' "$RUN/mediagate.log"
# --- a finished request does not hold its thread -------------------------------------------
# libfcgi's own close waits for nginx to close its end first (2 s at most,
# longer while bytes keep coming): a busy nginx held every thread that way,
# and the app served ~100 requests a second under overload. With one
# thread, a second request is answered while the first one's peer keeps
# its end open and writing (tests/lib/fcgi_close.py, in nginx's place).
app_stop TERM
MEDIAGATE_THREADS=1 app_start || exit 1
out=$(timeout 60 python3 "$MG_ROOT/tests/lib/fcgi_close.py" "$RUN/mediagate.sock" 2>&1)
check "a request is answered while the previous one's peer keeps its end open: $out" \
    grep -q '^b_answered=yes' <<<"$out"

# The queue drained: a fresh request is served, and a new job is created.
req "$url"
expect_status 200
req -X POST -H "Authorization: Bearer $key" --data 'backend=zencoder&backend_job_id=fresh&input_file=f.mp4' \
    "$BASE/media/jobs"
expect_status 201
finish
