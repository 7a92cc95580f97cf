/* The upload.fetch kind (handlers/upload_url.c, sql/033_upload_url.sql):
 * an upload by URL's file, fetched through the one outbound client (a
 * customer's URL: its address checked after DNS, no redirect followed)
 * into the same storage as a PUT's, then the slot spent, stored and its
 * encode queued in one transaction, as for a PUT.
 *
 * The bytes go to a part file (local: MEDIAGATE_UPLOADS_DIR/<id>/.<name>.part;
 * s3: a spool directory under TMPDIR), kept between attempts with the
 * file's validator (a strong ETag, else Last-Modified). A connection that
 * drops resumes with Range: bytes=N- and If-Range: <validator>: a 206 whose
 * Content-Range starts at N is appended; a 200 (the server ignores Range,
 * or the file changed) starts over. Without a validator nothing is
 * stitched: every try starts over.
 *
 * Failures that a retry cannot mend fail the job at once with a clear
 * error_message: a redirect, a file over the slot's max_bytes, an HTTP
 * error status, an address refused, a host name that does not resolve,
 * a file ffprobe finds no video or audio stream in. No answer, 408, 429
 * and 5xx are retried with the kind's backoff, then fail the job; so is a
 * server slower than MEDIAGATE_FETCH_MIN_RATE on average over a window,
 * or an attempt past MEDIAGATE_FETCH_TIMEOUT (both measured here). The
 * URL's query (a presigned URL's signature) is never logged or shown. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "hash.h"
#include "http_client.h"
#include "json.h"
#include "log.h"
#include "proc.h"
#include "response.h"
#include "storage/storage.h"
#include "worker/ffmpeg.h"
#include "worker/kinds.h"
#include "worker/wsql.h"

#define FETCH_CONNECT_MS 10000
#define FETCH_STALL_S 30     /* no byte for this long: the connection is dropped */
#define FETCH_TRIES 20       /* requests in one attempt, while each brings bytes */
#define FETCH_ERR_BODY 65536 /* an error answer's body kept (not shown) */
#define PROBE_OUT_CAP (4u << 20)

/* One fetch in progress. */
typedef struct fetch {
    task_ctx *ctx;
    const char *id;      /* the upload's */
    int fd;              /* the part file */
    long long have;      /* bytes of the file in the part file */
    long long max;       /* the slot's max_bytes: the whole file's cap, across resumptions */
    long long total;     /* the file's length as a 206 says, -1 unknown */
    char validator[256]; /* what If-Range sends: a strong ETag or Last-Modified; "" none */
    char dir[PATH_MAX], part[PATH_MAX + 160], vfile[PATH_MAX + 160], final[PATH_MAX + 160];
    char ctype[128]; /* the last 2xx answer's media type, "" none */
    bool s3;
    bool restart;   /* begin refused a 206 that does not continue the part */
    bool too_large; /* begin saw a Content-Range end or total past max */
    bool too_slow;  /* progress saw fewer than min_rate bytes/s over a window */
    double win_t;   /* the rate window's start (proc_now) */
    long long win_bytes; /* bytes received in this attempt when it started */
    long long bytes;     /* bytes received by this attempt's earlier requests */
    long long received;  /* by the request in progress */
    http_sink *sink; /* the request's: begin sets its cap to what the file may still take */
} fetch;

/* Reads the kept validator of the part (none: ""). */
static void read_validator(fetch *f)
{
    f->validator[0] = '\0';
    FILE *v = fopen(f->vfile, "re");
    if (!v)
        return;
    if (!fgets(f->validator, sizeof f->validator, v))
        f->validator[0] = '\0';
    f->validator[strcspn(f->validator, "\r\n")] = '\0';
    fclose(v);
}

/* Keeps the validator of the answer just begun (a strong ETag, else
 * Last-Modified; none: the file is removed, and no Range will be sent). */
