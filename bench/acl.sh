#!/usr/bin/env bash
# bench/acl.sh: GET /media/status of ACL-protected jobs (ACL CAM) asked with
# an OAuth2 bearer token whose introspection is cached, and with an API
# key, beside unprotected jobs asked anonymously, alternated in one run on
# one loopback stack (PostgreSQL, mediagate, nginx from scripts/lib.sh, the
# authorization server from tests/oauth2). Needs root, wrk, node with
# tests/oauth2's packages (scripts/deps).
#
#   DURATION=8s ROUNDS=3 CONNS=64 JOBS=1000 MG_BIN=... bench/acl.sh
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MG_ROOT=$(cd "$BENCH_DIR/.." && pwd)
export MG_ROOT
DURATION=${DURATION:-8s} ROUNDS=${ROUNDS:-3} CONNS=${CONNS:-64} JOBS=${JOBS:-1000}
source "$MG_ROOT/scripts/lib.sh"
MG_BIN=${MG_BIN:-$MG_ROOT/build/mediagate}
export MG_BIN NGINX_ACCESS_LOG=off MEDIAGATE_THREADS=${MEDIAGATE_THREADS:-16}
RUN=$(mktemp -d /tmp/mediagate-bench.XXXXXX)
export RUN
chmod 755 "$RUN"
OPORT=$(mg_free_port)
PORT=$OPORT node "$MG_ROOT/tests/oauth2/server.mjs" >"$RUN/oidc.log" 2>&1 &
OIDC=$!
trap 'kill $OIDC 2>/dev/null; stack_down' EXIT
for _ in $(seq 100); do grep -q listening "$RUN/oidc.log" && break; sleep 0.1; done
export MEDIAGATE_OAUTH2_INTROSPECTION_URL=http://127.0.0.1:$OPORT/token/introspection \
    MEDIAGATE_OAUTH2_CLIENT_ID=mediagate MEDIAGATE_OAUTH2_CLIENT_SECRET=mediagate-secret-0123456789abcdef \
    MEDIAGATE_OAUTH2_USER_CLAIM=user MEDIAGATE_OAUTH2_CACHE_SECONDS=3600 \
    MEDIAGATE_OAUTH2_AUDIENCE=https://media.example/
stack_up
psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate, acl)
        SELECT 'job-' || i || CASE WHEN i % 2 = 0 THEN '-cam' ELSE '-pub' END, 'local', 'uploads/' || i,
               'PROGRESSING', i % 100, CASE WHEN i % 2 = 0 THEN 'CAM' END
          FROM generate_series(1, $((JOBS * 2))) i" >/dev/null
psql_q "SELECT id FROM jobs WHERE acl IS NULL" >"$RUN/pub.txt"
psql_q "SELECT id FROM jobs WHERE acl = 'CAM'" >"$RUN/cam.txt"
chmod 644 "$RUN"/*.txt
TOKEN=$(curl -s -u alice:alice-secret-0123456789abcdef -d grant_type=client_credentials -d scope=media \
        "http://127.0.0.1:$OPORT/token" | jq -r .access_token)
KEY=$("$MG_BIN" apikey create bench 2>/dev/null)
one=$(head -n1 "$RUN/cam.txt")
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/media/status?job_id=$one")" = 200 ] ||
    { echo "the token is not admitted" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/media/status?job_id=$one")" = 422 ] ||
    { echo "an anonymous caller is admitted" >&2; exit 1; }
run() { # NAME IDS [HEADER]
    local out
    out=$(wrk -t 2 -c "$CONNS" -d "$DURATION" --latency --timeout 5s ${3:+-H "$3"} \
          -s "$BENCH_DIR/status.lua" "$BASE" -- "$2" "/media/status?job_id=" count 2>&1 | grep '^RESULT')
    python3 - "$1" "$out" <<'PY'
import sys
kv = dict(x.split("=", 1) for x in sys.argv[2].split()[1:])
print(f"{sys.argv[1]:<28} {float(kv['rps']):>9,.0f} req/s  p50 {int(kv['p50_us'])/1000:6.2f} ms  "
      f"p99 {int(kv['p99_us'])/1000:6.2f} ms  non-200 {kv['non200']}")
PY
}
echo "GET /media/status, $CONNS connections, $DURATION per run, $ROUNDS rounds alternated"
for i in $(seq "$ROUNDS"); do
    run "unprotected, anonymous" "$RUN/pub.txt"
    run "CAM, OAuth2 (cached)" "$RUN/cam.txt" "Authorization: Bearer $TOKEN"
    run "CAM, API key" "$RUN/cam.txt" "Authorization: Bearer $KEY"
done
