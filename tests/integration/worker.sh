#!/usr/bin/env bash
# The worker under faults and hostile inputs, through real PostgreSQL,
# nginx, the worker binary and ffmpeg. Each section is the regression test
# of a defect the worker once had:
#   1. PostgreSQL restarted mid-encode: progress resumes, one attempt, one
#      result.
#   2. Two slots: a short job finishes beside a long encode (a probe once
#      hung on the other child's leaked pipe).
#   3. A worker that lost its lease (stopped past it) changes nothing and
#      kills its ffmpeg; the new holder's result is the only one.
#   4. A task that kills its worker every time is dead after its cap (ERROR
#      5), never claimed again, and the queue goes on.
#   5. kill -9 of the worker leaves no ffmpeg behind.
#   6. Uploads that are ffconcat lists, HLS playlists (closed and open), a
#      PNG, a text file or an image sequence end in ERROR 6 at once,
#      publish nothing and read no other file.
#   7. ffprobe's answer past 64 KiB (a long comment tag) is no "no video".
#   8. An input that stops delivering ends at MEDIAGATE_ENCODE_STALL (ERROR 7).
#   9. A task of a kind no worker serves is refused at INSERT.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
mg_suite || exit 1
MEDIA=$RUN/media
UPLOADS=$RUN/upload/uploads
export RUN MEDIAGATE_MEDIA_DIR=$MEDIA MEDIAGATE_MEDIA_URL=/media-files MEDIAGATE_LEASE_SECONDS=10
export MEDIAGATE_THREADS=2 MEDIAGATE_ENCODE_NICE=0 MEDIAGATE_WORKER_CONCURRENCY=1
export MEDIAGATE_UPLOADS_DIR=$UPLOADS
NGINX_SITE_EXTRA=$(media_conf) && NGINX_SITE_EXTRA+=" $(upload_conf)" || exit 1
export NGINX_SITE_EXTRA
T0=$(date +%s)

# --- workers and helpers --------------------------------------------------------------------
declare -A WPID=()  # worker name -> pid; its log is $RUN/worker-<name>.log
OTHER=()            # other processes of ours (the FIFO feeder)
cleanup() {
    local p
    for p in "${WPID[@]}" "${OTHER[@]}"; do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
    for p in "${WPID[@]}" "${OTHER[@]}"; do wait "$p" 2>/dev/null; done
    # Children a broken worker left behind: only ours (their command lines name $RUN).
    for p in $(pgrep -f "ff(mpeg|probe).*$RUN/"); do kill -9 "$p" 2>/dev/null; done
    if [ "$FAILS" -gt 0 ] || [ -z "${FINISHED:-}" ]; then
        for f in "$RUN"/worker-*.log; do
            [ -e "$f" ] || continue
            echo "=== last lines of $(basename "$f")" >&2
            tail -n 25 "$f" >&2
        done
    fi
}
mg_at_exit cleanup
stack_up || exit 1

# start_worker NAME [VAR=VALUE...]: a worker with these settings added.
start_worker() {
    local name=$1
    shift
    env "$@" "$MG_BIN" worker >>"$RUN/worker-$name.log" 2>&1 &
    WPID[$name]=$!
}
# stop_worker NAME: SIGTERM, and the worker must exit 0 (killed after a cap).
stop_worker() {
    local pid=${WPID[$1]} rc=0
    kill -TERM "$pid"
    until_true 120 gone "$pid"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" || rc=$?
    unset "WPID[$1]"
    check "worker $1 exits 0 on SIGTERM (status $rc)" test "$rc" = 0
}
# gone PID...: none of them is running (exited, or a zombie not yet waited for).
gone() {
    local p
    for p; do [ -d "/proc/$p" ] && [ "$(ps -o stat= -p "$p")" != Z ] && return 1; done
    return 0
}
kill9_worker() {
    kill -9 "${WPID[$1]}"
    wait "${WPID[$1]}" 2>/dev/null
    unset "WPID[$1]"
}
wlog() { printf '%s' "$RUN/worker-$1.log"; }

