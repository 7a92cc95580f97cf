#!/usr/bin/env bash
# MEDIAGATE_DATABASE_READ_URL against a real streaming replica made by
# pg_basebackup -R from the test's own cluster: the read routes answer from
# the replica (its replay paused, they show the old row), writes and
# notifications go to the primary and become visible on the replica within
# its lag, and a replica outage makes the primary answer (never a wrong or
# a failed answer), until the replica is back.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"

mg_suite || exit 1
export RUN MEDIAGATE_THREADS=2 MEDIAGATE_DB_TIMEOUT_MS=1000
export MEDIAGATE_ZENCODER_SECRET=$(openssl rand -hex 16)
REPL=$RUN/replica
REPLSOCK=$RUN/replsock
export MEDIAGATE_DATABASE_READ_URL="postgresql:///mediagate?host=$REPLSOCK&user=mediagate"
# The primary, as every suite makes it, and then its replica, before serve.
pg_ready() {
    (cd / && runuser -u postgres -- "$PGBIN/psql" -h "$1" -U postgres -d mediagate -qAtc "$2")
}
replica_start() {
    touch "$RUN/replica.log" && chown postgres "$RUN/replica.log"
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$REPL" -l "$RUN/replica.log" -w -t 30 \
        -o "-k $REPLSOCK -c listen_addresses='' -c hot_standby=on -c max_connections=200" start >/dev/null
}
replica_stop() { runuser -u postgres -- "$PGBIN/pg_ctl" -D "$REPL" -m fast -w -t 30 stop >/dev/null; }
mg_at_exit '[ ! -s "$REPL/postmaster.pid" ] || replica_stop'
stack_up || exit 1
# Replication over the unix socket, as postgres (peer).
echo 'local replication postgres peer map=mg_admin' >>"$RUN/pg/pg_hba.conf"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$RUN/pg" reload >/dev/null
mkdir -p "$REPLSOCK" "$REPL" && chown postgres "$REPLSOCK" "$REPL" && chmod 755 "$REPLSOCK" && chmod 700 "$REPL"
out=$(cd / && runuser -u postgres -- "$PGBIN/pg_basebackup" -h "$RUN/pgsock" -U postgres -D "$REPL" -c fast \
    -R -X stream 2>&1)
check "pg_basebackup -R made a replica: $out" test -f "$REPL/standby.signal"
replica_start || { cat "$RUN/replica.log" >&2; exit 1; }
check "the replica is in recovery" test "$(pg_ready "$REPLSOCK" 'SELECT pg_is_in_recovery()')" = t
# serve again, now that the replica answers.
app_stop TERM
app_start || exit 1

psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate)
        VALUES ('r1', 'local', 'a.mp4', 'PROGRESSING', 10)" >/dev/null
# visible_within MS JQ WANT URL: polls until the answer's JQ is WANT; prints
# the milliseconds it took (MS is a cap against a hang, not a bound: a
# loaded machine replicates slowly).
visible_within() {
    local t0 now
    t0=$(date +%s%3N)
    while :; do
        req "$4"
        [ "$(jq -c "$2" <<<"$BODY" 2>/dev/null)" = "$3" ] && break
        now=$(date +%s%3N)
        [ $((now - t0)) -le "$1" ] || { echo "never"; return 1; }
        sleep 0.02
    done
    echo $(( $(date +%s%3N) - t0 ))
}
ms=$(visible_within 120000 .progress_rate 10 "$BASE/media/status?job_id=r1")
check "a new job is visible through the replica (${ms} ms)" test "$ms" != never

# --- reads come from the replica ---------------------------------------------------------
pg_ready "$REPLSOCK" 'SELECT pg_wal_replay_pause()' >/dev/null
psql_q "UPDATE jobs SET progress_rate = 55 WHERE id = 'r1'" >/dev/null
sleep 0.3
req "$BASE/media/status?job_id=r1"
expect_status 200
expect_json .progress_rate 10
check "the primary has 55 meanwhile" test "$(psql_q "SELECT progress_rate FROM jobs WHERE id = 'r1'")" = 55
req "$BASE/media/job_id?input_file=a.mp4"
expect_json .job_id '"r1"'
check "the replica's sessions are mediagate's read connections" \
    test "$(pg_ready "$REPLSOCK" "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'mediagate-read'")" = t
pg_ready "$REPLSOCK" 'SELECT pg_wal_replay_resume()' >/dev/null
ms=$(visible_within 120000 .progress_rate 55 "$BASE/media/status?job_id=r1")
check "after replay resumes, the update shows (${ms} ms)" test "$ms" != never

# --- writes stay on the primary; a notification's effect reaches the replica ----------------
key=$(mg_apikey repl)
req -X POST -H "Authorization: Bearer $key" --data 'backend=zencoder&backend_job_id=777&input_file=z.mp4' \
    "$BASE/media/jobs"
expect_status 201
zid=$(jq -r .job_id <<<"$BODY")
lags=()
for state in processing finished; do
    req -X POST -H "X-Zencoder-Notification-Secret: $MEDIAGATE_ZENCODER_SECRET" -H 'Content-Type: application/json' \
        --data "{\"job\":{\"id\":777,\"state\":\"$state\"},\"output\":{\"id\":1,\"state\":\"$state\"}}" \
        "$BASE/notifications/zencoder"
    expect_status 200
    want=$([ $state = finished ] && echo '"COMPLETE"' || echo '"PROGRESSING"')
    ms=$(visible_within 120000 .job_status "$want" "$BASE/media/status?job_id=$zid")
    check "the $state notification's effect is on the replica (${ms} ms)" test "$ms" != never
    lags+=("$ms")
done
echo "notification -> visible on the replica: ${lags[*]} ms" >&2

# --- the replica down: the primary answers; back: the replica again ----------------------
replica_stop
ok=0 bad=0
for _ in $(seq 20); do
    req "$BASE/media/status?job_id=r1"
    if [ "$STATUS" = 200 ] && [ "$(jq -c .progress_rate <<<"$BODY")" = 55 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
done
check "with the replica down, 20 reads got the primary's answer ($ok right, $bad not)" test "$ok" = 20
curl -sS "$BASE/metrics" >"$RUN/scrape.txt" 2>/dev/null || true
check "the fallbacks are counted" grep -Eq '^mediagate_db_read_fallbacks_total [1-9]' "$RUN/scrape.txt"
replica_start || { cat "$RUN/replica.log" >&2; exit 1; }
sleep 1.5   # past the connection's reconnect hold-off
pg_ready "$REPLSOCK" 'SELECT pg_wal_replay_pause()' >/dev/null
psql_q "UPDATE jobs SET progress_rate = 77 WHERE id = 'r1'" >/dev/null
sleep 0.3
for _ in $(seq 600); do
    req "$BASE/media/status?job_id=r1"
    [ "$(jq -c .progress_rate <<<"$BODY")" = 55 ] && break
    sleep 0.1
done
check "the replica answers again once it is back (still 55 while its replay is paused)" \
    test "$(jq -c .progress_rate <<<"$BODY")" = 55
pg_ready "$REPLSOCK" 'SELECT pg_wal_replay_resume()' >/dev/null
# Both down: 503, never a wrong answer.
replica_stop
pg_stop fast
req "$BASE/media/status?job_id=r1"
expect_status 503
pg_resume
replica_start
finish
