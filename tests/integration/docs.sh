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
        stream_vod) field=vod_rtmp ;; tencent_definitions) field=tencent_defs ;;
        log_format) field=log_json ;; esac
    # (a notification sender's row names its secret as SETTING(field))
    uses=$(grep -lE -- "(->$field\b|SETTING\($field\))" "$MG_ROOT"/app/*.c "$MG_ROOT"/app/*/*.c \
        "$MG_ROOT"/handlers/*.c "$MG_ROOT"/handlers/*/*.c | grep -vc config.c)
    check "$s is used outside the config table" test "$uses" -gt 0
done

# --help and -h print the command's usage on stdout and do nothing else: no
# configuration is read (an invalid setting would be reported), no database
# is reached (the socket does not exist), no worker or migration starts (a
# worker would wait for the database until the timeout).
nodb="postgresql:///mediagate?host=/nonexistent/mediagate-docs&connect_timeout=2"
helperr=$(mktemp)
# synopsis_of WORDS LINE: LINE is the usage line of command WORDS.
synopsis_of() {
    local want="usage: mediagate [--config FILE]${1:+ $1}"
    [ "$2" = "$want" ] || [ "${2#"$want "}" != "$2" ]
}
for args in "worker --help" "migrate --help" "migrate -h" "serve --help" "tasks --help" \
    "tasks list --help" "tasks retry -h" "jobs -h" "jobs show --help" "apikey create --help" \
    "notifications replay --help" "submit -h" "--help"; do
    words=${args% *}
    [ "$words" = "$args" ] && words=""
    # shellcheck disable=SC2086  # args is several words
    out=$(MEDIAGATE_DATABASE_URL=$nodb MEDIAGATE_THREADS=5000 timeout 60 "$MG_BIN" $args \
        2>"$helperr")
    rc=$?
    check "'mediagate $args' exits 0 at once (got $rc)" test "$rc" = 0
    check "'mediagate $args' prints its usage: ${out%%$'\n'*}" synopsis_of "$words" "${out%%$'\n'*}"
    check "'mediagate $args' writes nothing to stderr: $(head -c 200 "$helperr")" \
        test ! -s "$helperr"
done
# Unknown commands are usage errors: exit 2, usage on stderr, nothing on stdout.
for args in "bogus" "tasks bogus" "jobs bogus" "apikey"; do
    # shellcheck disable=SC2086
    out=$(MEDIAGATE_DATABASE_URL=$nodb timeout 60 "$MG_BIN" $args 2>"$helperr")
    rc=$?
    check "'mediagate $args' exits 2 (got $rc)" test "$rc" = 2
    check "'mediagate $args' prints nothing on stdout: $out" test -z "$out"
    check "'mediagate $args' prints usage on stderr" grep -q '^usage: mediagate' "$helperr"
done
rm -f "$helperr"

# The nginx-rtmp steps of docs/live.md, as written, on a copy of this Debian's own
# /etc/nginx (its directories moved into a temporary one).
if [ -f /etc/nginx/modules-enabled/50-mod-rtmp.conf ] && [ "$(id -u)" = 0 ]; then
    t=$(mktemp -d /tmp/mg-rtmp-steps.XXXXXX)
    steps=$(sed -n '/^RTMP ingest needs nginx-rtmp/,/^Then serve the HLS/p' "$MG_ROOT/docs/live.md" |
            sed -n '/^```sh/,/^```/p' | grep -v '^```' | grep -v '^apt-get' |
            sed -e "s#/etc/nginx#$t/etc-nginx#g" -e "s#/var/lib/mediagate/#$t/var/#g" \
                -e "s#nginx/mediagate-rtmp.conf #$MG_ROOT/nginx/mediagate-rtmp.conf #" \
                -e "/^nginx -t/d")
    cp -a /etc/nginx "$t/etc-nginx"
    sed -i "s#/etc/nginx/#$t/etc-nginx/#g" "$t/etc-nginx/nginx.conf"
    has_include() { grep -q "include .*mediagate-rtmp.conf" <<<"$steps"; }
    check "docs/live.md gives the RTMP steps as commands, including the snippet" has_include
    no_load_module() { ! grep -q load_module <<<"$steps"; }
    check "docs/live.md's RTMP steps name no load_module" no_load_module
    # The snippet's own paths point into the copy too (the steps say: edit them).
    out=$(cd "$t" && bash -ec "$steps
        sed -i -e 's#/var/lib/mediagate/#$t/var/#g' -e 's#/var/log/nginx/#$t/#' $t/etc-nginx/mediagate-rtmp.conf
        nginx -t -q -c $t/etc-nginx/nginx.conf" 2>&1)
    check "docs/live.md's RTMP steps work on Debian's nginx.conf: $out" test -z "$out"
    rm -rf "$t"
fi
finish
