#!/usr/bin/env bash
# PostgreSQL stopped and started again under a stream of requests: 503 with
# Retry-After during the outage (quickly, never a hang), 200 after, with no
# app restart and no leaked connections. Run once with a fast shutdown and
# once with an immediate one (a crash, as far as clients can tell).
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"

export MEDIAGATE_THREADS=4 MEDIAGATE_DB_TIMEOUT_MS=1000 MEDIAGATE_RETRY_AFTER=3
stack_up || exit 1
trap stack_down EXIT
psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate)
        VALUES ('j1', 'local', 'a.mp4', 'PROGRESSING', 5)" >/dev/null
app_pid=$(cat "$RUN/mediagate.pid")
url="$BASE/media/status?job_id=j1"

# stream SECONDS FILE: requests from 4 clients until time is up; one line per
# answer: "<status> <seconds>".
stream() {
    local end=$(( $(date +%s) + $1 ))
    for c in 1 2 3 4; do
        (while [ "$(date +%s)" -lt "$end" ]; do
            curl -s -o /dev/null --max-time 10 -w '%{http_code} %{time_total}\n' "$url"
        done >"$2.$c") &
    done
    wait
    cat "$2".? >"$2"
}

for mode in fast immediate; do
    stream 8 "$RUN/codes-$mode" &
    streamer=$!
    sleep 2
    pg_stop "$mode"
    sleep 1
    req "$url"
    expect_status 503
    expect_header Retry-After 3
    expect_header Cache-Control no-store
    expect_body '{"success":false,"message":"The database is unavailable; retry later."}'
    sleep 1
    pg_resume || exit 1
    wait "$streamer"
    codes=$RUN/codes-$mode
    check "$mode: only 200 and 503 during the outage: $(sort "$codes" | cut -d' ' -f1 | uniq -c | tr '\n' ' ')" \
        bash -c "! cut -d' ' -f1 '$codes' | grep -qv '^\(200\|503\)$'"
    check "$mode: some 503 during the outage" grep -q '^503 ' "$codes"
    check "$mode: 200 before and after" test "$(grep -c '^200 ' "$codes")" -gt 20
    slowest=$(grep '^503 ' "$codes" | sort -k2 -n | tail -n 1 | cut -d' ' -f2)
    check "$mode: every 503 came within 3 s (slowest ${slowest}s)" \
        awk -v s="$slowest" 'BEGIN { exit !(s < 3) }'
    echo "$mode: $(grep -c '^200 ' "$codes") x 200, $(grep -c '^503 ' "$codes") x 503, slowest 503 ${slowest}s"
    req "$url"
    expect_status 200
    expect_body '{"success":true,"job_status":"PROGRESSING","progress_rate":5}'
done

check "the same app process served throughout" test "$(cat "$RUN/mediagate.pid")" = "$app_pid"
check "app still alive" kill -0 "$app_pid"
# Each thread holds at most one connection: no leak across reconnects.
pids=()
for _ in $(seq 8); do curl -s -o /dev/null "$url" & pids+=($!); done
wait "${pids[@]}"
conns=$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mediagate'")
check "at most one connection per thread after reconnects ($conns)" test "$conns" -le 4
check "reconnects were logged" grep -q 'database reconnected' "$RUN/mediagate.log"
finish
