#!/usr/bin/env bash
# The README's first command, scripts/up, as a first-time user meets it:
# each failure names its step and the fix, stops whatever it had started,
# and the next scripts/up starts clean. Runs the whole stack under a
# private MG_VAR on free ports, beside anything else on the machine, laid
# out as a checkout is (T/build/mediagate, T/var), so that the commands
# scripts/up prints are run as printed, from T. A settings file's values
# win over scripts/up's defaults; the environment overriding one is said.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
[ "$(id -u)" = 0 ] || { echo "local_stack.sh: needs root, as scripts/up does"; exit 77; }

T=$(mktemp -d "${MG_TEST_TMP:-/tmp}/mg-local-stack.XXXXXX")
chmod 755 "$T"   # the services run unprivileged and must reach it
VAR=$T/var
mkdir -p "$VAR" "$T/build"
install -m 755 "$MG_BIN" "$T/build/mediagate"   # a clone may sit where they cannot
P=$(mg_free_port) R=$(mg_free_port)
while [ "$R" = "$P" ]; do R=$(mg_free_port); done
LISTENER=
cleanup() {
    trap '' TERM INT HUP
    [ -z "$LISTENER" ] || kill "$LISTENER" 2>/dev/null
    MG_VAR=$VAR "$MG_ROOT/scripts/down" >/dev/null 2>&1
    mg_reap "$T"
    rm -rf "$T" "$_T"
}
trap cleanup EXIT
mg_exit_on_signals
mg_guard "$T"
up() { (cd "$T" && MG_VAR=$VAR MG_BIN=$T/build/mediagate PORT=$P RTMP_PORT=$R "$MG_ROOT/scripts/up" >"$T/up.out" 2>"$T/up.err"); }
# Nothing of this stack runs: no postgres on VAR/pg, no supervisor, app or
# worker, no nginx with its config under T.
nothing_runs() { ! pgrep -f -- "$T/" >/dev/null; }
said() { grep -qF -- "$1" "$T/up.err"; }
show() { echo "--- scripts/up stderr:"; cat "$T/up.err"; }

# --- a port in use ------------------------------------------------------------
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(120)' "$P" &
LISTENER=$!
port_busy() { [ "$(python3 -c 'import socket,sys; s=socket.socket(); print(s.connect_ex(("127.0.0.1", int(sys.argv[1]))))' "$1")" = 0 ]; }
mg_wait_for "port $P in use" port_busy "$P"
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

# --- an object store that does not answer ------------------------------------------
# With MEDIAGATE_STORAGE=s3 scripts/up runs check-config --connect: a store
# that refuses or does not answer stops it there, not at the first upload.
MEDIAGATE_STORAGE=s3 MEDIAGATE_STORAGE_ENDPOINT=http://127.0.0.1:9 MEDIAGATE_STORAGE_BUCKET=media \
    MEDIAGATE_STORAGE_ACCESS_KEY_ID=local-stack-key \
    MEDIAGATE_STORAGE_SECRET_ACCESS_KEY=local-stack-secret-local-stack-secret \
    MEDIAGATE_STORAGE_RETRIES=0 up; rc=$?
check "a store that does not answer fails scripts/up" test "$rc" != 0
check "it names the step" said "failed while checking the settings and the store"
check "it shows check-config's line" said "storage: HEAD of the bucket media: the store did not answer"
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
# With a settings file that allows another origin than scripts/up's default.
printf '# the developer'"'"'s own\nallowed_origins = "http://app\\.example:3000"\n' >"$T/mediagate.conf"
chmod 644 "$T/mediagate.conf"
MEDIAGATE_CONFIG=$T/mediagate.conf up; rc=$?
check "scripts/up succeeds after the failures" test "$rc" = 0
[ "$rc" = 0 ] || show
check "it says so" grep -q "mediagate is up." "$T/up.out"
check "its processes are seen by the check the failures used" pgrep -f -- "$T/" >/dev/null
check "it overrode nothing of the settings file, so it said nothing of it" bash -c "! grep -q overrides '$T/up.err'"
req -H "Origin: http://app.example:3000" "http://127.0.0.1:$P/media/status?job_id=demo-job"
expect_header Access-Control-Allow-Origin "http://app.example:3000"
req -H "Origin: http://localhost:$P" "http://127.0.0.1:$P/media/status?job_id=demo-job"
check "scripts/up's default origin did not replace the settings file's" \
    bash -c "! grep -qi '^access-control-allow-origin' '$HEADERS'"

