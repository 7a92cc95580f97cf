/* PUT and DELETE /media/captions/<job id>/<language>: a job's captions
 * (WebVTT or SRT, validated; SRT converted to WebVTT), by the job's owner;
 * a captions.publish task writes them beside the outputs and into the
 * master playlist (app/worker/captions.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "caller.h"
#include "captions.h"
#include "db.h"
#include "handlers.h"
#include "storage/storage.h"

#define PREFIX "/media/captions/"

/* The job id and language of r's path into job (cap 101) and lang (cap
 * 40): 0, or the status replied (404 for a path naming no job, 400 for a
 * language that is no tag). */
static int parse_path(request *r, char job[101], char lang[40])
{
    const char *p = r->path + strlen(PREFIX), *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : 0;
    if (n == 0 || n > 100 ||
        strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  "0123456789_-") != n)
        return reply_error(r, 404, "No such job.");
    memcpy(job, p, n);
    job[n] = '\0';
    const char *l = slash + 1;
    if (strlen(l) >= 40 || !captions_language_ok(l))
        return reply_error(r, 400, "The language must be a BCP 47 tag such as en or pt-BR.");
    strcpy(lang, l);
    captions_language_canon(lang);
    return 0;
}

/* The format the Content-Type names: 0 with *fmt set, or 415 replied. */
static int format_of(request *r, captions_format *fmt)
{
    static const struct {
        const char *type;
        captions_format fmt;
    } types[] = {
        {"text/vtt", CAPTIONS_VTT},        {"application/x-subrip", CAPTIONS_SRT},
        {"application/srt", CAPTIONS_SRT}, {"text/srt", CAPTIONS_SRT},
        {"text/plain", CAPTIONS_DETECT},   {"application/octet-stream", CAPTIONS_DETECT},
    };
    const char *ct = r->content_type;
    *fmt = CAPTIONS_DETECT;
    if (!ct || !*ct)
        return 0;
    size_t n = strcspn(ct, "; \t");
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strlen(types[i].type) == n && strncasecmp(ct, types[i].type, n) == 0) {
            *fmt = types[i].fmt;
            return 0;
        }
    return reply_error(r, 415, "Captions are text/vtt (WebVTT) or application/x-subrip (SRT).");
}

/* The answer to a refusal of mediagate_captions_owned (or -1 when it is
 * none). */
static int refused(request *r, const char *why)
{
    if (strcmp(why, "no_such_job") == 0)
        return reply_error(r, 404, "No such job.");
    if (strcmp(why, "not_local") == 0)
        return reply_error(r, 409,
                           "Captions are published with the local encoder's outputs; "
                           "this job was encoded by another encoder.");
    if (strcmp(why, "finished") == 0)
        return reply_error(r, 409, "The job failed or was canceled: it has no outputs.");
    if (strcmp(why, "not_canonical") == 0) /* parse_path canonicalizes: a bug if seen */
        return reply_error(r, 500, "The language tag was not canonicalized.");
    if (strcmp(why, "other_storage") == 0)
        return reply_error(r, 409,
                           "Captions are published to this installation's storage only; "
                           "this job's outputs are on another storage.");
    if (strcmp(why, "too_many") == 0) {
        char msg[100];
        snprintf(msg, sizeof msg, "The job has captions in %d languages already: delete one first.",
                 CAPTIONS_MAX_LANGUAGES);
        return reply_error(r, 409, msg);
    }
    return -1;
}

static void reply_ok(request *r, const char *job, const char *lang, const char *label,
                     const char *state)
{
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "job_id", json_object_new_string(job));
    json_object_object_add(r->out, "language", json_object_new_string(lang));
    if (label)
        json_object_object_add(r->out, "label", json_object_new_string(label));
    json_object_object_add(r->out, "state", json_object_new_string(state));
    r->cache_control = "no-store";
}

int handle_captions_put(request *r)
{
    int ret;
    char job[101], lang[40], why[256], max[16];
    char *vtt = NULL;
    size_t vlen;
    PGresult *res = NULL;
    captions_format fmt;
    if ((ret = parse_path(r, job, lang)) != 0 || (ret = format_of(r, &fmt)) != 0)
        return ret;
    const param *lp = params_get(&r->qp, "label");
    const char *label = lp ? lp->val : lang;
    if (!captions_label_ok(label))
        return reply_error(r, 400,
                           "label must be 1 to 100 characters of UTF-8, without control "
                           "characters or double quotes.");
    if (r->body_status)
        return reply_error(r, r->body_status, r->body_error);
    if (!r->body || r->body_len == 0)
        return reply_error(r, 400, "The captions file is missing: send it as the request body.");
    if (r->body_len > CAPTIONS_MAX_BYTES)
        return reply_error(r, 413, "The captions file is larger than 1 MiB.");
    if (captions_to_vtt(r->body, r->body_len, fmt, &vtt, &vlen, why, sizeof why) != 0) {
        char msg[320];
        snprintf(msg, sizeof msg, "The captions file is refused: %s.", why);
        return reply_error(r, 400, msg);
    }
    snprintf(max, sizeof max, "%d", CAPTIONS_MAX_LANGUAGES);
    const char *vals[] = {
        job, r->caller->owner, lang, label, vtt, max, store_is_s3(r->cfg) ? "s3" : "local"};
    if ((ret = db_exec(r->db, STMT_CAPTIONS_PUT, 7, vals, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    const char *state = PQgetvalue(res, 0, 0);
    if ((ret = refused(r, state)) >= 0)
        goto out;
    reply_ok(r, job, lang, label, state);
    ret = strcmp(state, "created") == 0 ? 201 : 200;
out:
    free(vtt);
    PQclear(res);
    return ret;
}

int handle_captions_delete(request *r)
{
    int ret;
    char job[101], lang[40];
    PGresult *res = NULL;
    if ((ret = parse_path(r, job, lang)) != 0)
        return ret;
    const char *vals[] = {job, r->caller->owner, lang};
    if ((ret = db_exec(r->db, STMT_CAPTIONS_DELETE, 3, vals, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    const char *state = PQgetvalue(res, 0, 0);
    if ((ret = refused(r, state)) >= 0)
        goto out;
    if (strcmp(state, "no_such_language") == 0) {
        ret = reply_error(r, 404, "The job has no captions in that language.");
        goto out;
    }
    reply_ok(r, job, lang, NULL, state);
    ret = 200;
out:
    PQclear(res);
    return ret;
}
