/* Uploads for the local encoder (sql/008_uploads.sql,
 * nginx/mediagate-upload.conf):
 *   POST /uploads                     (API key) a slot and its job: a
 *                                     single-use URL that takes one PUT;
 *   PUT  /uploads/<id>/<name>?token=  the file for that slot, no other
 *                                     credential;
 *   PUT  /uploads/<name>              (API key) a slot, its job and the
 *                                     file at once.
 * Every file lands at MEDIAGATE_UPLOADS_DIR/<fresh upload id>/<name>, and
 * its job's input_file is uploads/<upload id>/<name>, so no upload replaces
 * another's. nginx buffers the body, asks the same handler first (with
 * MEDIAGATE_UPLOAD_CHECK set, through auth_request) whether to take it at
 * all, then hands it over; this handler writes it in place, then spends the
 * token and queues the encode in one transaction. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "acl.h"
#include "caller.h"
#include "cors.h"
#include "db.h"
#include "handlers.h"
#include "hash.h"
#include "log.h"
#include "stream.h"

#define NAME_MAX_BYTES 128

/* A slot's name from what the client asked: [A-Za-z0-9._-] kept, anything
 * else '_', no leading dot, at most 128 bytes; "upload" when empty. Arena
 * memory, or NULL when out of memory. */
static char *slot_name(request *r, const char *want)
{
    size_t n = want ? strlen(want) : 0;
    if (n > NAME_MAX_BYTES)
        n = NAME_MAX_BYTES;
    if (n == 0)
        return arena_strdup(r->a, "upload");
    char *s = arena_alloc(r->a, n + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = want[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        s[i] = ok && !(i == 0 && c == '.') ? c : '_';
    }
    s[n] = '\0';
    return s;
}

/* The upload object of a 201: its id, where it is, when the URL expires
 * (JSON null for a PUT with an API key) and the job's input_file. With a
 * token, url is the URL to PUT to; without, where the file was stored. */
static json_object *upload_object(request *r, const char *id, const char *name,
                                  const char *token, const char *expires)
{
    char url[1024], input[256];
    snprintf(url, sizeof url, "%s/%s/%s%s%s", r->cfg->uploads_url, id, name,
             token ? "?token=" : "", token ? token : "");
    snprintf(input, sizeof input, "uploads/%s/%s", id, name);
    json_object *u = json_object_new_object();
    json_object_object_add(u, "id", json_object_new_string(id));
    json_object_object_add(u, "url", json_object_new_string(url));
    json_object_object_add(u, "expires_at", expires ? json_object_new_string(expires) : NULL);
    json_object_object_add(u, "input_file", json_object_new_string(input));
    return u;
}

/* Sets r->out to the 201 body and r->location; returns 201. */
static int reply_created(request *r, const char *job, json_object *upload)
{
    json_object *u;
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "job_id", json_object_new_string(job));
    json_object_object_add(r->out, "upload", upload);
    if (json_object_object_get_ex(upload, "url", &u))
        r->location = arena_strdup(r->a, json_object_get_string(u));
    r->cache_control = "no-store";
    return 201;
}

/* Parses an optional max_bytes parameter into *out (the setting's cap when
 * absent). Returns 0 or replies 400. */
static int max_bytes_param(request *r, const char *v, long long *out)
{
    *out = r->cfg->upload_max_bytes;
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < 1 || n > r->cfg->upload_max_bytes || v[0] == '+' ||
        v[0] == '-' || v[0] == ' ') {
        char msg[160];
        snprintf(msg, sizeof msg, "max_bytes must be a whole number from 1 to %ld.",
                 r->cfg->upload_max_bytes);
        return reply_error(r, 400, msg);
    }
    *out = n;
    return 0;
}

/* True when s is a printable-ASCII media type of at most 255 bytes. */
static bool content_type_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return false;
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return false;
    return true;
}

