# shellcheck shell=bash
# A small assertion kit for integration tests: real curl against real nginx.
#
#   req [curl args...] URL   sends one request; sets STATUS, HEADERS (file),
#                            BODY
#   expect_status N, expect_body TEXT, expect_header NAME VALUE,
#   expect_header_absent NAME, expect_json JQ VALUE, check NAME CMD...
# Each failure is printed; `finish` prints the count and sets the exit code.
#
# Secrets: every secret a response hands out (stream keys, upload tokens,
# S3 credentials, token= in URLs) and every one given to mg_secret is
# remembered; `finish` fails for each one found in any log under $RUN.

FAILS=0
CHECKS=0
_T=$(mktemp -d "${MG_TEST_TMP:-/tmp}/mg-assert.XXXXXX")
HEADERS=$_T/headers

req() {
    BODY=$(curl -sS -o - -D "$HEADERS" --max-time 20 "$@" \
        -w '%{stderr}\nmg-answer %{method} %{http_code} %{url_effective}\n' 2>"$_T/err")
    local rc=$?
    local answer
    answer=$(grep '^mg-answer ' "$_T/err" | tail -n 1)
    sed -i '/^mg-answer /d; /^$/d' "$_T/err"
    STATUS=$(head -n 1 "$HEADERS" 2>/dev/null | awk '{print $2}')
    [ $rc -eq 0 ] || STATUS="curl-$rc:$(cat "$_T/err")"
    REQ_DESC="$*"
    [ $rc -ne 0 ] || _record_answer "$answer"
    _harvest_secrets
}

# The API contract (openapi.yaml): every answer req() gets from mediagate's
# site ($BASE) is kept, and `finish` validates them all against the
# document (tests/contract/validate.mjs: ajv); a drift fails the suite.
_record_answer() {
    [ -n "${BASE:-}" ] || return 0
    local method code url
    read -r _ method code url <<<"$1"
    case $url in "$BASE"/*) ;; *) return 0 ;; esac
    # The final answer's headers (after any 100 Continue).
    awk '/^HTTP\// {buf = ""} {buf = buf $0 "\n"} END {printf "%s", buf}' "$HEADERS" >"$_T/last-headers"
    jq -cn --arg method "$method" --arg url "$url" --arg status "$code" \
        --arg prefix "${MEDIAGATE_PREFIX:-}" --rawfile headers "$_T/last-headers" --arg body "$BODY" \
        '{method: $method, url: $url, prefix: $prefix, status: ($status | tonumber), headers: $headers, body: $body}' \
        >>"$_T/answers.jsonl"
}

# Validates the kept answers against openapi.yaml (no answers: nothing to do).
_check_contract() {
    [ -s "$_T/answers.jsonl" ] || return 0
    local root=${MG_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)} out
    if [ ! -d "$root/tests/contract/node_modules/ajv" ]; then
        FAILS=$((FAILS + 1))
        printf 'FAIL: tests/contract/node_modules is missing: run scripts/deps (npm ci in tests/contract)\n' >&2
        return 0
    fi
    if out=$(node "$root/tests/contract/validate.mjs" "$root/openapi.yaml" "$_T/answers.jsonl" 2>&1); then
        CHECKS=$((CHECKS + 1))
        printf '%s\n' "$(tail -n 1 <<<"$out")" >&2
    else
        FAILS=$((FAILS + 1))
        printf 'FAIL: answers drift from openapi.yaml:\n%s\n' "$out" >&2
    fi
}

# Remembers the secrets in $BODY (a JSON answer), for finish's log check.
_harvest_secrets() {
    case $BODY in *'"'*) ;; *) return 0 ;; esac
    jq -r '.. | objects | to_entries[]
           | select(.value | type == "string")
           | if (.key | test("^(stream_key|aws_secret_access_key|aws_session_token|Authorization)$"))
             then (.value | sub("^Bearer "; "") | ., (capture("[?&]key=(?<t>[^&]+)").t // empty))
             elif (.value | test("[?&](token|key)=")) then (.value | capture("[?&](token|key)=(?<t>[^&]+)").t)
             else empty end' <<<"$BODY" 2>/dev/null >>"$_T/secrets"
}

# mg_secret VALUE...: a secret the test issued (an API key, a configured
# notification secret); no log may carry it.
mg_secret() { local v; for v in "$@"; do [ ${#v} -ge 8 ] && printf '%s\n' "$v" >>"$_T/secrets"; done; return 0; }

# Fails once for each remembered secret found in a log under $RUN (nginx's
# access and error logs, mediagate's, the worker's, PostgreSQL's).
_check_logs_for_secrets() {
    [ -n "${RUN:-}" ] && [ -d "$RUN" ] || return 0
    mg_secret "${MEDIAGATE_ZENCODER_SECRET:-}" "${MEDIAGATE_TENCENT_TOKEN:-}" \
        "${MEDIAGATE_MEDIACONVERT_SECRET:-}" "${MEDIAGATE_AWS_SECRET_ACCESS_KEY:-}"
    [ -s "$_T/secrets" ] || return 0
    local logs
    # The services' logs; a broadcaster's own (ffmpeg's ff*.log) and a
    # stand-in's are the client side.
    logs=$(find "$RUN" -type f \( -path "$RUN/nginx/*.log" -o -name 'mediagate*.log' \
        -o -name 'worker*.log' -o -name 'postgres.log' \) 2>/dev/null)
    # And where an nginx module logs by default (nginx-rtmp's access log).
    logs="$logs $(find /var/log/nginx -type f -name '*.log' 2>/dev/null)"
    [ -n "$logs" ] || return 0
    local s hit
    while IFS= read -r s; do
        [ -n "$s" ] || continue
        # shellcheck disable=SC2086
        hit=$(grep -lF -- "$s" $logs 2>/dev/null | head -n 3 | tr '\n' ' ')
        if [ -n "$hit" ]; then
            FAILS=$((FAILS + 1))
            printf 'FAIL: a secret (%s...) is in a log: %s\n' "${s:0:6}" "$hit" >&2
        else
            CHECKS=$((CHECKS + 1))
        fi
    done < <(sort -u "$_T/secrets")
}

# took_us [REQUEST_ID]: how long mediagate itself took over a request, in
# microseconds, from its own access log line ($RUN/mediagate.log, text or
# JSON lines); by default the last answer's (its X-Request-Id). Empty when
# the request has no line. Tests bound durations with this, measured
# inside the process, never with the client's wall clock.
took_us() {
    local id=${1:-$(header X-Request-Id)}
    [ -n "$id" ] || return 0
    grep -F "$id" "$RUN/mediagate.log" 2>/dev/null | grep -E ' access |"level":"access"' | tail -n 1 |
        sed -nE 's/.* ([0-9]+)us .*/\1/p; s/.*"duration_us":([0-9]+).*/\1/p'
}

