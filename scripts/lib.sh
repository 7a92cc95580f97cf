# shellcheck shell=bash
# Shared by scripts/up, scripts/down and the tests: start and stop the real
# parts (PostgreSQL, nginx, mediagate) under one run directory.
#
#   RUN          directory holding everything of one stack (required)
#   MG_BIN       the mediagate binary (default: build/mediagate)
#   PORT         nginx's loopback port
#   MG_SOCKET    mediagate's socket, for nginx (default: $RUN/mediagate.sock)
#
# Functions print what they do on stderr and return non-zero on failure.

MG_ROOT=${MG_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
NGINX=${NGINX:-/usr/sbin/nginx}

mg_log() { printf '%s\n' "$*" >&2; }

# mg_wait_for [-t SECONDS] WHAT CMD...: runs CMD until it succeeds; returns
# 0 then. Gives up after SECONDS (default 120), saying that WHAT never
# happened, and returns 1. The limit only keeps a broken test from hanging:
# it is no measure of speed (a loaded machine is several times slower), so
# a test waits for a condition this way, never for a fixed time.
mg_wait_for() {
    local limit=120
    if [ "$1" = -t ]; then limit=$2; shift 2; fi
    local what=$1 end=$((SECONDS + limit))
    shift
    until "$@"; do
        if [ "$SECONDS" -ge "$end" ]; then
            mg_log "gave up after ${limit}s waiting for: $what"
            return 1
        fi
        sleep 0.1   # (CMD may start processes: psql, curl)
    done
}

# mg_gone PID: true when no process PID runs (any more).
mg_gone() { ! kill -0 "$1" 2>/dev/null; }

# mg_now_ms: the clock, in milliseconds since the epoch. mg_past MS: true
# once the clock has reached MS (mg_wait_for mg_past "$deadline": a
# deadline counted from an event the test saw, not a fixed sleep).
mg_now_ms() { date +%s%3N; }
mg_past() { [ "$(mg_now_ms)" -ge "$1" ]; }

# mg_apikey NAME: a new API key for NAME on stdout; a test's secret (see
# mg_secret in tests/lib/assert.sh, when sourced), so no log may carry it.
mg_apikey() {
    local k
    k=$("$MG_BIN" apikey create "$1" 2>/dev/null) || return 1
    if declare -F mg_secret >/dev/null; then mg_secret "$k"; fi
    printf '%s\n' "$k"
}

# A free TCP port on 127.0.0.1.
mg_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pg_auth_files PGDATA: who may connect, written on every start (so a
# cluster made by an older version, which trusted every local user, is
# fixed too). Unix socket only, peer authentication: the operating-system
# user must be mapped to the role. postgres (and root) as the superuser;
# the services' users (and root, who runs the tests and the CLI) as the
# role mediagate; nobody else, whatever role they name.
pg_auth_files() {
    cat >"$1/pg_hba.conf" <<'HBA'
# mediagate's local cluster (scripts/lib.sh pg_auth_files): unix socket
# only, peer authentication through pg_ident.conf; anything else is refused.
local all postgres  peer map=mg_admin
local all mediagate peer map=mg_app
HBA
    cat >"$1/pg_ident.conf" <<'IDENT'
# MAP      OS user           role
mg_admin   postgres          postgres
mg_admin   root              postgres
mg_app     mediagate         mediagate
mg_app     mediagate-worker  mediagate
mg_app     root              mediagate
IDENT
    chown postgres:postgres "$1/pg_hba.conf" "$1/pg_ident.conf"
    chmod 600 "$1/pg_hba.conf" "$1/pg_ident.conf"
}

# pg_start: a fresh cluster in $RUN/pg owned by postgres, listening only on
# the unix socket directory $RUN/pgsock, with a database "mediagate" owned
# by the role "mediagate" (no superuser: the services cannot run programs
# as postgres through COPY ... PROGRAM). Peer authentication
# (pg_auth_files). The socket directory is postgres's, mode 0755, or 0750
# with group PG_SOCK_GROUP when set (scripts/up: only the services reach
# it). Sets MEDIAGATE_DATABASE_URL. Extra server options may come in
# PG_OPTS (tests pass fsync=off).
pg_start() {
    mkdir -p "$RUN/pgsock"
    chown "postgres:${PG_SOCK_GROUP:-postgres}" "$RUN/pgsock"
    if [ -n "${PG_SOCK_GROUP:-}" ]; then chmod 750 "$RUN/pgsock"; else chmod 755 "$RUN/pgsock"; fi
    chmod 755 "$RUN"
    if [ ! -s "$RUN/pg/PG_VERSION" ]; then
        mkdir -p "$RUN/pg"
        chown postgres:postgres "$RUN/pg"
        chmod 700 "$RUN/pg"
        runuser -u postgres -- "$PGBIN/initdb" -D "$RUN/pg" --auth-local=peer --auth-host=reject \
            -U postgres -E UTF8 --locale=C.UTF-8 >"$RUN/initdb.log" 2>&1 ||
            { cat "$RUN/initdb.log" >&2; return 1; }
    fi
    pg_auth_files "$RUN/pg"
    pg_resume || return 1
    runuser -u postgres -- "$PGBIN/psql" -h "$RUN/pgsock" -U postgres -d postgres -qAtc \
        "SELECT 1 FROM pg_database WHERE datname = 'mediagate'" | grep -q 1 ||
        runuser -u postgres -- "$PGBIN/createdb" -h "$RUN/pgsock" -U postgres mediagate ||
        return 1
    pg_app_role || return 1
    export MEDIAGATE_DATABASE_URL="postgresql:///mediagate?host=$RUN/pgsock&user=mediagate"
}

# pg_app_role: the role the services log in as owns the database and, for a
# database an older version made as postgres, every object in it.
pg_app_role() {
    (cd / && runuser -u postgres -- "$PGBIN/psql" -h "$RUN/pgsock" -U postgres -d mediagate \
        -v ON_ERROR_STOP=1 -qAt) >/dev/null <<'SQL'
SET client_min_messages = warning;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mediagate') THEN
        CREATE ROLE mediagate LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
END $$;
ALTER DATABASE mediagate OWNER TO mediagate;
DO $$ DECLARE o record; BEGIN
    FOR o IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'S', 'p')
                AND pg_get_userbyid(c.relowner) <> 'mediagate'
                AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d
                         WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))) LOOP
        EXECUTE format('ALTER %s public.%I OWNER TO mediagate',
                       CASE o.relkind WHEN 'v' THEN 'VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                       o.relname);
    END LOOP;
    FOR o IN SELECT p.oid::regprocedure AS f FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> 'mediagate' LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO mediagate', o.f);
    END LOOP;
END $$;
SQL
}