static void keep_validator(fetch *f)
{
    char etag[256] = "", lm[128] = "";
    bool strong = http_client_header(f->ctx->http, "ETag", etag, sizeof etag) == 0 &&
                  etag[0] == '"';
    bool dated = http_client_header(f->ctx->http, "Last-Modified", lm, sizeof lm) == 0 && lm[0];
    snprintf(f->validator, sizeof f->validator, "%s", strong ? etag : dated ? lm : "");
    for (char *c = f->validator; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            f->validator[0] = '\0'; /* never a header split */
    if (!f->validator[0]) {
        unlink(f->vfile);
        return;
    }
    FILE *v = fopen(f->vfile, "we");
    bool ok = v && fprintf(v, "%s\n", f->validator) > 0;
    if (v && fclose(v) != 0)
        ok = false;
    if (!ok) /* then a later attempt starts over */
        unlink(f->vfile);
}

/* Empties the part: the next request asks for the whole file. */
static void start_over(fetch *f)
{
    f->have = 0;
    f->validator[0] = '\0';
    unlink(f->vfile);
    if (ftruncate(f->fd, 0) != 0)
        log_warn("upload %s: truncate: %s", f->id, strerror(errno));
}

/* True when a 416 to our Range says the part is the whole file already
 * (Content-Range: bytes * / its length). */
static bool whole_already(fetch *f)
{
    char cr[128], *end;
    if (http_client_header(f->ctx->http, "Content-Range", cr, sizeof cr) != 0 ||
        strncasecmp(cr, "bytes */", 8) != 0)
        return false;
    long long t = strtoll(cr + 8, &end, 10);
    return end != cr + 8 && !*end && t == f->have;
}

/* Parses "bytes A-B/T" (T may be "*": -1). Returns 0, -1 when malformed. */
static int content_range(const char *s, long long *a, long long *b, long long *t)
{
    char *end;
    if (strncasecmp(s, "bytes ", 6) != 0)
        return -1;
    s += 6;
    errno = 0;
    *a = strtoll(s, &end, 10);
    if (end == s || *end != '-' || *a < 0)
        return -1;
    s = end + 1;
    *b = strtoll(s, &end, 10);
    if (end == s || *end != '/' || *b < *a)
        return -1;
    s = end + 1;
    if (strcmp(s, "*") == 0) {
        *t = -1;
        return errno ? -1 : 0;
    }
    *t = strtoll(s, &end, 10);
    return errno || end == s || *end || *t <= *b ? -1 : 0;
}

/* The sink's begin: a 206 must continue the part exactly (else restart)
 * and may bring max - have bytes at most (a range that ends or a total past
 * max is refused before a byte is read); anything else is the whole file
 * from its first byte, max bytes at most. */
static bool on_begin(void *arg, long status)
{
    fetch *f = arg;
    char cr[128], etag[256];
    if (status == 206) {
        long long a, b, t;
        if (http_client_header(f->ctx->http, "Content-Range", cr, sizeof cr) != 0 ||
            content_range(cr, &a, &b, &t) != 0 || a != f->have ||
            /* If-Range says the file is the same; an ETag that differs says not */
            (http_client_header(f->ctx->http, "ETag", etag, sizeof etag) == 0 && etag[0] == '"' &&
             strcmp(etag, f->validator) != 0)) {
            f->restart = true;
            return false;
        }
        if (t > f->max || b >= f->max) {
            f->total = t;
            f->too_large = true;
            return false;
        }
        f->total = t;
        f->sink->cap = f->max - f->have;
        return lseek(f->fd, (off_t)f->have, SEEK_SET) >= 0;
    }
    if (f->have > 0)
        log_info("upload %s: the server sent the whole file again (%ld); starting over", f->id,
                 status);
    f->have = 0;
    f->total = -1;
    f->sink->cap = f->max;
    if (ftruncate(f->fd, 0) != 0 || lseek(f->fd, 0, SEEK_SET) < 0)
        return false;
    keep_validator(f);
    return true;
}

/* Whether the attempt's bytes over the window just ended average at least
 * MEDIAGATE_FETCH_MIN_RATE per second (each window checked once, then the
 * next begins). */
static bool fast_enough(fetch *f, double now)
{
    const config *cfg = f->ctx->cfg;
    long long total = f->bytes + f->received;
    if (cfg->fetch_min_rate <= 0 || now - f->win_t < (double)cfg->fetch_rate_window)
        return true;
    if (total - f->win_bytes < cfg->fetch_min_rate * cfg->fetch_rate_window)
        return false;
    f->win_t = now;
    f->win_bytes = total;
    return true;
}

/* The client's progress callback: keeps the lease, ends a transfer that
 * is too slow; false stops. */
static bool on_progress(void *arg, long long sent, long long received)
{
    fetch *f = arg;
    double now = proc_now();
    (void)sent;
    f->received = received;
    if (!fast_enough(f, now)) {
        f->too_slow = true;
        return false;
    }
    return !atomic_load(f->ctx->cancel) && f->ctx->beat(f->ctx, -1) && now < f->ctx->deadline;
}

/* The media type of the last answer, without parameters, printable, into
 * f->ctype ("" when none). */
static void keep_ctype(fetch *f)
{
    char t[256];
    f->ctype[0] = '\0';
    if (http_client_header(f->ctx->http, "Content-Type", t, sizeof t) != 0)
        return;
    t[strcspn(t, "; \t")] = '\0';
    if (t[0] && strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                          "!#$&^_.+-/") == strlen(t))
        snprintf(f->ctype, sizeof f->ctype, "%.127s", t);
}