# The commands it prints for the CLI, run as printed from where scripts/up
# ran, with nothing set in the environment: the binary finds var/env.
printed() { sed -n "s/^  $1 *//p" "$T/up.out"; }
api_cmd=$(printed 'API key:')
demo_cmd=$(sed -n 's/.*(upload a video; API key: \(.*\))$/\1/p' "$T/up.out")
encode_cmd=$(printed 'encode:' | sed 's/   (worker log: .*)$//')
check "it prints the CLI as build/mediagate, with nothing to source first: $api_cmd" \
    test "$api_cmd" = "build/mediagate apikey create me"
check "the demo's key command is the same CLI: $demo_cmd" test "$demo_cmd" = "build/mediagate apikey create demo"
check "the encode command too: $encode_cmd" test "$encode_cmd" = "build/mediagate submit video.mp4"
ffmpeg -nostdin -loglevel error -f lavfi -i testsrc=size=160x120:rate=10 -t 1 -pix_fmt yuv420p "$T/video.mp4"
for cmd in "$api_cmd" "$demo_cmd" "$encode_cmd"; do
    out=$(cd "$T" && env -u MEDIAGATE_DATABASE_URL -u MEDIAGATE_CONFIG bash -c "$cmd" 2>"$T/cli.err")
    rc=$?
    case $cmd in *apikey*) mg_secret "$out" ;; esac
    check "'$cmd' as printed works (rc $rc): $(cat "$T/cli.err")" test "$rc" = 0 -a -n "$out"
    check "'$cmd' says where its database came from" \
        grep -qF "MEDIAGATE_DATABASE_URL from $VAR/env (the local stack)" "$T/cli.err"
done
# The other printed commands without a placeholder, as printed too.
for label in 'status:' 'job id:' 'database:'; do
    cmd=$(printed "$label")
    out=$(cd "$T" && env -u MEDIAGATE_DATABASE_URL bash -c "$cmd" </dev/null 2>&1)
    rc=$?
    check "'$cmd' as printed works (rc $rc): $out" test "$rc" = 0
done
check "the keys are in the stack's database" \
    test "$(RUN=$VAR psql_q "SELECT count(*) FROM api_keys WHERE name IN ('me', 'demo')")" = 2
req "http://127.0.0.1:$P/media/status?job_id=demo-job"
expect_status 200
expect_json .job_status '"PROGRESSING"'
check "serve runs as mediagate" test "$(ps -o user= -p "$(cat "$VAR/mediagate.pid")")" = mediagate
check "the worker runs as mediagate-worker" test "$(ps -o user= -p "$(cat "$VAR/worker.pid")")" = mediagate-worker
MEDIAGATE_CONFIG=$T/mediagate.conf MEDIAGATE_ALLOWED_ORIGINS=http://other.example up; rc=$?
check "a second scripts/up refuses" test "$rc" != 0
check "it says the stack runs" said "the stack is already running"
check "it says the environment overrides the settings file's origins" \
    said "MEDIAGATE_ALLOWED_ORIGINS='http://other.example' (from the environment) overrides 'http://app\.example:3000' in $T/mediagate.conf"
req "http://127.0.0.1:$P/media/status?job_id=demo-job"
expect_status 200
MG_VAR=$VAR "$MG_ROOT/scripts/down" >/dev/null 2>&1
check "scripts/down stops it all" nothing_runs
RUN=$VAR   # finish greps its logs for the secrets the test saw
finish
