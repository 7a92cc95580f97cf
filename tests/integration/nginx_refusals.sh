#!/usr/bin/env bash
# Answers nginx makes itself (413, and 503 for an app that is down) carry the
# JSON body and echo an allowed Origin, so browser code can read why; a
# disallowed or look-alike Origin gets no Access-Control-Allow-Origin.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
export MEDIAGATE_ALLOWED_ORIGINS='https://app\.example\.com http://localhost:[0-9]+'
stack_up || exit 1
req -H 'Origin: https://app.example.com' -X POST --data-binary "$(head -c 3000 /dev/zero | tr '\0' a)" "$BASE/media/status?job_id=x"
expect_status 413; expect_header Access-Control-Allow-Origin https://app.example.com; expect_json .success false
app_stop TERM
req -H 'Origin: https://app.example.com' "$BASE/media/status?job_id=x"
expect_status 503; expect_header Access-Control-Allow-Origin https://app.example.com; expect_json .message '"mediagate is unavailable; retry later."'
req -H 'Origin: https://evil.example.com' "$BASE/media/status?job_id=x"
expect_status 503; expect_header_absent Access-Control-Allow-Origin
req -H 'Origin: https://app.example.com.evil.net' "$BASE/media/status?job_id=x"
expect_header_absent Access-Control-Allow-Origin
finish
