/* The local.encode kind: an upload, a submitted file or a stopped stream's
 * recordings into an HLS ladder with ffmpeg. Error codes of the job:
 * 1 unreadable input, 2 no video, 3 ffmpeg failed (retried), 4 time limit,
 * 6 unsupported input format, 7 no progress for MEDIAGATE_ENCODE_STALL s,
 * 8 the input ends far short of its duration, 9 over the budget or a
 * child's limit, 10 the outputs failed verification (retried). The
 * extras (poster, storyboard, audio-only variant, MP4) come from the same
 * decode (app/worker/extras.h); one asked and not made is listed in the
 * COMPLETE event's extras.missing, never listed as made. A full
 * media disk is no error of the job: the task waits for space
 * (TASK_SNOOZE). */
#include <errno.h>
#include <ftw.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "config.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "proc.h"
#include "storage/storage.h"
#include "worker/extras.h"
#include "worker/ffmpeg.h"
#include "worker/hls_crypt.h"
#include "worker/kinds.h"
#include "worker/publish.h"
#include "worker/recordings.h"

#define PROBE_OUT_CAP (4u << 20)   /* ffprobe prints no tags: 4 MiB is far past any real answer */
#define DISK_FULL_BYTES (1u << 20) /* less free on the media disk than this is "full" */
#define TS_PACKET 188
/* An encode shorter than the probed duration by more than both of these
 * (seconds, share) ends in ERROR 8: the input was cut short. A rendition's
 * playlist may differ from what ffmpeg encoded by as much. */
#define SHORT_ABS_S 2.0
#define SHORT_REL 0.10

typedef struct encode {
    task_ctx *ctx;
    struct store *store; /* the object store the outputs go to; NULL: MEDIAGATE_MEDIA_DIR */
    const char *root;    /* where attempts work: MEDIAGATE_MEDIA_DIR, or TMPDIR with a store */
    double duration_s;
    long long last_us;
    int last_pct;
    bool encoding;       /* ffmpeg (not ffprobe) is running */
    bool disk_full_seen; /* the media disk was full at a tick of the encode: it was stopped */
    const profile *prof; /* the job's profile (the payload's); NULL: MEDIAGATE_RENDITIONS */
    bool encrypt;        /* the HLS is encrypted (AES-128, app/worker/hls_crypt.h) */
} encode;

/* Whether the file system of dir has (almost) no space left. */
static bool disk_full(const char *dir)
{
    struct statvfs v;
    return statvfs(dir, &v) == 0 && (unsigned long long)v.f_bavail * v.f_frsize < DISK_FULL_BYTES;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Removes dir and everything under it, never following a symlink. */
static void rmtree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Removes the directories .<job>.<n>.tmp (outputs) and .<job>.<n>.in
 * (inputs read from the object store) of attempts up to this one, under
 * root. */
static void remove_attempts(const char *root, const char *job, int attempt)
{
    char p[PATH_MAX];
    for (int n = 1; n <= attempt; n++)
        for (int k = 0; k < 2; k++)
            if (snprintf(p, sizeof p, "%s/.%s.%d.%s", root, job, n, k ? "in" : "tmp") <
                (int)sizeof p)
                rmtree(p);
}

/* The directory the attempts of a worker with an object store work in. */
static const char *tmp_root(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t == '/' ? t : "/tmp";
}

/* Bytes in the regular files directly under dir. */
static long long dir_bytes(const char *dir)
{
    long long sum = 0;
    DIR *d = opendir(dir);
    for (struct dirent *de; d && (de = readdir(d));) {
        char p[PATH_MAX];
        struct stat st;
        if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) < (int)sizeof p && lstat(p, &st) == 0 &&
            S_ISREG(st.st_mode))
            sum += st.st_size;
    }
    if (d)
        closedir(d);
    return sum;
}

/* Between ffmpeg's lines: stop when shut down or when the task is no
 * longer ours. */
static int on_tick(void *arg)
{
    encode *e = arg;
    /* What ffmpeg writes on a full disk is lost (and it goes on): stop. */
    if (e->encoding && disk_full(e->root)) {
        e->disk_full_seen = true;
        return 1;
    }
    return atomic_load(e->ctx->cancel) || !e->ctx->beat(e->ctx, -1);
}

/* The limits every child runs under (MEDIAGATE_ENCODE_MEMORY_MB, _CPU_SECONDS). */
static void child_limits(const config *cfg, proc_opts *o)
{
    o->as_bytes = (long long)cfg->encode_memory_mb << 20;
    o->cpu_s = cfg->encode_cpu_seconds;
}

/* Whether its CPU limit stopped a child that failed: SIGXCPU at the soft
 * limit (ffmpeg catches it and exits 255), SIGKILL at the hard one. The
 * user and system time the kernel reports may fall short of the time the
 * limit counts by a fifth. */
static bool cpu_limited(const config *cfg, const proc_result *r)
{
    return r->status == 128 + SIGXCPU ||
           (r->status != 0 && r->cpu_s >= 0.75 * (double)cfg->encode_cpu_seconds);
}

/* Whether a failed child's stderr reads as memory refused under its
 * address-space limit (ffmpeg names no cause of its own). */
static bool memory_limited(const proc_result *r)
{
    static const char *const signs[] = {"alloc", "map segment", "opening encoder",
                                        "Resource temporarily unavailable", "out of memory"};
    for (size_t i = 0; i < sizeof signs / sizeof signs[0]; i++)
        if (strcasestr(r->err_head, signs[i]) || strcasestr(r->last_err, signs[i]))
            return true;
    return false;
}