# until_true SECONDS CMD...: mg_wait_for CMD, for SECONDS at most. The
# time is a cap against a hang, never a measure: a loaded machine may run
# every encode here several times slower than a quiet one.
until_true() { mg_wait_for -t "$1" "${*:2}" "${@:2}"; }
# lease_over JOB: its task's lease has run out, by the database's clock.
lease_over() { [ "$(tq "$1" "locked_until < now()")" = t ]; }
status() { curl -s --max-time 60 "$BASE/media/status?job_id=$1"; }
jstatus() { status "$1" | jq -r '.job_status // empty' 2>/dev/null; }
jprogress() { status "$1" | jq -r '.progress_rate // 0' 2>/dev/null || echo 0; }
is_status() { [ "$(jstatus "$1")" = "$2" ]; }
is_final() { case $(jstatus "$1") in COMPLETE | ERROR | CANCELED) return 0 ;; esac; return 1; }
has_progress() { [ "$(jprogress "$1")" -gt "${2:-0}" ]; }
# tq JOB SQL-EXPRESSION: a column of JOB's task.
tq() { psql_q "SELECT $2 FROM tasks WHERE payload->>'job_id' = '$1'"; }
task_of() { tq "$1" id; }
attempts_are() { [ "$(tq "$1" attempts)" = "$2" ]; }
# ff_pids TEXT: our ffmpeg/ffprobe processes whose command line holds TEXT.
ff_pids() { pgrep -f "ff(mpeg|probe).*$1"; }
no_ff() { ! ff_pids "$1" >/dev/null; }
some_ff() { ff_pids "$1" >/dev/null; }
some_ffmpeg() { pgrep -f "ffmpeg.*$1" >/dev/null; }
# no_server_path MESSAGE
no_server_path() { [[ $1 != *"$RUN"* && $1 != */tmp* && $1 != */root* ]]; }
# unfinished JOB: JOB's partial outputs are there and none of their
# playlists is closed (its ffmpeg was stopped, it did not end on its own).
unfinished() {
    compgen -G "$MEDIA/.$1.*.tmp" >/dev/null &&
        ! find "$MEDIA" -path "$MEDIA/.$1.*.tmp/*" -name '*.m3u8' -exec grep -q '#EXT-X-ENDLIST' {} \; -print | grep -q .
}
# no_outputs JOB: no published directory; no_tmp_left JOB: no .<job>.<n>.tmp;
# unpublished JOB: neither.
no_outputs() { [ ! -e "$MEDIA/$1" ]; }
no_tmp_left() { ! compgen -G "$MEDIA/.$1.*" >/dev/null; }
unpublished() { no_outputs "$1" && no_tmp_left "$1"; }
# lacks FILE REGEX: no line of FILE matches; lacks_fixed FILE STRING...: no
# line holds any of the strings.
lacks() { ! grep -qE "$2" "$1"; }
lacks_fixed() {
    local f=$1 k e=()
    shift
    for k; do e+=(-e "$k"); done
    ! grep -qF "${e[@]}" "$f"
}
# outputs_ok JOB SECONDS: one master playlist; every rendition's playlist
# lists exactly the segments on disk; ffprobe reads SECONDS of it.
outputs_ok() {
    local d=$MEDIA/$1 v listed have dur
    [ "$(find "$MEDIA" -path "*$1*" -name master.m3u8 | wc -l)" = 1 ] || { echo "not one master.m3u8" >&2; return 1; }
    for v in "$d"/v*; do
        listed=$(grep -c '\.ts$' "$v/index.m3u8")
        have=$(find "$v" -name '*.ts' | wc -l)
        [ "$listed" = "$have" ] && [ "$listed" -gt 0 ] || { echo "$v: $listed listed, $have on disk" >&2; return 1; }
        grep -q '#EXT-X-ENDLIST' "$v/index.m3u8" || { echo "$v: no end tag" >&2; return 1; }
    done
    dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$d/master.m3u8")
    awk -v d="$dur" -v s="$2" 'BEGIN { exit !(d > s - 1 && d < s + 1) }' || { echo "duration $dur, expected $2" >&2; return 1; }
}
# clip NAME SECONDS SIZE [ffmpeg output options...]
clip() {
    local name=$1 secs=$2 size=$3
    shift 3
    ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc=size=$size:rate=25" -f lavfi -i "sine=frequency=440" \
        -t "$secs" -c:v libx264 -preset ultrafast -c:a aac -shortest "$@" "$RUN/$name"
}
section() { echo "--- $* ($(( $(date +%s) - T0 )) s)"; }

