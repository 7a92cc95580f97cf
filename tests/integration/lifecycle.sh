#!/usr/bin/env bash
# The process around the routes: migrate is idempotent, configuration
# problems are all reported and stop serve, SIGTERM drains in-flight
# requests and exits 0, a slow database gets 503 within the deadline, fd 0
# from spawn-fcgi works, and the supervisor restarts a killed app.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"

export MEDIAGATE_THREADS=4 MEDIAGATE_DB_TIMEOUT_MS=1000
stack_up || exit 1
psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate)
        VALUES ('j1', 'local', 'a.mp4', 'PROGRESSING', 5)" >/dev/null
url="$BASE/media/status?job_id=j1"

# --- migrate -----------------------------------------------------------------
before=$(psql_q "SELECT count(*), max(applied_at) FROM schema_migrations")
out=$("$MG_BIN" migrate 2>&1)
check "second migrate changes nothing: $out" grep -q '^up to date' <<<"$out"
check "schema_migrations unchanged" test "$(psql_q "SELECT count(*), max(applied_at) FROM schema_migrations")" = "$before"
check "001_jobs recorded" test "$(psql_q "SELECT version FROM schema_migrations ORDER BY 1 LIMIT 1")" = 001_jobs.sql
# Two migrations at once serialize on the advisory lock.
"$MG_BIN" migrate >/dev/null 2>&1 & m1=$!
"$MG_BIN" migrate >/dev/null 2>&1 & m2=$!
check "concurrent migrates both succeed" wait "$m1" "$m2"

# --- the cluster trusts no one: peer authentication, mapped users only -------
for u in nobody www-data; do
    for role in mediagate postgres; do
        out=$(cd / && runuser -u "$u" -- "$PGBIN/psql" -h "$RUN/pgsock" -U "$role" -d mediagate -qAtc 'SELECT 1' 2>&1)
        check "$u cannot log in as $role: $out" grep -q 'authentication failed\|Peer authentication\|no pg_hba.conf entry\|Permission denied' <<<"$out"
    done
done
check "pg_hba.conf has no trust line" bash -c "! grep -Eq '^[^#].*trust' '$RUN/pg/pg_hba.conf'"
check "the services' role still connects (root is mapped to it)" \
    test "$(psql "$MEDIAGATE_DATABASE_URL" -qAtc 'SELECT current_user')" = mediagate

# --- serve and worker refuse a schema older than the binary -------------------
# An empty database, then one whose newest applied migration is older than
# the newest embedded one (whatever number that is).
psql_q "CREATE DATABASE mg_unmigrated OWNER mediagate" >/dev/null
psql_q "CREATE DATABASE mg_older OWNER mediagate" >/dev/null
MEDIAGATE_DATABASE_URL="postgresql:///mg_older?host=$RUN/pgsock&user=mediagate" "$MG_BIN" migrate >/dev/null
(cd / && runuser -u postgres -- "$PGBIN/psql" -h "$RUN/pgsock" -U postgres -d mg_older -qAtc \
    "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)") >/dev/null
for db in mg_unmigrated mg_older; do
    dburl="postgresql:///$db?host=$RUN/pgsock&user=mediagate"
    for cmd in serve worker; do
        out=$(MEDIAGATE_DATABASE_URL=$dburl MEDIAGATE_SOCKET="$RUN/unmigrated.sock" timeout 120 "$MG_BIN" $cmd 2>&1)
        rc=$?
        check "$cmd on $db refuses to start (rc $rc)" test "$rc" = 1
        check "$cmd on $db names mediagate migrate: $out" grep -q 'run `mediagate migrate` first' <<<"$out"
    done
    check "no socket left for $db" test ! -e "$RUN/unmigrated.sock"
done
out=$(MEDIAGATE_DATABASE_URL="postgresql:///mg_older?host=$RUN/pgsock&user=mediagate" "$MG_BIN" serve 2>&1)
check "the newest applied and the newest built-in are named: $out" \
    grep -q 'newest applied: .*newest built in: ' <<<"$out"
# Migrated in full (a fresh database: the row deleted above left its objects).
psql_q "DROP DATABASE mg_older" >/dev/null; psql_q "CREATE DATABASE mg_older OWNER mediagate" >/dev/null
MEDIAGATE_DATABASE_URL="postgresql:///mg_older?host=$RUN/pgsock&user=mediagate" "$MG_BIN" migrate >/dev/null
MEDIAGATE_DATABASE_URL="postgresql:///mg_older?host=$RUN/pgsock&user=mediagate" \
    MEDIAGATE_SOCKET="$RUN/unmigrated.sock" "$MG_BIN" serve >"$RUN/migrated-serve.log" 2>&1 & srv=$!
