#!/usr/bin/env bash
# PostgreSQL stopped and started again under a stream of requests: 503 with
# Retry-After during the outage (quickly by the app's own clock, never a
# hang), 200 after, with no app restart and no leaked connections. Run once
# with a fast shutdown and once with an immediate one (a crash, as far as
# clients can tell).
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"

export MEDIAGATE_THREADS=4 MEDIAGATE_DB_TIMEOUT_MS=1000 MEDIAGATE_RETRY_AFTER=3
stack_up || exit 1
psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate)
        VALUES ('j1', 'local', 'a.mp4', 'PROGRESSING', 5)" >/dev/null
app_pid=$(cat "$RUN/mediagate.pid")
url="$BASE/media/status?job_id=j1"

# A stream of requests from 4 clients, from stream_start until stream_stop;
# one line per answer in $RUN/codes.<client>: "<status> <seconds>".
stream_start() {
    rm -f "$RUN/stop" "$RUN"/codes.?
    streamers=()
    for c in 1 2 3 4; do
        (while [ ! -e "$RUN/stop" ]; do
            curl -s -o /dev/null --max-time 60 -w '%{http_code} %{time_total}\n' "$url"
        done >"$RUN/codes.$c") &
        streamers+=($!)
    done
}
stream_stop() { touch "$RUN/stop"; wait "${streamers[@]}"; cat "$RUN"/codes.? >"$1"; }
# count STATUS [FROM...]: answers of STATUS in the streams, each client's
# counted from its line FROM (default 1).
count() {
    local st=$1 n=0 c
    shift
    for c in 1 2 3 4; do
        n=$(( n + $(tail -n +"${1:-1}" "$RUN/codes.$c" 2>/dev/null | grep -c "^$st ") ))
        [ $# -eq 0 ] || shift
    done
    echo "$n"
}
# at_least N STATUS [FROM...]: count's answers are N or more.
at_least() { local n=$1; shift; [ "$(count "$@")" -ge "$n" ]; }
lines() { local c; for c in 1 2 3 4; do echo $(( $(wc -l <"$RUN/codes.$c") + 1 )); done; }
# The 503s' durations by the app's own clock (its access log lines), in
# microseconds, the slowest last.
durations_503() { grep -E ' access [A-Z]+ [^ ]+ 503 [0-9]+us' "$RUN/mediagate.log" | sed -E 's/.* 503 ([0-9]+)us.*/\1/' | sort -n; }

for mode in fast immediate; do
    stream_start
    check "$mode: 200s before the outage" mg_wait_for -t 300 "a 200" at_least 1 200
    pg_stop "$mode"
    req "$url"
    expect_status 503
    expect_header Retry-After 3
    expect_header Cache-Control no-store
    expect_body '{"success":false,"message":"The database is unavailable; retry later."}'
    check "$mode: the streams get 503 during the outage" mg_wait_for -t 300 "a 503" at_least 1 503
    pg_resume || exit 1
    mapfile -t from < <(lines)
    mg_wait_for -t 300 "20 answers of 200" at_least 20 200 "${from[@]}"
    check "$mode: progress after the restart: 20 answers of 200 ($(count 200 "${from[@]}") seen)" \
        at_least 20 200 "${from[@]}"
    codes=$RUN/codes-$mode
    stream_stop "$codes"
    check "$mode: only 200 and 503 during the outage: $(sort "$codes" | cut -d' ' -f1 | uniq -c | tr '\n' ' ')" \
        bash -c "! cut -d' ' -f1 '$codes' | grep -qv '^\(200\|503\)$'"
    slowest=$(durations_503 | tail -n 1)
    # The outage costs a failed connect (the socket is gone) or a broken
    # connection: never the 1 s deadline plus the 2 s connect timeout.
    check "$mode: every 503 within 3 s by the app's own clock (slowest ${slowest:-none} us)" \
        test "${slowest:-0}" -lt 3000000
    echo "$mode: $(grep -c '^200 ' "$codes") x 200, $(grep -c '^503 ' "$codes") x 503," \
        "slowest 503 ${slowest:-none} us in the app, $(grep '^503 ' "$codes" | sort -k2 -n | tail -n 1 | cut -d' ' -f2) s at the client"
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
