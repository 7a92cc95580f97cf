#!/usr/bin/env bash
# The console's live and webhooks pages in headless Chromium
# (console_live.mjs), against the whole stack: nginx with nginx-rtmp (the
# project's snippets), mediagate serve and its worker, PostgreSQL, ffmpeg
# publishing what the page shows, and a webhook receiver
# (tests/webhook-receiver, verifying each signature with the npm package
# standardwebhooks) that answers 500 to one endpoint's deliveries until the
# delivery has failed, then 200.
#
# Screenshots (desktop 1280 px and phone 390 px wide) are kept under the
# build directory's meson-logs/console-live/ (the path is printed).
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
for d in tests/browser tests/webhook-receiver; do
    [ -d "$MG_ROOT/$d/node_modules" ] || { echo "run 'npm ci --prefix $d' (scripts/deps does it)"; exit 1; }
done
command -v ffmpeg >/dev/null || { echo "ffmpeg is not installed (scripts/deps installs it)"; exit 1; }
mg_suite || exit 1
MG_BIN=${MG_BIN:-$MG_ROOT/build/mediagate}
ART=${MG_ARTEFACTS:-$(dirname "$MG_BIN")/meson-logs/console-live}
mkdir -p "$ART" && rm -f "$ART"/*.png
PORT=$(mg_free_port)
RTMP_PORT=$(mg_free_port)
export RUN PORT MG_BIN MEDIAGATE_THREADS=4 MEDIAGATE_ENCODE_NICE=0 MEDIAGATE_LEASE_SECONDS=30
export MEDIAGATE_RTMP_URL="rtmp://127.0.0.1:$RTMP_PORT/live" MEDIAGATE_HLS_URL="http://127.0.0.1:$PORT/hls"
export MEDIAGATE_MEDIA_DIR=$RUN/media MEDIAGATE_MEDIA_URL=/media-files
export MEDIAGATE_RECORDINGS_DIR=$RUN/recordings
# The administrator is the API key named "admin"; deliveries may reach the
# receiver on loopback; the retry schedule counts in milliseconds, so a
# delivery refused 8 times fails within about 100 s instead of 28 h.
export MEDIAGATE_ADMIN_USERS=admin MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK=on MEDIAGATE_WEBHOOK_RETRY_UNIT_MS=1
export MEDIAGATE_WORKER_CONCURRENCY=2
# The console as nginx/mediagate-console.conf serves it (its CSP included).
NGINX_MAIN_EXTRA=$(rtmp_conf "$RTMP_PORT") && NGINX_SITE_EXTRA="$(media_conf) $(console_conf)" || exit 1
export NGINX_MAIN_EXTRA NGINX_SITE_EXTRA
mkdir -p "$RUN/www"
"$MG_ROOT/scripts/web" "$RUN/www" || exit 1
stack_up || exit 1
"$MG_BIN" worker >>"$RUN/worker.log" 2>&1 &

# The receiver: its port from its first line.
node "$MG_ROOT/tests/webhook-receiver/receiver.mjs" "$RUN/receiver.log" >"$RUN/receiver.out" 2>&1 &
receiver_up() { grep -q '^listening ' "$RUN/receiver.out"; }
mg_wait_for "the webhook receiver" receiver_up || exit 1
RECEIVER="http://127.0.0.1:$(awk '/^listening /{print $2}' "$RUN/receiver.out")"
# Two endpoints: /failing gets stream.live only and answers 500 eight times
# (every attempt of the schedule), then 200; /all gets every event, 200.
failing=$("$MG_BIN" webhook add "$RECEIVER/failing" --no-check --events stream.live | tail -n 1) || exit 1
all=$("$MG_BIN" webhook add "$RECEIVER/all" --no-check | tail -n 1) || exit 1
plan() { # PATH SECRET ANSWERS
    curl -sf -X POST -d "{\"path\": \"$1\", \"secret\": \"$2\", \"answers\": $3}" "$RECEIVER/_plan" >/dev/null
}
plan /failing "$failing" "[$(printf '{"status": 500},%.0s' 1 2 3 4 5 6 7)"'{"status": 500}]' || exit 1
plan /all "$all" '[]' || exit 1

admin=$(mg_apikey admin) && viewer=$(mg_apikey viewer) || exit 1
cd "$MG_ROOT/tests/browser" &&
    BASE=$BASE ADMIN_KEY=$admin VIEWER_KEY=$viewer RECEIVER=$RECEIVER HLS_DIR=$RUN/hls ARTEFACTS=$ART \
    timeout -k 10 1000 node console_live.mjs "$RUN/chrome"
rc=$?
echo "screenshots: $ART"
[ $rc = 0 ] || tail -n 30 "$RUN/worker.log" "$RUN/mediagate.log" "$RUN/nginx/error.log" "$RUN/receiver.out"
exit $rc
