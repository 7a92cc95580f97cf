#!/usr/bin/env bash
# bench/jobs_list.sh: GET /media/jobs (the library) over ROWS jobs of one
# owner, its first page and its 100th (the cursor of 99 pages walked), and
# a search that matches no job (a filtered page: it reads its whole scan
# budget), beside GET /media/status of one of its jobs, alternated in the
# same run on one loopback stack (PostgreSQL, mediagate, nginx from
# scripts/lib.sh).
# Other owners' jobs (NOISE, some of them naming the caller in their ACL,
# so the caller has two principals) are in the same tables. Prints the
# page statement's plan as the server runs it (EXPLAIN ANALYZE of the
# prepared statement, its text read from the binary, after enough runs for
# PostgreSQL to settle on a generic plan). Needs root, wrk, jq.
#
#   ROWS=1000000 NOISE=200000 DURATION=8s ROUNDS=2 CONNS=16 MG_BIN=... bench/jobs_list.sh
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MG_ROOT=$(cd "$BENCH_DIR/.." && pwd)
export MG_ROOT
ROWS=${ROWS:-1000000} NOISE=${NOISE:-200000} DURATION=${DURATION:-8s} ROUNDS=${ROUNDS:-2}
CONNS=${CONNS:-16} LIMIT=${LIMIT:-20} PAGES=${PAGES:-100}
source "$MG_ROOT/scripts/lib.sh"
MG_BIN=${MG_BIN:-$MG_ROOT/build/mediagate}
export MG_BIN NGINX_ACCESS_LOG=off MEDIAGATE_THREADS=${MEDIAGATE_THREADS:-16}
for t in wrk jq curl; do command -v "$t" >/dev/null || { echo "$t is not installed" >&2; exit 1; }; done
RUN=$(mktemp -d /tmp/mediagate-bench.XXXXXX)
export RUN
chmod 755 "$RUN"
trap 'stack_down' EXIT
trap 'exit 130' INT TERM
stack_up
log() { printf '[jobs_list %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

KEY=$(mg_apikey bench)
OWNER=key:$(psql_q "SELECT id FROM api_keys WHERE name = 'bench'")
log "loading $ROWS jobs of $OWNER and $NOISE of others (through the jobs triggers)"
t0=$(date +%s.%N)
psql_q "INSERT INTO jobs (id, backend, input_file, status, progress_rate, duration_ms, width_px,
                          height_px, output_path, owner, acl, created_at)
        SELECT md5('list-' || i)::uuid::text, 'local', 'uploads/' || i || '/clip-' || i || '.mp4',
               CASE WHEN i % 10 < 8 THEN 'COMPLETE' ELSE 'PROGRESSING' END,
               CASE WHEN i % 10 < 8 THEN 100 ELSE i % 100 END, 60000, 1280, 720,
               '/media-files/' || md5('list-' || i)::uuid::text || '/', '$OWNER',
               CASE WHEN i % 4 = 0 THEN 'USER_someone' END,
               now() - make_interval(secs => i / 2.0)
          FROM generate_series(1, $ROWS) i" >/dev/null
t1=$(date +%s.%N)
psql_q "INSERT INTO jobs (id, backend, input_file, status, owner, acl, created_at)
        SELECT md5('noise-' || i)::uuid::text, 'local', 'uploads/n' || i, 'COMPLETE',
               'key:noise-' || i % 7,
               CASE WHEN i % 100 = 0 THEN 'USER_bench' WHEN i % 2 = 0 THEN 'WORLD' END,
               now() - make_interval(secs => i / 2.0)
          FROM generate_series(1, $NOISE) i" >/dev/null
psql_q "VACUUM ANALYZE" >/dev/null
LOAD_S=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$t1")
log "loaded: $(psql_q "SELECT count(*) FROM job_readers") job_readers rows; the owner's $ROWS jobs in $LOAD_S s"

