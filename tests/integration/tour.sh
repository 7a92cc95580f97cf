#!/usr/bin/env bash
# The README's five-minute tour, its shell blocks run as written, one after
# another in one shell: scripts/up, an upload encoded and played, a
# broadcast published over RTMP, live, played and stopped, a Zencoder
# notification applied, scripts/down. Runs from a directory laid out as a
# checkout is (T/build/mediagate, T/scripts/up and down, T/tests/fixtures),
# whose scripts/up runs the project's under a private MG_VAR on free ports;
# the only change to the blocks is the port.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
[ "$(id -u)" = 0 ] || { echo "tour.sh: needs root, as scripts/up does"; exit 77; }

T=$(mktemp -d "${MG_TEST_TMP:-/tmp}/mg-tour.XXXXXX")
chmod 755 "$T"   # the services run unprivileged and must reach it
VAR=$T/var
mkdir -p "$VAR" "$T/build" "$T/scripts" "$T/tests"
install -m 755 "$MG_BIN" "$T/build/mediagate"
ln -s "$MG_ROOT/tests/fixtures" "$T/tests/fixtures"
P=$(mg_free_port) R=$(mg_free_port)
while [ "$R" = "$P" ]; do R=$(mg_free_port); done
for s in up down; do
    printf '#!/usr/bin/env bash\nMG_VAR=%q MG_BIN=%q PORT=%q RTMP_PORT=%q exec %q "$@"\n' \
        "$VAR" "$T/build/mediagate" "$P" "$R" "$MG_ROOT/scripts/$s" >"$T/scripts/$s"
    chmod 755 "$T/scripts/$s"
done
cleanup() {
    trap '' TERM INT HUP
    MG_VAR=$VAR "$MG_ROOT/scripts/down" >/dev/null 2>&1
    mg_reap "$T"
    rm -rf "$T" "$_T"
}
trap cleanup EXIT
mg_exit_on_signals
mg_guard "$T"

# The tour's blocks, as the README shows them.
tour=$(awk '/^## A five-minute tour/ {on = 1; next} on && /^## / {exit} on' "$MG_ROOT/README.md" |
       awk '/^```sh$/ {in_block = 1; next} /^```$/ {in_block = 0; next} in_block')
check "the README's tour has its three parts" \
    test "$(grep -c '^scripts/up$' <<<"$tour")" = 2 -a "$(grep -c '/stream/start' <<<"$tour")" = 1
other_ports() { grep -oE '127\.0\.0\.1:[0-9]+' <<<"$tour" | grep -vx '127\.0\.0\.1:8080'; }
check "the tour names only the default port: $(other_ports)" test -z "$(other_ports)"
(cd "$T" && timeout 1500 bash -e -c "${tour//127.0.0.1:8080/127.0.0.1:$P}" >"$T/tour.out" 2>"$T/tour.err")
rc=$?
check "the tour runs to its end (rc $rc): $(tail -n 20 "$T/tour.err")" test "$rc" = 0
out=$(cat "$T/tour.out")
has() { grep -qF -- "$1" <<<"$out"; }
check "scripts/up said the stack is up" has "mediagate is up."
check "the upload's job is COMPLETE and the Zencoder job too" \
    test "$(grep -c '"job_status": "COMPLETE"' <<<"$out")" = 2
check "ffprobe read the upload's 720p rendition" has "height=720"
check "ffprobe read the live HLS" has "height=360"
check "the stream was STOPPED" has '"status": "STOPPED"'
check "the Zencoder notification was applied" has '"result":"applied"'
nothing_runs() { ! pgrep -f -- "$T/" >/dev/null; }
check "the last scripts/down stopped the stack" nothing_runs
RUN=$VAR   # finish greps its logs for the secrets the test saw
finish
