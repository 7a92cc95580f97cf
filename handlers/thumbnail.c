/* GET /media/thumbnail?job_id=&time=&width=: a JPEG of a COMPLETE job at a
 * time and width (bounded), made once by a thumbnail.make task, never by
 * the request thread, then answered from the job's outputs.
 *
 * time is seconds (up to 3 decimals), before the end of the video, taken
 * at the step below it: a whole second, or more on a long video, so that
 * every time and width of the job fits in MEDIAGATE_THUMBNAILS_MAX (no
 * caller can use the cap up); width is one of `widths` not above the job's
 * top rendition. The first request of a thumbnail queues its task
 * (sql/functions/mediagate_thumbnail_request.sql; while fewer than
 * MEDIAGATE_THUMBNAILS_QUEUED_MAX of all jobs wait, else 503) and waits
 * up to MEDIAGATE_THUMBNAIL_WAIT_MS for it, in one of a quarter of the
 * request threads at most; not made by then: 503 + Retry-After. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "caller.h"
#include "config.h"
#include "db.h"
#include "handlers.h"
#include "log.h"
#include "storage/storage.h"

#define THUMB_CAP (4u << 20)  /* a stored thumbnail larger than this is not one of ours */
#define BROWSER_MAX_AGE 86400 /* a thumbnail, once made, never changes */
#define TIME_DIGITS 6         /* seconds: at most 999999 */

/* The widths a thumbnail may have (JW Player's thumbnail sizes). */
static const int widths[] = {120, 320, 480, 640, 720, 1280, 1920};
#define WIDTHS_TEXT "120, 320, 480, 640, 720, 1280 or 1920"

enum { C_STATUS = 0, C_DURATION = 2, C_WIDTH = 3, C_ACL = 10, C_BACKEND = 11, C_STORAGE = 13,
       C_OWNER = 19 };

/* Requests waiting for a thumbnail now. */
static atomic_long waiting;

/* time (seconds, 1 to TIME_DIGITS digits and up to 3 decimals) at the whole
 * second below it, in milliseconds; -1 for anything else. */
static long long parse_time(const char *s)
{
    static const char digits[] = "0123456789";
    size_t n = strspn(s, digits);
    if (n == 0 || n > TIME_DIGITS)
        return -1;
    if (s[n] == '.') {
        size_t f = strspn(s + n + 1, digits);
        if (f == 0 || f > 3 || s[n + 1 + f])
            return -1;
    } else if (s[n]) {
        return -1;
    }
    return strtoll(s, NULL, 10) * 1000;
}

/* The step (ms, whole seconds) the time of a thumbnail of a video of
 * duration ms whose top rendition is top px wide is taken at: one second,
 * or more when the job's times at one second in every width it may have
 * would be more than cap thumbnails. */
static long long time_step(long long duration, long top, long cap)
{
    long n = 0;
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++)
        n += widths[i] <= top;
    long per_width = n > 0 && cap / n > 1 ? cap / n : 1;
    long long step = (duration + per_width * 1000LL - 1) / (per_width * 1000LL) * 1000;
    return step > 1000 ? step : 1000;
}

/* width when it is one of `widths`, else -1. */
static int parse_width(const char *s)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 4 || s[n])
        return -1;
    int w = atoi(s);
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++)
        if (widths[i] == w)
            return w;
    return -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The thumbnail's row as it stands (queued first when new): 0 with *res
 * (one row: t_status, t_file, t_error, t_queued), or the status replied. */
static int request_row(request *r, const char *job, long long time_ms, int width, PGresult **res)
{
    char t[24], w[16], cap[24];
    snprintf(t, sizeof t, "%lld", time_ms);
    snprintf(w, sizeof w, "%d", width);
    char queued[24], retry[24];
    snprintf(cap, sizeof cap, "%ld", r->cfg->thumbnails_max);
    snprintf(queued, sizeof queued, "%ld", r->cfg->thumbnails_queued_max);
    snprintf(retry, sizeof retry, "%ld", r->cfg->thumbnail_retry_after);
    const char *vals[] = {job, t, w, cap, queued, retry};
    int ret = db_exec(r->db, STMT_THUMBNAIL, 6, vals, res);
    if (ret == 0 && PQntuples(*res) != 1) {
        PQclear(*res);
        *res = NULL;
        return reply_error(r, 500, "Internal Server Error");
    }
    return ret ? reply_db_error(r, ret) : 0;
}

