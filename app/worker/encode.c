/* The local.encode kind: an upload, a submitted file or a stopped stream's
 * recordings into an HLS ladder with ffmpeg. Error codes of the job:
 * 1 unreadable input, 2 no video, 3 ffmpeg failed (retried), 4 time limit,
 * 6 unsupported input format, 7 no progress for MEDIAGATE_ENCODE_STALL s. */
#include <errno.h>
#include <ftw.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "proc.h"
#include "worker/ffmpeg.h"
#include "worker/kinds.h"
#include "worker/recordings.h"

#define PROBE_OUT_CAP (4u << 20) /* ffprobe prints no tags: 4 MiB is far past any real answer */

typedef struct encode {
    task_ctx *ctx;
    double duration_s;
    long long last_us;
    int last_pct;
} encode;

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

/* Removes the directories .<job>.<n>.tmp of attempts before this one. */
static void remove_attempts(const char *media_dir, const char *job, int attempt)
{
    char p[PATH_MAX];
    for (int n = 1; n <= attempt; n++)
        if (snprintf(p, sizeof p, "%s/.%s.%d.tmp", media_dir, job, n) < (int)sizeof p)
            rmtree(p);
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
    return atomic_load(e->ctx->cancel) || !e->ctx->beat(e->ctx, -1);
}

