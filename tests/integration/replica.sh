#!/usr/bin/env bash
# MEDIAGATE_DATABASE_READ_URL against a real streaming replica made by
# pg_basebackup -R from the test's own cluster: the read routes answer from
# the replica (its replay paused, they show the old row), writes and
# notifications go to the primary and become visible on the replica within
# its lag, and a replica outage makes the primary answer (never a wrong or
# a failed answer), until the replica is back. A frozen replica (SIGSTOP:
# its sockets accept, nothing answers) costs one short wait
# (MEDIAGATE_DB_READ_TIMEOUT_MS), after which every thread reads from the
# primary for the hold-off, then one read tries the replica again: the
# app's own log and metrics show it.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"

mg_suite || exit 1
export RUN MEDIAGATE_THREADS=2 MEDIAGATE_DB_TIMEOUT_MS=5000
export MEDIAGATE_DB_READ_TIMEOUT_MS=300 MEDIAGATE_DB_READ_HOLDOFF_MS=1000
MEDIAGATE_ZENCODER_SECRET=$(openssl rand -hex 16) || exit 1
export MEDIAGATE_ZENCODER_SECRET
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
# replica_freeze / replica_thaw: SIGSTOP / SIGCONT its postmaster, then
# every process it forked (no new one while it is stopped).
FROZEN=
replica_freeze() {
    local pm
    pm=$(head -n 1 "$REPL/postmaster.pid")
    FROZEN=$pm
    kill -STOP "$pm"
    FROZEN="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    kill -STOP $FROZEN
}
replica_thaw() {
    # shellcheck disable=SC2086
    [ -z "$FROZEN" ] || kill -CONT $FROZEN 2>/dev/null
    FROZEN=
}
mg_at_exit 'replica_thaw; [ ! -s "$REPL/postmaster.pid" ] || replica_stop'
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
    local t0
    t0=$(mg_now_ms)
    mg_wait_for -t $(( $1 / 1000 )) "$2 = $3 at $4" answers "$2" "$3" "$4" || { echo "never"; return 1; }
    echo $(( $(mg_now_ms) - t0 ))
}
# answers JQ VALUE URL: the read of URL has JQ = VALUE ($BODY: the answer).
answers() { req "$3"; [ "$(jq -c "$1" <<<"$BODY" 2>/dev/null)" = "$2" ]; }
ms=$(visible_within 120000 .progress_rate 10 "$BASE/media/status?job_id=r1")
check "a new job is visible through the replica (${ms} ms)" test "$ms" != never

# replica_answers WANT: reads r1 until its progress_rate is WANT (the
# replica's, its replay paused), for at most 10 s; $BODY is the last answer.
replica_answers() { mg_wait_for -t 60 "the replica's r1 at $1" answers .progress_rate "$1" "$BASE/media/status?job_id=r1"; }
# write_held_back SQL: runs SQL on the primary (replay paused first), and
# waits until the replica has received its WAL and holds it unapplied.
write_held_back() {
    local lsn
    lsn=$(psql_q "$1; SELECT pg_current_wal_lsn()" | tail -n 1)
    mg_wait_for "the replica to receive $lsn and hold its replay" held_back "$lsn"
}
held_back() {
    [ "$(pg_ready "$REPLSOCK" "SELECT pg_last_wal_receive_lsn() >= '$1'
                                 AND pg_get_wal_replay_pause_state() = 'paused'")" = t ]
}

# --- reads come from the replica ---------------------------------------------------------
pg_ready "$REPLSOCK" 'SELECT pg_wal_replay_pause()' >/dev/null
write_held_back "UPDATE jobs SET progress_rate = 55 WHERE id = 'r1'"
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