# pg_resume / pg_stop: start or stop the existing cluster (for outage tests).
pg_resume() {
    touch "$RUN/postgres.log" && chown postgres "$RUN/postgres.log"
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$RUN/pg" -l "$RUN/postgres.log" -w -t 30 \
        -o "-k $RUN/pgsock -c listen_addresses='' -c max_connections=200 ${PG_OPTS:-}" \
        start >/dev/null || { tail -n 20 "$RUN/postgres.log" >&2; return 1; }
}
pg_stop() {
    [ -s "$RUN/pg/postmaster.pid" ] || return 0
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$RUN/pg" -m "${1:-fast}" -w -t 30 stop >/dev/null
}

# psql_q SQL: run one statement against the mediagate database, unaligned.
psql_q() {
    (cd / && runuser -u postgres -- "$PGBIN/psql" -h "$RUN/pgsock" -U postgres -d mediagate \
        -v ON_ERROR_STOP=1 -qAtc "$1")
}

# nginx_start: nginx on 127.0.0.1:$PORT with the project's own snippet, its
# socket line pointed at $MG_SOCKET (default $RUN/mediagate.sock), inside an
# ordinary site: the server block declares, before any snippet, the regex
# locations such a site has (a PHP handler, static files kept 7 days), so
# every suite runs with the shipped locations beside them.
# NGINX_EXTRA may hold more server blocks (http context), NGINX_SITE_EXTRA
# more lines for the site's server block, NGINX_MAIN_EXTRA lines for the
# main context (load_module, rtmp { }; see rtmp_conf), NGINX_WORKERS the
# worker count, NGINX_LISTEN_OPTS parameters of the listen line (backlog=).
nginx_start() {
    mkdir -p "$RUN/nginx/tmp"
    chown -R www-data:www-data "$RUN/nginx/tmp"
    # The site's own lines for the snippets (socket, the Origins nginx's own
    # answers echo, the media signing secret), as an operator writes them:
    # from `mediagate nginx-conf`, included after the snippets; no snippet
    # is edited for them.
    MEDIAGATE_SOCKET=${MG_SOCKET:-$RUN/mediagate.sock} "${MG_BIN:-$MG_ROOT/build/mediagate}" nginx-conf \
        >"$RUN/nginx/mediagate-site.conf" || return 1
    chmod 600 "$RUN/nginx/mediagate-site.conf"
    sed -e "s#error_log /var/log/nginx/error.log#error_log $RUN/nginx/error.log#" \
        "${MG_SNIPPET:-$MG_ROOT/nginx/mediagate.conf}" >"$RUN/nginx/mediagate.conf"
    cat >"$RUN/nginx/nginx.conf" <<CONF
user www-data;
${NGINX_MAIN_EXTRA:-}
worker_processes ${NGINX_WORKERS:-auto};
pid $RUN/nginx/nginx.pid;
error_log $RUN/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log ${NGINX_ACCESS_LOG:-$RUN/nginx/access.log};
    client_body_temp_path $RUN/nginx/tmp/body;
    fastcgi_temp_path $RUN/nginx/tmp/fastcgi;
    proxy_temp_path $RUN/nginx/tmp/proxy;
    uwsgi_temp_path $RUN/nginx/tmp/uwsgi;
    scgi_temp_path $RUN/nginx/tmp/scgi;
    types { text/html html; text/css css; application/json json; application/javascript js;
            application/vnd.apple.mpegurl m3u8; video/mp2t ts; image/png png; }
    default_type application/octet-stream;
    server_tokens off;
    ${NGINX_EXTRA:-}
    server {
        listen 127.0.0.1:$PORT ${NGINX_LISTEN_OPTS:-};
        server_name 127.0.0.1 localhost;
        root $RUN/www;
        location ~ \.php\$ { return 418 '{"site":"php"}'; }
        location ~* \.(js|css|png|jpg|m3u8|ts)\$ { expires 7d; }
        include $RUN/nginx/mediagate.conf;
        ${NGINX_SITE_EXTRA:-}
        include $RUN/nginx/mediagate-site.conf;
    }
}
CONF
    mkdir -p "$RUN/www"
    "$NGINX" -t -q -c "$RUN/nginx/nginx.conf" -p "$RUN/nginx" || return 1
    "$NGINX" -c "$RUN/nginx/nginx.conf" -p "$RUN/nginx" || return 1
}
# rtmp_conf RTMP_PORT: main-context lines for nginx-rtmp ingest, from
# nginx/mediagate-rtmp.conf pointed at $PORT, $RUN/hls and $RUN/recordings.
rtmp_conf() {
    mkdir -p "$RUN/hls" "$RUN/recordings"
    chown www-data:www-data "$RUN/hls" "$RUN/recordings"
    echo "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;"
    sed -e "s#listen 1935;#listen 127.0.0.1:$1;#" \
        -e "s#http://127.0.0.1:8080/#http://127.0.0.1:$PORT/#" \
        -e "s#/var/lib/mediagate/hls#$RUN/hls#" \
        -e "s#/var/lib/mediagate/recordings#$RUN/recordings#" \
        -e "s#/var/log/nginx/rtmp-access.log#$RUN/nginx/rtmp-access.log#" "$MG_ROOT/nginx/mediagate-rtmp.conf" | grep -v '^ *#'
}

