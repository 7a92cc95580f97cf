/* The background worker and the local ffmpeg encoder. */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "request.h"

extern char **environ;
static atomic_int stopping;

double worker_backoff(int attempt, double base, double cap, double jitter01)
{
    if (attempt < 1)
        attempt = 1;
    double d = ldexp(base, attempt > 30 ? 30 : attempt - 1); /* base * 2^(n-1) */
    if (d > cap || !isfinite(d))
        d = cap;
    return d * (0.5 + 0.5 * jitter01);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs one command and collects its stdout (up to cap) and its last
 * non-empty stderr line. progress(line) sees stdout line by line when
 * given. Kills it after timeout_s. Returns the exit status, 124 on
 * timeout, -1 when it cannot start. */
typedef struct run_ctx {
    char *out;
    size_t out_len, out_cap;
    char last_err[512];
    void (*progress)(struct run_ctx *, const char *line);
    void *arg;
    double last_beat;
    void (*beat)(struct run_ctx *);
} run_ctx;

static void take_lines(char *buf, size_t *len, run_ctx *c, bool is_err)
{
    char *nl;
    while ((nl = memchr(buf, '\n', *len))) {
        *nl = '\0';
        if (is_err) {
            if (buf[0])
                snprintf(c->last_err, sizeof c->last_err, "%.500s", buf);
        } else if (c->progress) {
            c->progress(c, buf);
        }
        size_t used = (size_t)(nl - buf) + 1;
        memmove(buf, nl + 1, *len - used);
        *len -= used;
    }
    if (*len > 2000) /* an over-long line: drop it */
        *len = 0;
}

static int run(char *const argv[], double timeout_s, run_ctx *c)
{
    int out[2], err[2], status = -1;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    if (pipe(out) || pipe(err))
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, err[0]);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
        snprintf(c->last_err, sizeof c->last_err, "cannot run %s: %s", argv[0], strerror(rc));
        close(out[0]);
        close(err[0]);
        return -1;
    }
    char obuf[4096], ebuf[4096];
    size_t olen = 0, elen = 0;
    double deadline = now_s() + timeout_s;
    bool timed_out = false;
    struct pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (now_s() > deadline || atomic_load(&stopping)) {
            timed_out = now_s() > deadline;
            kill(pid, SIGKILL);
            break;
        }
        if (c->beat)
            c->beat(c);
        int pr = poll(p, 2, 1000);
        if (pr < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
                continue;
            char *b = i ? ebuf : obuf;
            size_t *l = i ? &elen : &olen;
            ssize_t n = read(p[i].fd, b + *l, sizeof obuf - 1 - *l);
            if (n <= 0) {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 0 && c->out && c->out_len + (size_t)n < c->out_cap) {
                memcpy(c->out + c->out_len, b + *l, (size_t)n);
                c->out_len += (size_t)n;
                c->out[c->out_len] = '\0';
            }
            *l += (size_t)n;
            take_lines(b, l, c, i == 1);
        }
    }
    for (int i = 0; i < 2; i++)
        if (p[i].fd >= 0)
            close(p[i].fd);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (timed_out)
        return 124;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the local encode ---------------------------------------------------- */

typedef struct encode {
    const config *cfg;
    PGconn *conn;
    long long task_id;
    char worker_id[64];
    const char *job_id;
    double duration_s;
    int last_pct;
    double last_write;
} encode;

/* Applies a normalized event to the local job (monotonic rules of
 * mediagate_apply_event). */
static void apply(PGconn *conn, const char *job_id, json_object *ev)
{
    const char *vals[] = {json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN), job_id};
    PGresult *r = PQexecParams(conn,
                               "SELECT mediagate_apply_event('local', $1::jsonb || jsonb_build_object("
                               "'backend_job_id', (SELECT backend_job_id FROM jobs WHERE id = $2)))",
                               2, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        log_warn("job %s: update failed: %s", job_id, PQerrorMessage(conn));
    PQclear(r);
}

static void on_progress(run_ctx *c, const char *line)
{
    encode *e = c->arg;
    long long us;
    if (sscanf(line, "out_time_us=%lld", &us) != 1 || e->duration_s <= 0)
        return;
    int pct = (int)(us / 1e4 / e->duration_s);
    if (pct > 99)
        pct = 99;
    if (pct <= e->last_pct || now_s() - e->last_write < 1.0)
        return; /* rising, at most about once a second */
    e->last_pct = pct;
    e->last_write = now_s();
    json_object *ev = json_object_new_object();
    json_object_object_add(ev, "status", json_object_new_string("PROGRESSING"));
    json_object_object_add(ev, "progress_rate", json_object_new_int(pct));
    apply(e->conn, e->job_id, ev);
    json_object_put(ev);
}