/* ffmpeg's -progress lines: out_time_us moving is progress. */
static int on_line(void *arg, const char *line)
{
    encode *e = arg;
    long long us;
    if (sscanf(line, "out_time_us=%lld", &us) != 1 || us <= e->last_us)
        return 0;
    e->last_us = us;
    if (e->duration_s > 0) {
        int pct = (int)(us / 1e4 / e->duration_s);
        pct = pct > 99 ? 99 : pct;
        if (pct > e->last_pct) {
            e->last_pct = pct;
            e->ctx->beat(e->ctx, pct);
        }
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
    int st = proc_run(b.argv, &o, &r), ret = 0;
    if (st == PROC_CANCELED) {
        ret = -1;
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

/* The COMPLETE event of a finished ladder. */
static json_object *complete_event(const config *cfg, const char *job_id, const char *final_dir,
                                   const int *heights, int n, int w, int h, bool audio,
                                   double duration_s)
{
    json_object *vars = json_object_new_array(), *done = json_object_new_object();
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
    snprintf(url, sizeof url, "%s/%s/", cfg->media_url, job_id);
    json_object *pls = json_object_new_object();
    json_object_object_add(pls, ".m3u8", json_object_new_string("master.m3u8"));
    json_object_object_add(done, "status", json_object_new_string("COMPLETE"));
    json_object_object_add(done, "duration_ms", json_object_new_int64((int64_t)llround(duration_s * 1000)));
    json_object_object_add(done, "width_px", json_object_new_int((int)lround((double)w * heights[0] / h / 2) * 2));
    json_object_object_add(done, "height_px", json_object_new_int(heights[0]));
    json_object_object_add(done, "output_path", json_object_new_string(url));
    json_object_object_add(done, "playlists", pls);
    json_object_object_add(done, "variations", vars);
    return done;
}

/* Encodes the inputs (played one after another) of ctx's job. */
static void encode_inputs(encode *e, const rec_files *in, task_result *res)
{
    task_ctx *ctx = e->ctx;
    const config *cfg = ctx->cfg;
    char final_dir[PATH_MAX], tmp_dir[PATH_MAX], list[PATH_MAX + 32], url[PATH_MAX + 16];
    int w = 0, h = 0, heights[8];
    bool audio = false;
    const char *demuxer = NULL;
    e->duration_s = 0;
    if (in->n == 0) {
        task_fail(res, TASK_FAILED, 1, "nothing to encode");
        return;
    }
    for (size_t i = 0; i < in->n; i++) {
        probe_info pi;
        const char *dm = NULL;
        int rc = probe(e, &in->v[i], &pi, &dm, res);
        if (rc < 0) {
            res->outcome = TASK_HANDBACK;
            return;
        }
        if (rc > 0)
            return;
        if (i == 0) { /* the first input decides the streams, as concat does */
            w = pi.width;
            h = pi.height;
            audio = pi.audio;
            demuxer = dm;
        }
        e->duration_s += pi.duration;
    }
    int n = ffmpeg_ladder(cfg->renditions, h, heights);

    snprintf(final_dir, sizeof final_dir, "%s/%s", cfg->media_dir, ctx->job_id);
    /* Each attempt writes its own directory: a worker that lost its lease
     * may still be writing an older one. */
    snprintf(tmp_dir, sizeof tmp_dir, "%s/.%s.%d.tmp", cfg->media_dir, ctx->job_id, ctx->attempt);
    snprintf(list, sizeof list, "%s/inputs.ffconcat", tmp_dir);
    remove_attempts(cfg->media_dir, ctx->job_id, ctx->attempt); /* what killed attempts left */
    mkdir(cfg->media_dir, 0755);
    if (mkdir(tmp_dir, 0755) != 0) {
        log_error("task %lld: cannot create %s: %s", ctx->id, tmp_dir, strerror(errno));
        task_fail(res, TASK_RETRY, 3, "cannot create the output directory");
        return;
    }
    encode_plan plan = {.heights = heights, .n = n, .audio = audio, .out_dir = tmp_dir, .threads = 2};
    if (in->n > 1) {
        if (write_concat(list, in) != 0) {
            log_error("task %lld: cannot write %s: %s", ctx->id, list, strerror(errno));
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
    proc_result r;
    int st = proc_run(b.argv, &o, &r);
    char why[256];
    ffmpeg_reason(r.last_err, why, sizeof why);
    if (st != 0)
        log_warn("task %lld: ffmpeg status %d: %s", ctx->id, st, r.last_err);
    proc_result_free(&r);
    if (st == PROC_CANCELED) {
        res->outcome = TASK_HANDBACK;
        goto fail;
    }
    if (st == PROC_TIMEOUT) {
        task_fail(res, TASK_FAILED, 4, "the encode ran past its %ld s limit", cfg->encode_timeout);
        goto fail;
    }
    if (st == PROC_STALLED) {
        task_fail(res, TASK_FAILED, 7, "the encode made no progress for %ld s", cfg->encode_stall);
        goto fail;
    }
    if (st != 0) {
        task_fail(res, TASK_RETRY, 3, "ffmpeg failed: %s", why[0] ? why : "exit status");
        goto fail;
    }
    unlink(list);
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
    res->outcome = TASK_DONE;
    res->job_event = complete_event(cfg, ctx->job_id, final_dir, heights, n, w, h, audio, e->duration_s);
    return;
fail:
    rmtree(tmp_dir);
}

void kind_local_encode_dead(const config *cfg, const char *job_id)
{
    const task_kind *k = task_kind_find("local.encode");
    if (job_id && !strchr(job_id, '/') && job_id[0] != '.')
        remove_attempts(cfg->media_dir, job_id, k ? k->max_attempts : 3);
}

void kind_local_encode(task_ctx *ctx, task_result *res)
{
    json_object *jin = NULL, *jsid = NULL, *jseg = NULL;
    json_object *p = ctx->payload;
    rec_files inputs = {0};
    char seglist[PATH_MAX] = "", msg[300] = "";
    encode e = {.ctx = ctx};
    bool is_stream = p && json_object_object_get_ex(p, "stream_id", &jsid) &&
                     json_object_is_type(jsid, json_type_string);
    if (!ctx->job_id || strlen(ctx->job_id) > 200 || strchr(ctx->job_id, '/') ||
        ctx->job_id[0] == '.' ||
        (!is_stream && !(json_object_object_get_ex(p, "input", &jin) &&
                         json_object_is_type(jin, json_type_string)))) {
        task_fail(res, TASK_FAILED, 1, "malformed task payload");
        goto out;
    }
    if (is_stream) {
        json_object_object_get_ex(p, "segments", &jseg);
        int code = stream_inputs(ctx->cfg, json_object_get_string(jsid),
                                 jseg && json_object_get_boolean(jseg), &inputs, seglist,
                                 sizeof seglist, msg, sizeof msg);
        if (code) {
            task_fail(res, code == 3 ? TASK_RETRY : TASK_FAILED, code, "%s", msg);
            goto out;
        }
    } else if (files_add(&inputs, json_object_get_string(jin), NULL, 0)) {
        task_fail(res, TASK_RETRY, 3, "out of memory");
        goto out;
    }
    encode_inputs(&e, &inputs, res);
out:
    if (seglist[0])
        unlink(seglist);
    files_free(&inputs);
}
