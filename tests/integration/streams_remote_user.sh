#!/usr/bin/env bash
# MEDIAGATE_STREAM_AUTH=remote_user: the site's nginx authenticates (here
# with auth_basic; auth_request sets $remote_user the same way) and
# mediagate trusts REMOTE_USER. Streams belong to that user.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
RUN=$(mktemp -d /tmp/mediagate-test.XXXXXX)
export RUN MEDIAGATE_STREAM_AUTH=remote_user MEDIAGATE_THREADS=2
printf 'alice:%s\nbob:%s\n' "$(openssl passwd -apr1 pw-alice)" "$(openssl passwd -apr1 pw-bob)" >"$RUN/htpasswd"
chmod 644 "$RUN/htpasswd"
export NGINX_SITE_EXTRA="auth_basic mediagate; auth_basic_user_file $RUN/htpasswd;"
stack_up || exit 1
trap stack_down EXIT

req -X POST -d type=hls "$BASE/stream/start"
expect_status 401
req -X POST -u alice:pw-alice -d type=hls "$BASE/stream/start"
expect_status 200
id=$(jq -r .stream.id <<<"$BODY")
check "the stream belongs to alice" test "$(psql_q "SELECT owner FROM streams WHERE id = '$id'")" = user:alice
req -u bob:pw-bob "$BASE/stream/status?id=$id"
expect_status 404
req -X POST -u bob:pw-bob -d "id=$id" "$BASE/stream/stop"
expect_status 404
req -X POST -u alice:pw-alice -d "id=$id" "$BASE/stream/stop"
expect_status 200
expect_json .stream.status '"STOPPED"'
finish
