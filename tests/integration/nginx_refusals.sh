#!/usr/bin/env bash
# Answers nginx makes itself in the shipped locations (413, 503 for an app
# that is down, 400 for a body it cannot read, 404 for a path kept from
# outside, /live/ ingest refusals) are JSON in mediagate's error shape and
# echo an allowed Origin (from the lines `mediagate nginx-conf` prints), so
# browser code can read why; a disallowed or look-alike Origin gets no
# Access-Control-Allow-Origin.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
export MEDIAGATE_ALLOWED_ORIGINS='https://app\.example\.com http://localhost:[0-9]+'
RUN=$(mktemp -d /tmp/mediagate-test.XXXXXX)
PORT=$(mg_free_port)
export RUN PORT MEDIAGATE_UPLOAD_URL="http://127.0.0.1:$PORT/live"
NGINX_SITE_EXTRA="$(upload_conf)"
export NGINX_SITE_EXTRA
stack_up || exit 1
# The site's lines come from `mediagate nginx-conf` (nginx_start wrote them):
# the Origin pattern is the setting's, and one nginx would read otherwise is
# refused rather than written.
# shellcheck disable=SC2016  # nginx's variables, literally
check "nginx-conf wrote the setting's patterns" grep -qxF \
    'if ($http_origin ~ "^(?:(https://app\.example\.com)|(http://localhost:[0-9]+))$") { set $mediagate_refusal_origin $http_origin; }' \
    "$RUN/nginx/mediagate-site.conf"
check "nginx-conf names the socket" grep -qx "set \$mediagate_socket unix:$RUN/mediagate.sock;" \
    "$RUN/nginx/mediagate-site.conf"
out=$(MEDIAGATE_ALLOWED_ORIGINS='https://a\"b' "$MG_BIN" nginx-conf 2>&1)
rc=$?
check "nginx-conf refuses a pattern with a quote (rc $rc): $out" test "$rc" = 1 -a -n "$(grep "cannot be written for nginx" <<<"$out")"
# json_refusal STATUS MESSAGE: the last answer is nginx's JSON refusal.
json_refusal() {
    expect_status "$1"
    expect_header Content-Type 'application/json; charset=utf-8'
    expect_json .success false
    expect_json .message "\"$2\""
}
req -H 'Origin: https://app.example.com' -X POST --data-binary "$(head -c 3000 /dev/zero | tr '\0' a)" "$BASE/media/status?job_id=x"
expect_status 413; expect_header Access-Control-Allow-Origin https://app.example.com; expect_json .success false
# A path kept from outside: nginx's own 404, as JSON.
req -H 'Origin: https://app.example.com' "$BASE/stream/upload_auth"
json_refusal 404 'No route matches.'
expect_header Access-Control-Allow-Origin https://app.example.com
# A chunked body nginx cannot read: its own 400, as JSON.
raw=$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"POST /stream/start HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
          b"Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\nzz\r\nxx\r\n")
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
print(out.decode(errors="replace"))
PY
)
check "a bad chunked body is nginx's 400: $(head -n 1 <<<"$raw")" grep -q '^HTTP/1.1 400' <<<"$raw"
check "as JSON: $(tail -n 1 <<<"$raw")" grep -q '^{"success":false,"message":"Bad request: nginx could not read it."}' <<<"$raw"
# /live/ ingest refusals say why, as JSON.
req -X PUT --data-binary x "$BASE/live/00000000-0000-4000-8000-000000000000/a.ts"
json_refusal 401 'Upload token required.'
req -X PUT -H 'Authorization: Bearer 0000' --data-binary x "$BASE/live/00000000-0000-4000-8000-000000000000/a.ts"
json_refusal 403 'Token refused: wrong stream, expired or stopped.'
req -X PUT -H 'Authorization: Bearer 0000' --data-binary x "$BASE/live/nope/a.m3u8"
json_refusal 403 "Not a stream's upload path."
app_stop TERM
req -H 'Origin: https://app.example.com' "$BASE/media/status?job_id=x"
expect_status 503; expect_header Access-Control-Allow-Origin https://app.example.com; expect_json .message '"mediagate is unavailable; retry later."'
req -H 'Origin: https://evil.example.com' "$BASE/media/status?job_id=x"
expect_status 503; expect_header_absent Access-Control-Allow-Origin
req -H 'Origin: https://app.example.com.evil.net' "$BASE/media/status?job_id=x"
expect_header_absent Access-Control-Allow-Origin
# The ingest check cannot reach mediagate: a JSON 503, not nginx's 500 page.
req -X PUT -H 'Authorization: Bearer 0000' --data-binary x "$BASE/live/00000000-0000-4000-8000-000000000000/a.ts"
json_refusal 503 'mediagate is unavailable; retry later.'
finish
