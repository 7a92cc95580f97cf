#!/usr/bin/env bash
# The systemd recipe of docs/service.md, as far as a machine without systemd
# as PID 1 runs it: `meson install` into a temporary prefix: the binary, sql/, the nginx
# snippets, mediagate(1), the systemd units, sysusers and tmpfiles files and
# an example settings file land where the prefix, sysconfdir and
# localstatedir say. systemd-analyze verify passes on the units, man -l
# renders the page without warnings, and the page names every command and
# setting of the tables (docs/settings.md is compared with them by docs.sh). Then the installed binary runs the way
# the units run it: migrate with no sql/ anywhere (the migrations are
# embedded), serve from the installed settings file on a listening socket
# handed over as fd 0 (systemd-socket-activate --inetd, as
# StandardInput=socket does), behind nginx with the installed snippet.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"

T=$(mktemp -d "${MG_TEST_TMP:-/tmp}/mg-install.XXXXXX")
chmod 755 "$T"
P=$T/prefix
cleanup() {
    trap '' TERM INT HUP
    [ -n "${sa_pid:-}" ] && kill "$sa_pid" 2>/dev/null && wait "$sa_pid" 2>/dev/null
    [ -n "${RUN:-}" ] && { nginx_stop; pg_stop immediate; }
    mg_reap "$T"
    rm -rf "$_T"
    if [ -z "${KEEP:-}" ]; then rm -rf "$T"; else mg_log "kept $T"; fi
}
trap cleanup EXIT
mg_exit_on_signals
mg_guard "$T"

# --- meson install ------------------------------------------------------------
# step WHAT CMD...: runs CMD; when it fails, the suite fails here, showing
# all CMD printed (nothing after it could run without what it makes).
step() {
    local what=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    check "$what (rc $rc)" test "$rc" = 0
    [ "$rc" = 0 ] && return 0
    printf '%s\n' "--- $*:" "$out" >&2
    finish
    exit 1
}
step "meson setup" meson setup "$T/build" "$MG_ROOT" --prefix="$P" --sysconfdir=etc --localstatedir=var \
    -Dbuildtype=plain
step "meson compile" meson compile -C "$T/build" mediagate manpage
step "meson install" meson install -C "$T/build" --no-rebuild
for f in bin/mediagate share/man/man1/mediagate.1 lib/systemd/system/mediagate.socket \
    lib/systemd/system/mediagate.service lib/systemd/system/mediagate-worker.service \
    lib/sysusers.d/mediagate.sysusers.conf lib/tmpfiles.d/mediagate.tmpfiles.conf \
    etc/mediagate/mediagate.conf.example share/mediagate/nginx/mediagate.conf \
    share/mediagate/nginx/mediagate-upload.conf share/mediagate/nginx/mediagate-media.conf \
    share/mediagate/nginx/mediagate-rtmp.conf share/mediagate/nginx/mediagate-media-signed.conf \
    share/mediagate/nginx/mediagate-cache.conf share/mediagate/nginx/mediagate-cache-http.conf \
    share/mediagate/nginx/mediagate-console.conf share/mediagate/console/index.html \
    share/mediagate/console/app.js share/mediagate/console/pages/library.js \
    share/mediagate/console/vendor/hls.min.js share/mediagate/console/vendor/tus.min.js \
    share/doc/mediagate/LICENSE; do
    check "installed: $f" test -s "$P/$f"
done
nsql=$(find "$MG_ROOT/sql" -name '[0-9]*.sql' | wc -l)
check "every migration installed under share/mediagate/sql ($nsql)" \
    test "$(find "$P/share/mediagate/sql" -name '[0-9]*.sql' | wc -l)" = "$nsql"
U=$P/lib/systemd/system
check "the units name the installed binary" grep -q "^ExecStart=$P/bin/mediagate serve$" "$U/mediagate.service"
check "the units name the settings file under sysconfdir" \
    grep -q "^Environment=MEDIAGATE_CONFIG=$P/etc/mediagate/mediagate.conf$" "$U/mediagate.service"
check "ReadWritePaths under localstatedir" grep -q "^ReadWritePaths=$P/var/lib/mediagate/uploads$" "$U/mediagate.service"

# --- the units ------------------------------------------------------------------
out=$(systemd-analyze verify --man=no "$U/mediagate.socket" "$U/mediagate.service" \
    "$U/mediagate-worker.service" 2>&1)
rc=$?
check "systemd-analyze verify passes (rc $rc): $out" test "$rc" = 0
check "systemd-analyze verify says nothing: $out" test -z "$out"
unit_has() { grep -qx "$2" "$U/$1" || { echo "$1 lacks $2" >&2; return 1; }; }
for line in 'ListenStream=/run/mediagate/mediagate.sock' 'SocketGroup=www-data' 'SocketMode=0660' \
    'Accept=no'; do
    check "mediagate.socket: $line" unit_has mediagate.socket "$line"