/* The Location of a redirect (resolved against url) without its user,
 * password, query and fragment, into out; "another address" when it
 * cannot be read. */
static void redirect_target(fetch *f, const char *url, char *out, size_t cap)
{
    char loc[2100], *shown = NULL;
    CURLU *u = curl_url();
    snprintf(out, cap, "another address");
    if (u && http_client_header(f->ctx->http, "Location", loc, sizeof loc) == 0 &&
        curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, loc, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &shown, 0) == CURLUE_OK)
        snprintf(out, cap, "%.1000s", shown);
    curl_free(shown);
    curl_url_cleanup(u);
}

/* Brings the whole file into the part. Returns 0 when it is all there,
 * else sets res (retry, failure or handback) and returns -1. */
static int transfer(fetch *f, const char *url, task_result *res)
{
    char range[64], ifrange[300], *body = malloc(FETCH_ERR_BODY);
    const char *hdrs[2];
    int ret = -1, restarts = 0;
    http_response resp = {.body = body, .body_cap = FETCH_ERR_BODY};
    if (!body) {
        task_fail(res, TASK_RETRY, 3, "out of memory");
        return -1;
    }
    f->win_t = proc_now();
    f->win_bytes = f->bytes = 0;
    for (int tries = 0;; tries++) {
        size_t n = 0;
        if (tries >= FETCH_TRIES) {
            task_fail(res, TASK_RETRY, 3, "the URL's server kept dropping the connection");
            goto out;
        }
        if (f->have > 0 && f->validator[0]) {
            snprintf(range, sizeof range, "Range: bytes=%lld-", f->have);
            snprintf(ifrange, sizeof ifrange, "If-Range: %s", f->validator);
            hdrs[n++] = range;
            hdrs[n++] = ifrange;
        }
        f->restart = f->too_large = false;
        /* cap: max for curl's Content-Length check; begin lowers it for a 206 */
        http_sink sink = {.fd = f->fd, .cap = f->max, .begin = on_begin, .begin_arg = f};
        f->sink = &sink;
        double left = f->ctx->deadline - proc_now();
        http_request req = {.method = "GET",
                            .url = url,
                            .headers = hdrs,
                            .nheaders = n,
                            .connect_timeout_ms = FETCH_CONNECT_MS,
                            .timeout_ms = left > 1 ? (long)(left * 1000) : 1000,
                            .customer = true};
        http_stream io = {
            .sink = &sink, .stall_s = FETCH_STALL_S, .progress = on_progress, .progress_arg = f};
        if (f->have > 0 && !f->validator[0])
            start_over(f); /* nothing to check a resumption against */
        if (f->have > 0 && n > 0)
            log_info("upload %s: resuming at byte %lld", f->id, f->have);
        f->received = 0;
        http_outcome oc = http_client_stream(f->ctx->http, &req, &io, &resp);
        bool ok2xx = resp.status >= 200 && resp.status < 300;
        long long got = sink.written;
        f->bytes += f->received;
        f->received = 0;
        if (ok2xx)
            f->have += got; /* on_begin set have to 0 for a whole file */
        /* (curl's own timeout, set to the time left, may fire just before) */
        if (atomic_load(f->ctx->cancel) || proc_now() > f->ctx->deadline - 1) {
            res->outcome = TASK_HANDBACK;
            if (!atomic_load(f->ctx->cancel))
                task_fail(res, TASK_RETRY, 7,
                          "the URL's server did not send the whole file within %ld s",
                          f->ctx->cfg->fetch_timeout);
            goto out;
        }
        if (f->too_slow) {
            task_fail(res, TASK_RETRY, 7,
                      "the URL's server sends too slowly (under %ld bytes/s over %ld s)",
                      f->ctx->cfg->fetch_min_rate, f->ctx->cfg->fetch_rate_window);
            goto out;
        }
        if (resp.status == 416 && f->have > 0 && n > 0) {
            if (whole_already(f)) {
                ret = 0;
                goto out;
            }
            f->restart = true;
        }
        if (f->restart) {
            if (++restarts > 2) {
                task_fail(res, TASK_RETRY, 3,
                          "the URL's server answers ranges that do not "
                          "continue the file");
                goto out;
            }
            start_over(f);
            continue;
        }
        if (f->too_large || (oc == HTTP_TOO_LARGE && (ok2xx || resp.status == 0))) {
            task_fail(res, TASK_FAILED, 7,
                      "the file is larger than the upload's max_bytes "
                      "(%lld bytes)",
                      f->max);
            goto out;
        }
        if (oc == HTTP_REFUSED_ADDRESS) {
            task_fail(res, TASK_FAILED, 7,
                      "the URL's host has no public address (%s): "
                      "mediagate fetches from public addresses only",
                      resp.err);
            goto out;
        }
        if (oc == HTTP_BAD_REQUEST) {
            if (strcmp(resp.err, "local file I/O failed") == 0) {
                task_fail(res, TASK_SNOOZE, 3, "the fetched file could not be written here");
                goto out;
            }
            task_fail(res, TASK_FAILED, 7, "the URL cannot be fetched: %s", resp.err);
            goto out;
        }
        if (oc == HTTP_NO_ANSWER) {
            if (strcmp(resp.err, curl_easy_strerror(CURLE_COULDNT_RESOLVE_HOST)) == 0) {
                task_fail(res, TASK_FAILED, 7, "the URL's host name does not resolve");
                goto out;
            }
            if (ok2xx && got > 0)
                continue; /* a dropped connection that brought bytes: resume */
            task_fail(res, TASK_RETRY, 7, "the URL's server did not answer: %s", resp.err);
            goto out;
        }
        /* answered (or a non-2xx answer whose body was too long to keep) */
        if (resp.status >= 300 && resp.status < 400) {
            char to[1100];
            redirect_target(f, url, to, sizeof to);
            task_fail(res, TASK_FAILED, 7,
                      "the URL redirected (HTTP %ld) to %s; give the final "
                      "URL",
                      resp.status, to);
            goto out;
        }
        if (!ok2xx) {
            bool transient = resp.status >= 500 || resp.status == 408 || resp.status == 429;
            task_fail(res, transient ? TASK_RETRY : TASK_FAILED, 7, "the URL answered HTTP %ld %s",
                      resp.status, http_reason((int)resp.status));
            if (transient && resp.retry_after > 0)
                res->retry_after = (double)resp.retry_after;
            goto out;
        }
        keep_ctype(f);
        if (resp.status == 206 && f->total >= 0 && f->have < f->total)
            continue; /* a shorter range than asked: ask for the rest */
        if (got == 0 && resp.status != 206 && ftruncate(f->fd, 0) == 0)
            f->have = 0; /* an empty whole file (on_begin never ran) */
        ret = 0;
        goto out;
    }
out:
    free(body);
    return ret;
}

