#!/usr/bin/env bash
# bench/encoder-create.sh: upload-to-create latency, loopback only. SAMPLES
# direct uploads (default 200) with a cloud encoder's profile (Mux, at the
# stand-in of tests/pytest/mux_standin.py: HTTP Basic and the documented
# create body checked), timed from the PUT's 201 to the verified create call
# arriving at the stand-in; alternated, in the same run, with as many
# uploads with the local encoder's profile (`default`), timed from the
# PUT's 201 to the worker's claim of the local.encode task (the task's
# started_at). Both clocks are this machine's. One upload at a time, the
# next once the previous one's create or claim was seen, so the figures
# are the pipeline's latency, not a queue's. The uploads are on local
# storage, so each create signs the input URL the stand-in then fetches
# through nginx. One worker, MEDIAGATE_WORKER_CONCURRENCY 1 (its idle slot
# naps 0.25 s between claims). Durable PostgreSQL defaults.
#
#   SAMPLES     uploads of each kind (default 200)
#   MG_BIN      reuse this binary (default: a release build in $BUILDDIR)
#   BUILDDIR    release build directory (default /tmp/bench-build)
#   KEEP=1      keep the run directory
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$MG_ROOT"
SAMPLES=${SAMPLES:-200}
BUILDDIR=${BUILDDIR:-/tmp/bench-build}
if [ -z "${MG_BIN:-}" ]; then
    [ -f "$BUILDDIR/build.ninja" ] || meson setup "$BUILDDIR" --buildtype=release >/dev/null
    meson compile -C "$BUILDDIR" >/dev/null
    MG_BIN=$BUILDDIR/mediagate
fi
export MG_BIN SAMPLES PG_OPTS="-c shared_buffers=256MB"
export MEDIAGATE_ACCESS_LOG=off MEDIAGATE_THREADS=4 MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK=on
export MEDIAGATE_MEDIA_SIGNING_SECRET=bench-media-secret-0123456789abcdef
export MEDIAGATE_MUX_TOKEN_ID=bench-mux-token MEDIAGATE_MUX_TOKEN_SECRET=bench-mux-secret-0123456789
source scripts/lib.sh
export NGINX_ACCESS_LOG=off
RUN=$(mktemp -d /tmp/mediagate-bench.XXXXXX)
export RUN MEDIAGATE_UPLOADS_DIR=$RUN/upload/uploads MEDIAGATE_MEDIA_DIR=$RUN/media
trap stack_down EXIT
NGINX_SITE_EXTRA="$(upload_conf) $(media_conf)"
export NGINX_SITE_EXTRA
# As packaged: nginx reads the uploads through its group.
chgrp www-data "$MEDIAGATE_UPLOADS_DIR" && chmod 2750 "$MEDIAGATE_UPLOADS_DIR"
stack_up
export MEDIAGATE_PUBLIC_URL=$BASE
key=$("$MG_BIN" apikey create bench 2>/dev/null)
export BENCH_KEY=$key
mkdir -p bench/results
out=bench/results/encoder-create-$(date -u +%Y%m%dT%H%M%SZ).txt
{
    echo "encoder create benchmark, $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    /usr/bin/python3 bench/encoder_create.py
} | tee "$out"