done
for u in mediagate.service mediagate-worker.service; do
    for line in 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'PrivateTmp=yes' 'ProtectHome=yes' \
        'Restart=on-failure' 'CapabilityBoundingSet='; do
        check "$u: $line" unit_has "$u" "$line"
    done
    check "$u: exactly one ReadWritePaths" test "$(grep -c '^ReadWritePaths=' "$U/$u")" = 1
    check "$u: runs as its own user" grep -q '^User=mediagate' "$U/$u"
done
check "the service takes its socket as fd 0" unit_has mediagate.service 'StandardInput=socket'
check "its logs go to the journal, not the socket" unit_has mediagate.service 'StandardOutput=journal'
check "reload is SIGHUP" unit_has mediagate.service 'ExecReload=/bin/kill -HUP $MAINPID'
check "the worker writes only the media directory" \
    unit_has mediagate-worker.service "ReadWritePaths=$P/var/lib/mediagate/media"

# The users and directories, made by systemd-sysusers and systemd-tmpfiles
# from the installed files, in a copy of this machine's /etc (for www-data).
S=$T/sysroot
mkdir -p "$S/etc"
cp /etc/passwd /etc/group /etc/shadow /etc/gshadow "$S/etc/" 2>/dev/null
out=$(systemd-sysusers --root="$S" "$P/lib/sysusers.d/mediagate.sysusers.conf" 2>&1)
check "systemd-sysusers creates the users: $out" test $? = 0
for u in mediagate mediagate-worker; do
    check "user $u: no login shell" grep -Eq "^$u:[^:]*:[0-9]+:[0-9]+:[^:]*:[^:]*:(/usr/sbin/nologin|/sbin/nologin|/bin/false)?$" "$S/etc/passwd"
done
members() { awk -F: -v g="$1" '$1 == g {print $4}' "$S/etc/group" | tr ',' '\n' | sort | tr '\n' ' '; }
check "www-data holds both services: $(members www-data)" \
    bash -c "grep -qw mediagate <<<'$(members www-data)' && grep -qw mediagate-worker <<<'$(members www-data)'"
check "group mediagate holds the worker (to read the settings file): $(members mediagate)" \
    grep -qw mediagate-worker <<<"$(members mediagate)"
out=$(systemd-tmpfiles --root="$S" --create "$P/lib/tmpfiles.d/mediagate.tmpfiles.conf" 2>&1)
check "systemd-tmpfiles creates the directories: $out" test $? = 0
uid_of() { awk -F: -v u="$1" '$1 == u {print $3}' "$S/etc/passwd"; }
gid_of() { awk -F: -v g="$1" '$1 == g {print $3}' "$S/etc/group"; }
check "uploads: mediagate:www-data 2750" \
    test "$(stat -c '%u:%g %a' "$S$P/var/lib/mediagate/uploads")" = "$(uid_of mediagate):$(gid_of www-data) 2750"
check "media: mediagate-worker 0755" \
    test "$(stat -c '%u %a' "$S$P/var/lib/mediagate/media")" = "$(uid_of mediagate-worker) 755"

# --- mediagate(1) -----------------------------------------------------------------
out=$(MANWIDTH=100 man --warnings=all -l "$P/share/man/man1/mediagate.1" 2>&1 >"$T/man.txt")
check "man -l renders mediagate(1) without warnings: $out" test -z "$out"
check "the installed page is what 'mediagate man' prints" \
    cmp -s "$P/share/man/man1/mediagate.1" <("$MG_BIN" man)
# Every command of the table (leaves, with their groups' words) and every setting.
cmds=$("$MG_BIN" --help | sed -n '/^commands:/,$p' | awk '/^  [a-z]/ {print $1}')
for c in $cmds; do
    check "mediagate(1) describes '$c'" grep -Eq "^       $c( |$)" "$T/man.txt"
done
for s in $("$MG_BIN" settings | grep -o '^MEDIAGATE_[A-Z0-9_]*'); do
    check "mediagate(1) describes $s" grep -q "^       $s$" "$T/man.txt"
done
nset=$("$MG_BIN" settings | grep -c '^MEDIAGATE_')
check "mediagate(1) has as many settings as the table ($nset)" \
    test "$(grep -c '^       MEDIAGATE_[A-Z0-9_]*$' "$T/man.txt")" = "$nset"
