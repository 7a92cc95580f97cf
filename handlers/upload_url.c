/* Upload by URL: POST /uploads, or POST /media/jobs, with url=<http(s) URL>.
 * mediagate fetches the file itself (the upload.fetch task,
 * app/worker/fetch.c) into its own storage, exactly where a PUT would have
 * put it, then encodes it as any upload, with any profile (the local
 * encoder's included). POST /media/jobs's input_url differs: it hands the
 * URL to a cloud encoder, which fetches it; mediagate never does.
 *
 * The answer comes at once (201): the slot and its job (SUBMITTED, waiting
 * for its file like a slot no one has PUT to yet) and the fetch task are
 * made in one transaction. The URL is 1 to 2048 bytes, http or https, and
 * carries no user name or password (they would be kept; refused). Its
 * query and fragment (a presigned URL's signature) are kept in the task
 * alone: never in the upload row, an answer, a log line or an error. */
#include "upload_url.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "handlers.h"
#include "hash.h"
#include "log.h"
#include "storage/storage.h"
#include "stream.h"

#define URL_MAX 2048

/* A URL to fetch, as checked. */
typedef struct fetch_url {
    const char *full;  /* as curl normalizes it, query included: the task's */
    const char *shown; /* without query and fragment: kept and answered */
    const char *last;  /* the path's last segment, decoded ("" when none) */
} fetch_url;

/* Parses url into *u (r's arena). Returns 0, or replies 400 naming what is
 * wrong (never echoing the URL) and returns 400. */
static int parse_url(request *r, const char *url, fetch_url *u)
{
    int ret = 400;
    const char *msg = "url must be an http or https URL with a host, 1 to 2048 bytes.";
    char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL, *full = NULL, *bare = NULL,
         *path = NULL;
    CURLU *h = curl_url();
    size_t n = strlen(url);
    if (!h || n == 0 || n > URL_MAX ||
        curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0) ||
        curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
        goto out;
    if (curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(h, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
        msg = "url must not carry a user name or password (it would be kept): give a presigned "
              "or otherwise public URL.";
        goto out;
    }
    if (curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_URL, &full, 0) != CURLUE_OK ||
        curl_url_set(h, CURLUPART_QUERY, NULL, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_URL, &bare, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK)
        goto out;
    if (strlen(full) > URL_MAX || strlen(bare) > URL_MAX)
        goto out;
    const char *slash = strrchr(path, '/');
    u->full = arena_strdup(r->a, full);
    u->shown = arena_strdup(r->a, bare);
    u->last = arena_strdup(r->a, slash ? slash + 1 : path);
    ret = u->full && u->shown && u->last ? 0 : 500;
    msg = "Out of memory.";
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(pass);
    curl_free(full);
    curl_free(bare);
    curl_free(path);
    curl_url_cleanup(h);
    return ret ? reply_error(r, ret, msg) : 0;
}

/* url= from the form body alone: a request line, query included, is in
 * nginx's logs, and a presigned URL's signature must not be. Returns the
 * URL (NULL: none, or *status set: the reply made). */
static const char *url_param(request *r, int *status)
{
    if (params_get(&r->qp, "url")) {
        *status = reply_error(r, 400,
                              "Send url in the form body, not in the query: a request line is "
                              "logged, and a URL's signature must not be.");
        return NULL;
    }
    return stream_param(r, "url", status);
}

int upload_url_take(request *r, const upload_target *t, const upload_slot *s)
{
    int ret, st;
    PGresult *res = NULL;
    fetch_url u = {0};
    const char *url = url_param(r, &st);
    if (st)
        return st;
    if (!url)
        return 0;
    if (t != upload_target_default(r->cfg)) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "url= fetches the file into this site's storage: target must "
                 "be %s (or none).",
                 upload_target_default(r->cfg)->name);
        return reply_error(r, 400, msg);
    }
    if (s->size)
        return reply_error(r, 400, "Give url or size, not both: the file's size is the URL's.");
    if ((ret = parse_url(r, url, &u)) != 0)
        return ret;
    const char *want = stream_param(r, "name", &st);
    if (st)
        return st;
    /* The slot's name: name= (s->name has it), else the URL's own. */
    const char *name = want && *want ? s->name : slot_name(r, u.last);
    if (!name)
        return reply_error(r, 500, "Out of memory.");
    char id[UUID_BUF], job[UUID_BUF], maxbuf[24], input[256];
    uuid_new(id);
    uuid_new(job);
    snprintf(maxbuf, sizeof maxbuf, "%lld", s->max_bytes);
    const char *vals[] = {id,      job,    s->owner,        name,           maxbuf, s->acl,
                          u.shown, u.full, s->profile_snap, s->profile_kind};
    if ((ret = db_exec(r->db, STMT_UPLOAD_URL_CREATE, 10, vals, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    log_info("upload %s: from %s, job %s", id, u.shown, job);
    snprintf(input, sizeof input, "uploads/%s/%s", id, name);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "input_file", json_object_new_string(input));
    json_object_object_add(o, "source_url", json_object_new_string(u.shown));
    json_object_object_add(o, "max_bytes", json_object_new_int64(s->max_bytes));
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "job_id", json_object_new_string(job));
    json_object_object_add(r->out, "upload", o);
    r->cache_control = "no-store";
    ret = 201;
out:
    PQclear(res);
    return ret;
}

int upload_url_job(request *r, const char *input_url, const char *file_id)
{
    int st;
    const char *url = url_param(r, &st);
    if (st)
        return st;
    if (!url)
        return 0;
    if (input_url || file_id)
        return reply_error(r, 400,
                           "Give url (mediagate fetches the file and encodes it) or "
                           "input_url / file_id (the encoder fetches it), not both.");
    return handle_uploads_create(r);
}