int handle_uploads_create(request *r)
{
    int ret, st;
    const char *owner;
    PGresult *res = NULL;
    if (!*r->cfg->uploads_dir)
        return reply_error(r, 403, "Uploads are not configured (MEDIAGATE_UPLOADS_DIR).");
    if (!(owner = r->caller->owner)) /* the route is AUTH_CALLER */
        return reply_error(r, 500, "The route has no caller.");
    const char *want = stream_param(r, "name", &st);
    if (st)
        return st;
    const char *type = stream_param(r, "content_type", &st);
    if (st)
        return st;
    if (type && !content_type_ok(type))
        return reply_error(r, 400, "content_type must be 1 to 255 printable ASCII characters.");
    long long max;
    const char *maxs = stream_param(r, "max_bytes", &st);
    if (st)
        return st;
    if ((ret = max_bytes_param(r, maxs, &max)) != 0)
        return ret;
    /* Who may see the job's status: an ACL (app/acl.h); none is WORLD. */
    const char *aclin = stream_param(r, "acl", &st);
    char acl[1024], aclerr[200], msg[260];
    if (st)
        return st;
    if (aclin && acl_normalize(aclin, acl, sizeof acl, aclerr, sizeof aclerr) != 0) {
        snprintf(msg, sizeof msg, "acl: %s.", aclerr);
        return reply_error(r, 400, msg);
    }
    char *name = slot_name(r, want);
    char id[UUID_BUF], job[UUID_BUF], token[65], maxbuf[24], ttl[24];
    unsigned char h[32];
    if (!name || random_hex(token) != 0)
        return reply_error(r, 500, "No randomness for an upload token.");
    uuid_new(id);
    uuid_new(job);
    sha256_raw(token, strlen(token), h);
    snprintf(maxbuf, sizeof maxbuf, "%lld", max);
    snprintf(ttl, sizeof ttl, "%ld", r->cfg->upload_slot_ttl);
    const char *vals[] = {id, job, owner, name, type, maxbuf, (const char *)h, ttl,
                          aclin ? acl : NULL};
    int lens[] = {0, 0, 0, 0, 0, 0, 32, 0, 0}, fmts[] = {0, 0, 0, 0, 0, 0, 1, 0, 0};
    ret = db_exec_params(r->db, STMT_UPLOAD_CREATE, 9, vals, lens, fmts, &res);
    if (ret) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    ret = reply_created(r, job, upload_object(r, id, name, token, PQgetvalue(res, 0, 0)));
out:
    PQclear(res);
    return ret;
}

/* What the PUT names: a slot (id and name) or, with no id, a name only. */
typedef struct put_target {
    char id[UUID_BUF];
    const char *name;
    bool slot;
} put_target;

/* The one answer (401) to a slot URL that names no slot this token opens:
 * a malformed id or name, no token, an unknown id, another slot's name or
 * token. Which of them it was is not said. */
static const char unknown_url[] = "This upload URL is unknown or its token is wrong.";

/* Splits the path after /uploads/. Returns 0 or replies: 401 for a slot
 * URL of any other shape, 400 for a name that is not plain. */
static int parse_target(request *r, put_target *t)
{
    const char *rest = r->path + strlen("/uploads/");
    const char *slash = strchr(rest, '/');
    t->slot = slash != NULL;
    t->id[0] = '\0';
    t->name = rest;
    if (t->slot) {
        if (!uuid_valid(rest, (size_t)(slash - rest)))
            return reply_error(r, 401, unknown_url);
        memcpy(t->id, rest, UUID_LEN);
        t->id[UUID_LEN] = '\0';
        t->name = slash + 1;
        if (!stream_plain_name(t->name))
            return reply_error(r, 401, unknown_url);
    }
    if (!stream_plain_name(t->name))
        return reply_error(r, 400, "Upload names are plain file names: 1 to 128 of "
                                   "A-Z a-z 0-9 . _ - not starting with a dot.");
    return 0;
}

/* A refusal of the slot check, as (status, message, reason). */
typedef struct refusal {
    const char *why;
    int status;
    const char *msg;
} refusal;

static const refusal refusals[] = {
    {"unknown", 401, unknown_url},
    {"used", 409, "This upload URL was used already: it takes one PUT. Ask for a new one."},
    {"expired", 410, "This upload URL has expired. Ask for a new one."},
    {"too_large", 413, "The file is larger than this upload URL's max_bytes."},
};

/* The message of the error body a helper replied with. */
static const char *out_msg(request *r)
{
    json_object *m;
    return r->out && json_object_object_get_ex(r->out, "message", &m) ? json_object_get_string(m)
                                                                       : "Upload refused.";
}

/* Replies to a refusal; in the auth_request check as 401/403 with the
 * message in X-Mediagate-Reason (nginx shows it). */
