#!/usr/bin/env bash
# The shipped micro-cache (nginx/mediagate-cache-http.conf in http { },
# nginx/mediagate-cache.conf in the server): polls of /media/status are
# answered by nginx for as long as mediagate's Cache-Control says, expired
# entries are revalidated with the ETag, and one caller's answer is never
# served to another: not across Origins, not for a private stream status,
# not for an error, not for a HEAD as a GET, and other locations of the
# site never use it.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"

mg_suite || exit 1
export RUN MEDIAGATE_THREADS=4
export MEDIAGATE_ALLOWED_ORIGINS='https://a\.example https://b\.example'
mkdir -p "$RUN/cache"
chown www-data "$RUN/cache"
sed "s#/var/cache/nginx/mediagate#$RUN/cache#" "$MG_ROOT/nginx/mediagate-cache-http.conf" \
    >"$RUN/cache-http.conf"
export NGINX_EXTRA="include $RUN/cache-http.conf;"
# The cache's server line goes before mediagate.conf: nginx_start includes
# the snippet first, so MG_SNIPPET is the two, in the README's order.
cat "$MG_ROOT/nginx/mediagate-cache.conf" "$MG_ROOT/nginx/mediagate.conf" >"$RUN/site.conf"
export MG_SNIPPET=$RUN/site.conf
# Another FastCGI location of the site (a PHP app, say): never cached.
export NGINX_SITE_EXTRA="location /other/ { fastcgi_param REQUEST_METHOD \$request_method; fastcgi_param DOCUMENT_URI /media/status; fastcgi_param QUERY_STRING job_id=done1; fastcgi_pass unix:$RUN/mediagate.sock; }"
stack_up || exit 1
psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate) VALUES
        ('done1', 'local', 'a.mp4', 'COMPLETE', 100), ('run1', 'local', 'b.mp4', 'PROGRESSING', 10)" >/dev/null
LOG=$RUN/mediagate.log
app_hits() { grep -c "access GET /media/status " "$LOG"; }

# --- a final job: cached for the day mediagate allows ------------------------------------
req "$BASE/media/status?job_id=done1"
expect_status 200
expect_header X-Cache-Status MISS
before=$(app_hits)
for _ in 1 2 3; do req "$BASE/media/status?job_id=done1"; done
expect_status 200
expect_header X-Cache-Status HIT
expect_header Cache-Control 'public, max-age=86400, immutable'
check "three polls of a final job reached mediagate $(( $(app_hits) - before )) times" test "$(app_hits)" = "$before"
req -I "$BASE/media/status?job_id=done1"
check "a HEAD is its own entry, not the GET's: $(header X-Cache-Status)" test "$(header X-Cache-Status)" = MISS
req "$BASE/media/status?job_id=done1"
check "and a GET after it still has its body" test "$BODY" = '{"success":true,"job_status":"COMPLETE","progress_rate":100,"duration_ms":null,"width_px":null,"height_px":null,"output_path":null,"playlists":{}}'

# --- a running job: max-age=1, then revalidated with the ETag ------------------------------
req "$BASE/media/status?job_id=run1"
expect_header X-Cache-Status MISS
req "$BASE/media/status?job_id=run1"
expect_header X-Cache-Status HIT
psql_q "UPDATE jobs SET progress_rate = 40 WHERE id = 'run1'" >/dev/null
sleep 1.2
req "$BASE/media/status?job_id=run1"
# The first poll after expiry may be served stale while nginx updates in the
# background (fastcgi_cache_background_update); the next one is new.
for _ in $(seq 20); do
    case $BODY in *'"progress_rate":40'*) break ;; esac
    sleep 0.1; req "$BASE/media/status?job_id=run1"
done
expect_json .progress_rate 40
# Expired again with nothing changed: nginx revalidates with the ETag and
# mediagate answers 304. On a loaded machine the background update may
# land after the check, so the cycle is tried up to three times.
revalidated=no
for _ in 1 2 3; do
    sleep 1.2
    req "$BASE/media/status?job_id=run1"
    for _ in $(seq 10); do [ "$(header X-Cache-Status)" = HIT ] && break; sleep 0.1; req "$BASE/media/status?job_id=run1"; done
    for _ in $(seq 30); do grep -q 'access GET /media/status 304' "$LOG" && { revalidated=yes; break; }; sleep 0.1; done
    [ "$revalidated" = yes ] && break
done
check "an unchanged entry is revalidated (mediagate answered 304 to nginx)" test "$revalidated" = yes
expect_json .progress_rate 40

# --- one caller's answer is never another's -----------------------------------------------
req -H 'Origin: https://a.example' "$BASE/media/status?job_id=done1"
expect_header Access-Control-Allow-Origin https://a.example
req -H 'Origin: https://a.example' "$BASE/media/status?job_id=done1"
expect_header X-Cache-Status HIT
expect_header Access-Control-Allow-Origin https://a.example
req -H 'Origin: https://b.example' "$BASE/media/status?job_id=done1"
expect_status 200
expect_header Access-Control-Allow-Origin https://b.example
req -H 'Origin: https://evil.example' "$BASE/media/status?job_id=done1"
expect_status 422
expect_header_absent Access-Control-Allow-Origin
req "$BASE/media/status?job_id=done1"
expect_header_absent Access-Control-Allow-Origin
# Errors are no-store: a job that appears is seen at once.
req "$BASE/media/status?job_id=late1"
expect_status 422
psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate) VALUES ('late1', 'local', 'c.mp4', 'SUBMITTED', 0)" >/dev/null
req "$BASE/media/status?job_id=late1"
expect_status 200
# A stream's status is private: each caller gets their own, never a copy.
ka=$(mg_apikey alice) kb=$(mg_apikey bob)
req -X POST -H "Authorization: Bearer $ka" --data 'type=hls&name=a' "$BASE/stream/start"
expect_status 200
sid=$(jq -r .stream.id <<<"$BODY")
for _ in 1 2; do req -H "Authorization: Bearer $ka" "$BASE/stream/status?id=$sid"; done
expect_status 200
expect_header Cache-Control 'private, no-cache'
check "a private answer is not served from the cache ($(header X-Cache-Status))" \
    test "$(header X-Cache-Status)" != HIT
req -H "Authorization: Bearer $kb" "$BASE/stream/status?id=$sid"
expect_status 404
# Even a public route's answer is never stored for (or served to) a request
# with credentials.
req -H "Authorization: Bearer $ka" "$BASE/media/status?job_id=done1"
expect_header X-Cache-Status BYPASS
# Another location of the site bypasses the cache, though it is FastCGI too.
for _ in 1 2; do req "$BASE/other/x"; done
expect_status 200
expect_header X-Cache-Status BYPASS
finish