/* Keeps the lease while a long encode runs. */
static void on_beat(run_ctx *c)
{
    encode *e = c->arg;
    if (now_s() - c->last_beat < e->cfg->lease_seconds / 3.0)
        return;
    c->last_beat = now_s();
    char id[32], lease[24];
    snprintf(id, sizeof id, "%lld", e->task_id);
    snprintf(lease, sizeof lease, "%ld", e->cfg->lease_seconds);
    const char *vals[] = {id, e->worker_id, lease};
    PGresult *r = PQexecParams(e->conn,
                               "UPDATE outbox SET locked_until = now() + make_interval(secs => $3) "
                               "WHERE id = $1 AND locked_by = $2",
                               3, NULL, vals, NULL, NULL, 0);
    PQclear(r);
}

static int rmtree(const char *dir)
{
    char *argv[] = {"rm", "-rf", "--", (char *)dir, NULL};
    run_ctx c = {0};
    return run(argv, 60, &c);
}

static long long dir_bytes(const char *dir)
{
    char *argv[] = {"du", "-sb", (char *)dir, NULL}, out[128] = "";
    run_ctx c = {.out = out, .out_cap = sizeof out};
    run(argv, 30, &c);
    return atoll(out);
}

/* Files to encode, in order, with their modification times. */
typedef struct rec_file {
    char *path;
    long long mtime_ns;
} rec_file;

typedef struct rec_files {
    rec_file *v;
    size_t n, cap;
} rec_files;

static void files_free(rec_files *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].path);
    free(f->v);
    *f = (rec_files){0};
}

static int files_add(rec_files *f, const char *path, long long mtime_ns)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        rec_file *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return -1;
        f->v = v;
        f->cap = cap;
    }
    if (!(f->v[f->n].path = strdup(path)))
        return -1;
    f->v[f->n++].mtime_ns = mtime_ns;
    return 0;
}

/* Probes one input: the first video stream's size, whether there is audio,
 * and the duration. Returns 0, or an error code with *msg set. */
