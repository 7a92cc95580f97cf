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
 * token and queues the encode in one transaction.
 *
 * On S3 storage (app/storage/storage.h) the file is the bucket's object
 * uploads/<upload id>/<name>, and no byte passes through here:
 *   POST /uploads (with size=) answers a presigned PUT URL for that one
 *                 key, signed for that size and for If-None-Match (a
 *                 second write is refused by the store), expiring with the
 *                 slot; above MEDIAGATE_STORAGE_PART_BYTES a multipart
 *                 upload: a presigned URL per part;
 *   POST /uploads/<id>/<name>?token=  the completion call: mediagate
 *                 completes the multipart upload, HEADs the object, and
 *                 spends the slot with the object's size and ETag in one
 *                 transaction with its encode (which reads that very
 *                 object). Until then nothing is spent: a store that does
 *                 not answer is a 503, and the call may be repeated.
 * The PUTs through nginx keep working on S3: the body is spooled to a
 * temporary file (nginx buffered it already) and written to the bucket. */
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
#include "profiles.h"
#include "storage/storage.h"
#include "stream.h"
#include "upload_url.h"
#include "uploads/target.h"

#define NAME_MAX_BYTES 128

/* A slot's name from what the client asked: [A-Za-z0-9._-] kept, anything
 * else '_', no leading dot, at most 128 bytes; "upload" when empty. Arena
 * memory, or NULL when out of memory. */
char *slot_name(request *r, const char *want)
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
    if (token) { /* the same slot through tus (handlers/tus.c): resumable */
        snprintf(url, sizeof url, "%s/tus/%s?token=%s", r->cfg->uploads_url, id, token);
        json_object_object_add(u, "tus_endpoint", json_object_new_string(url));
    }
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

/* Parses v, a whole number of bytes from 1 to max (ASCII digits only),
 * into *out. Returns 0, or replies 400 naming what and returns 400. */
static int bytes_param(request *r, const char *what, const char *v, long long max,
                       long long *out)
{
    char *end;
    errno = 0;
    long long n = v && *v >= '0' && *v <= '9' ? strtoll(v, &end, 10) : 0;
    if (n < 1 || *end || errno || n > max) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s must be a whole number from 1 to %lld.", what, max);
        return reply_error(r, 400, msg);
    }
    *out = n;
    return 0;
}

/* Parses an optional max_bytes parameter into *out (the setting's cap when
 * absent). Returns 0 or replies 400. */
static int max_bytes_param(request *r, const char *v, long long *out)
{
    *out = r->cfg->upload_max_bytes;
    return v ? bytes_param(r, "max_bytes", v, r->cfg->upload_max_bytes, out) : 0;
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

/* True when uploads are taken: an uploads directory, or S3 storage. */
static bool uploads_on(const config *c)
{
    return *c->uploads_dir || store_is_s3(c);
}

/* Replies to a store failure st of s (what about names the step, e.g.
 * "The upload could not be checked") and returns the status: 503 when the
 * store may answer later, 500 otherwise. The store's reason is logged. */
static int reply_store(request *r, store *s, store_status st, const char *what)
{
    char msg[200];
    log_error("upload: %s: %s", what, s ? store_err(s) : "out of memory");
    if (st == STORE_RETRY) {
        snprintf(msg, sizeof msg, "%s: the object store is unavailable. Try again.", what);
        return reply_error(r, 503, msg);
    }
    snprintf(msg, sizeof msg, "%s: the object store refused it.", what);
    return reply_error(r, 500, msg);
}

/* The profile of a new upload's job: its snapshot (profile_json's text)
 * and the kind of task that starts its encode. */
typedef struct upload_profile {
    const char *snap;
    const char *kind;
} upload_profile;

/* Picks the profile named by want (NULL: the caller's default) into *up.
 * Returns 0 or the status replied (profile_pick). */
static int pick(request *r, const char *want, upload_profile *up)
{
    const encoder *row;
    int ret = profile_pick(r, want, &up->snap, &row);
    up->kind = ret ? NULL : row->create_kind;
    return ret;
}

typedef struct put_target put_target;
static int put_s3(request *r, const put_target *t, const char *owner, size_t len,
                  const unsigned char h[32], const upload_profile *up);

/* Whether the caller may use target t: its API key's targets
 * (api_keys.targets; NULL: any). Returns 0, or replies 403 (503 when the
 * database is down) and returns that. */
static int target_allowed(request *r, const upload_target *t)
{
    PGresult *res = NULL;
    const char *vals[] = {r->caller->owner, t->name};
    int ret = db_exec_params(r->db, STMT_UPLOAD_TARGET_ALLOWED, 2, vals, NULL, NULL, &res);
    if (ret)
        ret = reply_db_error(r, ret);
    else if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "This API key may not upload to target %s.", t->name);
        ret = reply_error(r, 403, msg);
    }
    PQclear(res);
    return ret;
}

