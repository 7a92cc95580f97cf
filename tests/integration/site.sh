#!/usr/bin/env bash
# Mounted in an ordinary site: scripts/lib.sh's nginx_start declares, before
# any snippet, the regex locations such a site has (a PHP handler for
# \.php$, static files kept 7 days for \.(js|css|png|jpg|m3u8|ts)$). nginx
# tries regex locations before plain prefix ones, so each shipped location
# must win over them (^~): uploads named x.php or y.ts reach mediagate, HTTP
# PUT ingest of .m3u8 and .ts is stored, and playlists and segments are
# served from /live/, /media-files/ and /hls/; no upload token lands in the
# site's access log.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"

RUN=$(mktemp -d /tmp/mediagate-test.XXXXXX)
PORT=$(mg_free_port)
export RUN PORT MEDIAGATE_THREADS=4 MEDIAGATE_UPLOADS_DIR=$RUN/upload/uploads
export MEDIAGATE_UPLOAD_URL="http://127.0.0.1:$PORT/live"
NGINX_SITE_EXTRA="$(media_conf) $(upload_conf)"
export NGINX_SITE_EXTRA
stack_up || exit 1
ACCESS=$RUN/nginx/access.log

check "the site declares a PHP handler before the snippets" grep -q 'location ~ \\\.php\$' "$RUN/nginx/nginx.conf"
check "and static files by extension" grep -q 'location ~\* \\\.(js|css|png|jpg|m3u8|ts)\$' "$RUN/nginx/nginx.conf"
# The site's own regex locations answer the site's paths.
req "$BASE/index.php"
expect_status 418
expect_body '{"site":"php"}'

# --- uploads: a name the site's regexes would take -------------------------------------------
key=$(mg_apikey site)
req -X POST -H "Authorization: Bearer $key" -d name=x.php "$BASE/uploads"
expect_status 201
url=$(jq -r .upload.url <<<"$BODY")
check "the upload URL names the file x.php" grep -q '/x\.php?token=' <<<"$url"
req -X PUT --data-binary 'not php' "$BASE$url"
expect_status 201
check "x.php reached mediagate, not the site's PHP handler" \
    test "$(psql_q "SELECT count(*) FROM jobs WHERE input_file LIKE 'uploads/%/x.php'")" = 1
req -X PUT -H "Authorization: Bearer $key" --data-binary segment "$BASE/uploads/y.ts"
expect_status 201
req -X PUT --data-binary segment "$BASE/uploads/z.ts"
expect_status 401
expect_json .success false

# --- HTTP PUT ingest: playlists and segments, written and read back -------------------------
req -X POST -H "Authorization: Bearer $key" -d type=hls "$BASE/stream/start"
expect_status 200
purl=$(jq -r .endpoint.HTTP.url <<<"$BODY")
pauth=$(jq -r .endpoint.HTTP.headers.Authorization <<<"$BODY")
printf '#EXTM3U\n#EXTINF:1,\nseg0.ts\n' >"$RUN/index.m3u8"
req -X PUT -H "Authorization: $pauth" --data-binary "@$RUN/index.m3u8" "${purl}index.m3u8"
expect_status 201
req -X PUT -H "Authorization: $pauth" --data-binary segment0 "${purl}seg0.ts"
expect_status 201
req "${purl}index.m3u8"
expect_status 200
check "the ingested playlist is served back" grep -q seg0.ts <<<"$BODY"
req "${purl}seg0.ts"
expect_status 200
expect_body segment0
req -X PUT --data-binary x "${purl}seg1.ts"
expect_status 401

# --- what viewers play: encoded outputs and live HLS ------------------------------------------
mkdir -p "$RUN/media/job-1" "$RUN/media/.job-2.tmp"
printf '#EXTM3U\n' >"$RUN/media/job-1/master.m3u8"
printf 'ts' >"$RUN/media/job-1/seg.ts"
printf '#EXTM3U\n' >"$RUN/media/.job-2.tmp/master.m3u8"
printf '#EXTM3U\n' >"$RUN/hls/live1.m3u8"
chmod -R a+rX "$RUN/media" "$RUN/hls"
for p in /media-files/job-1/master.m3u8 /hls/live1.m3u8; do
    req "$BASE$p"
    expect_status 200
    expect_body '#EXTM3U'
    expect_header Content-Type application/vnd.apple.mpegurl
    expect_header Access-Control-Allow-Origin '*'
done
req "$BASE/media-files/job-1/seg.ts"
expect_status 200
expect_header Content-Type video/mp2t
req "$BASE/media-files/.job-2.tmp/master.m3u8"
expect_status 404

# --- no token in the site's access log --------------------------------------------------------
check "the site's access log has lines" test -s "$ACCESS"
check "no upload token is in the site's access log" bash -c "! grep -q 'token=' '$ACCESS'"
check "no upload request line is in it" bash -c "! grep -q '/uploads/' '$ACCESS'"
finish