fail() {
    FAILS=$((FAILS + 1))
    printf 'FAIL: %s\n      request: %s\n' "$*" "${REQ_DESC:-}" >&2
}
pass() { CHECKS=$((CHECKS + 1)); }

# header NAME: the value of a response header (first one), CR stripped.
header() {
    grep -i "^$1:" "$HEADERS" | head -n 1 | cut -d: -f2- | sed 's/^ *//' | tr -d '\r'
}

expect_status() {
    if [ "$STATUS" = "$1" ]; then pass; else fail "status $STATUS, expected $1 (body: $BODY)"; fi
}
expect_body() {
    if [ "$BODY" = "$1" ]; then pass; else fail "body '$BODY', expected '$1'"; fi
}
expect_header() {
    local v
    v=$(header "$1")
    if [ "$v" = "$2" ]; then pass; else fail "header $1 is '$v', expected '$2'"; fi
}
expect_header_absent() {
    if grep -qi "^$1:" "$HEADERS"; then fail "header $1 present: $(header "$1")"; else pass; fi
}
expect_json() {
    local v
    v=$(printf '%s' "$BODY" | jq -c "$1" 2>&1)
    if [ "$v" = "$2" ]; then pass; else fail "json $1 is '$v', expected '$2'"; fi
}
# check DESCRIPTION CMD...: the command must succeed.
check() {
    local what=$1
    shift
    if "$@"; then pass; else REQ_DESC="" fail "$what"; fi
}

finish() {
    _check_contract
    _check_logs_for_secrets
    rm -rf "$_T"
    echo "$CHECKS checks passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}