/* The target row a POST /uploads names (target=; default: the storage's).
 * Returns 0 with *t, or replies 400 (unknown, not configured here) or as
 * target_allowed and returns that. */
static int pick_target(request *r, const upload_target **t)
{
    int st;
    char msg[300];
    const char *want = stream_param(r, "target", &st);
    if (st)
        return st;
    *t = want ? upload_target_find(want) : upload_target_default(r->cfg);
    if (!*t) {
        size_t n = (size_t)snprintf(msg, sizeof msg, "target must be one of:");
        for (size_t i = 0; i < upload_targets_count && n < sizeof msg; i++)
            n += (size_t)snprintf(msg + n, sizeof msg - n, "%s %s", i ? "," : "",
                                  upload_targets[i].name);
        if (n < sizeof msg)
            snprintf(msg + n, sizeof msg - n, ".");
        return reply_error(r, 400, msg);
    }
    if (!(*t)->configured(r->cfg)) {
        if (!want) /* the storage's own: no uploads directory */
            return reply_error(r, 403, "Uploads are not configured (MEDIAGATE_UPLOADS_DIR).");
        snprintf(msg, sizeof msg, "Upload target %s is not configured here.", (*t)->name);
        return reply_error(r, 400, msg);
    }
    return target_allowed(r, *t);
}

int handle_uploads_create(request *r)
{
    int ret, st;
    upload_slot s = {0};
    const upload_target *t;
    if (!(s.owner = r->caller->owner)) /* the route is AUTH_CALLER */
        return reply_error(r, 500, "The route has no caller.");
    if ((ret = pick_target(r, &t)) != 0)
        return ret;
    const char *want = stream_param(r, "name", &st);
    if (st)
        return st;
    s.content_type = stream_param(r, "content_type", &st);
    if (st)
        return st;
    if (s.content_type && !content_type_ok(s.content_type))
        return reply_error(r, 400, "content_type must be 1 to 255 printable ASCII characters.");
    const char *maxs = stream_param(r, "max_bytes", &st);
    if (st)
        return st;
    if ((ret = max_bytes_param(r, maxs, &s.max_bytes)) != 0)
        return ret;
    s.size = stream_param(r, "size", &st);
    if (st)
        return st;
    s.title = stream_param(r, "title", &st);
    if (st)
        return st;
    /* Who may see the job's status: an ACL (app/acl.h); none is WORLD. */
    char aclbuf[1024];
    if ((ret = stream_acl_param(r, aclbuf, sizeof aclbuf, &s.acl)) != 0)
        return ret;
    upload_profile up;
    const encoder *row;
    const char *pname = stream_param(r, "profile", &st);
    if (st)
        return st;
    if ((ret = profile_pick_on(r, pname, t->encoder, &up.snap, &row)) != 0)
        return ret;
    s.profile_snap = up.snap;
    s.profile_kind = row->create_kind;
    s.profile_encoder = row->name;
    s.origin = r->cors_origin;
    if (!(s.name = slot_name(r, want)))
        return reply_error(r, 500, "Out of memory.");
    if ((ret = upload_url_take(r, t, &s)) != 0) /* url=: mediagate fetches the file */
        return ret;
    return t->create(r, &s);
}