static int refuse(request *r, bool check, int status, const char *msg)
{
    /* msg may be r->out's own, which reply_error replaces: copy it first. */
    const char *m = arena_strdup(r->a, msg);
    if (!m)
        return reply_error(r, 500, "Out of memory.");
    if (check) {
        r->reason = m;
        status = status == 401 ? 401 : 403;
    }
    return reply_error(r, status, m);
}

/* Checks a slot PUT: its token and the declared length. Returns 0, or the
 * refusal's status. *h gets the token's digest. */
static int check_slot(request *r, bool check, const put_target *t, const char *len,
                      unsigned char h[32])
{
    int ret;
    PGresult *res = NULL;
    /* A query the parser refused (the route's ROUTE_OWN_QUERY) holds no
     * token that could be right. */
    const param *tok = params_get(&r->qp, "token");
    if (r->query_status || !tok || !*tok->val)
        return refuse(r, check, 401, unknown_url);
    sha256_raw(tok->val, strlen(tok->val), h);
    const char *vals[] = {t->id, t->name, (const char *)h, len};
    int lens[] = {0, 0, 32, 0}, fmts[] = {0, 0, 1, 0};
    ret = db_exec_params(r->db, STMT_UPLOAD_CHECK, 4, vals, lens, fmts, &res);
    if (ret) {
        /* The check only spares nginx reading a body it would refuse; the
         * PUT itself checks again and answers the outage. */
        ret = check ? 0 : reply_db_error(r, ret);
        goto out;
    }
    if (!PQgetisnull(res, 0, 0)) {
        const char *why = PQgetvalue(res, 0, 0);
        ret = refuse(r, check, 403, "Upload refused.");
        for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++)
            if (strcmp(refusals[i].why, why) == 0)
                ret = refuse(r, check, refusals[i].status, refusals[i].msg);
    }
out:
    PQclear(res);
    return ret;
}

/* Writes the body (len bytes) to dir/name through a temporary file that is
 * synced and then renamed into place, never over an existing file.
 * Returns 0, or replies (400 short body, 409 exists, 500) and returns
 * that status. */
static int store_body(request *r, const char *dir, const char *name, size_t len,
                      const char *path)
{
    int ret = 0, fd = -1;
    char tmp[1200];
    char *buf = arena_alloc(r->a, 1 << 16);
    snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, name);
    if (!buf) {
        ret = reply_error(r, 500, "Out of memory.");
        goto out;
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        log_error("upload: mkdir %s: %s", dir, strerror(errno));
        ret = reply_error(r, 500, "The upload could not be stored.");
        goto out;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0 || fchmod(fd, 0640) != 0) {
        log_error("upload: create in %s: %s", dir, strerror(errno));
        ret = reply_error(r, 500, "The upload could not be stored.");
        goto out;
    }
    size_t got = 0;
    for (long n; got < len && (n = request_read(r, buf, 1 << 16)) > 0;) {
        for (long w = 0; w < n;) {
            ssize_t k = write(fd, buf + w, (size_t)(n - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                log_error("upload: write %s: %s", tmp, strerror(errno));
                ret = reply_error(r, 507, "The upload could not be stored: no space.");
                goto out;
            }
            w += k;
        }
        got += (size_t)n;
    }
    if (got != len) {
        ret = reply_error(r, 400, "The request body is shorter than Content-Length.");
        goto out;
    }
    if (fdatasync(fd) != 0) {
        log_error("upload: sync %s: %s", tmp, strerror(errno));
        ret = reply_error(r, 500, "The upload could not be stored.");
        goto out;
    }
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) != 0) {
        ret = errno == EEXIST ? reply_error(r, 409, "This upload URL was used already.")
                              : reply_error(r, 500, "The upload could not be stored.");
        if (errno != EEXIST)
            log_error("upload: rename to %s: %s", path, strerror(errno));
        goto out;
    }
    tmp[0] = '\0'; /* in place: nothing to remove */
out:
    if (fd >= 0)
        close(fd);
    if (tmp[0] && fd >= 0)
        unlink(tmp);
    return ret;
}

