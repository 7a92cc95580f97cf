#!/usr/bin/env bash
# CORS with a real browser. The whole stack (PostgreSQL, mediagate, nginx)
# plus a second nginx server that serves tests/browser/page/cors.html on two
# more loopback ports: one origin that MEDIAGATE_ALLOWED_ORIGINS allows, one
# that it does not. Headless Chromium (Debian's /usr/bin/chromium, driven by
# playwright-core; no browser is ever downloaded) opens the page from each
# origin, and the page fetch()es GET <mediagate>/media/status?job_id=...,
# once as a simple request and once with "Authorization: Bearer x", which
# forces a preflight; and it PUTs a file to <mediagate>/uploads/, which always
# forces one. cors.mjs asserts on what the page sees and on nginx's
# log of what reached the server.
#
# Needs: apt-get install chromium; npm ci --prefix tests/browser
# (scripts/deps does both). Environment: MG_BIN, MG_ROOT (meson's test_env),
# CHROMIUM (default /usr/bin/chromium), KEEP=1 to keep the run directory.
# MG_BROWSER_ALLOWED_ORIGINS replaces the allow-list, to see the test fail.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
HERE=$MG_ROOT/tests/browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
started=$(date +%s)

if [ ! -f "$HERE/node_modules/playwright-core/package.json" ]; then
    echo "browser-cors: $HERE/node_modules is missing playwright-core." >&2
    echo "browser-cors: run 'npm ci --prefix tests/browser' in the source tree (scripts/deps does it)." >&2
    exit 1
fi
if ! command -v node >/dev/null; then
    echo "browser-cors: node is not installed (scripts/deps installs it)." >&2
    exit 1
fi
if [ ! -x "$CHROMIUM" ]; then
    echo "browser-cors: no Chromium at $CHROMIUM: apt-get install chromium (scripts/deps does it)." >&2
    exit 1
fi

source "$MG_ROOT/scripts/lib.sh"

RUN=$(mktemp -d "${MG_TEST_TMP:-/tmp}/mediagate-browser.XXXXXX")
mg_suite || exit 1

# Three distinct free ports: mediagate's nginx, the allowed page origin, the
# disallowed page origin.
PORT=$(mg_free_port)
PAGE_ALLOWED_PORT=$(mg_free_port)
PAGE_DENIED_PORT=$(mg_free_port)
for _ in $(seq 20); do
    [ "$PAGE_ALLOWED_PORT" != "$PORT" ] && [ "$PAGE_DENIED_PORT" != "$PORT" ] &&
        [ "$PAGE_DENIED_PORT" != "$PAGE_ALLOWED_PORT" ] && break
    PAGE_ALLOWED_PORT=$(mg_free_port)
    PAGE_DENIED_PORT=$(mg_free_port)
done
export PORT
PAGE_ALLOWED="http://127.0.0.1:$PAGE_ALLOWED_PORT"
PAGE_DENIED="http://127.0.0.1:$PAGE_DENIED_PORT"

export MEDIAGATE_ALLOWED_ORIGINS=${MG_BROWSER_ALLOWED_ORIGINS:-"http://127\\.0\\.0\\.1:$PAGE_ALLOWED_PORT"}

# The page, readable by nginx's www-data workers (stack_up makes $RUN 0755).
mkdir -p "$RUN/pages"
cp "$HERE/page/cors.html" "$RUN/pages/cors.html"
chmod 755 "$RUN/pages"
chmod 644 "$RUN/pages/cors.html"

ACCESS_LOG=$RUN/nginx/mediagate-access.log
# http{}: a JSON log format for the mediagate server, and the page server.
# The quotes are nginx's, meant literally.
# shellcheck disable=SC2089,SC2090
NGINX_EXTRA="
    log_format mg_browser escape=json
        '{\"port\":\"\$server_port\",\"method\":\"\$request_method\",\"status\":\"\$status\",'
        '\"origin\":\"\$http_origin\",\"auth\":\"\$http_authorization\",\"uri\":\"\$request_uri\"}';
    server {
        listen 127.0.0.1:$PAGE_ALLOWED_PORT;
        listen 127.0.0.1:$PAGE_DENIED_PORT;
        server_name pages;
        root $RUN/pages;
        add_header Cache-Control no-store always;
        location = /favicon.ico { return 204; }
    }"
# The upload locations too (PUT /uploads/<name>), and a worker that turns
# landed uploads into jobs.
NGINX_SITE_EXTRA="access_log $ACCESS_LOG mg_browser; $(upload_conf) $(media_conf)"
export MEDIAGATE_UPLOADS_DIR=$RUN/upload/uploads MEDIAGATE_MEDIA_DIR=$RUN/media
# shellcheck disable=SC2090
export NGINX_EXTRA NGINX_SITE_EXTRA

stack_up || exit 1
mkdir -p "$RUN/media/job-1" && printf '#EXTM3U\n' >"$RUN/media/job-1/master.m3u8"
"$MG_BIN" worker >>"$RUN/worker.log" 2>&1 &
worker=$!
API_KEY=$("$MG_BIN" apikey create browser 2>/dev/null) || exit 1

JOB_ID=job-1
psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate)
        VALUES ('$JOB_ID', 'local', 'a.mp4', 'PROGRESSING', 40)" >/dev/null || exit 1

echo "browser-cors: mediagate $BASE, allowed page $PAGE_ALLOWED, disallowed page $PAGE_DENIED"
echo "browser-cors: MEDIAGATE_ALLOWED_ORIGINS=$MEDIAGATE_ALLOWED_ORIGINS"
mkdir -p "$RUN/chrome-profile"
BASE=$BASE PAGE_ALLOWED=$PAGE_ALLOWED PAGE_DENIED=$PAGE_DENIED JOB_ID=$JOB_ID \
    ACCESS_LOG=$ACCESS_LOG API_KEY=$API_KEY UPLOAD_DIR=$RUN/upload/uploads MEDIAGATE_LOG=$RUN/mediagate.log PROFILE_DIR=$RUN/chrome-profile CHROMIUM=$CHROMIUM \
    timeout -k 10 900 node "$HERE/cors.mjs"
rc=$?
if [ $rc -ne 0 ]; then
    echo "browser-cors: failed (exit $rc); mediagate log:" >&2
    tail -n 30 "$RUN/mediagate.log" >&2
    tail -n 20 "$RUN/nginx/error.log" >&2 2>/dev/null
fi
echo "browser-cors: took $(( $(date +%s) - started ))s"
exit $rc
