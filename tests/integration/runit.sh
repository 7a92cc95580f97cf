#!/usr/bin/env bash
# The recipe without systemd of docs/service.md (runit),
# followed on this machine: `meson install` into a temporary prefix (its
# rundir under the prefix too), the users from the installed sysusers data
# (systemd-sysusers, real), the directories from the installed tmpfiles
# data (systemd-tmpfiles, real), the settings file edited from the example,
# check-config and migrate, the installed runit services copied to a
# service directory and supervised by the installed runsvdir-start, nginx
# with the installed snippet. Then: the socket 0660 with nginx's group in
# its 0750 directory, each service as its own user and groups, answers
# through nginx; kill -9 of serve and of the worker: runsv starts them
# again and nginx answers again; SIGTERM to runsvdir-start stops every
# service cleanly (serve removes its socket) and exits 0; nothing of the
# prefix runs after, on any way out of the test.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
[ "$(id -u)" = 0 ] || { echo "runit.sh: needs root (users, chpst)"; exit 77; }
for c in runsvdir runsv sv chpst systemd-sysusers systemd-tmpfiles; do
    command -v "$c" >/dev/null || { echo "runit.sh: $c is missing (scripts/deps installs runit and systemd)"; exit 1; }
done

T=$(mktemp -d /tmp/mg-runit.XXXXXX)
chmod 755 "$T"
P=$T/prefix
SV=$T/sv SERVICE=$T/service
starter=
worker_groups=$(id -nG mediagate-worker 2>/dev/null) || worker_groups=none
# Everything of the prefix is stopped on every way out: runsvdir-start
# first (it stops the services), then whatever is left of its process group
# (runsvdir, runsv and the services are all in it).
cleanup() {
    if [ -n "$starter" ] && kill -0 "$starter" 2>/dev/null; then
        kill -TERM "$starter"
        until_true 70 gone "$starter"
    fi
    [ -z "$starter" ] || kill -KILL -- "-$starter" 2>/dev/null
    [ -n "${RUN:-}" ] && { nginx_stop; pg_stop immediate; }
    # The local stack keeps the worker out of group mediagate (its socket's
    # directory is that group's): a membership this test added goes again.
    tr ' ' '\n' <<<"$worker_groups" | grep -qx mediagate ||
        gpasswd -d mediagate-worker mediagate >/dev/null 2>&1
    if [ -z "${KEEP:-}" ]; then rm -rf "$T"; else mg_log "kept $T"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP   # a timeout's SIGTERM runs cleanup too
gone() { ! kill -0 "$1" 2>/dev/null; }
# until_true SECONDS CMD...: mg_wait_for CMD, for SECONDS at most.
until_true() { mg_wait_for -t "$1" "${*:2}" "${@:2}"; }
# svpid NAME: the pid runsv supervises for service NAME ("" when down).
svpid() { cat "$SV/$1/supervise/pid" 2>/dev/null; }
running_as() { [ -n "$(svpid "$1")" ] && [ "$(ps -o user= -p "$(svpid "$1")")" = "$2" ]; }
new_pid() { local p; p=$(svpid "$1"); [ -n "$p" ] && [ "$p" != "$2" ] && kill -0 "$p" 2>/dev/null; }

# --- install ----------------------------------------------------------------------
out=$(meson setup "$T/build" "$MG_ROOT" --prefix="$P" --sysconfdir=etc --localstatedir=var \
    -Drundir="$P/run/mediagate" -Dbuildtype=plain 2>&1) || { echo "$out" >&2; exit 1; }
out=$(meson compile -C "$T/build" mediagate manpage 2>&1 && meson install -C "$T/build" --no-rebuild 2>&1)
rc=$?
check "meson install succeeds (rc $rc): $(tail -n 5 <<<"$out")" test "$rc" = 0
R=$P/share/mediagate/runit
for f in mediagate/run mediagate-worker/run runsvdir-start; do
    check "installed, executable: share/mediagate/runit/$f" test -x "$R/$f"
done
check "the serve service names the installed binary, as mediagate with nginx's group" \
    grep -qx "exec chpst -u mediagate:mediagate:www-data $P/bin/mediagate serve" "$R/mediagate/run"

# --- the recipe, as docs/service.md gives it ------------------------------------------
out=$(systemd-sysusers "$P/lib/sysusers.d/mediagate.sysusers.conf" 2>&1)
rc=$?
check "systemd-sysusers makes the users (rc $rc): $out" test "$rc" = 0
check "user mediagate-worker exists" getent passwd mediagate-worker >/dev/null
check "mediagate is in www-data" bash -c "id -nG mediagate | tr ' ' '\n' | grep -qx www-data"
out=$(systemd-tmpfiles --create "$P/lib/tmpfiles.d/mediagate.tmpfiles.conf" 2>&1)
rc=$?
check "systemd-tmpfiles makes the directories (rc $rc): $out" test "$rc" = 0
L=$P/var/lib/mediagate
check "uploads: mediagate:www-data 2750" test "$(stat -c '%U:%G %a' "$L/uploads")" = "mediagate:www-data 2750"
check "media: mediagate-worker 0755" test "$(stat -c '%U %a' "$L/media")" = "mediagate-worker 755"
check "the worker's TMPDIR: mediagate-worker 0700" \
    test "$(stat -c '%U %a' "$L/worker-tmp")" = "mediagate-worker 700"

# PostgreSQL (the test's own cluster, for the Debian one the recipe names):
# its socket directory is for group mediagate, which holds both services.
RUN=$T/run PORT=$(mg_free_port) MG_BIN=$P/bin/mediagate
export RUN MG_BIN
mkdir -p "$RUN"
BASE=http://127.0.0.1:$PORT
PG_SOCK_GROUP=mediagate PG_OPTS="-c fsync=off -c synchronous_commit=off" pg_start || exit 1
conf=$P/etc/mediagate/mediagate.conf
sed -e "s#^database_url = .*#database_url = ${MEDIAGATE_DATABASE_URL//&/\\&}#" "$conf.example" >"$T/edited.conf"
install -m 0640 -g mediagate "$T/edited.conf" "$conf"
unset MEDIAGATE_DATABASE_URL
export MEDIAGATE_CONFIG=$conf
out=$("$MG_BIN" check-config 2>&1 && "$MG_BIN" migrate 2>&1)
check "check-config and migrate from the settings file: $out" grep -q '^migrated' <<<"$out"
unset MEDIAGATE_CONFIG

mkdir -p "$SV" "$SERVICE"
cp -a "$R/mediagate" "$R/mediagate-worker" "$SV/"
ln -s "$SV/mediagate" "$SV/mediagate-worker" "$SERVICE/"
setsid bash -c 'exec env SVDIR="$1" "$2"' _ "$SERVICE" "$R/runsvdir-start" </dev/null >"$RUN/runsvdir.log" 2>&1 &
starter=$!   # its process group too
check "serve runs as mediagate" until_true 30 running_as mediagate mediagate
# The supervision tree, all in the starter's process group: runsvdir, a
# runsv per service, the services.
# (zombies left to the init that adopted them count as gone)
tree() { ps -o pid=,stat= -g "$1" | awk '$2 !~ /^Z/ {print $1}' | tr '\n' ' '; }
pgid=$starter
check "runsvdir, two runsv and the two services share the process group: $(ps -o pid=,args= -g "$pgid")" \
    test "$(pgrep -g "$pgid" -x runsv | wc -l)" = 2 -a "$(pgrep -g "$pgid" -x runsvdir | wc -l)" = 1
check "the worker runs as mediagate-worker" until_true 30 running_as mediagate-worker mediagate-worker
sock=$P/run/mediagate/mediagate.sock
check "serve made its socket" until_true 30 test -S "$sock"
check "the socket: mediagate:www-data 0660" test "$(stat -c '%U:%G %a' "$sock")" = "mediagate:www-data 660"
check "its directory: mediagate:www-data 0750" \
    test "$(stat -c '%U:%G %a' "$(dirname "$sock")")" = "mediagate:www-data 750"
groups_of() { ps -o supgrp= -p "$(svpid "$1")" | tr ',' '\n' | sort | tr '\n' ' '; }
check "serve's groups are mediagate and www-data: $(groups_of mediagate)" \
    test "$(groups_of mediagate)" = "mediagate www-data "
check "the worker's groups add mediagate (the settings file): $(groups_of mediagate-worker)" \
    test "$(groups_of mediagate-worker)" = "mediagate mediagate-worker www-data "
check "the worker's TMPDIR is its own" \
    grep -qz "^TMPDIR=$L/worker-tmp$" "/proc/$(svpid mediagate-worker)/environ"

out=$(sv status "$SERVICE/mediagate" "$SERVICE/mediagate-worker")
check "sv status shows both running: $out" test "$(grep -c '^run: ' <<<"$out")" = 2
MEDIAGATE_CONFIG=$conf MG_SOCKET=$sock MG_SNIPPET=$P/share/mediagate/nginx/mediagate.conf nginx_start || exit 1
psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate)
        VALUES ('rt1', 'local', 'a.mp4', 'PROGRESSING', 7)" >/dev/null