/* POST /uploads with the local target: a slot on this site. */
int upload_target_local_create(request *r, const upload_slot *s)
{
    int ret;
    PGresult *res = NULL;
    char id[UUID_BUF], job[UUID_BUF], token[65], maxbuf[24], ttl[24];
    unsigned char h[32];
    if (random_hex(token) != 0)
        return reply_error(r, 500, "No randomness for an upload token.");
    uuid_new(id);
    uuid_new(job);
    sha256_raw(token, strlen(token), h);
    snprintf(maxbuf, sizeof maxbuf, "%lld", s->max_bytes);
    snprintf(ttl, sizeof ttl, "%ld", r->cfg->upload_slot_ttl);
    const char *vals[] = {id,      job,  s->owner, s->name, s->content_type, maxbuf, (const char *)h,
                          ttl,     s->acl, s->profile_snap, s->profile_kind};
    int lens[] = {0, 0, 0, 0, 0, 0, 32, 0, 0, 0, 0}, fmts[] = {0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    ret = db_exec_params(r->db, STMT_UPLOAD_CREATE, 11, vals, lens, fmts, &res);
    if (ret) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    ret = reply_created(r, job, upload_object(r, id, s->name, token, PQgetvalue(res, 0, 0)));
out:
    PQclear(res);
    return ret;
}

/* What the PUT names: a slot (id and name) or, with no id, a name only. */
struct put_target {
    char id[UUID_BUF];
    const char *name;
    bool slot;
};

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
    {"tus", 409, "This upload URL's file comes through tus: go on at its tus_endpoint."},
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

/* The slot a completion call (POST /uploads/<id>/<name>?token=) names,
 * into *res (one row of STMT_UPLOAD_SLOT). Returns 0, or replies as refuse
 * does (401 to any URL that opens no slot) and returns that status. In the
 * check, a database failure is 0 with *res NULL: the call itself answers
 * the outage. */
static int completion_slot(request *r, bool check, put_target *t, unsigned char h[32],
                           PGresult **res)
{
    int ret;
    *res = NULL;
    if ((ret = parse_target(r, t)) != 0)
        return check ? refuse(r, true, ret, out_msg(r)) : ret;
    const param *tok = params_get(&r->qp, "token");
    if (!t->slot || r->query_status || !tok || !*tok->val)
        return refuse(r, check, 401, unknown_url);
    sha256_raw(tok->val, strlen(tok->val), h);
    const char *vals[] = {t->id, t->name, (const char *)h};
    int lens[] = {0, 0, 32}, fmts[] = {0, 0, 1};
    if ((ret = db_exec_params(r->db, STMT_UPLOAD_SLOT, 3, vals, lens, fmts, res)) != 0)
        return check ? 0 : reply_db_error(r, ret);
    if (PQntuples(*res) != 1) {
        PQclear(*res);
        *res = NULL;
        return refuse(r, check, 401, unknown_url);
    }
    return 0;
}

/* True when the request the check is for has a body: a Content-Length
 * other than 0, a Transfer-Encoding (chunked), or, over HTTP/2 and later
 * (which have no Transfer-Encoding), no Content-Length at all. */
static bool check_has_body(request *r)
{
    const char *len = request_param(r, "MEDIAGATE_UPLOAD_LENGTH");
    const char *te = request_param(r, "MEDIAGATE_UPLOAD_TRANSFER_ENCODING");
    const char *proto = request_param(r, "MEDIAGATE_UPLOAD_PROTOCOL");
    if (len && *len)
        return strcmp(len, "0") != 0;
    return (te && *te) || (proto && *proto && strncmp(proto, "HTTP/1.", 7) != 0);
}

/* The check of a request other than a PUT (method m): the preflight (the
 * router's) or the completion call, whose slot and token must be right.
 * Neither carries a body, so one that does is refused before nginx reads
 * it. Returns 204 or the refusal's status. */
static int check_bodiless(request *r, const char *m)
{
    int ret = 0;
    put_target t;
    unsigned char h[32];
    PGresult *res = NULL;
    if (strcmp(m, "POST") == 0 && (ret = completion_slot(r, true, &t, h, &res)) != 0)
        goto out;
    if (check_has_body(r))
        ret = refuse(r, true, 403, "Only a PUT carries a file: this request takes no body.");
    else
        ret = 204;
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
    upload_profile up = {NULL, NULL};
    unsigned char h[32];
    r->cache_control = "no-store";

    if (check) {
        /* nginx's auth_request before it reads the body: the PUT's Origin
         * comes apart from the check's own. */
        const char *origin = request_param(r, "MEDIAGATE_UPLOAD_ORIGIN");
        if (!cors_origin_ok(r, &r->cfg->origins, origin && *origin ? origin : NULL))
            return refuse(r, true, 403, "ORIGIN is invalid.");
        const char *m = request_param(r, "MEDIAGATE_UPLOAD_METHOD");
        if (m && strcmp(m, "PUT") != 0)
            return check_bodiless(r, m);
    }
    if (!uploads_on(c))
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
        /* A slot has its profile from POST /uploads; here, ?profile=. */
        const param *pp = params_get(&r->qp, "profile");
        if (r->query_status)
            return refuse(r, check, 400, "The query string is malformed.");
        if ((ret = pick(r, pp ? pp->val : NULL, &up)) != 0 ||
            (ret = upload_default_target_allowed(r)) != 0)
            return check ? refuse(r, true, ret, out_msg(r)) : ret;
    }
    if (check)
        return 204;
    if (store_is_s3(c))
        return put_s3(r, &t, owner, len, h, &up);

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
        const char *vals[] = {t.id,   job,  owner,   t.name, type, maxbuf,
                              lenbuf, path, up.snap, up.kind};
        ret = db_exec(r->db, STMT_UPLOAD_PUT, 10, vals, &res);
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

/* The most part URLs one answer carries: a larger file gets larger parts. */
#define PARTS_MAX 1000
/* A presigned URL, with a session token in it. */
#define PRESIGNED_MAX 4096

/* An S3 upload's key, uploads/<id>/<name>, into key (at least 256 bytes). */
static void upload_key(char *key, size_t cap, const char *id, const char *name)
{
    snprintf(key, cap, "uploads/%s/%s", id, name);
}

/* The part size of a multipart upload of size bytes: the setting's, grown
 * so that at most PARTS_MAX parts are needed. */
static long long part_size(const config *c, long long size)
{
    long long part = c->storage_part_bytes > 0 ? c->storage_part_bytes : size;
    long long least = (size + PARTS_MAX - 1) / PARTS_MAX;
    return part < least ? least : part;
}

/* Adds to u (an upload object) what the client of an S3 slot needs: the
 * presigned PUT URL as url (or, for a multipart upload, a presigned URL per
 * part as parts, url staying the slot's own), the headers every PUT must
 * carry, and complete_url, where it POSTs once the file is in. Returns 0,
 * or -1 when a URL could not be made. */
static int add_s3_targets(request *r, json_object *u, const char *key, long long size,
                          const char *type, const char *upload_id, time_t now)
{
    char *url = arena_alloc(r->a, PRESIGNED_MAX);
    json_object *slot_url, *headers = json_object_new_object();
    store_presign_req p = {.method = "PUT", .key = key, .expires_s = r->cfg->upload_slot_ttl,
                           .content_length = size, .now = now};
    json_object_object_get_ex(u, "url", &slot_url);
    json_object_object_add(u, "complete_url", json_object_get(slot_url));
    json_object_object_add(u, "storage", json_object_new_string("s3"));
    json_object_object_add(u, "size", json_object_new_int64(size));
    json_object_object_add(u, "method", json_object_new_string("PUT"));
    json_object_object_add(u, "headers", headers);
    if (!url)
        return -1;
    if (!upload_id) {
        p.if_none_match = true;
        p.content_type = type;
        json_object_object_add(headers, "If-None-Match", json_object_new_string("*"));
        if (type)
            json_object_object_add(headers, "Content-Type", json_object_new_string(type));
        if (store_presign(r->cfg, &p, url, PRESIGNED_MAX) != 0)
            return -1;
        json_object_object_add(u, "url", json_object_new_string(url));
        return 0;
    }
    long long part = part_size(r->cfg, size);
    json_object *parts = json_object_new_array();
    json_object_object_add(u, "part_size", json_object_new_int64(part));
    json_object_object_add(u, "parts", parts);
    p.upload_id = upload_id;
    for (long long off = 0; off < size; off += part) {
        json_object *o = json_object_new_object();
        p.part++;
        p.content_length = size - off < part ? size - off : part;
        if (store_presign(r->cfg, &p, url, PRESIGNED_MAX) != 0) {
            json_object_put(o);
            return -1;
        }
        json_object_object_add(o, "number", json_object_new_int(p.part));
        json_object_object_add(o, "size", json_object_new_int64(p.content_length));
        json_object_object_add(o, "url", json_object_new_string(url));
        json_object_array_add(parts, o);
    }
    return 0;
}

/* POST /uploads with the s3 target: the slot of a file of exactly size bytes
 * (the size parameter) that the client PUTs to the bucket itself; without
 * size, a slot whose file comes through mediagate (its tus endpoint, or a
 * PUT to its url). */
int upload_target_s3_create(request *r, const upload_slot *sl)
{
    const char *owner = sl->owner, *name = sl->name, *type = sl->content_type, *acl = sl->acl;
    long long max = sl->max_bytes;
    const upload_profile upv = {.snap = sl->profile_snap, .kind = sl->profile_kind}, *up = &upv;
    int ret;
    long long size = -1;
    PGresult *res = NULL;
    store *s = NULL;
    json_object *u = NULL;
    char id[UUID_BUF], job[UUID_BUF], token[65], maxbuf[24], ttl[24], sizebuf[24], key[300];
    char upload_id[1025] = "";
    unsigned char h[32];
    const char *v = sl->size;
    if (v && (ret = bytes_param(r, "size", v, max, &size)) != 0)
        return ret;
    if (random_hex(token) != 0)
        return reply_error(r, 500, "No randomness for an upload token.");
    uuid_new(id);
    uuid_new(job);
    upload_key(key, sizeof key, id, name);
    /* Taken before the slot's expiry is: no URL outlives its slot. */
    time_t now = time(NULL);
    if (size > part_size(r->cfg, size)) {
        store_put_opts o = {.content_type = type};
        if (!(s = store_open(r->cfg))) {
            ret = reply_error(r, 500, "Out of memory.");
            goto out;
        }
        store_status ss = store_multipart_create(s, key, &o, upload_id, sizeof upload_id);
        if (ss != STORE_OK) {
            upload_id[0] = '\0';
            ret = reply_store(r, s, ss, "The upload could not be started");
            goto out;
        }
    }
    sha256_raw(token, strlen(token), h);
    snprintf(maxbuf, sizeof maxbuf, "%lld", max);
    snprintf(ttl, sizeof ttl, "%ld", r->cfg->upload_slot_ttl);
    snprintf(sizebuf, sizeof sizebuf, "%lld", size);
    const char *vals[] = {id,
                          job,
                          owner,
                          name,
                          type,
                          maxbuf,
                          (const char *)h,
                          ttl,
                          acl,
                          size >= 0 ? sizebuf : NULL,
                          upload_id[0] ? upload_id : NULL,
                          up->snap,
                          up->kind};
    int lens[13] = {[6] = 32}, fmts[13] = {[6] = 1};
    ret = db_exec_params(r->db, STMT_UPLOAD_CREATE_S3, 13, vals, lens, fmts, &res);
    if (ret) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    u = upload_object(r, id, name, token, PQgetvalue(res, 0, 0));
    if (size < 0)
        json_object_object_add(u, "storage", json_object_new_string("s3"));
    else if (add_s3_targets(r, u, key, size, type, upload_id[0] ? upload_id : NULL, now) != 0) {
        /* The slot stays until its expiry, which removes what it holds. */
        ret = reply_error(r, 500, "The upload URL could not be signed.");
        goto out;
    }
    upload_id[0] = '\0'; /* the slot owns it now */
    ret = reply_created(r, job, u);
    u = NULL;
out:
    if (upload_id[0] && store_multipart_abort(s, key, upload_id) != STORE_OK)
        log_error("upload %s: %s", id, store_err(s));
    json_object_put(u);
    store_close(s);
    PQclear(res);
    return ret;
}

/* The object of an S3 slot, completed (a multipart upload) and looked at:
 * STORE_OK with *meta, or the store's failure. */
static store_status s3_object(store *s, const char *key, const char *upload_id,
                              store_object *meta)
{
    if (upload_id) {
        store_status st = store_multipart_complete(s, key, upload_id, meta);
        /* NOT_FOUND: completed already (an answer lost), or never begun. */
        if (st != STORE_NOT_FOUND)
            return st;
    }
    return store_head(s, key, meta);
}

int handle_uploads_complete(request *r)
{
    int ret;
    PGresult *res = NULL, *done = NULL;
    store *s = NULL;
    store_object meta = {0};
    put_target t;
    unsigned char h[32];
    char key[300], sizebuf[24], msg[300];
    r->cache_control = "no-store";
    if (!store_is_s3(r->cfg))
        return reply_error(r, 409, "Nothing to complete: uploads here take the file by PUT to "
                                   "the upload's url.");
    if ((ret = completion_slot(r, false, &t, h, &res)) != 0)
        goto out;
    const char *job = PQgetvalue(res, 0, 0);
    const char *expires = PQgetisnull(res, 0, 7) ? NULL : PQgetvalue(res, 0, 7);
    if (strcmp(PQgetvalue(res, 0, 5), "t") == 0) {
        /* Confirmed already: the same answer again (a retry after a lost one). */
        ret = reply_created(r, job, upload_object(r, t.id, t.name, NULL, expires));
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 6), "t") == 0) {
        ret = reply_error(r, 410, "This upload URL has expired. Ask for a new one.");
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 8), "t") == 0) {
        /* Its multipart upload is the tus upload's, which completes it. */
        ret = reply_error(r, 409, "This upload URL's file comes through tus: go on at its "
                                  "tus_endpoint.");
        goto out;
    }
    upload_key(key, sizeof key, t.id, t.name);
    if (!(s = store_open(r->cfg))) {
        ret = reply_error(r, 500, "Out of memory.");
        goto out;
    }
    store_status st = s3_object(s, key, PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2),
                                &meta);
    if (st == STORE_NOT_FOUND) {
        ret = reply_error(r, 409, "No file has arrived for this upload yet: PUT it to the "
                                  "upload's URL (or its parts' URLs) first.");
        goto out;
    }
    if (st != STORE_OK) {
        ret = reply_store(r, s, st, "The upload could not be checked");
        goto out;
    }
    long long declared = PQgetisnull(res, 0, 3) ? -1 : atoll(PQgetvalue(res, 0, 3));
    if ((declared >= 0 && meta.size != declared) || meta.size > atoll(PQgetvalue(res, 0, 4))) {
        /* Parts missing (a multipart upload completed with fewer), or not
         * this slot's file: it is not encoded, and not kept. */
        snprintf(msg, sizeof msg, "The store holds %lld bytes for this upload, not the %lld "
                 "it declared; that object was removed.", meta.size, declared);
        if (store_delete(s, key) != STORE_OK)
            log_error("upload %s: %s", t.id, store_err(s));
        ret = reply_error(r, 400, msg);
        goto out;
    }
    snprintf(sizebuf, sizeof sizebuf, "%lld", meta.size);
    const char *cv[] = {t.id, (const char *)h, sizebuf, key, meta.etag};
    int cl[] = {0, 32, 0, 0, 0}, cf[] = {0, 1, 0, 0, 0};
    if ((ret = db_exec_params(r->db, STMT_UPLOAD_CONFIRM, 5, cv, cl, cf, &done)) != 0) {
        /* Nothing spent: the call may be repeated; the object stays. */
        ret = reply_db_error(r, ret);
        goto out;
    }
    if (PQgetisnull(done, 0, 0)) {
        ret = reply_error(r, 409, "This upload URL was used already, or expired meanwhile.");
        goto out;
    }
    log_info("upload %s: %lld bytes in the store, job %s", t.id, meta.size, job);
    ret = reply_created(r, job, upload_object(r, t.id, t.name, NULL, expires));