/* Waits (at most MEDIAGATE_THUMBNAIL_WAIT_MS, in a place of a quarter of
 * the request threads) while the row in *res is queued, reading it again
 * between naps. Returns 0 with *res the last reading, or the status
 * replied (503: no place, or the database is down). */
static int wait_made(request *r, const char *job, long long time_ms, int width, PGresult **res)
{
    const long cap = r->cfg->threads / 4 > 1 ? r->cfg->threads / 4 : 1;
    if (strcmp(PQgetvalue(*res, 0, 0), "queued") != 0)
        return 0;
    if (atomic_fetch_add(&waiting, 1) >= cap) {
        atomic_fetch_sub(&waiting, 1);
        return reply_error(r, 503, "Thumbnails are being made for other requests: retry shortly.");
    }
    int ret = 0;
    double until = now_s() + (double)r->cfg->thumbnail_wait_ms / 1000, nap = 0.05;
    while (strcmp(PQgetvalue(*res, 0, 0), "queued") == 0 && now_s() < until) {
        usleep((useconds_t)(nap * 1e6));
        nap = nap * 2 > 0.25 ? 0.25 : nap * 2;
        PQclear(*res);
        *res = NULL;
        if ((ret = request_row(r, job, time_ms, width, res)) != 0)
            break;
    }
    atomic_fetch_sub(&waiting, 1);
    return ret;
}

/* Answers the made thumbnail of job at key with its ETag; Cache-Control
 * public (browsers a day, shared caches MEDIAGATE_CACHE_MAX_AGE, so that a
 * change of the job's ACL reaches them in that bound) for a job without an
 * ACL, private for one with (acl, also covered by the ETag). */
static int answer_jpeg(request *r, const char *key, const char *acl)
{
    int ret;
    char *buf = NULL;
    size_t len = 0;
    store *s = store_open(r->cfg);
    if (!s)
        return reply_error(r, 500, "Internal Server Error");
    store_status st = store_get_mem(s, key, THUMB_CAP, &buf, &len);
    if (st != STORE_OK) {
        log_warn("thumbnail %.200s: %s: %s", key, store_status_name(st), store_err(s));
        if (st == STORE_NOT_FOUND)
            ret = reply_error(r, 422,
                              "The thumbnail was made, but the job's outputs no longer "
                              "hold it.");
        else if (st == STORE_RETRY)
            ret = reply_error(r, 503, "The store is unavailable; retry later.");
        else
            ret = reply_error(r, 502, "The store did not give the thumbnail.");
        goto out;
    }
    char *body = arena_alloc(r->a, len + 1), *cc = arena_alloc(r->a, 96);
    if (!body || !cc) {
        ret = reply_error(r, 500, "Internal Server Error");
        goto out;
    }
    memcpy(body, buf, len);
    r->raw_body = body;
    r->raw_len = len;
    r->raw_type = "image/jpeg";
    r->etag = true;
    if (acl) {
        snprintf(cc, 96, "private, max-age=%d", BROWSER_MAX_AGE);
        r->etag_extra = arena_strdup(r->a, acl);
    } else {
        snprintf(cc, 96, "public, max-age=%d, s-maxage=%ld", BROWSER_MAX_AGE,
                 r->cfg->cache_max_age);
    }
    r->cache_control = cc;
    ret = 200;
out:
    free(buf);
    store_close(s);
    return ret;
}

/* The job's row (STMT_JOB_STATUS) when the caller may have its thumbnail:
 * 0 with *res, or the status replied. The unknown-job answer for a job
 * whose ACL does not admit the caller, as /media/status. */
