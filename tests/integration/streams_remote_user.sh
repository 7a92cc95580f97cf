#!/usr/bin/env bash
# MEDIAGATE_STREAM_AUTH=remote_user: the site's own auth step vouches for
# the caller (here an auth_request to the site's session service, a stand-in
# that knows two session cookies), nginx passes what it vouched for
# ($mediagate_user, from auth_request_set), and mediagate trusts that.
# Streams belong to that user. A client's own "Authorization: Basic" header
# names nobody: nginx's $remote_user would take it unchecked.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
mg_suite || exit 1
export RUN MEDIAGATE_STREAM_AUTH=remote_user MEDIAGATE_THREADS=2
AUTH_PORT=$(mg_free_port)
# The site's session service: 200 with X-User for a known session cookie,
# 401 otherwise. It never looks at Authorization.
python3 - "$AUTH_PORT" >"$RUN/site-auth.out" 2>&1 <<'PY' &
import http.server, sys
SESSIONS = {"session=s-alice": "alice", "session=s-bob": "bob"}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        user = SESSIONS.get(self.headers.get("Cookie", ""))
        self.send_response(200 if user else 401)
        if user:
            self.send_header("X-User", user)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
auth_pid=$!
export NGINX_SITE_EXTRA="auth_request /_site_auth;
    auth_request_set \$mediagate_user \$upstream_http_x_user;
    location = /_site_auth {
        internal;
        proxy_pass http://127.0.0.1:$AUTH_PORT;
        proxy_pass_request_body off;
        proxy_set_header Content-Length \"\";
    }"
stack_up || exit 1

ALICE=(-H 'Cookie: session=s-alice')
BOB=(-H 'Cookie: session=s-bob')
req -X POST -d type=hls "$BASE/stream/start"
expect_status 401
req -X POST "${ALICE[@]}" -d type=hls "$BASE/stream/start"
expect_status 200
id=$(jq -r .stream.id <<<"$BODY")
check "the stream belongs to alice" test "$(psql_q "SELECT owner FROM streams WHERE id = '$id'")" = user:alice
req "${BOB[@]}" "$BASE/stream/status?id=$id"
expect_status 404
req -X POST "${BOB[@]}" -d "id=$id" "$BASE/stream/stop"
expect_status 404

# Impersonation: bob's session with a Basic header naming alice. nginx's
# $remote_user is "alice" here; what the site vouched for is bob.
req -X POST "${BOB[@]}" -u alice:anything -d "id=$id" "$BASE/stream/stop"
expect_status 404
req -X POST "${BOB[@]}" -u alice:anything -d type=hls "$BASE/stream/start"
expect_status 200
bid=$(jq -r .stream.id <<<"$BODY")
check "a Basic header names nobody: the stream is bob's" \
    test "$(psql_q "SELECT owner FROM streams WHERE id = '$bid'")" = user:bob
# No session at all, only a Basic header: the site's auth step refuses.
req -X POST -u alice:anything -d type=hls "$BASE/stream/start"
expect_status 401
check "no stream of alice's but the one she started" \
    test "$(psql_q "SELECT count(*) FROM streams WHERE owner = 'user:alice'")" = 1

req -X POST "${ALICE[@]}" -d "id=$id" "$BASE/stream/stop"
expect_status 200
expect_json .stream.status '"STOPPED"'
finish