/* proc_run's tick while ffprobe runs: keeps the lease; non-zero stops. */
static int probe_tick(void *arg)
{
    task_ctx *ctx = arg;
    return atomic_load(ctx->cancel) || !ctx->beat(ctx, -1);
}

/* Whether ffprobe finds a video or audio stream in the part. Returns 0,
 * else sets res and returns -1. */
static int probe(fetch *f, task_result *res)
{
    char url[sizeof f->part + 8], msg[300];
    argv_buf b;
    proc_result r = {0};
    probe_info pi = {0};
    int ret = -1;
    snprintf(url, sizeof url, "file:%s", f->part);
    if (ffmpeg_probe_argv(&b, url, "file", ffmpeg_upload_formats, NULL) < 0) {
        task_fail(res, TASK_FAILED, 1, "cannot read the fetched file: its name is too long");
        return -1;
    }
    proc_opts o = {.timeout_s = 60,
                   .out_cap = PROBE_OUT_CAP,
                   .as_bytes = (long long)f->ctx->cfg->encode_memory_mb << 20,
                   .cpu_s = f->ctx->cfg->encode_cpu_seconds,
                   .on_tick = probe_tick,
                   .arg = f->ctx};
    int st = proc_run(b.argv, &o, &r);
    if (st == PROC_CANCELED) {
        res->outcome = TASK_HANDBACK;
        goto out;
    }
    if (st == PROC_NOSTART || st == 127) {
        task_fail(res, TASK_RETRY, 3, "cannot run ffprobe");
        goto out;
    }
    if (st == 0 && (ffmpeg_parse_probe(r.out ? r.out : "", r.out_len, &pi, msg, sizeof msg) == 0 ||
                    pi.audio)) {
        ret = 0;
        goto out;
    }
    if (f->ctype[0])
        task_fail(res, TASK_FAILED, 2, "not a video: %s", f->ctype);
    else
        task_fail(res, TASK_FAILED, 2, "not a video: no video or audio stream in it");
out:
    proc_result_free(&r);
    return ret;
}

