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
_T=$(mktemp -d /tmp/mg-assert.XXXXXX)
HEADERS=$_T/headers

req() {
    BODY=$(curl -sS -o - -D "$HEADERS" --max-time 20 "$@" 2>"$_T/err")
    local rc=$?
    STATUS=$(head -n 1 "$HEADERS" 2>/dev/null | awk '{print $2}')
    [ $rc -eq 0 ] || STATUS="curl-$rc:$(cat "$_T/err")"
    REQ_DESC="$*"
    _harvest_secrets
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
    _check_logs_for_secrets
    rm -rf "$_T"
    echo "$CHECKS checks passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}