/* ffmpeg's -progress lines: out_time_us moving is progress. */
static int on_line(void *arg, const char *line)
{
    encode *e = arg;
    long long us;
    if (sscanf(line, "out_time_us=%lld", &us) != 1 || us <= e->last_us)
        return 0;
    e->last_us = us;
    int pct = ffmpeg_progress_pct(us, e->duration_s);
    if (pct > e->last_pct) {
        e->last_pct = pct;
        e->ctx->beat(e->ctx, pct);
    }
    return 1;
}

/* The URL, protocols and demuxer whitelist an input is read with. */
static void input_access(const rec_file *f, char *url, size_t cap, const char **protocols,
                         const char **formats)
{
    if (strncmp(f->path, "concatf:", 8) == 0) {
        snprintf(url, cap, "%s", f->path);
        *protocols = "concatf,file";
    } else {
        snprintf(url, cap, "file:%s", f->path);
        *protocols = "file";
    }
    *formats = f->demuxer ? f->demuxer : ffmpeg_upload_formats;
}

/* Probes one input. Returns 0 with pi and *demuxer (the format to force),
 * -1 when canceled, or an error code with res set. */
static int probe(encode *e, const rec_file *f, probe_info *pi, const char **demuxer,
                 task_result *res)
{
    char url[PATH_MAX + 16], msg[300];
    const char *protocols, *formats;
    argv_buf b;
    proc_result r;
    input_access(f, url, sizeof url, &protocols, &formats);
    if (ffmpeg_probe_argv(&b, url, protocols, formats, f->demuxer) < 0) {
        task_fail(res, TASK_FAILED, 1, "cannot read the input: its name is too long");
        return 1;
    }
    proc_opts o = {.timeout_s = 60, .out_cap = PROBE_OUT_CAP, .on_tick = on_tick, .arg = e};
    child_limits(e->ctx->cfg, &o);
    int st = proc_run(b.argv, &o, &r), ret = 0;
    if (st == PROC_CANCELED) {
        ret = -1;
        goto out;
    }
    if (cpu_limited(e->ctx->cfg, &r)) {
        task_fail(res, TASK_FAILED, 9, "reading the input used up its CPU time limit (%ld s)",
                  e->ctx->cfg->encode_cpu_seconds);
        ret = 9;
        goto out;
    }
    if (st == PROC_TOOLONG) {
        task_fail(res, TASK_FAILED, 1, "cannot read the input: ffprobe's answer is too long");
        ret = 1;
        goto out;
    }
    if (st != 0) {
        log_warn("task %lld: ffprobe %s: status %d: %s", e->ctx->id, url, st, r.last_err);
        if (strstr(r.err_head, "not on whitelist")) {
            task_fail(res, TASK_FAILED, 6, "unsupported input format");
            ret = 6;
        } else if (st == PROC_NOSTART || st == 127) {
            task_fail(res, TASK_RETRY, 3, "cannot run ffprobe");
            ret = 3;
        } else {
            char why[256];
            ffmpeg_reason(r.last_err, why, sizeof why);
            task_fail(res, TASK_FAILED, 1, "cannot read the input: %s", why[0] ? why : "ffprobe failed");
            ret = 1;
        }
        goto out;
    }
    if (ffmpeg_parse_probe(r.out ? r.out : "", r.out_len, pi, msg, sizeof msg) != 0) {
        task_fail(res, TASK_FAILED, 2, "%s", msg);
        ret = 2;
        goto out;
    }
    *demuxer = f->demuxer ? f->demuxer : ffmpeg_allowed_demuxer(pi->format);
    if (!*demuxer) {
        /* ffprobe's format names are plain identifiers: safe to show. */
        task_fail(res, TASK_FAILED, 6, "unsupported input format (%.80s)", pi->format);
        ret = 6;
    }
out:
    proc_result_free(&r);
    return ret;
}

/* Writes an ffconcat list of the inputs, for ffmpeg's concat demuxer. */
static int write_concat(const char *list, const rec_files *in)
{
    FILE *f = fopen(list, "w");
    if (!f)
        return -1;
    fprintf(f, "ffconcat version 1.0\n");
    for (size_t i = 0; i < in->n; i++) {
        char url[PATH_MAX + 16];
        const char *p, *fm;
        input_access(&in->v[i], url, sizeof url, &p, &fm);
        fputs("file '", f);
        for (const char *c = url; *c; c++)
            *c == '\'' ? fputs("'\\''", f) : fputc(*c, f);
        fputs("'\n", f);
    }
    return fclose(f);
}

/* hls_check_media's check of one segment (arg: the rendition's directory):
 * a regular file, not empty, of whole MPEG-TS packets (a write cut short
 * by a full disk leaves part of one). */
static int segment_ok(void *arg, const char *name)
{
    char p[PATH_MAX];
    struct stat st;
    if (snprintf(p, sizeof p, "%s/%s", (const char *)arg, name) >= (int)sizeof p || lstat(p, &st) != 0)
        return -1;
    return S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size % TS_PACKET == 0 ? 0 : -1;
}