/* Puts the part where the encode reads it: local, renamed into place
 * (synced first); s3, written to the bucket at key, *meta its object.
 * Returns 0, else sets res and returns -1. */
static int place(fetch *f, const char *key, store_object *meta, task_result *res)
{
    if (fdatasync(f->fd) != 0) {
        task_fail(res, TASK_SNOOZE, 3, "the fetched file could not be written here");
        log_warn("upload %s: sync: %s", f->id, strerror(errno));
        return -1;
    }
    if (!f->s3) {
        if (rename(f->part, f->final) != 0) {
            task_fail(res, TASK_RETRY, 3, "the fetched file could not be put in place");
            log_warn("upload %s: rename: %s", f->id, strerror(errno));
            return -1;
        }
        int d = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d >= 0) {
            fsync(d);
            close(d);
        }
        return 0;
    }
    int ret = -1;
    store *s = store_open(f->ctx->cfg);
    store_put_opts o = {.content_type = f->ctype[0] ? f->ctype : NULL};
    store_status st = s ? store_put_file(s, key, f->part, &o, meta) : STORE_RETRY;
    if (st == STORE_OK)
        ret = 0;
    else {
        log_warn("upload %s: the store: %s", f->id, s ? store_err(s) : "out of memory");
        task_fail(res, TASK_RETRY, 3, "the fetched file could not be written to the store");
    }
    store_close(s);
    return ret;
}