nreload=$("$MG_BIN" settings --markdown | grep -c '| reload |')
check "mediagate(1) marks the $nreload reloadable settings" \
    test "$(grep -c 're-read on SIGHUP' "$T/man.txt")" = "$nreload"

# --- the installed binary, run as the units run it --------------------------------
RUN=$T/run
mkdir -p "$RUN"
export RUN MG_BIN=$P/bin/mediagate
PORT=$(mg_free_port)
BASE=http://127.0.0.1:$PORT
PG_OPTS="-c fsync=off -c synchronous_commit=off"
pg_start || exit 1
rm -rf "$P/share/mediagate/sql"
out=$(cd / && "$MG_BIN" migrate 2>&1)
check "the installed migrate works with no sql/ installed (embedded): $out" grep -q '^migrated' <<<"$out"
check "every migration applied" test "$(psql_q 'SELECT count(*) FROM schema_migrations')" = "$nsql"
# The example settings file, as an operator edits it.
conf=$P/etc/mediagate/mediagate.conf
sed -e "s#^database_url = .*#database_url = ${MEDIAGATE_DATABASE_URL//&/\\&}#" \
    -e "s#^uploads_dir = .*#uploads_dir = $RUN/uploads#" -e "s#^media_dir = .*#media_dir = $RUN/media#" \
    "$conf.example" >"$conf"
out=$(env -u MEDIAGATE_DATABASE_URL MEDIAGATE_CONFIG="$conf" "$MG_BIN" check-config 2>&1)
check "the example settings file, edited, passes check-config: $out" test "$out" = "configuration OK"
# systemd-socket-activate --inetd hands the listening socket over as fd 0 and 1.
# Its environment is only what -E names, as a unit's is only its Environment=.
systemd-socket-activate --inetd -l "$RUN/mediagate.sock" -E MEDIAGATE_CONFIG="$conf" \
    -E MEDIAGATE_THREADS=2 "$MG_BIN" serve \
    >"$RUN/mediagate.log" 2>&1 &
sa_pid=$!
mg_wait_for "the activated socket" test -S "$RUN/mediagate.sock"
chgrp www-data "$RUN/mediagate.sock"; chmod 0660 "$RUN/mediagate.sock"
MG_SNIPPET=$P/share/mediagate/nginx/mediagate.conf
export MG_SNIPPET
# The installed snippets are included as they are (an upgrade replaces
# them); the site's own settings come from `mediagate nginx-conf`, which
# nginx_start writes to a file of the site's and includes after them.
N=$P/share/mediagate/nginx
sums=$(cd "$N" && sha256sum ./*)
SECRET=install-test-signing-secret-0123
NGINX_SITE_EXTRA="include $N/mediagate-media-signed.conf; include $N/mediagate-upload.conf; include $N/mediagate-console.conf;" \
    MEDIAGATE_MEDIA_SIGNING_SECRET=$SECRET nginx_start || exit 1
check "the installed snippets were not edited" test "$(cd "$N" && sha256sum ./*)" = "$sums"
check "the site's lines hold the signing secret" grep -q "set \$mediagate_media_secret \"$SECRET\";" \
    "$RUN/nginx/mediagate-site.conf"
# The console: the installed files, through the installed snippet (it
# names their directory under the prefix), with its headers.
curl -sS -o "$RUN/console.html" -D "$RUN/console.headers" "$BASE/console/"
check "the installed console's page at /console/" grep -q 'src="app.js"' "$RUN/console.html"
check "its Content-Security-Policy" grep -qi "^content-security-policy: default-src 'none'; script-src 'self';" \
    "$RUN/console.headers"
check "its vendored hls.js" curl -sSf -o /dev/null "$BASE/console/vendor/hls.min.js"
exp=$(( $(date +%s) + 600 ))
sig=$(printf '%s' "$exp/job-1 $SECRET" | openssl md5 -binary | base64 | tr '+/' '-_' | tr -d '=')
req "$BASE/media-files/s/$sig/$exp/job-1/master.m3u8"
check "a URL signed with the settings' secret passes secure_link (404: no such file, got $STATUS)" \
    test "$STATUS" = 404
req "$BASE/media-files/s/AAAAAAAAAAAAAAAAAAAAAA/$exp/job-1/master.m3u8"
expect_status 403
psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate)
        VALUES ('inst1', 'local', 'a.mp4', 'PROGRESSING', 5)" >/dev/null
req "$BASE/media/status?job_id=inst1"
expect_status 200
expect_json .progress_rate 5
req "$BASE/healthz"
expect_status 200
check "serve logged that it serves on fd 0: $(tail -n 3 "$RUN/mediagate.log")" \
    grep -q 'serving on fd 0' "$RUN/mediagate.log"
finish