/* Reads back the outputs in dir before they are published: the master
 * playlist names the n renditions (and the audio-only variant after them
 * when audio_only), each rendition's playlist parses and
 * names segments that exist, whole, and its durations add up to what
 * ffmpeg reported encoding (encoded_s, within max(2 s, 10 %)). Returns 0
 * with *duration_s (the first rendition's), or -1 with msg set. The
 * audio-only variant (an extra: it never fails the ladder) must cover the
 * video as closely; else audio_why says why it is left out. */
static int verify_outputs(const char *dir, const int *heights, int n, bool audio_only,
                          double encoded_s, double *duration_s, char *audio_why, size_t audio_cap,
                          char *msg, size_t cap)
{
    char p[PATH_MAX + 32], vdir[PATH_MAX + 16], why[160];
    size_t len = 0;
    snprintf(p, sizeof p, "%s/master.m3u8", dir);
    char *buf = hls_read_file(p, HLS_PLAYLIST_CAP, &len);
    bool found = buf != NULL;
    int ret = found ? hls_check_master(buf, len, n + audio_only, audio_only, why, sizeof why) : -1;
    free(buf);
    if (ret != 0) {
        snprintf(msg, cap, "the outputs failed verification: %s",
                 found ? why : "the master playlist is missing");
        return -1;
    }
    double tol = encoded_s * SHORT_REL > SHORT_ABS_S ? encoded_s * SHORT_REL : SHORT_ABS_S;
    for (int i = 0; i < n + audio_only; i++) {
        double total = 0;
        int segs = 0;
        char name[32];
        snprintf(name, sizeof name, i < n ? "%dp" : "audio-only", i < n ? heights[i] : 0);
        snprintf(vdir, sizeof vdir, "%s/v%d", dir, i);
        snprintf(p, sizeof p, "%s/index.m3u8", vdir);
        buf = hls_read_file(p, HLS_PLAYLIST_CAP, &len);
        found = buf != NULL;
        ret = found ? hls_check_media(buf, len, segment_ok, vdir, &total, &segs, why, sizeof why) : -1;
        free(buf);
        if (i == n && ret != 0) {
            snprintf(audio_why, audio_cap, "the audio-only playlist %s",
                     found ? why : "is missing");
            break;
        }
        if (i == n && fabs(total - *duration_s) > tol) {
            snprintf(audio_why, audio_cap, "the audio lasts %.1f s of the %.1f s video", total,
                     *duration_s);
            break;
        }
        if (ret != 0) {
            snprintf(msg, cap, "the outputs failed verification: the %s playlist %s", name,
                     found ? why : "is missing");
            return -1;
        }
        if (fabs(total - encoded_s) > tol) {
            snprintf(msg, cap, "the outputs failed verification: the %s playlist lasts %.1f s, but "
                               "%.1f s were encoded", name, total, encoded_s);
            return -1;
        }
        if (i == 0)
            *duration_s = total;
    }
    return 0;
}

/* The width of rendition i of a ladder (steps, or heights only) of a w x h
 * source. */
static int variant_width(const ladder_step *steps, const int *heights, int i, int w, int h)
{
    return steps && steps[i].width ? steps[i].width
                                   : (int)lround((double)w * heights[i] / h / 2) * 2;
}

/* The bitrate (bit/s) of rendition i, its audio included when it has some. */
static int variant_bitrate(const ladder_step *steps, const int *heights, int i, bool audio)
{
    return steps ? steps[i].video_kbps * 1000 +
                       (audio && steps[i].audio_kbps > 0 ? steps[i].audio_kbps * 1000 : 0)
                 : heights[i] * 4000 + (audio ? 128000 : 0);
}

/* The COMPLETE event of a finished ladder whose outputs are in dir (for
 * their sizes) and published at output_path, on storage ("local", "s3"). */
static json_object *complete_event(const char *output_path, const char *storage, const char *dir,
                                   const int *heights, const ladder_step *steps, int n, int w,
                                   int h, bool audio, double duration_s, json_object *extras)
{
    json_object *vars = json_object_new_array(), *done = json_object_new_object();
    for (int i = 0; i < n; i++) {
        char vdir[PATH_MAX + 16];
        snprintf(vdir, sizeof vdir, "%s/v%d", dir, i);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "format", json_object_new_string("hls"));
        json_object_object_add(o, "width", json_object_new_int(variant_width(steps, heights, i, w, h)));
        json_object_object_add(o, "height", json_object_new_int(heights[i]));
        json_object_object_add(o, "bitrate",
                               json_object_new_int(variant_bitrate(steps, heights, i, audio)));
        json_object_object_add(o, "size", json_object_new_int64(dir_bytes(vdir)));
        json_object_array_add(vars, o);
    }
    json_object *pls = json_object_new_object();
    json_object_object_add(pls, ".m3u8", json_object_new_string("master.m3u8"));
    json_object_object_add(done, "status", json_object_new_string("COMPLETE"));
    json_object_object_add(done, "duration_ms", json_object_new_int64((int64_t)llround(duration_s * 1000)));
    json_object_object_add(done, "width_px", json_object_new_int(variant_width(steps, heights, 0, w, h)));
    json_object_object_add(done, "height_px", json_object_new_int(heights[0]));
    json_object_object_add(done, "output_path", json_object_new_string(output_path));
    json_object_object_add(done, "storage", json_object_new_string(storage));
    json_object_object_add(done, "playlists", pls);
    json_object_object_add(done, "variations", vars);
    json_object_object_add(done, "extras", json_object_get(extras));
    return done;
}