/* Removes the part, its validator and (when empty) its directory. */
static void discard(fetch *f)
{
    unlink(f->part);
    unlink(f->vfile);
    rmdir(f->dir);
}

/* The part's paths for upload id's file name (local: in the upload's own
 * directory, hidden from the upload watcher; s3: a spool directory). */
static int paths(fetch *f, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    int n;
    if (f->s3)
        n = snprintf(f->dir, sizeof f->dir, "%s/mediagate-fetch-%s", tmp && *tmp ? tmp : "/tmp",
                     f->id);
    else
        n = snprintf(f->dir, sizeof f->dir, "%s/%s", f->ctx->cfg->uploads_dir, f->id);
    if (n < 0 || (size_t)n >= sizeof f->dir || strlen(name) > 140)
        return -1;
    snprintf(f->part, sizeof f->part, "%s/.%.140s.part", f->dir, name);
    snprintf(f->vfile, sizeof f->vfile, "%s/.%.140s.validator", f->dir, name);
    snprintf(f->final, sizeof f->final, "%s/%.140s", f->dir, name);
    return 0;
}

/* True when the upload's job ended meanwhile (canceled by an operator):
 * what was fetched is not stored. A database that does not answer: false. */
static bool job_over(task_ctx *ctx, const char *id)
{
    PGresult *r = NULL;
    const char *v[] = {id};
    bool over = db_exec(ctx->db, W_FETCH_UPLOAD, 1, v, &r) == 0 && PQntuples(r) == 1 &&
                (strcmp(PQgetvalue(r, 0, 3), "CANCELED") == 0 ||
                 strcmp(PQgetvalue(r, 0, 3), "ERROR") == 0);
    PQclear(r);
    return over;
}

long kind_upload_fetch_timeout(const config *cfg)
{
    return cfg->fetch_timeout;
}

/* Whether the part stays for a later attempt after res's outcome: not
 * after the last attempt, a failure, or a handback whose job ended
 * (mediagate jobs cancel took the task), nor when it holds nothing. */
static bool keep_part(task_ctx *ctx, const fetch *f, const task_result *res)
{
    const task_kind *k = task_kind_find(ctx->kind);
    bool later = res->outcome == TASK_HANDBACK || res->outcome == TASK_SNOOZE ||
                 (res->outcome == TASK_RETRY && k && ctx->attempt < k->max_attempts);
    return f->have > 0 && later && !(res->outcome == TASK_HANDBACK && job_over(ctx, f->id));
}

