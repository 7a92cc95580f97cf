#!/usr/bin/env bash
# bench/notify.sh: durable notification throughput. wrk drives unique,
# authenticated MediaConvert STATUS_UPDATE events through nginx into
# mediagate; in the same run pgbench executes the same transaction
# (mediagate_notify(): insert the raw event, update the job) straight
# against PostgreSQL. PostgreSQL runs with its durable defaults (fsync and
# synchronous_commit on). Loopback only; bounded by DURATION.
#
#   MG_BIN      reuse this binary (default: a release build in /tmp/build-bench)
#   DURATION    seconds per run (default 15)   CONNS  wrk connections (default 64)
#   CLIENTS     pgbench clients (default 16)   MEDIAGATE_THREADS (default 16)
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$MG_ROOT"
DURATION=${DURATION:-15}
CONNS=${CONNS:-64}
CLIENTS=${CLIENTS:-16}
export MEDIAGATE_THREADS=${MEDIAGATE_THREADS:-16}
export BENCH_SECRET=bench-secret-0123456789abcdef
export MEDIAGATE_MEDIACONVERT_SECRET=$BENCH_SECRET MEDIAGATE_ACCESS_LOG=off
if [ -z "${MG_BIN:-}" ]; then
    [ -f /tmp/build-bench/build.ninja ] || meson setup /tmp/build-bench --buildtype=release >/dev/null
    meson compile -C /tmp/build-bench >/dev/null
    MG_BIN=/tmp/build-bench/mediagate
fi
export MG_BIN
export PG_OPTS="-c shared_buffers=256MB"   # durable: fsync and synchronous_commit stay on
source scripts/lib.sh
export NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-off}   # benchmarks measure without an access log
stack_up
trap stack_down EXIT
mkdir -p bench/results
out=bench/results/notify-$(date -u +%Y%m%dT%H%M%SZ).txt

# Warm up, then the app through nginx.
wrk -t2 -c"$CONNS" -d3s -s bench/notify.lua "$BASE" >/dev/null
app_line=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s bench/notify.lua "$BASE" | grep '^BENCH')
app_rows=$(psql_q "SELECT count(*) FROM notifications")

# The same transaction in pgbench: one prepared mediagate_notify() call.
cat >"$RUN/pgbench.sql" <<'SQL'
\set n random(1, 2000000000)
\set job random(1, 10000)
SELECT mediagate_notify('mediaconvert', 'pgb-' || :client_id || '-' || :n,
  convert_to('{"version":"0","id":"x","detail-type":"MediaConvert Job State Change","source":"aws.mediaconvert","detail":{"timestamp":1,"jobId":"pgb-' || :job || '","status":"STATUS_UPDATE","jobProgress":{"jobPercentComplete":7}}}', 'UTF8'),
  jsonb_build_object('job_id', 'pgb-' || :job, 'backend_job_id', 'pgb-' || :job, 'create', true,
                     'status', 'PROGRESSING', 'progress_rate', :n % 101,
                     'event_time', now(),
                     'resource', '{"detail":{"status":"STATUS_UPDATE"}}'::jsonb));
SQL
mkdir -p "$RUN/pgb"
chown postgres "$RUN/pgbench.sql" "$RUN/pgb"
(cd "$RUN/pgb" && runuser -u postgres -- "$PGBIN/pgbench" -h "$RUN/pgsock" -U postgres -n -M prepared \
    -c "$CLIENTS" -j 2 -T "$DURATION" -l --log-prefix="$RUN/pgb/log" -f "$RUN/pgbench.sql" mediagate \
    >"$RUN/pgbench.out" 2>&1) || { cat "$RUN/pgbench.out" >&2; exit 1; }
pg_tps=$(grep -Eo 'tps = [0-9.]+' "$RUN/pgbench.out" | head -1 | cut -d' ' -f3)
pg_p99=$(cat "$RUN"/pgb/log.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int(NR*0.99)]/1000}')
pg_p50=$(cat "$RUN"/pgb/log.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int(NR*0.5)]/1000}')
app_rps=$(sed -E 's/.*rps=([0-9]+).*/\1/' <<<"$app_line")
{
    echo "notifications benchmark, $(date -u +%FT%TZ), $(nproc) cores, durable PostgreSQL"
    echo "app (wrk $CONNS conns via nginx, $MEDIAGATE_THREADS threads): $app_line"
    echo "app events stored: $app_rows"
    echo "pgbench ($CLIENTS clients, same transaction):  tps=$pg_tps p50_ms=$pg_p50 p99_ms=$pg_p99"
    awk -v a="$app_rps" -v p="$pg_tps" 'BEGIN { printf "ratio app/pgbench = %.2f\n", a / p }'
} | tee "$out"