/* The budget of the n probed inputs pi: 0, or 9 with res set. */
static int check_budget(const config *cfg, const probe_info *pi, size_t n, encode_budget *b,
                        task_result *res)
{
    char msg[300];
    int w = 0, h = 0;
    double duration = 0, mpx = 0;
    *b = (encode_budget){cfg->encode_max_pixels, cfg->encode_max_duration, cfg->encode_max_megapixels};
    for (size_t i = 0; i < n; i++) {
        if ((long long)pi[i].width * pi[i].height > (long long)w * h) {
            w = pi[i].width;
            h = pi[i].height;
        }
        duration += pi[i].duration;
        mpx += (double)pi[i].width * pi[i].height * ffmpeg_frames(&pi[i]) / 1e6;
    }
    if (ffmpeg_budget_check(b, w, h, duration, mpx, msg, sizeof msg) == 0)
        return 0;
    task_fail(res, TASK_FAILED, 9, "%s", msg);
    return 9;
}

/* A full media disk (or, with an object store, the worker's TMPDIR):
 * nothing is published, and the task runs again later without the attempt
 * counting (the input is not at fault). */
static void wait_for_space(const encode *e, task_result *res)
{
    if (e->store) {
        log_warn("task %lld: the worker's TMPDIR is full; the encode waits for space", e->ctx->id);
        task_fail(res, TASK_SNOOZE, 3,
                  "the worker's disk is full: the encode runs again when there is space");
        return;
    }
    log_warn("task %lld: the media disk (MEDIAGATE_MEDIA_DIR) is full; the encode waits for space",
             e->ctx->id);
    task_fail(res, TASK_SNOOZE, 3, "the media disk is full: the encode runs again when there is space");
}

/* What ffmpeg's status st (not 0) and what it wrote (r) mean for the job:
 * sets res. */
static void encode_failed(encode *e, int st, const proc_result *r, task_result *res)
{
    const config *cfg = e->ctx->cfg;
    char why[256];
    ffmpeg_reason(r->last_err, why, sizeof why);
    if (st == PROC_CANCELED && e->disk_full_seen)
        wait_for_space(e, res);
    else if (st == PROC_CANCELED || atomic_load(e->ctx->cancel)) /* also a stop that raced a limit */
        res->outcome = TASK_HANDBACK;
    else if (st == PROC_TIMEOUT)
        task_fail(res, TASK_FAILED, 4, "the encode ran past its %ld s limit", cfg->encode_timeout);
    else if (st == PROC_STALLED)
        task_fail(res, TASK_FAILED, 7, "the encode made no progress for %ld s", cfg->encode_stall);
    else if (cpu_limited(cfg, r))
        task_fail(res, TASK_FAILED, 9, "the encode used up its CPU time limit (%ld s)",
                  cfg->encode_cpu_seconds);
    else if (strstr(r->err_head, "No space left") || strstr(r->last_err, "No space left") ||
             disk_full(e->root))
        wait_for_space(e, res);
    else if (memory_limited(r))
        task_fail(res, TASK_FAILED, 9, "the encode ran out of memory under its %ld MiB limit%s%s",
                  cfg->encode_memory_mb, why[0] ? ": " : "", why);
    else
        task_fail(res, TASK_RETRY, 3, "ffmpeg failed: %s", why[0] ? why : "exit status");
}

/* A copy's -progress lines: any out_time_us is progress. */
static int on_copy_line(void *arg, const char *line)
{
    (void)arg;
    return strncmp(line, "out_time_us=", 12) == 0;
}

/* A missing "mp4" with why (logged); removes dir/mp4/. */
static void mp4_missing(const encode *e, const char *dir, json_object *extras, const char *why)
{
    char p[PATH_MAX + 8];
    snprintf(p, sizeof p, "%s/mp4", dir);
    rmtree(p);
    log_warn("task %lld: mp4 not made: %s", e->ctx->id, why);
    extras_missing(extras, "mp4", why);
}

/* Whether the MP4 copy that failed with st (not 0) and r was refused by
 * ffmpeg itself (an error of its own, every time the same): its status,
 * not a signal or a limit, and no full disk. */
static bool copy_refused(const encode *e, int st, const proc_result *r)
{
    return st > 0 && st < 128 && !cpu_limited(e->ctx->cfg, r) && !memory_limited(r) &&
           !strstr(r->err_head, "No space left") && !strstr(r->last_err, "No space left") &&
           !disk_full(e->root);
}

/* MP4 copies (no encode) of the n verified variants in dir, mp4/<height>p.mp4,
 * each read back (moov first, its duration within max(1 s, 5 %) of
 * duration_s): extras' "mp4", or a "missing" entry. Returns 0, or -1 with
 * res set when the copy was stopped (canceled, lease lost, disk full) or
 * failed in a way a retry may mend (killed, a limit): as the ladder's. */
