# shellcheck shell=bash
# A small assertion kit for integration tests: real curl against real nginx.
#
#   req [curl args...] URL   sends one request; sets STATUS, HEADERS (file),
#                            BODY
#   expect_status N, expect_body TEXT, expect_header NAME VALUE,
#   expect_header_absent NAME, expect_json JQ VALUE, check NAME CMD...
# Each failure is printed; `finish` prints the count and sets the exit code.

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
    rm -rf "$_T"
    echo "$CHECKS checks passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}