void kind_upload_fetch(task_ctx *ctx, task_result *res)
{
    const char *id, *url;
    PGresult *r = NULL, *done = NULL;
    fetch f = {.ctx = ctx, .fd = -1, .total = -1, .s3 = store_is_s3(ctx->cfg)};
    store_object meta = {0};
    char key[300], size[24], tok[16], task[24];
    bool keep = false;    /* the part stays for the next attempt */
    bool refused = false; /* the slot refused the file in place: removed too */
    if (jstr(ctx->payload, "upload_id", &id) <= 0 || jstr(ctx->payload, "url", &url) <= 0 ||
        !uuid_valid(id, strlen(id))) {
        task_fail(res, TASK_FAILED, 1, "malformed task payload");
        return;
    }
    f.id = id;
    const char *v[] = {id};
    if (db_exec(ctx->db, W_FETCH_UPLOAD, 1, v, &r) != 0) {
        res->outcome = TASK_RETRY;
        snprintf(res->message, sizeof res->message, "the database is unavailable");
        goto out;
    }
    if (PQntuples(r) != 1) {
        task_fail(res, TASK_FAILED, 1, "the upload is gone");
        goto out;
    }
    const char *name = PQgetvalue(r, 0, 0), *status = PQgetvalue(r, 0, 3);
    f.max = atoll(PQgetvalue(r, 0, 1));
    if (paths(&f, name) != 0) {
        task_fail(res, TASK_FAILED, 1, "the upload's file name is too long");
        goto out;
    }
    if (strcmp(PQgetvalue(r, 0, 2), "t") == 0 || strcmp(status, "CANCELED") == 0 ||
        strcmp(status, "ERROR") == 0) {
        /* Stored by an attempt whose finish was lost, or the job ended. */
        if (strcmp(PQgetvalue(r, 0, 2), "t") != 0)
            discard(&f);
        res->outcome = TASK_DONE;
        goto out;
    }
    snprintf(key, sizeof key, "uploads/%s/%s", id, name);
    struct stat st;
    if (!f.s3 && stat(f.final, &st) == 0 && S_ISREG(st.st_mode) && access(f.part, F_OK) != 0) {
        /* In place by an attempt that stopped before it was recorded. */
        f.have = st.st_size;
        goto record;
    }
    if (mkdir(f.dir, 0750) != 0 && errno != EEXIST) {
        log_warn("upload %s: mkdir: %s", id, strerror(errno));
        task_fail(res, TASK_SNOOZE, 3, "the fetched file could not be written here");
        goto out;
    }
    f.fd = open(f.part, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (f.fd < 0 || fstat(f.fd, &st) != 0) {
        log_warn("upload %s: open the part: %s", id, strerror(errno));
        task_fail(res, TASK_SNOOZE, 3, "the fetched file could not be written here");
        goto out;
    }
    f.have = st.st_size;
    read_validator(&f);
    if (f.have > f.max)
        start_over(&f); /* more than the slot takes (max_bytes changed meanwhile) */
    keep = true;
    if (transfer(&f, url, res) != 0) {
        keep = keep_part(ctx, &f, res);
        goto out;
    }
    log_info("upload %s: %lld bytes fetched", id, f.have);
    if (job_over(ctx, id)) {
        log_info("upload %s: its job ended meanwhile; the file is not kept", id);
        res->outcome = TASK_DONE;
        keep = false;
        goto out;
    }
    if (probe(&f, res) != 0 || place(&f, key, &meta, res) != 0) {
        keep = keep_part(ctx, &f, res);
        goto out;
    }
record:
    keep = true;
    snprintf(size, sizeof size, "%lld", f.have);
    snprintf(tok, sizeof tok, "%d", ctx->attempt);
    snprintf(task, sizeof task, "%lld", ctx->id);
    const char *sv[] = {
        task, tok, id, size, f.s3 ? "s3" : "local", f.s3 ? key : f.final, f.s3 ? meta.etag : NULL};
    if (db_exec(ctx->db, W_FETCH_STORED, 7, sv, &done) != 0) {
        res->outcome = TASK_RETRY;
        snprintf(res->message, sizeof res->message, "the database is unavailable");
        goto out;
    }
    if (!PQgetisnull(done, 0, 1)) {
        /* The slot does not take this file: no later attempt would do better. */
        task_fail(res, TASK_FAILED, 7, "%s", PQgetvalue(done, 0, 1));
        log_warn("upload %s: %lld bytes fetched, refused: %s", id, f.have, PQgetvalue(done, 0, 1));
        keep = false;
        refused = true;
        goto out;
    }
    if (PQgetisnull(done, 0, 0)) {
        /* The lease is lost (its result is dropped): never a handback that
         * is claimed again at once without progress. */
        task_fail(res, TASK_RETRY, 3, "the fetch lost its lease before the file was recorded");
        goto out;
    }
    log_info("upload %s: %lld bytes stored, encode queued for job %s", id, f.have,
             PQgetvalue(done, 0, 0));
    keep = false;
    res->outcome = TASK_DONE;
out:
    if (f.fd >= 0)
        close(f.fd);
    if (!keep && f.dir[0]) {
        unlink(f.vfile);
        unlink(f.part);
        if (f.s3 || refused)
            unlink(f.final);
        rmdir(f.dir); /* when empty: a stored file stays */
    }
    PQclear(done);
    PQclear(r);
}