static int make_mp4(encode *e, const char *dir, const int *heights, const ladder_step *steps,
                    int n, int w, int h, bool audio, double duration_s, json_object *extras,
                    task_result *res)
{
    const config *cfg = e->ctx->cfg;
    char names[8][24], p[PATH_MAX + 64], why[200], msg[300] = "";
    const char *np[8];
    json_object *arr = NULL;
    proc_result r = {0};
    int ret = 0;
    for (int i = 0; i < n; i++) {
        bool twice = false; /* two renditions of one height (different widths) */
        for (int j = 0; j < i; j++)
            twice |= heights[j] == heights[i];
        snprintf(names[i], sizeof names[i], twice ? "%dp-%d" : "%dp", heights[i], i);
        np[i] = names[i];
    }
    snprintf(p, sizeof p, "%s/mp4", dir);
    argv_buf b;
    errno = 0;
    if (mkdir(p, 0755) != 0 || ffmpeg_mp4_argv(&b, dir, n, np) < 0) {
        if (errno == ENOSPC) {
            wait_for_space(e, res);
            ret = -1;
        }
        snprintf(msg, sizeof msg, "the MP4 files could not be made");
        goto out;
    }
    double left = e->ctx->deadline - proc_now();
    proc_opts o = {.timeout_s = left > 1 ? left : 1, .stall_s = (double)cfg->encode_stall,
                   .nice = (int)cfg->encode_nice, .on_line = on_copy_line, .on_tick = on_tick,
                   .arg = e};
    child_limits(cfg, &o);
    e->encoding = true;
    int st = proc_run(b.argv, &o, &r);
    e->encoding = false;
    if (st == PROC_CANCELED || atomic_load(e->ctx->cancel)) {
        encode_failed(e, PROC_CANCELED, &r, res);
        ret = -1;
        goto out;
    }
    if (st != 0) {
        log_warn("task %lld: ffmpeg (MP4) status %d: %s", e->ctx->id, st, r.last_err);
        if (!copy_refused(e, st, &r)) { /* a full disk waits; a kill or a limit is retried */
            encode_failed(e, st, &r, res);
            ret = -1;
        }
        snprintf(msg, sizeof msg, "the MP4 files could not be made: ffmpeg failed");
        goto out;
    }
    log_info("task %lld: MP4 copies made (%.2f s CPU)", e->ctx->id, r.cpu_s);
    arr = json_object_new_array();
    for (int i = 0; i < n; i++) {
        double d = 0;
        struct stat sb;
        snprintf(p, sizeof p, "%s/mp4/%s.mp4", dir, names[i]);
        int bad = extras_mp4_check(p, &d, why, sizeof why) != 0 || stat(p, &sb) != 0;
        if (!bad && fabs(d - duration_s) > fmax(1.0, duration_s * 0.05)) {
            snprintf(why, sizeof why, "lasts %.1f s, not %.1f s", d, duration_s);
            bad = 1;
        }
        if (bad) {
            snprintf(msg, sizeof msg, "the MP4 of the %dp rendition %s", heights[i], why);
            goto out;
        }
        json_object *m = json_object_new_object();
        snprintf(p, sizeof p, "mp4/%s.mp4", names[i]);
        json_object_object_add(m, "file", json_object_new_string(p));
        json_object_object_add(m, "width", json_object_new_int(variant_width(steps, heights, i, w, h)));
        json_object_object_add(m, "height", json_object_new_int(heights[i]));
        json_object_object_add(m, "bitrate", json_object_new_int(variant_bitrate(steps, heights, i, audio)));
        json_object_object_add(m, "size", json_object_new_int64(sb.st_size));
        json_object_array_add(arr, m);
    }
    json_object_object_add(extras, "mp4", arr);
    arr = NULL;
out:
    if (msg[0] && ret == 0)
        mp4_missing(e, dir, extras, msg);
    json_object_put(arr);
    proc_result_free(&r);
    return ret;
}

/* The poster and storyboard read back, the audio-only variant listed, the
 * MP4 copies made: extras (and its "missing") filled for the encode in
 * dir. Returns 0, or -1 with res set (stopped, or the disk filled). */
static int finish_extras(encode *e, const char *dir, const extras_plan *x, const int *heights,
                         const ladder_step *steps, int n, int w, int h, bool audio,
                         double duration_s, json_object *extras, task_result *res)
{
    char who[40];
    snprintf(who, sizeof who, "task %lld", e->ctx->id);
    extras_finish(dir, x, duration_s, extras, who);
    if (x->audio_only) { /* verified with the ladder */
        char pl[32];
        json_object *a = json_object_new_object();
        snprintf(pl, sizeof pl, "v%d/index.m3u8", n);
        json_object_object_add(a, "playlist", json_object_new_string(pl));
        json_object_object_add(a, "codecs", json_object_new_string("mp4a.40.2"));
        json_object_object_add(a, "bitrate", json_object_new_int(x->audio_only_kbps * 1000));
        json_object_object_add(extras, "audio_only", a);
    }
    if (e->prof && e->prof->mp4) {
        if (e->encrypt) {
            log_info("task %lld: mp4 not made: the HLS is encrypted", e->ctx->id);
            extras_missing(extras, "mp4", "the HLS of this job is encrypted: a clear MP4 copy would "
                                          "defeat the encryption");
        } else if (make_mp4(e, dir, heights, steps, n, w, h, audio, duration_s, extras, res) != 0)
            return -1;
    }
    /* What a full disk kept from being written is not missing: it waits. */
    if (json_object_object_get(extras, "missing") && disk_full(e->root)) {
        wait_for_space(e, res);
        return -1;
    }
    return 0;
}