# --- the replica frozen: one short wait, then the primary for the hold-off -------------------
# scrape NAME: the value of counter NAME now.
scrape() { curl -sS "$BASE/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
pg_ready "$REPLSOCK" 'SELECT pg_wal_replay_pause()' >/dev/null
psql_q "UPDATE jobs SET progress_rate = 66 WHERE id = 'r1'" >/dev/null
req "$BASE/media/status?job_id=r1"
expect_json .progress_rate 55   # from the replica, before the freeze
trips0=$(scrape mediagate_db_replica_trips_total) fb0=$(scrape mediagate_db_read_fallbacks_total)
skip0=$(scrape mediagate_db_read_skipped_total)
log_from=$(wc -l <"$RUN/mediagate.log")
replica_freeze
# frozen_reads N: N reads, four at a time; all must be the primary's 200.
frozen_reads() {
    rm -f "$RUN"/frozen.*
    seq "$1" | xargs -P 4 -I{} curl -s --max-time 60 -o "$RUN/frozen.{}" -w '%{http_code}\n' \
        "$BASE/media/status?job_id=r1" >"$RUN/frozen.txt"
    check "with the replica frozen, $1 of $1 reads were answered 200: $(sort "$RUN/frozen.txt" | uniq -c | tr '\n' ' ')" \
        test "$(grep -cx 200 "$RUN/frozen.txt")" = "$1"
    check "each with the primary's row" test "$(grep -l '"progress_rate":66}' "$RUN"/frozen.[0-9]* | wc -l)" = "$1"
}
frozen_reads 20
holdoff_end=$(( $(mg_now_ms) + MEDIAGATE_DB_READ_HOLDOFF_MS + 200 ))   # after the last trip
trips=$(( $(scrape mediagate_db_replica_trips_total) - trips0 ))
fb=$(( $(scrape mediagate_db_read_fallbacks_total) - fb0 ))
skip=$(( $(scrape mediagate_db_read_skipped_total) - skip0 ))
check "the replica's timeouts opened the breaker ($trips)" test "$trips" -ge 1
check "every read that waited for the replica opened it ($fb waited, $trips trips)" test "$fb" = "$trips"
check "the other reads went straight to the primary ($skip skipped + $fb = 20)" test $((skip + fb)) = 20
# Past the hold-off, one read tries the replica again (and waits its short
# deadline); the rest still go to the primary.
mg_wait_for "the hold-off to pass" mg_past "$holdoff_end"
frozen_reads 20
trips2=$(( $(scrape mediagate_db_replica_trips_total) - trips0 - trips ))
check "after the hold-off, a read tried the frozen replica again ($trips2 more trips)" test "$trips2" -ge 1
# From the app's own log: the trips (the threads' reads in flight when it
# froze, then one probe per hold-off at most), and how long each read took.
out=$(tail -n +"$((log_from + 1))" "$RUN/mediagate.log" | python3 -c '
import datetime, re, sys
threads, timeout, hold, primary = (int(x) for x in sys.argv[1:])
trips, took = [], []
for line in sys.stdin:
    ts = datetime.datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000
    if "read replica unreachable or too slow" in line:
        trips.append(ts)
    m = re.search(r" access GET /media/status \d+ (\d+)us", line)
    if m:
        took.append(int(m.group(1)) // 1000)
# No read can reach the replica within the hold-off after a trip: the
# trips in the first one are reads that were in flight at the freeze.
burst = [t for t in trips if t - trips[0] < hold] if trips else []
later = trips[len(burst) - 1:] if burst else []
gaps = [round(b - a) for a, b in zip(later, later[1:])]
ok = bool(trips) and len(burst) <= threads and all(g >= hold - 5 for g in gaps) and took and max(took) < primary
print(f"{len(trips)} trips, {len(burst)} at the freeze, then gaps of {gaps} ms; reads took at most {max(took or [0])} ms: {ok}")
' "$MEDIAGATE_THREADS" "$MEDIAGATE_DB_READ_TIMEOUT_MS" "$MEDIAGATE_DB_READ_HOLDOFF_MS" "$MEDIAGATE_DB_TIMEOUT_MS")
echo "frozen replica, from the app's log: $out" >&2
check "the app's log: $out" test "${out##*: }" = True
replica_thaw
replica_answers 55
check "thawed, the replica answers again after the hold-off (55 while its replay is paused)" \
    test "$(jq -c .progress_rate <<<"$BODY")" = 55
grep -q 'read replica answers again' "$RUN/mediagate.log"
check "the app's log says the replica answers again" test $? = 0
pg_ready "$REPLSOCK" 'SELECT pg_wal_replay_resume()' >/dev/null
ms=$(visible_within 5000 .progress_rate 66 "$BASE/media/status?job_id=r1")
check "replay resumed, the replica has the primary's row (${ms} ms)" test "$ms" != never
psql_q "UPDATE jobs SET progress_rate = 55 WHERE id = 'r1'" >/dev/null
ms=$(visible_within 5000 .progress_rate 55 "$BASE/media/status?job_id=r1")
check "and follows it (${ms} ms)" test "$ms" != never

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
pg_ready "$REPLSOCK" 'SELECT pg_wal_replay_pause()' >/dev/null
write_held_back "UPDATE jobs SET progress_rate = 77 WHERE id = 'r1'"
# (reads go to the replica again once its breaker's hold-off has passed)
replica_answers 55
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
