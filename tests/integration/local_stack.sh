#!/usr/bin/env bash
# The README's first command, scripts/up, as a first-time user meets it:
# each failure names its step and the fix, stops whatever it had started,
# and the next scripts/up starts clean. Runs the whole stack under a
# private MG_VAR on free ports, beside anything else on the machine.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
[ "$(id -u)" = 0 ] || { echo "local_stack.sh: needs root, as scripts/up does"; exit 77; }

VAR=$(mktemp -d "${MG_TEST_TMP:-/tmp}/mg-local-stack.XXXXXX")
chmod 755 "$VAR"   # the services run unprivileged and must reach it
mkdir -p "$VAR/bin"
install -m 755 "$MG_BIN" "$VAR/bin/mediagate"   # a clone may sit where they cannot
P=$(mg_free_port) R=$(mg_free_port)
while [ "$R" = "$P" ]; do R=$(mg_free_port); done
LISTENER=
cleanup() {
    trap '' TERM INT HUP
    [ -z "$LISTENER" ] || kill "$LISTENER" 2>/dev/null
    MG_VAR=$VAR "$MG_ROOT/scripts/down" >/dev/null 2>&1
    mg_reap "$VAR"
    rm -rf "$VAR" "$_T"
}
trap cleanup EXIT
mg_exit_on_signals
mg_guard "$VAR"
up() { MG_VAR=$VAR MG_BIN=$VAR/bin/mediagate PORT=$P RTMP_PORT=$R "$MG_ROOT/scripts/up" >"$VAR/up.out" 2>"$VAR/up.err"; }
# Nothing of this stack runs: no postgres on VAR/pg, no supervisor, app or
# worker, no nginx with its config under VAR.
nothing_runs() { ! pgrep -f -- "$VAR/" >/dev/null; }
said() { grep -qF -- "$1" "$VAR/up.err"; }
show() { echo "--- scripts/up stderr:"; cat "$VAR/up.err"; }

# --- a port in use ------------------------------------------------------------
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(120)' "$P" &
LISTENER=$!
for _ in $(seq 600); do port_busy=$(python3 -c 'import socket,sys; s=socket.socket(); print(s.connect_ex(("127.0.0.1", int(sys.argv[1]))))' "$P"); [ "$port_busy" = 0 ] && break; sleep 0.1; done
up; rc=$?
check "a busy port fails scripts/up" test "$rc" != 0
check "it names the step" said "failed while checking the ports"
check "it names the port" said "127.0.0.1:$P is in use"
check "it suggests the port variables" said "PORT=8081 RTMP_PORT=1936 scripts/up"
check "nothing is left running" nothing_runs
[ "$FAILS" = 0 ] || show
kill "$LISTENER"; wait "$LISTENER" 2>/dev/null; LISTENER=

# --- a secret too short ---------------------------------------------------------
MEDIAGATE_ZENCODER_SECRET=short up; rc=$?
check "a short secret fails scripts/up" test "$rc" != 0
check "it names the step" said "failed while checking the settings"
check "it names the setting" said "MEDIAGATE_ZENCODER_SECRET"
check "nothing is left running" nothing_runs
[ "$FAILS" = 0 ] || show

# --- a failure after PostgreSQL and the supervisors started -----------------------
# A stale regular file where the app's socket goes: serve refuses to replace
# it, so scripts/up fails at the app and must stop PostgreSQL and both
# supervisors it had started.
mkdir -p "$VAR/run"
touch "$VAR/run/mediagate.sock"
up; rc=$?
check "a stale socket file fails scripts/up" test "$rc" != 0
check "it names the step" said "failed while starting mediagate and its worker"
check "it shows the app's reason" said "exists and is not a socket"
check "it says it cleaned up" said "stopped what it had started"
check "PostgreSQL and the services are stopped" nothing_runs
check "no pid file is left" test ! -e "$VAR/supervise.pid" -a ! -e "$VAR/pg/postmaster.pid"
[ "$FAILS" = 0 ] || show
rm -f "$VAR/run/mediagate.sock"

# --- then the next scripts/up just works --------------------------------------------
up; rc=$?
check "scripts/up succeeds after the failures" test "$rc" = 0
[ "$rc" = 0 ] || show
check "it says so" grep -q "mediagate is up." "$VAR/up.out"
check "its processes are seen by the check the failures used" pgrep -f -- "$VAR/" >/dev/null
req "http://127.0.0.1:$P/media/status?job_id=demo-job"
expect_status 200
expect_json .job_status '"PROGRESSING"'
check "serve runs as mediagate" test "$(ps -o user= -p "$(cat "$VAR/mediagate.pid")")" = mediagate
check "the worker runs as mediagate-worker" test "$(ps -o user= -p "$(cat "$VAR/worker.pid")")" = mediagate-worker
up; rc=$?
check "a second scripts/up refuses" test "$rc" != 0
check "it says the stack runs" said "the stack is already running"
req "http://127.0.0.1:$P/media/status?job_id=demo-job"
expect_status 200
MG_VAR=$VAR "$MG_ROOT/scripts/down" >/dev/null 2>&1
check "scripts/down stops it all" nothing_runs
RUN=$VAR   # finish greps its logs for the secrets the test saw
finish