static int admitted_job(request *r, const char *job, PGresult **res)
{
    const char *vals[] = {job};
    int ret = db_exec(r->db, STMT_JOB_STATUS, 1, vals, res);
    if (ret)
        return reply_db_error(r, ret);
    if (PQntuples(*res) != 1)
        return reply_error(r, 422, "Not found item.");
    if (!PQgetisnull(*res, 0, C_ACL)) {
        bool ok;
        const char *owner =
            PQgetisnull(*res, 0, C_OWNER) ? NULL : PQgetvalue(*res, 0, C_OWNER);
        if ((ret = caller_admits(r, r->caller, owner, PQgetvalue(*res, 0, C_ACL), &ok)) != 0)
            return ret;
        if (!ok)
            return reply_error(r, 422, "Not found item.");
    }
    const char *storage = PQgetisnull(*res, 0, C_STORAGE) ? "" : PQgetvalue(*res, 0, C_STORAGE);
    if (strcmp(PQgetvalue(*res, 0, C_STATUS), "COMPLETE") != 0)
        return reply_error(r, 422,
                           "The job is not COMPLETE: it has no outputs to take a "
                           "thumbnail of yet.");
    if (strcmp(PQgetvalue(*res, 0, C_BACKEND), "local") != 0 ||
        strcmp(storage, store_is_s3(r->cfg) ? "s3" : "local") != 0)
        return reply_error(r, 422,
                           "Thumbnails are made of the local encoder's jobs in this "
                           "installation's storage only.");
    return 0;
}

int handle_media_thumbnail(request *r)
{
    int ret;
    const char *job, *tp, *wp;
    PGresult *jres = NULL, *res = NULL;
    char msg[200], key[300];

    if ((ret = require_param(r, "job_id", &job)) || (ret = require_param(r, "time", &tp)) ||
        (ret = require_param(r, "width", &wp)))
        goto out;
    size_t jl = strlen(job);
    if (jl > 100 ||
        strspn(job, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != jl) {
        ret = reply_error(r, 400, "job_id is not a job id.");
        goto out;
    }
    long long time_ms = parse_time(tp);
    if (time_ms < 0) {
        ret = reply_error(r, 400,
                          "time must be seconds into the video: digits, with up to 3 "
                          "decimals.");
        goto out;
    }
    int width = parse_width(wp);
    if (width < 0) {
        ret = reply_error(r, 400, "width must be " WIDTHS_TEXT ".");
        goto out;
    }
    if ((ret = admitted_job(r, job, &jres)) != 0)
        goto out;
    long long duration = PQgetisnull(jres, 0, C_DURATION)
                             ? 0
                             : strtoll(PQgetvalue(jres, 0, C_DURATION), NULL, 10);
    long top = PQgetisnull(jres, 0, C_WIDTH) ? 0 : strtol(PQgetvalue(jres, 0, C_WIDTH), NULL, 10);
    if (time_ms >= duration) {
        snprintf(msg, sizeof msg, "time is past the end of the video (%lld.%03lld s).",
                 duration / 1000, duration % 1000);
        ret = reply_error(r, 400, msg);
        goto out;
    }
    if (width > top) {
        snprintf(msg, sizeof msg, "width is above the video's (%ld px).", top);
        ret = reply_error(r, 400, msg);
        goto out;
    }
    long long step = time_step(duration, top, r->cfg->thumbnails_max);
    time_ms -= time_ms % step;
    if ((ret = request_row(r, job, time_ms, width, &res)) != 0 ||
        (ret = wait_made(r, job, time_ms, width, &res)) != 0)
        goto out;
    const char *st = PQgetvalue(res, 0, 0);
    if (strcmp(st, "over_cap") == 0) {
        snprintf(msg, sizeof msg,
                 "The job has the %ld thumbnails it may have: ask for a time and "
                 "width already made.",
                 r->cfg->thumbnails_max);
        ret = reply_error(r, 422, msg);
    } else if (strcmp(st, "busy") == 0) {
        ret = reply_error(r, 503, "Too many thumbnails are waiting to be made: retry later.");
    } else if (strcmp(st, "failed") == 0) {
        snprintf(msg, sizeof msg, "The thumbnail could not be made: %.150s",
                 PQgetisnull(res, 0, 2) ? "no reason given" : PQgetvalue(res, 0, 2));
        ret = reply_error(r, 422, msg);
    } else if (strcmp(st, "made") != 0) {
        ret = reply_error(r, 503, "The thumbnail is being made: retry shortly.");
    } else {
        snprintf(key, sizeof key, "media/%s/thumbs/%lld-%d.jpg", job, time_ms, width);
        ret = answer_jpeg(r, key, PQgetisnull(jres, 0, C_ACL) ? NULL : PQgetvalue(jres, 0, C_ACL));
    }
out:
    PQclear(jres);
    PQclear(res);
    return ret;
}
