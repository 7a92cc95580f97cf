#!/usr/bin/env bash
# The shipped micro-cache (nginx/mediagate-cache-http.conf in http { },
# nginx/mediagate-cache.conf in the server): polls of /media/status are
# answered by nginx for as long as mediagate's Cache-Control says (s-maxage),
# expired entries are revalidated with the ETag and never served stale, an
# ACL change reaches every caller within the stated bound, and one caller's answer is never
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
# past_bound SINCE [MS]: waits until MS (default 2100: s-maxage + 1 s, nginx
# counting whole seconds) have passed since SINCE (mg_now_ms when the
# change was made): the bound under test is time itself, counted from the
# change, not a pause taken after it.
past_bound() { mg_wait_for "the bound to pass" mg_past $(( $1 + ${2:-2100} )); }

# --- a final job: kept s-maxage (1 s) by nginx, revalidated by browsers every poll -------
# One poll right after the first is a HIT (tried a few times: a round whose
# two polls straddle the second may be a miss on a loaded machine).
hit=no
for _ in 1 2 3 4 5; do
    req "$BASE/media/status?job_id=done1"
    expect_status 200
    before=$(app_hits)
    req "$BASE/media/status?job_id=done1"
    [ "$(header X-Cache-Status)" = HIT ] && [ "$(app_hits)" = "$before" ] && { hit=yes; break; }
    past_bound "$(mg_now_ms)"   # the entry expired: a fresh round
done
check "a poll right after another is answered by nginx alone" test "$hit" = yes
expect_header Cache-Control 'public, max-age=0, s-maxage=1'
etag=$(header ETag)
# A browser's revalidation is answered by nginx from its copy.
req -H "If-None-Match: $etag" "$BASE/media/status?job_id=done1"
if [ "$(header X-Cache-Status)" = HIT ]; then expect_status 304; fi
req -I "$BASE/media/status?job_id=done1"
check "a HEAD is its own entry, not the GET's: $(header X-Cache-Status)" test "$(header X-Cache-Status)" = MISS
req "$BASE/media/status?job_id=done1"
check "and a GET after it still has its body" test "$BODY" = '{"success":true,"job_status":"COMPLETE","progress_rate":100,"duration_ms":null,"width_px":null,"height_px":null,"output_path":null,"playlists":{}}'

# --- a running job: s-maxage=1, then revalidated with the ETag, never served stale ----------
req "$BASE/media/status?job_id=run1"
expect_status 200
expect_header Cache-Control 'public, max-age=0, s-maxage=1'
psql_q "UPDATE jobs SET progress_rate = 40 WHERE id = 'run1'" >/dev/null
# The stated bound: s-maxage + 1 s (nginx counts whole seconds). The first
# poll after it is new, however long the pause: nginx never serves a stale
# copy while it updates.
past_bound "$(mg_now_ms)"
req "$BASE/media/status?job_id=run1"
expect_json .progress_rate 40
psql_q "UPDATE jobs SET progress_rate = 50 WHERE id = 'run1'" >/dev/null
past_bound "$(mg_now_ms)" 4000   # a longer pause
req "$BASE/media/status?job_id=run1"
expect_json .progress_rate 50
check "after a pause the first poll is not a stale copy ($(header X-Cache-Status))" \
    test "$(header X-Cache-Status)" != STALE -a "$(header X-Cache-Status)" != UPDATING
# Expired with nothing changed: nginx revalidates with the ETag, mediagate
# answers 304, and the poll itself gets the renewed entry.
past_bound "$(mg_now_ms)"
req "$BASE/media/status?job_id=run1"
expect_header X-Cache-Status REVALIDATED
check "an unchanged entry is revalidated (mediagate answered 304 to nginx)" \
    grep -q 'access GET /media/status 304' "$LOG"
expect_json .progress_rate 50

# --- an ACL change reaches every caller within the bound, final or running ------------------
psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate) VALUES
        ('done2', 'local', 'd.mp4', 'COMPLETE', 100), ('run2', 'local', 'e.mp4', 'PROGRESSING', 10),
        ('done3', 'local', 'f.mp4', 'COMPLETE', 100)" >/dev/null
for j in done2 run2 done3; do
    req "$BASE/media/status?job_id=$j"
    expect_status 200
done
"$MG_BIN" jobs acl done2 USER_x >"$RUN/acl.out" 2>&1
check "jobs acl states the bound and what it cannot recall: $(cat "$RUN/acl.out")" \
    grep -q 'within 2 s' "$RUN/acl.out"
check "jobs acl says to set the ACL at upload" grep -q 'acl= at upload' "$RUN/acl.out"
# docs/access.md's example is what it prints.
readme=$(sed -n '/^\$ mediagate jobs acl /,/^```/p' "$MG_ROOT/docs/access.md" | sed '1d;$d')
got=$("$MG_BIN" jobs acl done2 USER_alice | sed 's/^job done2:/job 5f0c3d1e-8a6b-4c2d-9e1f-000000000001:/')
check "docs/access.md shows what jobs acl prints" test "$readme" = "$got"
"$MG_BIN" jobs acl run2 USER_x >/dev/null
# The same body, now private to whoever asks (WORLD still admits anyone):
# the ETag covers the ACL, so nginx's old public copy is never renewed by a 304.
"$MG_BIN" jobs acl done3 WORLD,USER_x >/dev/null
past_bound "$(mg_now_ms)"   # from the last change
for j in done2 run2; do
    for _ in 1 2; do
        req "$BASE/media/status?job_id=$j"
        expect_status 422
    done
done
req "$BASE/media/status?job_id=done3"
expect_status 200
expect_header Cache-Control 'private, no-cache'
check "a job that became private is not served from nginx's copy ($(header X-Cache-Status))" \
    test "$(header X-Cache-Status)" != HIT -a "$(header X-Cache-Status)" != REVALIDATED
e1=$(header ETag)
"$MG_BIN" jobs acl done3 WORLD,USER_y >/dev/null
req "$BASE/media/status?job_id=done3"
check "the ETag changes with the ACL though the body does not" test "$(header ETag)" != "$e1"

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