out:
    store_close(s);
    PQclear(done);
    PQclear(res);
    return ret;
}

/* A slot whose file came whole through a PUT, once confirmed: its
 * multipart upload (if any) is aborted, so that no parts stay in the
 * bucket (best effort: a failure is logged, a lifecycle rule is the second
 * net). Returns the slot's expiry (in r's arena), as the POST to
 * complete_url answers it, or NULL when it could not be read. */
static const char *slot_put_done(request *r, store *s, const put_target *t,
                                 const unsigned char h[32], const char *key)
{
    PGresult *res = NULL;
    const char *expires = NULL;
    const char *vals[] = {t->id, t->name, (const char *)h};
    int lens[] = {0, 0, 32}, fmts[] = {0, 0, 1};
    if (db_exec_params(r->db, STMT_UPLOAD_SLOT, 3, vals, lens, fmts, &res) != 0 ||
        PQntuples(res) != 1)
        goto out;
    if (!PQgetisnull(res, 0, 7))
        expires = arena_strdup(r->a, PQgetvalue(res, 0, 7));
    if (!PQgetisnull(res, 0, 2) && store_multipart_abort(s, key, PQgetvalue(res, 0, 2)) != STORE_OK)
        log_error("upload %s: %s", t->id, store_err(s));
out:
    PQclear(res);
    return expires;
}