# On two idle cores, encodes here run at about 2.5x real time for 720p (three renditions) on
# two idle cores: a 40 s clip keeps an encode busy for ~15 s, a 20 s one ~8 s.
# A comment tag of 200 000 characters (too long for one argument: from a file).
{ echo ';FFMETADATA1'; printf 'comment='; head -c 200000 /dev/zero | tr '\0' x; echo; } >"$RUN/meta.txt"
gen=()
clip long.mp4 40 1280x720 & gen+=($!)
clip short.mp4 2 320x240 & gen+=($!)
clip mid.mp4 6 1280x720 & gen+=($!)
clip lease2.mp4 20 1280x720 & gen+=($!)
ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc=size=320x240:rate=25" -f lavfi -i "sine=frequency=440" \
    -f ffmetadata -i "$RUN/meta.txt" -map 0:v -map 1:a -map_metadata 2 -t 2 -c:v libx264 -preset ultrafast \
    -c:a aac "$RUN/meta.mp4" & gen+=($!)
ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc=size=320x240:rate=25" -f lavfi -i "sine=frequency=440" \
    -t 8 -c:v libx264 -preset ultrafast -c:a aac -shortest -f mpegts "$RUN/prefix.ts" & gen+=($!)
for p in "${gen[@]}"; do wait "$p" || { echo "cannot make the test media" >&2; exit 1; }; done
for n in pg long2 poison; do cp "$RUN/long.mp4" "$RUN/$n.mp4"; done
cp "$RUN/lease2.mp4" "$RUN/lease.mp4"
for n in short2 after; do cp "$RUN/short.mp4" "$RUN/$n.mp4"; done

# === 1. PostgreSQL restarted mid-encode ========================================================
section "1. PostgreSQL restart mid-encode"
start_worker pg
j1=$("$MG_BIN" submit "$RUN/pg.mp4")
check "1: progress starts" until_true 300 has_progress "$j1"
before=$(jprogress "$j1")
pg_stop fast
# The outage lasts until the worker has felt it.
felt() { grep -Eq "task [0-9]+: (heartbeat failed|cannot record)" "$(wlog pg)"; }
check "1: the worker notices the outage" until_true 300 felt
pg_resume || exit 1
after_seen=""
# moved_or_ended: progress past $before (in $after_seen), or the job ended.
moved_or_ended() {
    local s st p
    s=$(status "$j1")
    st=$(jq -r '.job_status // empty' <<<"$s" 2>/dev/null)
    p=$(jq -r '.progress_rate // 0' <<<"$s" 2>/dev/null)
    if [ "$st" = PROGRESSING ] && [ "${p:-0}" -gt "$before" ]; then after_seen=$p; return 0; fi
    [ "$st" = COMPLETE ] || [ "$st" = ERROR ]
}
until_true 300 moved_or_ended
echo "PostgreSQL restart: progress ${before}% before, ${after_seen:-no}% after"
check "1: progress moved again after the restart ($before% before, ${after_seen:-none} after)" test -n "$after_seen"
check "1: the job ends COMPLETE" until_true 900 is_final "$j1"
check "1: ... and it is COMPLETE ($(jstatus "$j1"))" is_status "$j1" COMPLETE
t1=$(task_of "$j1")
check "1: one attempt, done ($(tq "$j1" "attempts || ':' || state"))" test "$(tq "$j1" "attempts || ':' || state")" = 1:done
check "1: the result is logged once ($(grep -Ec "task $t1: done( request_id=[^ ]+)?\$" "$(wlog pg)"))" \
    test "$(grep -Ec "task $t1: done( request_id=[^ ]+)?\$" "$(wlog pg)")" = 1