static int probe(encode *e, const char *input, int *w, int *h, bool *audio, double *duration,
                 char *msg, size_t msgcap)
{
    char probe_out[65536];
    run_ctx pc = {.out = probe_out, .out_cap = sizeof probe_out, .beat = on_beat, .arg = e};
    char *argv[] = {"ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                    "-show_streams", "--", (char *)input, NULL};
    probe_out[0] = '\0';
    if (run(argv, 60, &pc) != 0) {
        snprintf(msg, msgcap, "cannot read the input: %s", pc.last_err[0] ? pc.last_err : "ffprobe failed");
        return 1;
    }
    const char *perr;
    json_object *info = parse_json(probe_out, strlen(probe_out), &perr), *streams, *fmt, *v;
    *w = *h = 0;
    *audio = false;
    *duration = 0;
    if (info && json_object_object_get_ex(info, "streams", &streams))
        for (size_t i = 0; i < json_object_array_length(streams); i++) {
            json_object *s = json_object_array_get_idx(streams, i), *t;
            const char *type = json_object_object_get_ex(s, "codec_type", &t) ? json_object_get_string(t) : "";
            if (!strcmp(type, "video") && !*w) {
                *w = json_object_object_get_ex(s, "width", &t) ? json_object_get_int(t) : 0;
                *h = json_object_object_get_ex(s, "height", &t) ? json_object_get_int(t) : 0;
            }
            *audio |= !strcmp(type, "audio");
        }
    if (info && json_object_object_get_ex(info, "format", &fmt) &&
        json_object_object_get_ex(fmt, "duration", &v))
        *duration = atof(json_object_get_string(v));
    json_object_put(info);
    if (*w <= 0 || *h <= 0) {
        snprintf(msg, msgcap, "the input has no video stream");
        return 2;
    }
    return 0;
}

/* Writes an ffconcat list of the inputs (ffmpeg's concat demuxer). */
static int write_concat(const char *list, const rec_files *in)
{
    FILE *f = fopen(list, "w");
    if (!f)
        return -1;
    fprintf(f, "ffconcat version 1.0\n");
    for (size_t i = 0; i < in->n; i++) {
        fputs("file '", f);
        for (const char *p = in->v[i].path; *p; p++)
            *p == '\'' ? fputs("'\\''", f) : fputc(*p, f);
        fputs("'\n", f);
    }
    return fclose(f);
}

/* Encodes job e->job_id from its inputs (played one after another) into an
 * HLS ladder. Returns 0, or an error code with *msg set (1 unreadable
 * input, 2 no video, 3 ffmpeg failed, 4 time limit). */
static int encode_job(encode *e, const rec_files *in, char *msg, size_t msgcap, json_object *done)
{
    const config *cfg = e->cfg;
    char final_dir[PATH_MAX], tmp_dir[PATH_MAX], list[PATH_MAX + 32];
    int w = 0, h = 0;
    bool audio = false;
    e->duration_s = 0;
    if (in->n == 0) {
        snprintf(msg, msgcap, "nothing to encode");
        return 1;
    }
    for (size_t i = 0; i < in->n; i++) {
        int iw, ih, rc;
        bool ia;
        double d;
        if ((rc = probe(e, in->v[i].path, &iw, &ih, &ia, &d, msg, msgcap)) != 0)
            return rc;
        if (i == 0) { /* the first input decides the streams, as concat does */
            w = iw;
            h = ih;
            audio = ia;
        }
        e->duration_s += d;
    }

    /* The ladder: configured heights, never above the source. */
    int heights[8], n = 0;
    char hl[256];
    snprintf(hl, sizeof hl, "%s", cfg->renditions);
    for (char *save = NULL, *t = strtok_r(hl, ", ", &save); t && n < 8; t = strtok_r(NULL, ", ", &save)) {
        int x = atoi(t);
        if (x > 0 && x <= h)
            heights[n++] = x & ~1;
    }
    if (n == 0)
        heights[n++] = h & ~1;

    snprintf(final_dir, sizeof final_dir, "%s/%s", cfg->media_dir, e->job_id);
    snprintf(tmp_dir, sizeof tmp_dir, "%s/.%s.tmp", cfg->media_dir, e->job_id);
    snprintf(list, sizeof list, "%s/inputs.ffconcat", tmp_dir);
    rmtree(tmp_dir); /* what a killed attempt left behind */
    mkdir(cfg->media_dir, 0755);
    if (mkdir(tmp_dir, 0755) != 0) {
        snprintf(msg, msgcap, "cannot create %.300s: %s", tmp_dir, strerror(errno));
        return 3;
    }
    if (in->n > 1 && write_concat(list, in) != 0) {
        snprintf(msg, msgcap, "cannot write %.300s: %s", list, strerror(errno));
        rmtree(tmp_dir);
        return 3;
    }

    char filter[1024], map_spec[256], seg[PATH_MAX + 32], pl[PATH_MAX + 32], nice_s[8], threads[8];
    size_t fl = (size_t)snprintf(filter, sizeof filter, "[0:v]split=%d", n);
    for (int i = 0; i < n; i++)
        fl += (size_t)snprintf(filter + fl, sizeof filter - fl, "[s%d]", i);
    for (int i = 0; i < n; i++)
        fl += (size_t)snprintf(filter + fl, sizeof filter - fl, ";[s%d]scale=-2:%d[o%d]", i, heights[i], i);
    size_t ml = 0;
    for (int i = 0; i < n; i++)
        ml += (size_t)snprintf(map_spec + ml, sizeof map_spec - ml, "%sv:%d%s", i ? " " : "", i,
                               audio ? "" : "");
    if (audio) {
        ml = 0;
        for (int i = 0; i < n; i++)
            ml += (size_t)snprintf(map_spec + ml, sizeof map_spec - ml, "%sv:%d,a:%d", i ? " " : "", i, i);
    }
    snprintf(seg, sizeof seg, "%s/v%%v/seg%%03d.ts", tmp_dir);
    snprintf(pl, sizeof pl, "%s/v%%v/index.m3u8", tmp_dir);
    snprintf(nice_s, sizeof nice_s, "%ld", cfg->encode_nice);
    snprintf(threads, sizeof threads, "%d", 2);

    char *argv[128], bv[8][16], maps[8][8];
    int a = 0;
    argv[a++] = "nice"; argv[a++] = "-n"; argv[a++] = nice_s;
    argv[a++] = "ffmpeg"; argv[a++] = "-nostdin"; argv[a++] = "-y"; argv[a++] = "-hide_banner";
    argv[a++] = "-loglevel"; argv[a++] = "error"; argv[a++] = "-progress"; argv[a++] = "pipe:1";
    argv[a++] = "-nostats";
    if (in->n > 1) {
        argv[a++] = "-f"; argv[a++] = "concat"; argv[a++] = "-safe"; argv[a++] = "0";
        argv[a++] = "-i"; argv[a++] = list;
    } else {
        argv[a++] = "-i"; argv[a++] = in->v[0].path;
    }
    argv[a++] = "-filter_complex"; argv[a++] = filter;
    for (int i = 0; i < n; i++) {
        snprintf(maps[i], sizeof maps[i], "[o%d]", i);
        argv[a++] = "-map"; argv[a++] = maps[i];
        if (audio) { argv[a++] = "-map"; argv[a++] = "0:a:0"; }
    }
    argv[a++] = "-c:v"; argv[a++] = "libx264"; argv[a++] = "-preset"; argv[a++] = "veryfast";
    argv[a++] = "-threads"; argv[a++] = threads;
    argv[a++] = "-g"; argv[a++] = "48"; argv[a++] = "-sc_threshold"; argv[a++] = "0";
    for (int i = 0; i < n; i++) {
        static char opt[8][16];
        snprintf(opt[i], sizeof opt[i], "-b:v:%d", i);
        snprintf(bv[i], sizeof bv[i], "%dk", heights[i] * 4);
        argv[a++] = opt[i]; argv[a++] = bv[i];
    }
    if (audio) { argv[a++] = "-c:a"; argv[a++] = "aac"; argv[a++] = "-b:a"; argv[a++] = "128k"; }
    argv[a++] = "-f"; argv[a++] = "hls"; argv[a++] = "-hls_time"; argv[a++] = "4";
    argv[a++] = "-hls_playlist_type"; argv[a++] = "vod";
    argv[a++] = "-hls_segment_filename"; argv[a++] = seg;
    argv[a++] = "-master_pl_name"; argv[a++] = "master.m3u8";
    argv[a++] = "-var_stream_map"; argv[a++] = map_spec;
    argv[a++] = pl;
    argv[a] = NULL;

    run_ctx c = {.progress = on_progress, .beat = on_beat, .arg = e};
    int rc = run(argv, (double)cfg->encode_timeout, &c);
    if (rc == 124) {
        snprintf(msg, msgcap, "the encode ran past its %ld s limit", cfg->encode_timeout);
        rmtree(tmp_dir);
        return 4;
    }
    if (rc != 0) {
        snprintf(msg, msgcap, "ffmpeg failed: %s", c.last_err[0] ? c.last_err : "exit status");
        rmtree(tmp_dir);
        return atomic_load(&stopping) ? -1 : 3;
    }
    unlink(list);
    rmtree(final_dir);
    if (rename(tmp_dir, final_dir) != 0) {
        snprintf(msg, msgcap, "cannot move the outputs into place: %s", strerror(errno));
        return 3;
    }

    json_object *vars = json_object_new_array();
    for (int i = 0; i < n; i++) {
        char vdir[PATH_MAX + 16];
        snprintf(vdir, sizeof vdir, "%s/v%d", final_dir, i);
        json_object *o = json_object_new_object();
        int vw = (int)lround((double)w * heights[i] / h / 2) * 2;
        json_object_object_add(o, "format", json_object_new_string("hls"));
        json_object_object_add(o, "width", json_object_new_int(vw));
        json_object_object_add(o, "height", json_object_new_int(heights[i]));
        json_object_object_add(o, "bitrate", json_object_new_int(heights[i] * 4000 + (audio ? 128000 : 0)));
        json_object_object_add(o, "size", json_object_new_int64(dir_bytes(vdir)));
        json_object_array_add(vars, o);
    }
    char url[1024];
    snprintf(url, sizeof url, "%s/%s/", cfg->media_url, e->job_id);
    json_object *pls = json_object_new_object();
    json_object_object_add(pls, ".m3u8", json_object_new_string("master.m3u8"));
    json_object_object_add(done, "status", json_object_new_string("COMPLETE"));
    json_object_object_add(done, "duration_ms", json_object_new_int64((int64_t)llround(e->duration_s * 1000)));
    json_object_object_add(done, "width_px", json_object_new_int((int)lround((double)w * heights[0] / h / 2) * 2));
    json_object_object_add(done, "height_px", json_object_new_int(heights[0]));
    json_object_object_add(done, "output_path", json_object_new_string(url));
    json_object_object_add(done, "playlists", pls);
    json_object_object_add(done, "variations", vars);
    return 0;
}

/* ---- a stopped stream's recording ------------------------------------------ */

/* In the order they were written: by modification time, then by name with
 * numbers compared as numbers (index9.ts before index10.ts). */
static int by_written(const void *a, const void *b)
{
    const rec_file *x = a, *y = b;
    if (x->mtime_ns != y->mtime_ns)
        return x->mtime_ns < y->mtime_ns ? -1 : 1;
    return strverscmp(x->path, y->path);
}

/* Adds the regular, non-hidden files of dir whose names start with prefix
 * and end with suffix, sorted by by_written. Returns 0, -1 on error. */
static int scan_dir(const char *dir, const char *prefix, const char *suffix, rec_files *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    size_t pl = strlen(prefix), sl = strlen(suffix), first = out->n;
    int ret = 0;
    for (struct dirent *de; (de = readdir(d));) {
        size_t nl = strlen(de->d_name);
        char path[PATH_MAX];
        struct stat st;
        if (de->d_name[0] == '.' || nl < pl + sl || strncmp(de->d_name, prefix, pl) != 0 ||
            strcmp(de->d_name + nl - sl, suffix) != 0 ||
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
            continue;
        if (files_add(out, path, (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec)) {
            ret = -1;
            break;
        }
    }
    closedir(d);
    if (out->n > first)
        qsort(out->v + first, out->n - first, sizeof *out->v, by_written);
    return ret;
}

/* Writes the paths, one a line, for ffmpeg's concatf: protocol, which reads
 * the files one after another as one stream (MPEG-TS segments of one
 * broadcast join byte for byte), with no copy. Returns 0, -1 with errno. */
static int write_concatf(const char *list, const rec_files *in)
{
    FILE *f = fopen(list, "w");
    if (!f)
        return -1;
    for (size_t i = 0; i < in->n; i++)
        fprintf(f, "%s\n", in->v[i].path);
    return fclose(f);
}

/* The inputs of a stopped stream's VOD job, in broadcast order: nginx-rtmp's
 * recordings (<MEDIAGATE_RECORDINGS_DIR>/<id>*) and the MPEG-TS segments the
 * broadcaster PUT (the .ts files in <MEDIAGATE_LIVE_DIR>/<id>/), the latter
 * as one concatf: input whose list is written to seglist (a temporary file,
 * for the caller to remove). Returns 0 with out filled, or an error code
 * with *msg set. */
static int stream_inputs(const config *cfg, const char *sid, bool segments, rec_files *out,
                         char *seglist, size_t seglist_cap, char *msg, size_t msgcap)
{
    rec_files seg = {0};
    char dir[PATH_MAX], url[PATH_MAX + 16];
    int ret = 0;
    seglist[0] = '\0';
    if (!sid || strlen(sid) != 36 || strspn(sid, "0123456789abcdef-") != 36) {
        snprintf(msg, msgcap, "malformed task payload: stream_id");
        ret = 1;
        goto out;
    }
    if (*cfg->recordings_dir && scan_dir(cfg->recordings_dir, sid, "", out) != 0) {
        snprintf(msg, msgcap, "cannot read %.300s: %s", cfg->recordings_dir, strerror(errno));
        ret = 3;
        goto out;
    }
    snprintf(dir, sizeof dir, "%s/%s", cfg->live_dir, sid);
    if (segments && *cfg->live_dir && scan_dir(dir, "", ".ts", &seg) != 0) {
        snprintf(msg, msgcap, "cannot read %.300s: %s", dir, strerror(errno));
        ret = 3;
        goto out;
    }
    if (seg.n > 0) {
        const char *tmp = getenv("TMPDIR");
        snprintf(seglist, seglist_cap, "%s/mediagate-segments-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        int fd = mkstemp(seglist);
        if (fd >= 0)
            close(fd);
        snprintf(url, sizeof url, "concatf:%s", seglist);
        if (fd < 0 || write_concatf(seglist, &seg) != 0 || files_add(out, url, seg.v[0].mtime_ns)) {
            snprintf(msg, msgcap, "cannot list the stream's segments: %s", strerror(errno));
            ret = 3;
            goto out;
        }
    }
    if (out->n == 0) {
        snprintf(msg, msgcap, "the stream left no recording");
        ret = 1;
        goto out;
    }
    /* Both kinds of recording, when a stream had both, by the time written. */
    qsort(out->v, out->n, sizeof *out->v, by_written);
out:
    files_free(&seg);
    return ret;
}

/* ---- the queue ------------------------------------------------------------- */

static const char *const CLAIM_SQL =
    "UPDATE outbox SET locked_by = $1, locked_until = now() + make_interval(secs => $2), "
    "attempts = attempts + 1 "
    "WHERE id = (SELECT id FROM outbox WHERE kind IN ('local.encode', 'stream.settle') "
    "AND done_at IS NULL "
    "AND failed_at IS NULL AND run_after <= now() "
    "AND (locked_until IS NULL OR locked_until < now()) "
    "ORDER BY run_after, id FOR UPDATE SKIP LOCKED LIMIT 1) "
    "RETURNING id, payload::text, attempts, max_attempts, kind";

typedef struct slot {
    const config *cfg;
    int n;
    pthread_t tid;
} slot;

static void sleep_interruptible(double s)
{
    for (double t = 0; t < s && !atomic_load(&stopping); t += 0.1)
        usleep(100000);
}

/* Finishes a task: done, retried later with backoff, failed for good, or
 * handed back untouched (shutdown). */
static void finish_task(PGconn *c, encode *e, int attempts, int max_attempts, int code,
                        const char *msg)
{
    char id[32], delay[32];
    snprintf(id, sizeof id, "%lld", e->task_id);
    PGresult *r;
    if (code == 0) {
        const char *v[] = {id};
        r = PQexecParams(c, "UPDATE outbox SET done_at = now(), locked_by = NULL, "
                            "locked_until = NULL WHERE id = $1", 1, NULL, v, NULL, NULL, 0);
    } else if (code < 0) {
        const char *v[] = {id};
        r = PQexecParams(c, "UPDATE outbox SET locked_by = NULL, locked_until = NULL, "
                            "attempts = greatest(attempts - 1, 0) WHERE id = $1",
                         1, NULL, v, NULL, NULL, 0);
    } else if (code >= 1 && code <= 2) {
        /* The input itself is bad: retrying cannot help. */
        const char *v[] = {id, msg};
        r = PQexecParams(c, "UPDATE outbox SET failed_at = now(), last_error = $2, "
                            "locked_by = NULL, locked_until = NULL WHERE id = $1",
                         2, NULL, v, NULL, NULL, 0);
    } else {
        snprintf(delay, sizeof delay, "%.3f",
                 worker_backoff(attempts, 5, 600, (double)rand() / RAND_MAX));
        const char *v[] = {id, msg, delay, attempts >= max_attempts ? "t" : "f"};
        r = PQexecParams(c, "UPDATE outbox SET last_error = $2, locked_by = NULL, "
                            "locked_until = NULL, run_after = now() + make_interval(secs => $3), "
                            "failed_at = CASE WHEN $4 THEN now() END WHERE id = $1",
                         4, NULL, v, NULL, NULL, 0);
    }
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        log_warn("task %s: finishing failed: %s", id, PQerrorMessage(c));
    PQclear(r);
}

/* A 'stream.settle' task (sql/005_stream_vod.sql): a stopped stream that
 * still looks written to lost a callback; make its VOD job now. */
static void settle_stream(PGconn *c, encode *e, json_object *payload, int attempts,
                          int max_attempts)
{
    json_object *jsid;
    if (!payload || !json_object_object_get_ex(payload, "stream_id", &jsid)) {
        finish_task(c, e, attempts, max_attempts, 1, "malformed task payload");
        return;
    }
    const char *v[] = {json_object_get_string(jsid), e->cfg->vod_rtmp ? "t" : "f",
                       e->cfg->vod_put ? "t" : "f"};
    PGresult *r = PQexecParams(c, "SELECT mediagate_stream_settle($1, $2, $3)", 3, NULL, v, NULL,
                               NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    char err[300] = "";
    if (ok && !PQgetisnull(r, 0, 0))
        log_info("task %lld: stream %s settled; VOD job %s", e->task_id, v[0], PQgetvalue(r, 0, 0));
    if (!ok) { /* copied: the next statement clears libpq's message */
        snprintf(err, sizeof err, "%s", PQerrorMessage(c));
        log_warn("task %lld: settling stream %s failed: %s", e->task_id, v[0], err);
    }
    /* A malformed id (22P02) will not get better: fail for good. */
    const char *state = ok ? NULL : PQresultErrorField(r, PG_DIAG_SQLSTATE);
    int code = ok ? 0 : state && strcmp(state, "22P02") == 0 ? 1 : 3;
    PQclear(r);
    finish_task(c, e, attempts, max_attempts, code, err);
}

static void *slot_main(void *arg)
{
    slot *s = arg;
    PGconn *c = NULL;
    char wid[64], host[64] = "host", lease[24];
    gethostname(host, sizeof host - 1);
    snprintf(wid, sizeof wid, "%.40s:%d:%d", host, (int)getpid(), s->n);
    snprintf(lease, sizeof lease, "%ld", s->cfg->lease_seconds);
    while (!atomic_load(&stopping)) {
        if (!c || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = db_connect_admin(s->cfg);
            if (!c) {
                sleep_interruptible(1);
                continue;
            }
        }
        const char *v[] = {wid, lease};
        PGresult *r = PQexecParams(c, CLAIM_SQL, 2, NULL, v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0) {
            if (PQresultStatus(r) != PGRES_TUPLES_OK)
                log_warn("claim failed: %s", PQerrorMessage(c));
            PQclear(r);
            sleep_interruptible(0.5);
            continue;
        }
        encode e = {.cfg = s->cfg, .conn = c, .task_id = atoll(PQgetvalue(r, 0, 0)), .last_pct = 0};
        snprintf(e.worker_id, sizeof e.worker_id, "%s", wid);
        int attempts = atoi(PQgetvalue(r, 0, 2)), max_attempts = atoi(PQgetvalue(r, 0, 3));
        const char *perr;
        json_object *payload = parse_json(PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1), &perr);
        bool settle = strcmp(PQgetvalue(r, 0, 4), "stream.settle") == 0;
        PQclear(r);
        if (settle) {
            settle_stream(c, &e, payload, attempts, max_attempts);
            json_object_put(payload);
            continue;
        }
        json_object *jid = NULL, *jin = NULL, *jsid = NULL, *jseg = NULL;
        bool is_stream = payload && json_object_object_get_ex(payload, "stream_id", &jsid);
        if (!payload || !json_object_object_get_ex(payload, "job_id", &jid) ||
            (!is_stream && !json_object_object_get_ex(payload, "input", &jin))) {
            finish_task(c, &e, attempts, max_attempts, 1, "malformed task payload");
            json_object_put(payload);
            continue;
        }
        e.job_id = json_object_get_string(jid);
        log_info("task %lld: encoding job %s (attempt %d) by %s", e.task_id, e.job_id, attempts,
                 wid);
        char msg[600] = "", seglist[PATH_MAX] = "";
        json_object *done = json_object_new_object();
        rec_files inputs = {0};
        int code;
        if (is_stream) {
            json_object_object_get_ex(payload, "segments", &jseg);
            code = stream_inputs(s->cfg, json_object_get_string(jsid), json_object_get_boolean(jseg),
                                 &inputs, seglist, sizeof seglist, msg, sizeof msg);
        } else {
            code = files_add(&inputs, json_object_get_string(jin), 0) ? 3 : 0;
        }
        if (code == 0)
            code = encode_job(&e, &inputs, msg, sizeof msg, done);
        if (seglist[0])
            unlink(seglist);
        files_free(&inputs);
        if (code == 0) {
            apply(c, e.job_id, done);
        } else if (code > 0 && (code <= 2 || code == 4 || attempts >= max_attempts)) {
            json_object *ev = json_object_new_object();
            json_object_object_add(ev, "status", json_object_new_string("ERROR"));
            json_object_object_add(ev, "error_code", json_object_new_int(code));
            json_object_object_add(ev, "error_message", json_object_new_string(msg));
            apply(c, e.job_id, ev);
            json_object_put(ev);
            if (code == 4)
                code = 2; /* a time limit is final too */
        }
        if (code)
            log_warn("task %lld: job %s: %s", e.task_id, e.job_id, msg[0] ? msg : "handed back");
        else
            log_info("task %lld: job %s COMPLETE", e.task_id, e.job_id);
        finish_task(c, &e, attempts, max_attempts, code, msg);
        json_object_put(done);
        json_object_put(payload);
    }
    PQfinish(c);
    return NULL;
}

static void *watch_main(void *arg);

int worker_run(const config *cfg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    slot *slots = calloc((size_t)cfg->worker_concurrency, sizeof *slots);
    if (!slots)
        return 1;
    for (long i = 0; i < cfg->worker_concurrency; i++) {
        slots[i] = (slot){cfg, (int)i, 0};
        pthread_create(&slots[i].tid, NULL, slot_main, &slots[i]);
    }
    pthread_t watcher;
    bool watching = *cfg->uploads_dir && pthread_create(&watcher, NULL, watch_main, (void *)cfg) == 0;
    log_info("worker running %ld task slot(s), lease %lds%s%s", cfg->worker_concurrency,
             cfg->lease_seconds, watching ? ", watching " : "", watching ? cfg->uploads_dir : "");
    int sig;
    sigwait(&set, &sig);
    log_info("signal %d: handing back running tasks and stopping", sig);
    atomic_store(&stopping, 1);
    for (long i = 0; i < cfg->worker_concurrency; i++)
        pthread_join(slots[i].tid, NULL);
    if (watching)
        pthread_join(watcher, NULL);
    free(slots);
    log_info("worker stopped");
    return 0;
}

/* Creates a local job and its encode task in one statement. With a key
 * (an upload's path, size and mtime) a second submit of the same file does
 * nothing. Returns 1 created (id set), 0 already there, -1 error. */
static int submit(PGconn *c, const char *path, const char *input_file, const char *key,
                  char id[37])
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, id);
    json_object *p = json_object_new_object();
    json_object_object_add(p, "job_id", json_object_new_string(id));
    json_object_object_add(p, "input", json_object_new_string(path));
    const char *v[] = {id, input_file, json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN),
                       key ? key : id};
    PGresult *r = PQexecParams(
        c,
        "WITH j AS (INSERT INTO jobs (id, backend, backend_job_id, input_file) "
        "VALUES ($1, 'local', $4, $2) ON CONFLICT DO NOTHING RETURNING id) "
        "INSERT INTO outbox (kind, payload) SELECT 'local.encode', $3::jsonb FROM j",
        4, NULL, v, NULL, NULL, 0);
    int ret = PQresultStatus(r) != PGRES_COMMAND_OK ? -1 : atoi(PQcmdTuples(r)) == 1 ? 1 : 0;
    if (ret < 0)
        log_warn("submit %s failed: %s", path, PQerrorMessage(c));
    PQclear(r);
    json_object_put(p);
    return ret;
}

int worker_submit(const config *cfg, const char *file)
{
    char path[PATH_MAX], id[37];
    if (!realpath(file, path)) {
        fprintf(stderr, "mediagate: %s: %s\n", file, strerror(errno));
        return 1;
    }
    PGconn *c = db_connect_admin(cfg);
    if (!c)
        return 1;
    int r = submit(c, path, path, NULL, id);
    if (r == 1)
        printf("%s\n", id);
    PQfinish(c);
    return r == 1 ? 0 : 1;
}

/* An upload that finished landing: a job with input_file "uploads/<name>",
 * once per (path, size, mtime), whichever worker sees it first. */
static void submit_upload(PGconn *c, const char *dir, const char *name)
{
    char path[PATH_MAX + 256], key[PATH_MAX + 300], id[37], public_name[300];
    struct stat st;
    if (name[0] == '.' || snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
        stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        return;
    snprintf(key, sizeof key, "upload:%s:%lld:%lld", path, (long long)st.st_size,
             (long long)st.st_mtime);
    /* Clients know the name they uploaded, not our directory. */
    snprintf(public_name, sizeof public_name, "uploads/%.280s", name);
    if (submit(c, path, public_name, key, id) == 1)
        log_info("upload %s: job %s", path, id);
}

/* Watches the uploads directory with inotify (no polling): nginx's dav
 * module renames a finished PUT into place (IN_MOVED_TO); a copy ends
 * with IN_CLOSE_WRITE. On start it submits what landed while it was
 * down. */
static void *watch_main(void *arg)
{
    const config *cfg = arg;
    PGconn *c = NULL;
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    mkdir(cfg->uploads_dir, 0755);
    if (fd < 0 || inotify_add_watch(fd, cfg->uploads_dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
        log_error("cannot watch %s: %s", cfg->uploads_dir, strerror(errno));
        return NULL;
    }
    bool scanned = false;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (!atomic_load(&stopping)) {
        if (!c || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = db_connect_admin(cfg);
            if (!c) {
                sleep_interruptible(1);
                continue;
            }
            scanned = false;
        }
        if (!scanned) {
            DIR *d = opendir(cfg->uploads_dir);
            for (struct dirent *de; d && (de = readdir(d));)
                submit_upload(c, cfg->uploads_dir, de->d_name);
            if (d)
                closedir(d);
            scanned = true;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 500) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        for (char *q = buf; n > 0 && q < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)q;
            if (ev->len)
                submit_upload(c, cfg->uploads_dir, ev->name);
            q += sizeof *ev + ev->len;
        }
    }
    close(fd);
    PQfinish(c);
    return NULL;
}
