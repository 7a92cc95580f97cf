#!/usr/bin/env bash
# The demo page in headless Chromium, against the whole local stack (nginx,
# mediagate, the worker, PostgreSQL): pick a file, upload, the progress bar
# reaches 100%, the video plays (currentTime advances).
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
[ -d "$MG_ROOT/tests/browser/node_modules/playwright-core" ] ||
    { echo "run 'npm ci --prefix tests/browser' (scripts/deps does it)"; exit 1; }
mg_suite || exit 1
export RUN MEDIAGATE_MEDIA_DIR=$RUN/media MEDIAGATE_MEDIA_URL=/media-files MEDIAGATE_THREADS=4
export MEDIAGATE_UPLOADS_DIR=$RUN/upload/uploads MEDIAGATE_ENCODE_NICE=0
NGINX_SITE_EXTRA=$(media_conf) && NGINX_SITE_EXTRA+=" $(upload_conf)" || exit 1
export NGINX_SITE_EXTRA
mkdir -p "$RUN/www"
"$MG_ROOT/scripts/web" "$RUN/www" || exit 1
stack_up || exit 1
"$MG_BIN" worker >>"$RUN/worker.log" 2>&1 &
worker=$!
key=$("$MG_BIN" apikey create demo 2>/dev/null)
ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc=size=640x360:rate=25" -f lavfi -i "sine" \
    -t 6 -c:v libx264 -preset ultrafast -c:a aac -shortest "$RUN/my clip.mp4"
cd "$MG_ROOT/tests/browser" &&
    timeout -k 10 900 node demo.mjs "$BASE/#key=$key" "$RUN/my clip.mp4" "$RUN/chrome-demo"
rc=$?
[ $rc = 0 ] || { tail -n 20 "$RUN/worker.log" "$RUN/mediagate.log"; }
exit $rc