/* Encodes the inputs (played one after another) of ctx's job. */
static void encode_inputs(encode *e, const rec_files *in, task_result *res)
{
    task_ctx *ctx = e->ctx;
    const config *cfg = ctx->cfg;
    char final_dir[PATH_MAX], tmp_dir[PATH_MAX], list[PATH_MAX + 32], url[PATH_MAX + 16], msg[300];
    int w = 0, h = 0, heights[8];
    bool audio = false;
    const char *demuxer = NULL;
    probe_info *pis = NULL;
    encode_budget budget;
    json_object *extras = json_object_new_object(); /* poster, storyboard, ... (sql/037) */
    e->duration_s = 0;
    if (in->n == 0) {
        task_fail(res, TASK_FAILED, 1, "nothing to encode");
        return;
    }
    if (!(pis = calloc(in->n, sizeof *pis))) {
        task_fail(res, TASK_RETRY, 3, "out of memory");
        return;
    }
    for (size_t i = 0; i < in->n; i++) {
        const char *dm = NULL;
        int rc = probe(e, &in->v[i], &pis[i], &dm, res);
        if (rc < 0)
            res->outcome = TASK_HANDBACK;
        if (rc != 0)
            goto out;
        if (i == 0) { /* the first input decides the streams, as concat does */
            w = pis[i].width;
            h = pis[i].height;
            audio = pis[i].audio;
            demuxer = dm;
        }
        e->duration_s += pis[i].duration;
    }
    /* What the upload may cost is decided before it costs anything. */
    if (check_budget(cfg, pis, in->n, &budget, res) != 0)
        goto out;
    if (hls_crypt_wanted(ctx, e->prof, &e->encrypt, res) != 0)
        goto out;
    ladder_step steps[8];
    int n = e->prof ? ffmpeg_profile_ladder(e->prof, w, h, steps)
                    : ffmpeg_ladder(cfg->renditions, h, heights);
    for (int i = 0; e->prof && i < n; i++)
        heights[i] = steps[i].height;
    /* The audio-only variant carries the top rendition's audio bitrate. */
    int akbps = 0;
    for (int i = 0; e->prof && i < n && akbps <= 0; i++)
        akbps = steps[i].audio_kbps;
    /* The images at the display aspect (square pixels): the top rendition's
     * height, its width unless the profile names one. */
    int dw = (int)lround(w * pis[0].sar);
    int pw = e->prof && steps[0].width ? steps[0].width
                                       : variant_width(NULL, heights, 0, dw > 0 ? dw : w, h);
    extras_plan xp;
    extras_plan_make(e->prof, dw > 0 ? dw : w, h, e->duration_s, audio, pw, heights[0], akbps, &xp);

    snprintf(final_dir, sizeof final_dir, "%s/%s", cfg->media_dir, ctx->job_id);
    /* Each attempt writes its own directory: a worker that lost its lease
     * may still be writing an older one. */
    snprintf(tmp_dir, sizeof tmp_dir, "%s/.%s.%d.tmp", e->root, ctx->job_id, ctx->attempt);
    snprintf(list, sizeof list, "%s/inputs.ffconcat", tmp_dir);
    mkdir(e->root, 0755);
    if (disk_full(e->root)) {
        wait_for_space(e, res);
        goto out;
    }
    if (mkdir(tmp_dir, 0755) != 0) {
        log_error("task %lld: cannot create %s: %s", ctx->id, tmp_dir, strerror(errno));
        if (errno == ENOSPC)
            wait_for_space(e, res);
        else
            task_fail(res, TASK_RETRY, 3, "cannot create the output directory");
        goto out;
    }
    encode_plan plan = {.heights = heights,
                        .n = n,
                        .audio = audio,
                        .out_dir = tmp_dir,
                        .threads = 2,
                        .steps = e->prof ? steps : NULL,
                        .max_seconds = ffmpeg_budget_seconds(&budget, w, h, pis[0].fps),
                        .extras = &xp};
    if (in->n > 1) {
        if (write_concat(list, in) != 0) {
            log_error("task %lld: cannot write %s: %s", ctx->id, list, strerror(errno));
            if (errno == ENOSPC)
                wait_for_space(e, res);
            else
                task_fail(res, TASK_RETRY, 3, "cannot list the inputs");
            goto fail;
        }
        plan.input = list;
        plan.demuxer = "concat";
        plan.concat = true;
        plan.protocols = "file,concatf";
        plan.formats = "concat,flv,mpegts";
    } else {
        input_access(&in->v[0], url, sizeof url, &plan.protocols, &plan.formats);
        plan.input = url;
        plan.demuxer = demuxer;
        plan.formats = demuxer;
    }
    argv_buf b;
    if (ffmpeg_encode_argv(&b, &plan) < 0) {
        task_fail(res, TASK_FAILED, 3, "ffmpeg failed: the command does not fit");
        goto fail;
    }
    double left = ctx->deadline - proc_now();
    proc_opts o = {.timeout_s = left > 1 ? left : 1, .stall_s = (double)cfg->encode_stall,
                   .nice = (int)cfg->encode_nice, .on_line = on_line, .on_tick = on_tick, .arg = e};
    child_limits(cfg, &o);
    proc_result r;
    e->encoding = true;
    int st = proc_run(b.argv, &o, &r);
    e->encoding = false;
    if (st != 0) {
        log_warn("task %lld: ffmpeg status %d (%.1f s CPU): %s", ctx->id, st, r.cpu_s, r.last_err);
        encode_failed(e, st, &r, res);
    } else {
        log_info("task %lld: ffmpeg encoded %.1f s (%.2f s CPU)", ctx->id, (double)e->last_us / 1e6,
                 r.cpu_s);
    }
    proc_result_free(&r);
    if (st != 0)
        goto fail;
    unlink(list);
    /* ffmpeg 5.1's HLS muxer exits 0 when a write fails (a full disk
     * leaves empty playlists): what it wrote is read back first. */
    double encoded = (double)e->last_us / 1e6, outputs_s = 0;
    char audio_why[200] = "";
    if (verify_outputs(tmp_dir, heights, n, xp.audio_only, encoded, &outputs_s, audio_why,
                       sizeof audio_why, msg, sizeof msg) != 0) {
        if (disk_full(e->root)) {
            wait_for_space(e, res);
        } else { /* retried: a disk filled and freed between two looks is one cause */
            log_warn("task %lld: %s", ctx->id, msg);
            task_fail(res, TASK_RETRY, 10, "%s", msg);
        }
        goto fail;
    }
    /* A truncated upload decodes without an error up to where it was cut. */
    double short_by = e->duration_s - outputs_s;
    if (e->duration_s > 0 && short_by > SHORT_ABS_S && short_by > e->duration_s * SHORT_REL) {
        task_fail(res, TASK_FAILED, 8,
                  "the input ends early: %.1f s of video were encoded of the %.1f s it declares "
                  "(a file cut short?)", outputs_s, e->duration_s);
        goto fail;
    }
    if (audio_why[0]) { /* the audio-only variant goes; the ladder stands */
        char vdir[PATH_MAX + 16];
        log_warn("task %lld: audio_only not made: %s", ctx->id, audio_why);
        if (extras_drop_variant(tmp_dir, n) != 0) {
            if (disk_full(e->root))
                wait_for_space(e, res);
            else
                task_fail(res, TASK_RETRY, 10,
                          "the outputs failed verification: the master playlist could not be "
                          "rewritten without its audio-only variant");
            goto fail;
        }
        snprintf(vdir, sizeof vdir, "%s/v%d", tmp_dir, n);
        rmtree(vdir);
        xp.audio_only = false;
        extras_missing(extras, "audio_only", audio_why);
    }
    if (finish_extras(e, tmp_dir, &xp, heights, plan.steps, n, w, h, audio, outputs_s, extras,
                      res) != 0)
        goto fail;
    /* Segments are encrypted last: everything above reads them clear. */
    if (e->encrypt) {
        int rc = hls_crypt_outputs(ctx, tmp_dir, n + xp.audio_only, extras, res);
        if (rc == HLS_CRYPT_NOSPACE)
            wait_for_space(e, res);
        if (rc != 0)
            goto fail;
    }
    if (e->store) {
        char key[PATH_MAX], output_path[2048];
        snprintf(key, sizeof key, "media/%s/master.m3u8", ctx->job_id);
        if (store_public_url(cfg, key, output_path, sizeof output_path) != 0) {
            task_fail(res, TASK_FAILED, 3, "the outputs' URL does not fit");
            goto fail;
        }
        output_path[strlen(output_path) - strlen("master.m3u8")] = '\0';
        if (publish_outputs(ctx, e->store, tmp_dir, n + xp.audio_only, res) != 0)
            goto fail;
        char pre[32];
        snprintf(pre, sizeof pre, "a%d/", ctx->attempt);
        extras_prefix(extras, pre);
        res->outcome = TASK_DONE;
        res->job_event = complete_event(output_path, "s3", tmp_dir, heights, plan.steps, n, w, h,
                                        audio, outputs_s, extras);
        goto fail; /* the outputs are in the store: the work directory goes */
    }
    /* Published only by the holder: a worker that lost its lease while its
     * ffmpeg finished learns it here. */
    if (!ctx->beat(ctx, TASK_BEAT_CHECK)) {
        res->outcome = TASK_HANDBACK;
        goto fail;
    }
    rmtree(final_dir);
    if (rename(tmp_dir, final_dir) != 0) {
        log_error("task %lld: cannot move %s to %s: %s", ctx->id, tmp_dir, final_dir, strerror(errno));
        task_fail(res, TASK_RETRY, 3, "cannot move the outputs into place");
        goto fail;
    }
    char output_path[PATH_MAX + 64];
    snprintf(output_path, sizeof output_path, "%s/%s/", cfg->media_url, ctx->job_id);
    res->outcome = TASK_DONE;
    res->job_event = complete_event(output_path, "local", final_dir, heights, plan.steps, n, w, h,
                                    audio, outputs_s, extras);
    goto out;
fail:
    rmtree(tmp_dir);
out:
    json_object_put(extras);
    free(pis);
}

