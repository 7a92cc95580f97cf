#!/usr/bin/env bash
# bench/jwsync.sh: `mediagate sync` of VIDEOS (default 50,000) videos and 50
# channels from the JW v1 stand-in (bench/jwsync_standin.py: signatures,
# nonces and paging checked as in the tests, 1000 a page), all on loopback,
# PostgreSQL on a unix socket only. Reports wall time and peak RSS
# (/usr/bin/time -v) of: the first sync (everything created), a second sync
# after CHANGED% (default 1) of the videos changed, and a third with nothing
# changed; beside them, in the same run and cluster, psql COPYing the same
# number of rows of the same JSON into a plain table (the database's share
# of the work). Bounded: each step times out after MAX_RUN seconds (300).
#
#   MG_BIN   reuse this binary (default: a release build in $BUILDDIR)
#   BUILDDIR release build directory (default /tmp/bench-build)
#   KEEP=1   keep the run directory
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$MG_ROOT"
VIDEOS=${VIDEOS:-50000}
CHANGED=${CHANGED:-1}
MAX_RUN=${MAX_RUN:-300}
BUILDDIR=${BUILDDIR:-/tmp/bench-build}
if [ -z "${MG_BIN:-}" ]; then
    [ -f "$BUILDDIR/build.ninja" ] || meson setup "$BUILDDIR" --buildtype=release >/dev/null
    meson compile -C "$BUILDDIR" >/dev/null
    MG_BIN=$BUILDDIR/mediagate
fi
export MG_BIN
export PG_OPTS="-c shared_buffers=256MB -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
source scripts/lib.sh
RUN=$(mktemp -d /tmp/mediagate-bench.XXXXXX)
export RUN
standin=
cleanup() {
    [ -z "$standin" ] || kill "$standin" 2>/dev/null || true
    pg_stop immediate || true
    if [ -z "${KEEP:-}" ]; then rm -rf "$RUN"; else mg_log "kept $RUN"; fi
}
trap cleanup EXIT
pg_start
"$MG_BIN" migrate >"$RUN/migrate.log" 2>&1 || { cat "$RUN/migrate.log" >&2; exit 1; }
export KEY=BenchKey1 SECRET=bench-secret-0123456789 VIDEOS CHANGED
mkfifo "$RUN/standin.out"
/usr/bin/python3 -B bench/jwsync_standin.py >"$RUN/standin.out" 2>"$RUN/standin.err" &
standin=$!
exec 3<"$RUN/standin.out"
read -r -t 120 port <&3 || { cat "$RUN/standin.err" >&2; exit 1; }
export MEDIAGATE_JWPLATFORM_API_URL=http://127.0.0.1:$port MEDIAGATE_JWPLATFORM_API_KEY=$KEY \
    MEDIAGATE_JWPLATFORM_API_SECRET=$SECRET
mkdir -p bench/results
out=bench/results/jwsync-$(date -u +%Y%m%dT%H%M%SZ).txt

# One measured sync: "<label> <wall s> <peak RSS KiB> <summary>".
measure() {
    local label=$1
    shift
    timeout "$MAX_RUN" /usr/bin/time -v -o "$RUN/time.txt" "$@" >"$RUN/out.txt" 2>"$RUN/err.txt" ||
        { cat "$RUN/err.txt" >&2; exit 1; }
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$RUN/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$RUN/time.txt")
    printf '%-28s wall %6.2f s  peak RSS %6d KiB  %s\n' "$label" "$wall" "$rss" \
        "$(grep -h '^videos:' "$RUN/out.txt" | tr -s ' ')" | tee -a "$out"
    grep -h '^videos: [0-9]* fetched in\|^videos: replaced' "$RUN/err.txt" | sed 's/^/    /' | tee -a "$out"
}

echo "mediagate sync, $VIDEOS videos + 50 channels from the loopback stand-in ($(nproc) cores)" | tee "$out"
measure "first sync (all created)" "$MG_BIN" sync
kill -HUP "$standin"
read -r -t 30 changed <&3
measure "second sync ($CHANGED% changed)" "$MG_BIN" sync
cp "$RUN/out.txt" "$RUN/out2.txt"
measure "third sync (nothing changed)" "$MG_BIN" sync
grep -q "^videos: 0 created, ${changed#changed } updated" "$RUN/out2.txt" ||
    { echo "the second sync did not update the ${changed#changed } changed videos" >&2; exit 1; }
# Beside it: the same rows COPYed by psql into a plain jsonb table.
psql_q "SELECT key || E'\t' || replace(data::text, E'\\\\', E'\\\\\\\\') FROM cached_resource WHERE type = 'video'" \
    >"$RUN/rows.tsv"
psql_q "CREATE TABLE copy_bench (key text, data jsonb)" >/dev/null
start=$(date +%s.%N)
(cd / && timeout "$MAX_RUN" runuser -u postgres -- "$PGBIN/psql" -q -h "$RUN/pgsock" -U postgres \
    -d mediagate -v ON_ERROR_STOP=1 -c "\\copy copy_bench FROM STDIN") <"$RUN/rows.tsv"
end=$(date +%s.%N)
printf '%-28s wall %6.2f s  (%s rows)\n' "beside: psql COPY, same rows" "$(echo "$end - $start" | bc)" \
    "$(psql_q 'SELECT count(*) FROM copy_bench')" | tee -a "$out"
echo "API calls per sync: $(grep -o 'API calls: [0-9]*' "$RUN/out.txt")" | tee -a "$out"
mg_log "results in $out"