req "$BASE/media/status?job_id=rt1"
expect_status 200
expect_json .progress_rate 7

# --- kill -9: runsv starts each again ---------------------------------------------------
for s in mediagate mediagate-worker; do
    old=$(svpid "$s")
    kill -KILL "$old"
    check "$s killed with -9 is started again" until_true 30 new_pid "$s" "$old"
done
answered() { req "$BASE/healthz" && [ "$STATUS" = 200 ]; }
check "nginx answers through the restarted serve" until_true 30 answered
req "$BASE/media/status?job_id=rt1"
expect_status 200

# --- stop: SIGTERM to runsvdir-start stops everything cleanly --------------------------
serve=$(svpid mediagate) worker=$(svpid mediagate-worker)
kill -TERM "$starter"
check "runsvdir-start exits once everything stopped" until_true 70 gone "$starter"
wait "$starter"
rc=$?
check "runsvdir-start exits 0 (rc $rc)" test "$rc" = 0
starter=
check "serve is gone" gone "$serve"
check "the worker is gone" gone "$worker"
check "no runsvdir, runsv or service is left: $(ps -o pid=,ppid=,stat=,args= -g "$pgid")" test -z "$(tree "$pgid")"
check "serve stopped on SIGTERM, removing its socket" test ! -e "$sock"
check "the worker stopped on SIGTERM: $(tail -n 3 "$RUN/runsvdir.log")" \
    grep -q 'worker.*stop\|stopp' "$RUN/runsvdir.log"
finish