int handle_uploads_put(request *r)
{
    int ret;
    const config *c = r->cfg;
    bool check = request_param(r, "MEDIAGATE_UPLOAD_CHECK") != NULL;
    const char *owner = NULL;
    PGresult *res = NULL;
    put_target t;
    unsigned char h[32];
    r->cache_control = "no-store";

    if (check) {
        /* nginx's auth_request before it reads the body: the PUT's Origin
         * comes apart from the check's own. */
        const char *origin = request_param(r, "MEDIAGATE_UPLOAD_ORIGIN");
        if (!cors_origin_ok(r, &r->cfg->origins, origin && *origin ? origin : NULL))
            return refuse(r, true, 403, "ORIGIN is invalid.");
        const char *m = request_param(r, "MEDIAGATE_UPLOAD_METHOD");
        if (m && strcmp(m, "OPTIONS") == 0)
            return 204; /* the preflight is the router's */
    }
    if (!*c->uploads_dir)
        return refuse(r, check, 403, "Uploads are not configured (MEDIAGATE_UPLOADS_DIR).");
    if ((ret = parse_target(r, &t)) != 0)
        return check ? refuse(r, true, ret, out_msg(r)) : ret;
    const char *lenp = request_param(r, check ? "MEDIAGATE_UPLOAD_LENGTH" : "CONTENT_LENGTH");
    size_t len = 0;
    int pl = parse_content_length(lenp, lenp ? strlen(lenp) : 0, (size_t)c->upload_max_bytes, &len);
    if (!lenp || !*lenp)
        return refuse(r, check, 411, "An upload needs a Content-Length.");
    if (pl == PARSE_TOO_LARGE)
        return refuse(r, check, 413, "The file is larger than MEDIAGATE_UPLOAD_MAX_BYTES.");
    if (pl != PARSE_OK)
        return refuse(r, check, 400, "Content-Length is malformed.");
    if (len == 0)
        return refuse(r, check, 400, "An upload needs a body.");
    char lenbuf[24];
    snprintf(lenbuf, sizeof lenbuf, "%zu", len);

    if (t.slot) {
        if ((ret = check_slot(r, check, &t, lenbuf, h)) != 0)
            return ret;
    } else {
        ret = caller_identify(r, CALLER_OWNER, r->caller);
        if (ret)
            return check ? refuse(r, true, ret, out_msg(r)) : ret;
        owner = r->caller->owner;
        uuid_new(t.id);
    }
    if (check)
        return 204;

    char dir[1024], path[1200], job[UUID_BUF], maxbuf[24];
    snprintf(dir, sizeof dir, "%s/%s", c->uploads_dir, t.id);
    snprintf(path, sizeof path, "%s/%s", dir, t.name);
    if ((ret = store_body(r, dir, t.name, len, path)) != 0)
        goto out;
    if (t.slot) {
        const char *vals[] = {t.id, (const char *)h, lenbuf, path};
        int lens[] = {0, 32, 0, 0}, fmts[] = {0, 1, 0, 0};
        ret = db_exec_params(r->db, STMT_UPLOAD_STORE, 4, vals, lens, fmts, &res);
    } else {
        uuid_new(job);
        snprintf(maxbuf, sizeof maxbuf, "%ld", c->upload_max_bytes);
        const char *type = r->content_type && content_type_ok(r->content_type) ? r->content_type
                                                                               : NULL;
        const char *vals[] = {t.id, job, owner, t.name, type, maxbuf, lenbuf, path};
        ret = db_exec(r->db, STMT_UPLOAD_PUT, 8, vals, &res);
    }
    if (ret || PQgetisnull(res, 0, 0)) {
        /* Not recorded: the file goes, and the token (unspent) may be used
         * again. A slot spent or expired meanwhile says so. */
        unlink(path);
        rmdir(dir);
        if (ret)
            ret = reply_db_error(r, ret);
        else if ((ret = check_slot(r, false, &t, lenbuf, h)) == 0)
            ret = reply_error(r, 409, "This upload URL was used already.");
        goto out;
    }
    log_info("upload %s: %zu bytes, job %s", t.id, len, PQgetvalue(res, 0, 0));
    ret = reply_created(r, PQgetvalue(res, 0, 0),
                        upload_object(r, t.id, t.name, NULL,
                                      t.slot && !PQgetisnull(res, 0, 1) ? PQgetvalue(res, 0, 1)
                                                                        : NULL));
out:
    PQclear(res);
    return ret;
}