check "1: claimed once" test "$(grep -c "task $t1: local.encode (attempt" "$(wlog pg)")" = 1
check "1: one set of outputs, complete" outputs_ok "$j1" 40
check "1: no partial outputs" no_tmp_left "$j1"
check "1: the worker lived through it" kill -0 "${WPID[pg]}"

# === 9. A kind no worker serves is refused =====================================================
# (Here because a worker has started and written its kinds.)
section "9. unknown task kinds"
if psql_q "INSERT INTO outbox (kind, payload) VALUES ('no.such.kind', '{}')" >/dev/null 2>"$RUN/fk.err"; then
    REQ_DESC="" fail "9: an outbox row of kind no.such.kind was accepted"
else
    check "9: an unknown kind is refused by the foreign key: $(head -n 1 "$RUN/fk.err")" grep -qi 'foreign key' "$RUN/fk.err"
fi
check "9: nothing of that kind is queued" test "$(psql_q "SELECT count(*) FROM outbox WHERE kind = 'no.such.kind'")" = 0
# The same statement with a served kind goes in, and a worker runs it.
noop=$(psql_q "INSERT INTO outbox (kind, payload) VALUES ('noop', '{}') RETURNING id" | head -n 1)
check "9: a served kind (noop) is accepted (id ${noop:-none})" test -n "$noop"
noop_done() { [ "$(psql_q "SELECT state FROM tasks WHERE id = ${noop:-0}")" = 'done' ]; }
check "9: ... and done by the worker" until_true 120 noop_done
stop_worker pg

# === 2. Two slots: short jobs beside a long encode ============================================
# The long encode's ffmpeg starts while the first short job's ffmpeg runs,
# so the pipes of one slot's child are open when the other slot forks.
section "2. two slots"
start_worker slots MEDIAGATE_WORKER_CONCURRENCY=2
t_s1=$(date +%s%N)
j2a=$("$MG_BIN" submit "$RUN/mid.mp4")
j2l=$("$MG_BIN" submit "$RUN/long2.mp4")
check "2: the long encode is under way" until_true 300 has_progress "$j2l"
l_ff=$(ff_pids "$RUN/long2.mp4" | head -n 1)
# What the long encode's ffmpeg holds beyond stdin, stdout and stderr: files
# only, never another child's pipe or the worker's sockets.
inherited=$(for fd in "/proc/${l_ff:-0}/fd/"*; do
    n=${fd##*/}; [ "$n" -gt 2 ] || continue
    t=$(readlink "$fd") || continue
    case $t in /*) ;; *) echo "$n:$t" ;; esac
done | tr '\n' ' ')
check "2: the long encode's ffmpeg (${l_ff:-none}) holds no descriptor of the worker's (${inherited:-none})" \
    test -n "$l_ff" -a -z "$inherited"
t_s2=$(date +%s%N)
j2s=$("$MG_BIN" submit "$RUN/short2.mp4")
until_true 600 is_final "$j2s"
s2_ms=$(( ($(date +%s%N) - t_s2) / 1000000 ))
long_then_s=$(jstatus "$j2l")
until_true 600 is_final "$j2a"
s1_ms=$(( ($(date +%s%N) - t_s1) / 1000000 ))
long_then_a=$(jstatus "$j2l")
echo "two slots: beside the long encode, a 6 s job took $s1_ms ms, a 2 s job $s2_ms ms"
check "2: the job started before the long one is COMPLETE ($(jstatus "$j2a"), $s1_ms ms)" is_status "$j2a" COMPLETE
check "2: ... while the long one is still PROGRESSING ($long_then_a)" test "$long_then_a" = PROGRESSING
check "2: the short job is COMPLETE ($(jstatus "$j2s"), $s2_ms ms)" is_status "$j2s" COMPLETE
check "2: ... while the long one is still PROGRESSING ($long_then_s)" test "$long_then_s" = PROGRESSING

# === 5. kill -9 of the worker mid-encode leaves no ffmpeg =====================================
section "5. kill -9 mid-encode"
check "5: the long encode's ffmpeg is running" some_ffmpeg "$RUN/long2.mp4"
kill9_worker slots
until_true 60 no_ff "$RUN/long2.mp4"
check "5: no ffmpeg of the killed worker ($(ff_pids "$RUN/long2.mp4" | tr '\n' ' '))" no_ff "$RUN/long2.mp4"
check "5: ... killed mid-encode, not finished on its own" unfinished "$j2l"
for p in $(ff_pids "$RUN/long2.mp4"); do kill -9 "$p"; done
check "5: the killed attempt is canceled" test "$(psql_q "SELECT mediagate_task_cancel($(task_of "$j2l"))")" = canceled

# === 3. A worker that lost its lease changes nothing ==========================================
section "3. lost lease"
start_worker A
j3=$("$MG_BIN" submit "$RUN/lease.mp4")
t3=$(task_of "$j3")
check "3: A's encode is under way" until_true 300 has_progress "$j3" 2
mapfile -t a_ff < <(ff_pids "$RUN/lease.mp4")
check "3: A's ffmpeg found (${a_ff[*]:-none})" test "${#a_ff[@]}" -gt 0
kill -STOP "${WPID[A]}" "${a_ff[@]}"
check "3: A's lease runs out" until_true 120 lease_over "$j3"
start_worker B
check "3: B claims attempt 2" until_true 120 attempts_are "$j3" 2
b_ff_seen() { ff_pids "$RUN/lease.mp4" | grep -qvxF -f <(printf '%s\n' "${a_ff[@]}"); }
check "3: B's ffmpeg runs" until_true 120 b_ff_seen
kill -CONT "${WPID[A]}" "${a_ff[@]}"
check "3: A logs that it lost its lease" until_true 120 grep -q "task $t3: lost its lease" "$(wlog A)"
check "3: A killed its ffmpeg" until_true 60 gone "${a_ff[@]}"
check "3: the job ends COMPLETE" until_true 900 is_final "$j3"
check "3: ... and it is COMPLETE ($(jstatus "$j3"))" is_status "$j3" COMPLETE
check "3: done in attempt 2 ($(tq "$j3" "attempts || ':' || state"))" test "$(tq "$j3" "attempts || ':' || state")" = 2:done
check "3: B claimed attempt 2" grep -q "task $t3: local.encode (attempt 2) by" "$(wlog B)"
check "3: B logged done once" test "$(grep -Ec "task $t3: done( request_id=[^ ]+)?\$" "$(wlog B)")" = 1
check "3: A logged no result for it" lacks "$(wlog A)" "task $t3: (done|retry|failed)"
check "3: one set of outputs, complete" outputs_ok "$j3" 20
check "3: no partial outputs left" no_tmp_left "$j3"
check "3: A is still alive" kill -0 "${WPID[A]}"
stop_worker A
stop_worker B

# The same, but only the worker is stopped: its ffmpeg finishes the encode
# meanwhile, and the worker, running again after B's result, must not
# publish it over B's.
section "3b. lost lease, the child finished meanwhile"
start_worker A2
j3b=$("$MG_BIN" submit "$RUN/lease2.mp4")
t3b=$(task_of "$j3b")
check "3b: A's encode is under way" until_true 300 has_progress "$j3b"
mapfile -t a2_ff < <(ff_pids "$RUN/lease2.mp4")
kill -STOP "${WPID[A2]}"
check "3b: A's ffmpeg (${a2_ff[*]:-none}) finished while A was stopped" \
    test "${#a2_ff[@]}" -gt 0 -a "$(until_true 900 gone "${a2_ff[@]}" && echo y)" = y
check "3b: nothing published yet" no_outputs "$j3b"
start_worker B2
check "3b: B claims attempt 2" until_true 120 attempts_are "$j3b" 2
check "3b: B's attempt ends the job COMPLETE" until_true 900 is_status "$j3b" COMPLETE
# A runs again only now: whatever it does with its finished encode comes last.
kill -CONT "${WPID[A2]}"
check "3b: A logs that it lost its lease" until_true 120 grep -q "task $t3b: lost its lease" "$(wlog A2)"
check "3b: ... and drops its attempt" until_true 120 grep -q "task $t3b: attempt 1 dropped" "$(wlog A2)"
check "3b: done in attempt 2 ($(tq "$j3b" "attempts || ':' || state"))" test "$(tq "$j3b" "attempts || ':' || state")" = 2:done
check "3b: B logged done once, A never" \
    test "$(grep -Ec "task $t3b: done( request_id=[^ ]+)?\$" "$(wlog B2)"):$(grep -Ec "task $t3b: done( request_id=[^ ]+)?\$" "$(wlog A2)")" = 1:0
check "3b: one set of outputs, complete" outputs_ok "$j3b" 20
# A's files were all written before B's attempt began.
b_start=$(tq "$j3b" "extract(epoch FROM started_at)")
oldest=$(find "$MEDIA/$j3b" -type f -printf '%T@\n' | sort -n | head -n 1)
check "3b: every published file is attempt 2's (oldest $oldest, attempt 2 began $b_start)" \
    awk -v o="${oldest:-0}" -v b="${b_start:-9e9}" 'BEGIN { exit !(o >= b) }'
check "3b: no partial outputs left" no_tmp_left "$j3b"
stop_worker A2
stop_worker B2

# === 4. A task that kills its worker every time ================================================
section "4. poison task"
j4=$("$MG_BIN" submit "$RUN/poison.mp4")
t4=$(task_of "$j4")
for i in 1 2 3; do
    start_worker "poison$i"
    check "4: attempt $i claimed" until_true 120 attempts_are "$j4" "$i"
    check "4: attempt $i: its ffmpeg runs" until_true 120 some_ffmpeg "$RUN/poison.mp4"
    kill9_worker "poison$i"
    until_true 60 no_ff "$RUN/poison.mp4"
    check "4: attempt $i: no ffmpeg left after kill -9" no_ff "$RUN/poison.mp4"
    check "4: attempt $i: ... killed mid-encode, not finished on its own" unfinished "$j4"
    for p in $(ff_pids "$RUN/poison.mp4"); do kill -9 "$p"; done
done
start_worker fresh
dead() { [ "$(tq "$j4" state)" = dead ]; }
check "4: dead after 3 attempts and a lease" until_true $(( MEDIAGATE_LEASE_SECONDS + 120 )) dead
e4=$(tq "$j4" last_error)
check "4: last_error says why: $e4" grep -q '^gave up after 3 attempts' <<<"$e4"
check "4: failed_at is set" test "$(tq "$j4" "failed_at IS NOT NULL")" = t
s4=$(status "$j4")
check "4: the job is ERROR 5: $(jq -c '[.job_status, .error_code, .error_message]' <<<"$s4")" \
    test "$(jq -c '[.job_status, .error_code]' <<<"$s4")" = '["ERROR",5]'
check "4: its message starts 'gave up after 3 attempts'" grep -q '^gave up after 3 attempts' <<<"$(jq -r .error_message <<<"$s4")"
check "4: ... and names no server path" no_server_path "$(jq -r .error_message <<<"$s4")"
j4b=$("$MG_BIN" submit "$RUN/after.mp4")
check "4: a job submitted afterwards completes" until_true 600 is_final "$j4b"
check "4: ... COMPLETE ($(jstatus "$j4b"))" is_status "$j4b" COMPLETE
# A lease's time after its death (had it one, it would have run out).
past_a_lease() { [ "$(tq "$j4" "now() > failed_at + interval '$(( MEDIAGATE_LEASE_SECONDS + 1 )) seconds'")" = t ]; }
until_true 120 past_a_lease
check "4: the dead task is never claimed again (attempts $(tq "$j4" attempts))" attempts_are "$j4" 3
check "4: ... not by the fresh worker either" lacks "$(wlog fresh)" "task $t4: local.encode"
check "4: nothing published for it" no_outputs "$j4"
check "4: and its attempts' partial outputs are removed when it dies" no_tmp_left "$j4"
check "4: the worker logged the death" grep -q "local.encode task of job $j4 is dead" "$(wlog fresh)"
stop_worker fresh

# === 6. Hostile uploads ========================================================================
section "6. hostile uploads"
start_worker hostile MEDIAGATE_WORKER_CONCURRENCY=2 MEDIAGATE_ENCODE_STALL=10
victim_key=$(mg_apikey victim)
evil_key=$(mg_apikey mallory)
# put KEY FILE NAME: PUT as a browser or curl would; the answer names the
# upload's own path (uploads/<upload id>/NAME), kept in INPUT[NAME].
declare -A INPUT=()
put() {
    req -X PUT -H "Authorization: Bearer $1" -H 'Content-Type: video/mp4' --data-binary "@$2" "$BASE/uploads/$3"
    expect_status 201
    INPUT[$3]=$(jq -r '.upload.input_file // empty' <<<"$BODY")
}
# upload_job NAME: the job /media/job_id finds for that upload's path.
upload_job() {
    curl -s -G --data-urlencode "input_file=${INPUT[$1]:-none}" "$BASE/media/job_id" | jq -r '.job_id // empty'
}
put "$victim_key" "$RUN/short.mp4" victim.mp4
VICTIM=$UPLOADS/${INPUT[victim.mp4]#uploads/}   # where the victim's file is on disk
jv=$(upload_job victim.mp4)
check "6: the victim's own upload is encoded" until_true 600 is_status "$jv" COMPLETE

# A root-only file elsewhere on the server, and a clip for it.
mkdir -m 700 "$RUN/private"
cp "$RUN/prefix.ts" "$RUN/private/secret.ts"
chmod 600 "$RUN/private/secret.ts"
mkdir "$RUN/h"
printf "ffconcat version 1.0\nfile '%s'\n" "$VICTIM" >"$RUN/h/evil.mp4"
VREL=../${INPUT[victim.mp4]#uploads/}   # the victim's file, relative to another upload's
printf "ffconcat version 1.0\nfile '%s'\n" "$VREL" >"$RUN/h/evil-rel.mp4"
printf '#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:8,\nfile://%s\n#EXT-X-ENDLIST\n' \
    "$RUN/private/secret.ts" >"$RUN/h/evil2.mp4"
printf '#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\n%s\n#EXT-X-ENDLIST\n' "$VREL" >"$RUN/h/evil3.mp4"
printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nx.ts\n' >"$RUN/h/open.mp4"
ffmpeg -nostdin -loglevel error -f lavfi -i testsrc=size=320x240 -frames:v 1 "$RUN/h/photo.png"
python3 -c "print(('The quick brown fox jumps over the lazy dog. ' * 2 + '\n') * 300, end='')" >"$RUN/h/notes.txt"
mkdir "$RUN/seq"
for i in 1 2 3 4 5; do cp "$RUN/h/photo.png" "$RUN/seq/img00$i.png"; done
cp "$RUN/h/photo.png" "$RUN/seq/img%03d.png"
check "6: ffprobe alone would take the text file for video (tty)" \
    test "$(ffprobe -v error -show_entries format=format_name -of csv=p=0 "$RUN/h/notes.txt")" = tty

# Whether reading a file shows in its atime here (relatime: an atime older
# than the mtime is always updated).
: >"$RUN/h/control"
touch -m -d '2002-01-01' "$RUN/h/control"
touch -a -d '2001-01-01' "$RUN/h/control"
cat "$RUN/h/control" >/dev/null
atime_works=""
[ "$(stat -c %X "$RUN/h/control")" -gt "$(date -d 2002-01-02 +%s)" ] && atime_works=1
for f in "$VICTIM" "$RUN/private/secret.ts"; do touch -a -d '2001-01-01' "$f"; done
victim_atime=$(stat -c %X "$VICTIM")
secret_atime=$(stat -c %X "$RUN/private/secret.ts")

declare -A HJ=()   # what -> job
for n in evil.mp4 evil-rel.mp4 evil2.mp4 evil3.mp4 open.mp4 photo.png notes.txt; do
    put "$evil_key" "$RUN/h/$n" "$n"
done
for n in evil.mp4 evil-rel.mp4 evil2.mp4 evil3.mp4 open.mp4 photo.png notes.txt; do
    HJ[$n]=$(upload_job "$n")
    check "6: ${INPUT[$n]:-$n} became a job" test -n "${HJ[$n]}"
done
HJ[img%03d.png]=$("$MG_BIN" submit "$RUN/seq/img%03d.png")
for n in "${!HJ[@]}"; do
    j=${HJ[$n]}
    [ -n "$j" ] || continue
    until_true 300 is_final "$j"
    s=$(status "$j")
    msg=$(jq -r '.error_message // empty' <<<"$s")
    check "6: $n: ERROR 6: $(jq -c '[.job_status, .error_code, .error_message]' <<<"$s")" \
        test "$(jq -c '[.job_status, .error_code]' <<<"$s")" = '["ERROR",6]'
    check "6: $n: the message starts 'unsupported input format'" grep -q '^unsupported input format' <<<"$msg"
    check "6: $n: ... and names no server path" no_server_path "$msg"
    # From the claim to the answer: the worker's own time on it, not the
    # queue's (shown, not bounded: ERROR 6 above says it was refused, not
    # stopped at the stall limit, which would be ERROR 7).
    took=$(psql_q "SELECT round(extract(epoch FROM j.updated_at - t.started_at)::numeric, 1)
                     FROM jobs j JOIN tasks t ON t.payload->>'job_id' = j.id WHERE j.id = '$j'")
    echo "hostile $n: $(jq -r '.error_message // .job_status' <<<"$s"), ${took} s after its claim"
    check "6: $n: nothing published, no partial outputs" unpublished "$j"
    req "$BASE/media-files/$j/master.m3u8"
    expect_status 404
done
check "6: no ffmpeg or ffprobe left on the hostile inputs" no_ff "$RUN/(h/|seq/|upload/uploads/[0-9a-f-]+/(evil|open|photo|notes))"
if [ -n "$atime_works" ]; then
    check "6: the other user's upload was never read" test "$(stat -c %X "$VICTIM")" = "$victim_atime"
    check "6: the root-only file was never read" test "$(stat -c %X "$RUN/private/secret.ts")" = "$secret_atime"
else
    echo "note: atime is not updated on $RUN's filesystem; the reads of other files are not checked"
fi

# === 7. ffprobe's answer past 64 KiB ===========================================================
section "7. large metadata"
probe_bytes=$(ffprobe -v error -print_format json -show_format -show_streams "$RUN/meta.mp4" | wc -c)
check "7: ffprobe's full answer is past 64 KiB ($probe_bytes bytes)" test "$probe_bytes" -gt 65536
j7=$("$MG_BIN" submit "$RUN/meta.mp4")
until_true 600 is_final "$j7"
check "7: a long comment tag is fine: $(status "$j7" | jq -c '[.job_status, .error_code, .error_message]')" is_status "$j7" COMPLETE
stop_worker hostile

# === 8. An input that stops delivering ends at the stall limit =================================
# A FIFO whose writer gives every reader 8 s of MPEG-TS (an allowlisted
# demuxer), then keeps the pipe open and writes nothing more: ffprobe reads
# enough and ends; ffmpeg encodes the 8 s and then waits forever.
section "8. stall"
mkdir "$RUN/stall"
mkfifo "$RUN/stall/stalled.ts"
python3 - "$RUN/stall/stalled.ts" "$RUN/prefix.ts" <<'PY' &
import errno, os, select, signal, sys
signal.signal(signal.SIGPIPE, signal.SIG_IGN)
fifo, data = sys.argv[1], open(sys.argv[2], 'rb').read()
while True:
    fd = os.open(fifo, os.O_WRONLY)      # until a reader opens it
    try:
        v = memoryview(data)
        while v:
            v = v[os.write(fd, v):]
        p = select.poll()
        p.register(fd, select.POLLERR)   # then nothing, until the reader leaves
        p.poll()
    except OSError as e:
        if e.errno != errno.EPIPE:
            raise
    os.close(fd)
PY
OTHER+=($!)
start_worker stall MEDIAGATE_ENCODE_STALL=5
j8=$("$MG_BIN" submit "$RUN/stall/stalled.ts")
check "8: the job ends" until_true 300 is_final "$j8"
s8=$(status "$j8")
check "8: ERROR 7: $(jq -c '[.job_status, .error_code, .error_message]' <<<"$s8")" \
    test "$(jq -c '[.job_status, .error_code, .error_message]' <<<"$s8")" = '["ERROR",7,"the encode made no progress for 5 s"]'
took=$(psql_q "SELECT round(extract(epoch FROM j.updated_at - t.started_at)::numeric, 1)
                 FROM jobs j JOIN tasks t ON t.payload->>'job_id' = j.id WHERE j.id = '$j8'")
echo "stalled input: $(jq -r '.error_message // .job_status' <<<"$s8"), ${took} s after its claim"
check "8: ended after the 5 s without progress, not before (${took} s after the claim)" \
    awk -v t="${took:-0}" 'BEGIN { exit !(t >= 5) }'
# The FIFO's writer never closes it: only a kill ends that ffmpeg.
check "8: its ffmpeg is gone" until_true 60 no_ff "$RUN/stall/"
check "8: nothing published, no partial outputs" unpublished "$j8"
check "8: not retried: the task is dead after one attempt ($(tq "$j8" "attempts || ':' || state"))" \
    test "$(tq "$j8" "attempts || ':' || state")" = 1:dead
stop_worker stall

cat "$RUN"/worker-*.log >"$RUN/workers.log"
check "no worker log line carries an API key" lacks_fixed "$RUN/workers.log" "$victim_key" "$evil_key"
echo "worker suite: $(( $(date +%s) - T0 )) s"
FINISHED=1
finish