# upload_conf: an include line for nginx/mediagate-upload.conf (HTTP PUT
# ingest), its files stored under $RUN/upload/live/<id>/; mediagate stores
# uploads for the local encoder in $MEDIAGATE_UPLOADS_DIR (by default
# $RUN/upload/uploads). Its error lines go to $RUN/nginx/error.log.
upload_conf() {
    mkdir -p "$RUN/upload/uploads" "$RUN/nginx"
    chown www-data:www-data "$RUN/upload" "$RUN/upload/uploads"
    sed -e "s#root /var/lib/mediagate;#root $RUN/upload;#" \
        -e "s#error_log /var/log/nginx/error.log#error_log $RUN/nginx/error.log#" \
        "$MG_ROOT/nginx/mediagate-upload.conf" >"$RUN/nginx/mediagate-upload.conf"
    echo "include $RUN/nginx/mediagate-upload.conf;"
}

# media_conf: an include line for nginx/mediagate-media.conf (what viewers
# play), serving $MEDIAGATE_MEDIA_DIR (default $RUN/media) at /media-files/
# and $RUN/hls at /hls/.
media_conf() {
    local media=${MEDIAGATE_MEDIA_DIR:-$RUN/media}
    mkdir -p "$media" "$RUN/hls" "$RUN/nginx"
    local url=${MEDIAGATE_MEDIA_URL:-/media-files}
    if [ -n "${MEDIAGATE_MEDIA_SIGNING_SECRET:-}" ]; then
        # Signed outputs: the secret comes from nginx_start's `mediagate
        # nginx-conf` lines, not from this file.
        sed -e "s#alias /var/lib/mediagate/media/\$mg_job#alias $media/\$mg_job#" \
            -e "s#location ^~ /media-files/#location ^~ $url/#" \
            -e "s#\"\^/media-files/s/#\"^$url/s/#" \
            -e "s#\"\^/media-files/in/#\"^$url/in/#" \
            -e "s#alias /var/lib/mediagate/uploads/\$mg_up#alias ${MEDIAGATE_UPLOADS_DIR:-$RUN/upload/uploads}/\$mg_up#" \
            -e "s#error_log /var/log/nginx/error.log#error_log $RUN/nginx/error.log#" \
            -e "s#alias /var/lib/mediagate/hls/;#alias $RUN/hls/;#" "$MG_ROOT/nginx/mediagate-media-signed.conf" \
            >"$RUN/nginx/mediagate-media.conf"
    else
        sed -e "s#alias /var/lib/mediagate/media/;#alias $media/;#" \
            -e "s#location ^~ /media-files/#location ^~ $url/#" \
            -e "s#alias /var/lib/mediagate/hls/;#alias $RUN/hls/;#" "$MG_ROOT/nginx/mediagate-media.conf" \
            >"$RUN/nginx/mediagate-media.conf"
    fi
    echo "include $RUN/nginx/mediagate-media.conf;"
}