AUTH="Authorization: Bearer $KEY"
page() { curl -sf -H "$AUTH" "$BASE/media/jobs?limit=$LIMIT${1:+&cursor=$1}"; }
first=$(page "")
[ "$(jq '.items | length' <<<"$first")" = "$LIMIT" ] || { echo "page 1: $first" >&2; exit 1; }
cursor=$(jq -r .next_cursor <<<"$first")
for _ in $(seq 2 $((PAGES - 1))); do cursor=$(page "$cursor" | jq -r .next_cursor); done
last=$(page "$cursor")
[ "$(jq '.items | length' <<<"$last")" = "$LIMIT" ] || { echo "page $PAGES: $last" >&2; exit 1; }
none=$(curl -sf -H "$AUTH" "$BASE/media/jobs?limit=$LIMIT&q=nomatch")
[ "$(jq -c '[(.items | length), (.next_cursor != null)]' <<<"$none")" = '[0,true]' ] ||
    { echo "q=nomatch: $none" >&2; exit 1; }
JOB=$(jq -r '.items[0].job_id' <<<"$first")
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$BASE/media/status?job_id=$JOB")" = 200 ] ||
    { echo "GET /media/status of $JOB failed" >&2; exit 1; }

# The page statement as the app prepares it (app/db.c STMT_JOB_LIST).
sql=$(grep -ao 'WITH s AS (SELECT r.created_at, r.job_id, r.n FROM[[:print:]]*ORDER BY i.created_us DESC, i.id DESC' \
      "$MG_BIN" | head -n 1) || true
[ -n "$sql" ] || { echo "no STMT_JOB_LIST statement found in $MG_BIN" >&2; exit 1; }
us=$(psql_q "SELECT (extract(epoch FROM created_at) * 1000000)::bigint FROM jobs
             WHERE id = '$(jq -r ".items[$((LIMIT - 1))].job_id" <<<"$last")'")
id=$(jq -r ".items[$((LIMIT - 1))].job_id" <<<"$last")
args="'[\"$OWNER\", \"USER_bench\"]', $us, '$id', $((LIMIT + 1)), $((LIMIT + 1)), NULL, NULL, NULL"
PLAN=$(cd / && runuser -u postgres -- "$PGBIN/psql" -h "$RUN/pgsock" -U postgres -d mediagate -qAt <<SQL
PREPARE page (jsonb, bigint, text, integer, integer, text, text, jsonb) AS $sql;
\o /dev/null
$(for _ in 1 2 3 4 5 6; do echo "EXECUTE page ($args);"; done)
\o
EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) EXECUTE page ($args);
SQL
)

run() { # NAME PATH
    local out
    out=$(wrk -t 2 -c "$CONNS" -d "$DURATION" --latency --timeout 5s -H "$AUTH" \
          -s "$BENCH_DIR/status.lua" "$BASE" -- - "$2" count 2>&1 | grep '^RESULT')
    python3 - "$1" "$out" <<'PY'
import sys
kv = dict(x.split("=", 1) for x in sys.argv[2].split()[1:])
print(f"{sys.argv[1]:<34} {float(kv['rps']):>8,.0f} req/s  p50 {int(kv['p50_us'])/1000:6.2f} ms  "
      f"p99 {int(kv['p99_us'])/1000:6.2f} ms  non-200 {kv['non200']}")
PY
}
mkdir -p "$MG_ROOT/bench/results"
out=$MG_ROOT/bench/results/jobs_list-$(date -u +%Y%m%dT%H%M%SZ).txt
{
    echo "GET /media/jobs over $ROWS jobs of one owner (+ $NOISE of others), limit $LIMIT,"
    echo "$CONNS connections, $DURATION per run, $ROUNDS rounds alternated, $(nproc) CPUs,"
    echo "$MEDIAGATE_THREADS app threads; loading the owner's jobs through the triggers: $LOAD_S s"
    for i in $(seq "$ROUNDS"); do
        run "GET /media/status (one job)" "/media/status?job_id=$JOB"
        run "GET /media/jobs page 1" "/media/jobs?limit=$LIMIT"
        run "GET /media/jobs page $PAGES" "/media/jobs?limit=$LIMIT&cursor=$cursor"
        run "GET /media/jobs?q= matching none" "/media/jobs?limit=$LIMIT&q=nomatch"
    done
    echo
    echo "The page statement (page $PAGES's cursor, two principals), EXPLAIN ANALYZE after 6 runs:"
    echo "$PLAN"
} | tee "$out"
log "results: $out"