/* Whether job is a job id usable in paths (and, with an object store, in
 * keys): local.encode's jobs are UUIDs. */
static bool job_id_ok(const config *cfg, const char *job)
{
    char key[300];
    return job && strlen(job) <= 200 && !strchr(job, '/') && job[0] != '.' &&
           (!store_is_s3(cfg) ||
            (snprintf(key, sizeof key, "media/%s/master.m3u8", job) < (int)sizeof key &&
             store_key_ok(key)));
}

void kind_local_encode_dead(const config *cfg, const char *job_id)
{
    const task_kind *k = task_kind_find("local.encode");
    if (!job_id_ok(cfg, job_id))
        return;
    remove_attempts(cfg->media_dir, job_id, k ? k->max_attempts : 3);
    if (store_is_s3(cfg)) { /* a dead job leaves no objects (and this host no files) */
        remove_attempts(tmp_root(), job_id, k ? k->max_attempts : 3);
        store *s = store_open(cfg);
        if (s)
            publish_remove_job(s, job_id);
        store_close(s);
    }
}

/* The input of an upload's encode in the object store: the payload's
 * input_key (with input_etag, the object the upload confirmed), or an input
 * that is a key rather than a path. NULL: a file on this host. */
static const char *input_key(const config *cfg, json_object *p, const char **etag)
{
    const char *key = NULL;
    *etag = NULL;
    if (jstr(p, "input_key", &key) <= 0 &&
        !(store_is_s3(cfg) && jstr(p, "input", &key) > 0 && key[0] != '/'))
        return NULL;
    if (jstr(p, "input_etag", etag) <= 0)
        *etag = NULL;
    return key;
}