# console_conf: an include line for nginx/mediagate-console.conf (the
# console at /console/), serving $RUN/www/console/, which scripts/web fills;
# the site's own header files are $RUN/nginx/mediagate-console.d/*.conf.
console_conf() {
    mkdir -p "$RUN/nginx"
    sed -e "s#alias /usr/share/mediagate/console/;#alias $RUN/www/console/;#" \
        -e "s#/etc/nginx/mediagate-console.d/#$RUN/nginx/mediagate-console.d/#" \
        "$MG_ROOT/nginx/mediagate-console.conf" >"$RUN/nginx/mediagate-console.conf"
    echo "include $RUN/nginx/mediagate-console.conf;"
}

nginx_stop() {
    [ -s "$RUN/nginx/nginx.pid" ] || return 0
    local pid
    pid=$(cat "$RUN/nginx/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null
    mg_wait_for -t 5 "nginx $pid to stop" mg_gone "$pid" || kill -KILL "$pid" 2>/dev/null
    return 0
}

_app_up_or_gone() { [ -S "$RUN/mediagate.sock" ] || mg_gone "$(cat "$RUN/mediagate.pid")"; }
# app_start: mediagate serve on $RUN/mediagate.sock (group www-data, 0660),
# in the background, logging to $RUN/mediagate.log. Waits for the socket.
app_start() {
    MEDIAGATE_SOCKET="$RUN/mediagate.sock" MEDIAGATE_SOCKET_GROUP=www-data \
        "$MG_BIN" serve >>"$RUN/mediagate.log" 2>&1 &
    echo $! >"$RUN/mediagate.pid"
    mg_wait_for "mediagate's socket (or its exit)" _app_up_or_gone
    [ -S "$RUN/mediagate.sock" ] && return 0
    mg_log "mediagate did not start:"; tail -n 20 "$RUN/mediagate.log" >&2
    return 1
}
# app_stop [SIGNAL]: stop it and wait; returns its exit status.
app_stop() {
    [ -s "$RUN/mediagate.pid" ] || return 0
    local pid rc=0
    pid=$(cat "$RUN/mediagate.pid")
    kill "-${1:-TERM}" "$pid" 2>/dev/null || return 0
    wait "$pid" 2>/dev/null || rc=$?
    rm -f "$RUN/mediagate.pid"
    return $rc
}

# mg_suite: what a test suite calls first (stack_up calls it too). RUN, a
# fresh directory (mediagate-test.XXXXXX under $MG_TEST_TMP, default /tmp;
# kept if already set), exported, so that every process the suite starts
# carries it. The suite stops what it started on every way out: on EXIT,
# and on TERM, INT and HUP (meson's timeout sends SIGTERM to the suite's
# process group), its exit handler runs what mg_at_exit registered, stops
# its background jobs and runs stack_down. And since meson sends SIGKILL
# half a second after SIGTERM, a guard in a session of its own
# (tests/lib/reap.py) waits for the suite's end, however it comes, then
# stops every process of $RUN (nginx and PostgreSQL daemonize, so no
# signal to the suite's group reaches them) and removes it. MG_GUARD=off
# leaves the guard out (the suite-cleanup test checks the handler alone).
mg_suite() {
    [ -z "${MG_SUITE_RUN:-}" ] || return 0
    RUN=${RUN:-$(mktemp -d "${MG_TEST_TMP:-/tmp}/mediagate-test.XXXXXX")} || return 1
    export RUN
    MG_SUITE_RUN=$RUN
    trap _mg_exit EXIT
    mg_exit_on_signals
    mg_guard "$RUN"
}
# mg_exit_on_signals: TERM, INT and HUP end the script through its EXIT trap.
mg_exit_on_signals() {
    trap 'exit 143' TERM
    trap 'exit 130' INT
    trap 'exit 129' HUP
}
# mg_guard DIR...: the guard of mg_suite for these directories (and the
# assertion kit's, tests/lib/assert.sh): once this shell has ended, however,
# every process of theirs is stopped and they are removed (not with KEEP).
mg_guard() {
    [ "${MG_GUARD:-on}" = off ] || python3 "$MG_ROOT/tests/lib/reap.py" guard "$$" "$@" ${_T:+"$_T"}
}
# mg_reap DIR...: stops every process of these directories now.
mg_reap() { python3 "$MG_ROOT/tests/lib/reap.py" sweep "$@"; }
# mg_at_exit COMMAND: run (eval) on the suite's way out, before stack_down;
# the last registered runs first.
MG_AT_EXIT=()
mg_at_exit() { MG_AT_EXIT=("$*" "${MG_AT_EXIT[@]}"); }
_mg_exit() {
    local rc=$? c j
    # Only the suite's shell cleans up: a background job's fork, signaled
    # before it has dropped the traps it inherited, just ends.
    if [ "$BASHPID" != "$$" ]; then trap - EXIT; exit "$rc"; fi
    trap '' TERM INT HUP   # a second signal does not cut the cleanup short
    trap - EXIT
    for c in "${MG_AT_EXIT[@]}"; do eval "$c"; done
    j=$(jobs -p)
    # shellcheck disable=SC2086
    [ -z "$j" ] || { kill $j; kill -CONT $j; } 2>/dev/null
    stack_down
    [ -z "${_T:-}" ] || rm -rf "$_T"
    exit "$rc"
}

# stack_up: the whole stack for a test, in a fresh temporary $RUN.
stack_up() {
    mg_suite || return 1
    MG_BIN=${MG_BIN:-$MG_ROOT/build/mediagate}
    PORT=${PORT:-$(mg_free_port)}
    BASE="http://127.0.0.1:$PORT"
    export MG_BIN PORT BASE
    PG_OPTS=${PG_OPTS:-"-c fsync=off -c synchronous_commit=off -c full_page_writes=off"}
    pg_start || return 1
    "$MG_BIN" migrate >"$RUN/migrate.log" 2>&1 || { cat "$RUN/migrate.log" >&2; return 1; }
    app_start || return 1
    nginx_start || return 1
}
# stack_down: stops the stack, then whatever else of $RUN still runs
# (workers, ffmpeg, stand-ins: tests/lib/reap.py), and removes $RUN (not
# with KEEP set). Safe to call twice.
stack_down() {
    [ -n "${RUN:-}" ] && [ -d "$RUN" ] || return 0
    nginx_stop
    app_stop TERM
    pg_stop immediate
    mg_reap "$RUN"
    if [ -z "${KEEP:-}" ]; then rm -rf "$RUN"; else mg_log "kept $RUN"; fi
}