/* The tail of PUT /uploads/... on S3 storage, once the slot (or the owner)
 * is checked: the body is spooled to a temporary file, written to the
 * bucket (never over an object there) and recorded like a confirmed slot.
 * Returns the status it replied. */
static int put_s3(request *r, const put_target *t, const char *owner, size_t len,
                  const unsigned char h[32], const upload_profile *up)
{
    int ret;
    const config *c = r->cfg;
    PGresult *res = NULL;
    store *s = NULL;
    store_object meta = {0};
    char dir[1024], path[1200], key[300], job[UUID_BUF], maxbuf[24], sizebuf[24];
    const char *tmp = getenv("TMPDIR");
    const char *type = r->content_type && content_type_ok(r->content_type) ? r->content_type
                                                                           : NULL;
    path[0] = '\0';
    snprintf(dir, sizeof dir, "%s/mediagate-upload.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        log_error("upload: a temporary directory in %s: %s", tmp && *tmp ? tmp : "/tmp",
                  strerror(errno));
        dir[0] = '\0';
        ret = reply_error(r, 507, "The upload could not be stored: no space.");
        goto out;
    }
    snprintf(path, sizeof path, "%s/%s", dir, t->name);
    if ((ret = store_body(r, dir, t->name, len, path)) != 0)
        goto out;
    upload_key(key, sizeof key, t->id, t->name);
    store_put_opts o = {.content_type = type, .if_none_match = true};
    if (!(s = store_open(c))) {
        ret = reply_error(r, 500, "Out of memory.");
        goto out;
    }
    store_status st = store_put_file(s, key, path, &o, &meta);
    if (st == STORE_PRECONDITION) {
        ret = reply_error(r, 409, "This upload URL was used already.");
        goto out;
    }
    if (st != STORE_OK) {
        ret = reply_store(r, s, st, "The upload could not be stored");
        goto out;
    }
    snprintf(sizebuf, sizeof sizebuf, "%zu", len);
    if (t->slot) {
        const char *vals[] = {t->id, (const char *)h, sizebuf, key, meta.etag};
        int lens[] = {0, 32, 0, 0, 0}, fmts[] = {0, 1, 0, 0, 0};
        ret = db_exec_params(r->db, STMT_UPLOAD_CONFIRM, 5, vals, lens, fmts, &res);
    } else {
        uuid_new(job);
        snprintf(maxbuf, sizeof maxbuf, "%ld", c->upload_max_bytes);
        const char *vals[] = {t->id,   job, owner,     t->name,  type,    maxbuf,
                              sizebuf, key, meta.etag, up->snap, up->kind};
        ret = db_exec(r->db, STMT_UPLOAD_PUT_S3, 11, vals, &res);
    }
    if (ret || PQgetisnull(res, 0, 0)) {
        /* Not recorded: the object goes, and the token (unspent) may be
         * used again. A slot spent or expired meanwhile says so. */
        if (store_delete(s, key) != STORE_OK)
            log_error("upload %s: %s", t->id, store_err(s));
        if (ret)
            ret = reply_db_error(r, ret);
        else if ((ret = check_slot(r, false, t, sizebuf, (unsigned char *)h)) == 0)
            ret = reply_error(r, 409, "This upload URL was used already.");
        goto out;
    }
    log_info("upload %s: %zu bytes to the store, job %s", t->id, len, PQgetvalue(res, 0, 0));
    const char *expires = t->slot ? slot_put_done(r, s, t, h, key) : NULL;
    ret = reply_created(r, PQgetvalue(res, 0, 0), upload_object(r, t->id, t->name, NULL, expires));
out:
    if (path[0])
        unlink(path);
    if (dir[0])
        rmdir(dir);
    store_close(s);
    PQclear(res);
    return ret;
}

char *upload_name_of(request *r, const char *want)
{
    return slot_name(r, want);
}

bool upload_type_ok(const char *type)
{
    return content_type_ok(type);
}

int upload_default_target_allowed(request *r)
{
    return target_allowed(r, upload_target_default(r->cfg));
}