check "after migrate, serve starts" mg_wait_for "its socket" test -S "$RUN/unmigrated.sock"
kill -TERM "$srv"; wait "$srv"
psql_q "DROP DATABASE mg_unmigrated" >/dev/null; psql_q "DROP DATABASE mg_older" >/dev/null

# --- configuration -----------------------------------------------------------
out=$(env -i PATH="$PATH" MEDIAGATE_THREADS=0 MEDIAGATE_MAX_BODY=abc MEDIAGATE_PREFIX=video/ \
      MEDIAGATE_ALLOWED_ORIGINS='(' MEDIAGATE_SOCKET_GROUP=no-such-group-x \
      "$MG_BIN" check-config 2>&1)
rc=$?
check "check-config fails on bad settings" test "$rc" -ne 0
check "all six problems reported at once: $out" grep -q '^mediagate: 6 problems' <<<"$out"
for name in DATABASE_URL THREADS MAX_BODY PREFIX ALLOWED_ORIGINS SOCKET_GROUP; do
    check "problem with MEDIAGATE_$name named" grep -q "MEDIAGATE_$name" <<<"$out"
done
out=$(env -i PATH="$PATH" MEDIAGATE_THREADS=0 "$MG_BIN" serve 2>&1)
rc=$?
check "serve refuses a bad configuration (rc $rc)" test "$rc" -ne 0
check "serve says why" grep -q 'not starting until the configuration is fixed' <<<"$out"
cat >"$RUN/mediagate.conf" <<CONF
# a config file
database_url = $MEDIAGATE_DATABASE_URL
MEDIAGATE_THREADS = 2
allowed_origins = "https://a\.example\.com"
CONF
out=$(env -i PATH="$PATH" "$MG_BIN" --config "$RUN/mediagate.conf" check-config 2>&1)
check "a config file is accepted: $out" test "$out" = "configuration OK"
out=$(env -i PATH="$PATH" MEDIAGATE_CONFIG="$RUN/mediagate.conf" MEDIAGATE_THREADS=5000 "$MG_BIN" check-config 2>&1)
check "the environment overrides the file: $out" grep -q 'MEDIAGATE_THREADS must be between 1 and 1024, got 5000' <<<"$out"
echo 'treads = 4' >"$RUN/typo.conf"
out=$(env -i PATH="$PATH" MEDIAGATE_DATABASE_URL=x "$MG_BIN" --config "$RUN/typo.conf" check-config 2>&1)
check "a misspelt key is reported with its line: $out" grep -q "typo.conf:1: unknown setting 'treads'" <<<"$out"

# --- a second server never takes over a live socket ---------------------------------
out=$(MEDIAGATE_SOCKET="$RUN/mediagate.sock" "$MG_BIN" serve 2>&1)
check "a second serve on a live socket refuses: $out" grep -q 'in use by a running server' <<<"$out"
req "$url"
expect_status 200

# --- a slow database gets 503 within the deadline --------------------------------
# The table stays locked until the test lets it go, so the answer can only
# be the deadline's 503 (or a hang, cut by the client's cap); how long the
# app took is its own measure, from its access log line.
runuser -u postgres -- "$PGBIN/psql" -h "$RUN/pgsock" -U postgres -d mediagate -qc \
    "BEGIN; LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3600); COMMIT;" >/dev/null 2>&1 &
locker=$!
locked() { [ "$(psql_q "SELECT count(*) FROM pg_locks WHERE relation = 'jobs'::regclass AND mode = 'AccessExclusiveLock' AND granted")" = 1 ]; }
check "the jobs table is locked" mg_wait_for "the lock" locked
req "$url"
expect_status 503
expect_header Retry-After 2
us=$(took_us)
check "the 503 came while the table was still locked" locked
# At most the deadline plus a reconnect's connect_timeout (2 s), by the
# app's own clock: the client's includes whatever the machine is busy with.
check "the app answered within its 1 s deadline and a reconnect's 2 s, by its own clock (${us:-no log line} us)" \
    test "${us:-99999999}" -lt 3000000
check "... having waited for the deadline (${us:-no log line} us)" test "${us:-0}" -ge 900000
psql_q "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE relation = 'jobs'::regclass AND mode = 'AccessExclusiveLock'" >/dev/null
wait "$locker"
req "$url"
expect_status 200