void kind_local_encode(task_ctx *ctx, task_result *res)
{
    const char *sid = NULL, *input = NULL, *key = NULL, *etag = NULL;
    const config *cfg = ctx->cfg;
    json_object *p = ctx->payload;
    rec_files inputs = {0};
    char seglist[PATH_MAX] = "", msg[300] = "", in_dir[PATH_MAX] = "", path[PATH_MAX + 16];
    encode e = {.ctx = ctx, .root = cfg->media_dir};
    bool is_stream = jstr(p, "stream_id", &sid) > 0;
    if (!job_id_ok(cfg, ctx->job_id) ||
        (!is_stream && jstr(p, "input", &input) <= 0 && jstr(p, "input_key", &input) <= 0)) {
        task_fail(res, TASK_FAILED, 1, "malformed task payload");
        goto out;
    }
    /* An upload made with a profile: its renditions, as they were then. */
    json_object *pj;
    profile prof;
    int has = jobj(p, "profile", json_type_object, &pj);
    if (has < 0 || (has > 0 && profile_parse(NULL, pj, &prof, msg, sizeof msg) != 0)) {
        task_fail(res, TASK_FAILED, 1, "malformed task payload: profile");
        goto out;
    }
    e.prof = has > 0 ? &prof : NULL;
    key = is_stream ? NULL : input_key(cfg, p, &etag);
    if (store_is_s3(cfg)) {
        e.root = tmp_root();
        if (!(e.store = store_open(cfg))) {
            task_fail(res, TASK_RETRY, 3, "out of memory");
            goto out;
        }
        publish_bind(e.store, ctx);
        publish_clear_earlier(ctx, e.store, ctx->job_id, ctx->attempt);
    } else if (key) {
        task_fail(res, TASK_RETRY, 3,
                  "the input is in an object store this worker has no settings for");
        goto out;
    }
    remove_attempts(e.root, ctx->job_id, ctx->attempt); /* what killed attempts left */
    if (key || (is_stream && e.store)) {
        /* Inputs from the store come into the attempt's directory first. */
        snprintf(in_dir, sizeof in_dir, "%s/.%s.%d.in", e.root, ctx->job_id, ctx->attempt);
        mkdir(e.root, 0755);
        if (mkdir(in_dir, 0700) != 0) {
            log_error("task %lld: cannot create %s: %s", ctx->id, in_dir, strerror(errno));
            if (errno == ENOSPC)
                wait_for_space(&e, res);
            else
                task_fail(res, TASK_RETRY, 3, "cannot create the input directory");
            in_dir[0] = '\0';
            goto out;
        }
    }
    if (key) {
        snprintf(path, sizeof path, "%s/input", in_dir);
        if (!store_key_ok(key)) {
            task_fail(res, TASK_FAILED, 1, "malformed task payload");
            goto out;
        }
        if (publish_fetch(ctx, e.store, key, etag, path, cfg->upload_max_bytes, res) != 0) {
            if (res->outcome == TASK_RETRY && disk_full(e.root)) /* not the store's fault */
                wait_for_space(&e, res);
            goto out;
        }
        if (files_add(&inputs, path, NULL, 0)) {
            task_fail(res, TASK_RETRY, 3, "out of memory");
            goto out;
        }
    } else if (is_stream && e.store) {
        if (!uuid_valid(sid, strlen(sid))) {
            task_fail(res, TASK_FAILED, 1, "malformed task payload: stream_id");
            goto out;
        }
        if (publish_fetch_recordings(ctx, e.store, sid, json_object_object_get(p, "keys"), in_dir,
                                     cfg->upload_max_bytes, &inputs, res) != 0)
            goto out;
    }
    if (is_stream && inputs.n == 0) { /* on this host's disk (none in the store) */
        bool segments = json_object_get_boolean(json_object_object_get(p, "segments"));
        int code = stream_inputs(ctx->cfg, sid, segments, &inputs, seglist,
                                 sizeof seglist, msg, sizeof msg);
        if (code) {
            task_fail(res, code == 3 ? TASK_RETRY : TASK_FAILED, code, "%s", msg);
            goto out;
        }
    } else if (!is_stream && !key && files_add(&inputs, input, NULL, 0)) {
        task_fail(res, TASK_RETRY, 3, "out of memory");
        goto out;
    }
    encode_inputs(&e, &inputs, res);
out:
    if (seglist[0])
        unlink(seglist);
    if (in_dir[0])
        rmtree(in_dir);
    files_free(&inputs);
    store_close(e.store);
}
