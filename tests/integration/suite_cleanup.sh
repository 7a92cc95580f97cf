#!/usr/bin/env bash
# A suite stopped by meson's timeout leaves nothing running. meson (1.0.1,
# Debian 12) runs each test in a session of its own (setsid) and, on a
# timeout, sends SIGTERM to that process group, then SIGKILL 0.5 s later
# if the test has not ended. nginx and PostgreSQL daemonize and the
# worker's ffmpeg has a group of its own, so none of those gets either
# signal. One bash suite (pg_restart.sh: PostgreSQL, nginx, the app, curl
# loops) and one pytest suite (test_encoder.py: also workers and their
# ffmpeg) are each stopped mid-run twice:
#   term  SIGTERM alone, the guard off: the suite's own exit handler
#         (scripts/lib.sh mg_suite) or its fixtures' finalizers (conftest.py)
#         stop everything before it ends;
#   kill  SIGTERM, then SIGKILL 0.5 s later, as meson does: the guard
#         (tests/lib/reap.py) stops everything once the suite is gone.
# Then no process of the suite's run directory runs, none of the processes
# it had (by pid and command line), and the directory is gone.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
REAP=$MG_ROOT/tests/lib/reap.py

# A short directory: the pytest suite's socket paths live under it.
T=$(mktemp -d /tmp/mgc.XXXXXX)
chmod 755 "$T"
SUITE=
cleanup() {
    trap '' TERM INT HUP
    [ -z "$SUITE" ] || kill -KILL -- "-$SUITE" 2>/dev/null
    mg_reap "$T"
    if [ -z "${KEEP:-}" ]; then rm -rf "$T"; else mg_log "kept $T"; fi
    rm -rf "$_T"
}
trap cleanup EXIT
mg_exit_on_signals
mg_guard "$T"

# ended: the suite's process has exited (a zombie until it is waited for).
ended() { [ ! -e "/proc/$SUITE" ] || [ "$(cut -d' ' -f3 "/proc/$SUITE/stat" 2>/dev/null)" = Z ]; }
# What runs of directory D: "pid command line" lines.
of_dir() { python3 "$REAP" list "$1"; }
# still_running FILE: the processes listed in FILE ("pid command line") that
# still run with the same command line.
still_running() {
    local pid cmd now
    while read -r pid cmd; do
        now=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | sed 's/ *$//' | cut -c1-200)
        [ -n "$now" ] && [ "$now" = "$cmd" ] && echo "$pid $cmd"
    done <"$1"
    return 0
}
nothing_left() { [ -z "$(of_dir "$1")" ] && [ -z "$(still_running "$2")" ]; }

# Triggers: the suite is in the middle of its work.
pg_restart_streams() {
    compgen -G "$1/mediagate-test.*/codes.1" >/dev/null &&
        of_dir "$1" | grep -q 'nginx: master' && of_dir "$1" | grep -q 'postgres -D'
}
encoder_encodes() { of_dir "$1" | grep -q -- '^[0-9]* ffmpeg .*-progress pipe:1'; }
# under_way TRIGGER DIR: TRIGGER holds (UNDER_WAY says it did: a suite
# moves on, so the trigger is not asked again later), or the suite has
# ended (and it never will).
under_way() {
    "$1" "$2" && { UNDER_WAY=1; return 0; }
    ! kill -0 "$SUITE" 2>/dev/null
}

# stopped NAME MODE TRIGGER CMD...: runs CMD as meson runs a test, with its
# run directories under $T/<n> (short: unix socket paths live there); once
# TRIGGER holds, stops it as MODE says, and checks that nothing of it is left.
RUNS=0
stopped() {
    local name=$1 mode=$2 trigger=$3 i
    RUNS=$((RUNS + 1))
    local tmp=$T/$RUNS log=$T/$name.$mode.log
    shift 3
    mkdir -p "$tmp"
    chmod 755 "$tmp"
    local guard=on
    [ "$mode" = term ] && guard=off
    MG_TEST_TMP=$tmp MG_GUARD=$guard setsid "$@" >"$log" 2>&1 &
    SUITE=$!
    UNDER_WAY=0
    mg_wait_for -t 300 "$name/$mode under way" under_way "$trigger" "$tmp"
    check "$name/$mode: the suite gets under way ($trigger)" test "$UNDER_WAY" = 1
    # Everything it has now: its directory's processes, and its own group.
    { of_dir "$tmp"
      for i in $(pgrep -g "$SUITE"); do
          echo "$i $({ tr '\0' ' ' <"/proc/$i/cmdline"; } 2>/dev/null | sed 's/ *$//' | cut -c1-200)"
      done; } | sort -u >"$T/$name.$mode.had"
    echo "$name/$mode: stopping it with $(wc -l <"$T/$name.$mode.had") processes:"
    sed 's/^/    /' "$T/$name.$mode.had"
    kill -TERM -- "-$SUITE"
    if [ "$mode" = kill ]; then
        sleep 0.5   # not a wait: meson's own SIGKILL comes half a second after its SIGTERM
        kill -KILL -- "-$SUITE" 2>/dev/null
    fi
    # Its end (a cap: a suite hung in its cleanup is killed, and fails below).
    mg_wait_for -t 300 "$name/$mode to end" ended || kill -KILL -- "-$SUITE"
    wait "$SUITE"
    local rc=$?
    SUITE=
    echo "$name/$mode: the suite ended with status $rc"
    local who="the guard"
    # With the guard off nothing else stops them: what its own cleanup left
    # stays, so waiting (for processes it signaled to finish exiting on a
    # busy machine) hides no leak.
    [ "$mode" = term ] && who="its own cleanup"
    mg_wait_for -t 300 "$name/$mode: nothing left" nothing_left "$tmp" "$T/$name.$mode.had"
    check "$name/$mode: $who stopped everything (left: $(of_dir "$tmp"; still_running "$T/$name.$mode.had"))" \
        nothing_left "$tmp" "$T/$name.$mode.had"
    empty() { [ -z "$(ls -A "$1")" ]; }
    mg_wait_for -t 300 "$name/$mode: an empty $tmp" empty "$tmp"
    check "$name/$mode: $who removed its run directory (left: $(ls "$tmp"))" empty "$tmp"
    if [ "$FAILS" -gt 0 ]; then echo "--- its output:"; tail -n 40 "$log"; fi
    # Whatever is left now would disturb the next run.
    mg_reap "$tmp"
}

PYTEST=(/usr/bin/python3 -B -m pytest -q -p no:cacheprovider "$MG_ROOT/tests/pytest/test_encoder.py")
for mode in term kill; do
    stopped pg_restart "$mode" pg_restart_streams bash "$MG_ROOT/tests/integration/pg_restart.sh"
    stopped pytest-encoder "$mode" encoder_encodes "${PYTEST[@]}"
done
finish
