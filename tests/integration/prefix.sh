#!/usr/bin/env bash
# Mounted under a prefix: the snippet's outer location edited as docs/nginx.md
# says, MEDIAGATE_PREFIX set; the routes answer under /video-api/.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"

mg_suite || exit 1
export RUN MEDIAGATE_PREFIX=/video-api MEDIAGATE_THREADS=2 MEDIAGATE_UPLOADS_DIR=$RUN/upload/uploads
export MEDIAGATE_ALLOWED_ORIGINS='https://app\.example\.com'
sed 's#^location ~ \^/(?:(?:media|stream|notifications)/#location ~ ^/video-api/(?:(?:media|stream|notifications)/#' \
    "$MG_ROOT/nginx/mediagate.conf" >"$RUN/snippet.conf"
export MG_SNIPPET=$RUN/snippet.conf
# The upload locations too: their internal checks work under the prefix.
NGINX_SITE_EXTRA=$(upload_conf) || exit 1
export NGINX_SITE_EXTRA
check "the snippet's outer location was edited" grep -q '\^/video-api/' "$RUN/snippet.conf"
stack_up || exit 1
psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate)
        VALUES ('p1', 'local', 'movies/a.mp4', 'SUBMITTED', 0)" >/dev/null

req "$BASE/video-api/media/status?job_id=p1"
expect_status 200
expect_body '{"success":true,"job_status":"SUBMITTED","progress_rate":0}'
req "$BASE/video-api/media/job_id?input_file=movies/a.mp4"
expect_status 200
expect_body '{"success":true,"job_id":"p1"}'
req "$BASE/video-api/media/status"
expect_status 400
expect_body '{"success":false,"message":"Not found parameter."}'
req "$BASE/video-api/healthz"
expect_status 200
req "$BASE/video-api/readyz"
expect_status 200
req "$BASE/video-api/media/other"
expect_status 404
expect_body '{"success":false,"message":"No route matches."}'
req -X OPTIONS -H 'Origin: https://app.example.com' "$BASE/video-api/media/status"
expect_status 204
expect_header Access-Control-Allow-Origin 'https://app.example.com'
req -X PUT "$BASE/video-api/media/status?job_id=p1"
expect_status 405
# Outside the prefix nothing of mediagate answers.
req "$BASE/media/status?job_id=p1"
expect_status 404
check "no mediagate JSON outside the prefix" bash -c "! grep -q success <<<'$BODY'"
# PUT /uploads/<name> (nginx/mediagate-upload.conf) is checked by mediagate
# under the prefix as well, preflight included.
key=$(mg_apikey prefixed)
req -X PUT -H "Authorization: Bearer $key" --data-binary hello "$BASE/uploads/p.mp4"
expect_status 201
expect_json '.upload.input_file | test("^uploads/[0-9a-f-]{36}/p.mp4$")' true
req -X PUT --data-binary hello "$BASE/uploads/q.mp4"
expect_status 401
# A direct upload URL, made and used with the API under the prefix.
req -X POST -H "Authorization: Bearer $key" -d name=d.mp4 "$BASE/uploads"
expect_status 201
url=$(jq -r .upload.url <<<"$BODY")
req -X PUT --data-binary hello "$BASE$url"
expect_status 201
req -X OPTIONS -H 'Origin: https://app.example.com' -H 'Access-Control-Request-Method: PUT' \
    "$BASE/uploads/p.mp4"
expect_status 204
expect_header Access-Control-Allow-Methods 'PUT, POST, OPTIONS'
finish
