#!/usr/bin/env bash
# The README's settings table is the code's table, and the nginx snippet
# names the socket exactly once, as operators' scripts expect.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/tests/lib/assert.sh"
check "README settings table matches 'mediagate settings --markdown'" \
    diff <(grep '^| `MEDIAGATE_' "$MG_ROOT/README.md") <("$MG_BIN" settings --markdown)
check "socket path appears once in the snippet" \
    test "$(grep -c 'unix:/run/mediagate/mediagate.sock' "$MG_ROOT/nginx/mediagate.conf")" = 1
check "snippet clears HTTP_PROXY" grep -q 'fastcgi_param HTTP_PROXY *""' "$MG_ROOT/nginx/mediagate.conf"
for s in $("$MG_BIN" settings | grep -o '^MEDIAGATE_[A-Z0-9_]*'); do
    field=$(sed 's/^MEDIAGATE_//' <<<"$s" | tr 'A-Z' 'a-z')
    # Some settings are read through what validation derives from them.
    case $field in allowed_origins) field=origins ;; socket_group) field=socket_gid ;;
        mediaconvert_header) field=mediaconvert_param ;; stream_auth) field=trust_remote_user ;;
        stream_vod) field=vod_rtmp ;; esac
    uses=$(grep -l -- "->$field\b" "$MG_ROOT"/app/*.c "$MG_ROOT"/handlers/*.c | grep -vc config.c)
    check "$s is used outside the config table" test "$uses" -gt 0
done
finish