# --- SIGTERM drains in-flight requests ----------------------------------------
# A request held on a lock (until the test lets it go) when SIGTERM comes;
# the lock goes once the app says it is draining.
export MEDIAGATE_DB_TIMEOUT_MS=120000 MEDIAGATE_SHUTDOWN_TIMEOUT=120
app_stop TERM
app_start || exit 1
runuser -u postgres -- "$PGBIN/psql" -h "$RUN/pgsock" -U postgres -d mediagate -qc \
    "BEGIN; LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3600); COMMIT;" >/dev/null 2>&1 &
locker=$!
mg_wait_for "the lock" locked
curl -s -o "$RUN/inflight.body" -w '%{http_code}' --max-time 300 "$url" >"$RUN/inflight.code" &
inflight=$!
waiting() { [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mediagate' AND wait_event_type = 'Lock'")" = 1 ]; }
check "a request waits on the lock" mg_wait_for "a request on the lock" waiting
drains() { [ "$(grep -c 'draining in-flight requests' "$RUN/mediagate.log")" -gt "$drained" ]; }
drained=$(grep -c 'draining in-flight requests' "$RUN/mediagate.log")
kill -TERM "$(cat "$RUN/mediagate.pid")"
check "the app drains" mg_wait_for "the drain" drains
check "... while the request still waits" waiting
psql_q "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE relation = 'jobs'::regclass AND mode = 'AccessExclusiveLock'" >/dev/null
app_stop TERM
rc=$?
wait "$inflight" "$locker"
export MEDIAGATE_DB_TIMEOUT_MS=1000 MEDIAGATE_SHUTDOWN_TIMEOUT=10
check "in-flight request finished with 200 ($(cat "$RUN/inflight.code"))" test "$(cat "$RUN/inflight.code")" = 200
check "its body is whole" test "$(cat "$RUN/inflight.body")" = '{"success":true,"job_status":"PROGRESSING","progress_rate":5}'
check "serve exited 0 after SIGTERM (rc $rc)" test "$rc" = 0
check "socket removed on exit" test ! -e "$RUN/mediagate.sock"
req "$url"
expect_status 503
expect_json .message '"mediagate is unavailable; retry later."'

# --- fd 0: an inherited listening socket (spawn-fcgi) --------------------------
served=$(grep -c 'serving on fd 0' "$RUN/mediagate.log")
spawn-fcgi -n -s "$RUN/mediagate.sock" -M 0660 -G www-data -- "$MG_BIN" serve \
    >>"$RUN/mediagate.log" 2>&1 &
spawned=$!
serving() { [ "$(grep -c 'serving on fd 0' "$RUN/mediagate.log")" -gt "$served" ]; }
mg_wait_for "serve on fd 0" serving
req "$url"
expect_status 200
kill -TERM "$spawned"
wait "$spawned"
check "serve on fd 0 exits 0 on SIGTERM ($?)" test "$?" = 0
rm -f "$RUN/mediagate.sock"

# --- the supervisor restarts a killed app ----------------------------------------
MEDIAGATE_SOCKET="$RUN/mediagate.sock" MEDIAGATE_SOCKET_GROUP=www-data \
    "$MG_ROOT/scripts/supervise" "$RUN/sup.pid" "$RUN/mediagate.log" "$MG_BIN" serve &
sup=$!
mg_wait_for "the supervised app's socket" test -S "$RUN/mediagate.sock"
req "$url"
expect_status 200
first=$(cat "$RUN/sup.pid")
kill -9 "$first"
answers_200() { req "$url"; [ "$STATUS" = 200 ]; }
check "answers 200 again after kill -9" mg_wait_for "a 200 after kill -9" answers_200
check "a new process serves" test "$(cat "$RUN/sup.pid")" != "$first"
kill -TERM "$sup"
wait "$sup"
check "supervisor stops with its child" bash -c "! kill -0 $(cat "$RUN/sup.pid" 2>/dev/null || echo 999999) 2>/dev/null"
# TERM while the supervisor waits to restart a crashing child ends it at
# once: before its backoff's sleep (5 s, once the child has kept crashing)
# is over.
"$MG_ROOT/scripts/supervise" "$RUN/sup2.pid" "$RUN/sup2.log" bash -c 'exit 3' &
sup=$!
backoff=""
backs_off() { grep -q 'restarting in 5s' "$RUN/sup2.log" 2>/dev/null && backoff=$(pgrep -P "$sup" -x sleep); }
mg_wait_for "the supervisor's backoff" backs_off
check "the supervisor backs off 5 s (its sleep: ${backoff:-none})" test -n "$backoff"
kill -TERM "$sup"
wait "$sup"
check "supervisor ends on TERM between restarts, its backoff not over" kill -0 "${backoff:-999999}"
kill "${backoff:-999999}" 2>/dev/null

finish
