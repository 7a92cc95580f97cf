#!/usr/bin/env bash
# The console in headless Chromium, against the whole stack (PostgreSQL,
# mediagate serve and its worker, nginx with scripts/web's output and
# nginx/mediagate-console.conf included in a site that has its own regex
# locations): sign in with an API key, upload two files by drag-and-drop,
# both reach COMPLETE in the library and play, search, an ACL edited and an
# anonymous fetch refused, the keyboard, a deletion, sign-out; screenshots
# at 1280 and 390 px wide are kept in MG_ARTEFACTS (meson: the build
# directory's meson-logs/console/). Fails on any console error or warning
# and on any page error (console.mjs).
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
[ -d "$MG_ROOT/tests/browser/node_modules/playwright-core" ] ||
    { echo "run 'npm ci --prefix tests/browser' (scripts/deps does it)"; exit 1; }
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "no Chromium: apt-get install chromium (scripts/deps does it)"; exit 1; }
mg_suite || exit 1
ART=${MG_ARTEFACTS:-$RUN/artefacts}
mkdir -p "$ART"
export RUN MEDIAGATE_MEDIA_DIR=$RUN/media MEDIAGATE_MEDIA_URL=/media-files MEDIAGATE_THREADS=4
export MEDIAGATE_UPLOADS_DIR=$RUN/upload/uploads MEDIAGATE_ENCODE_NICE=0
NGINX_SITE_EXTRA="$(media_conf) $(upload_conf) $(console_conf)" || exit 1
# A site's own header, as its server { } would have it (HSTS): the snippet
# includes it in the console's location.
mkdir -p "$RUN/nginx/mediagate-console.d"
echo 'add_header Strict-Transport-Security "max-age=63072000" always;' \
    >"$RUN/nginx/mediagate-console.d/site-headers.conf"
export NGINX_SITE_EXTRA
mkdir -p "$RUN/www"
"$MG_ROOT/scripts/web" "$RUN/www" || exit 1
stack_up || exit 1
"$MG_BIN" worker >>"$RUN/worker.log" 2>&1 &
key=$(mg_apikey console) || exit 1
# Two short clips of their own look, named so that a search finds one.
ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc=size=640x360:rate=25" -f lavfi -i "sine" \
    -t 4 -c:v libx264 -preset ultrafast -c:a aac -shortest "$RUN/sunrise.mp4" &&
ffmpeg -nostdin -loglevel error -f lavfi -i "smptebars=size=640x360:rate=25" -f lavfi -i "sine=f=440" \
    -t 4 -c:v libx264 -preset ultrafast -c:a aac -shortest "$RUN/harbour.mp4" || exit 1
cd "$MG_ROOT/tests/browser" &&
    MG_KEY=$key timeout -k 10 1500 node console.mjs "$BASE" "$RUN/sunrise.mp4" "$RUN/harbour.mp4" \
        "$RUN/chrome-console" "$ART"
rc=$?
echo "screenshots: $ART"
[ $rc = 0 ] || { tail -n 20 "$RUN/worker.log" "$RUN/mediagate.log" "$RUN/nginx/error.log"; }
exit $rc
