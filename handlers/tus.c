/* Resumable uploads: tus 1.0 (https://tus.io/protocols/resumable-upload)
 * with the extensions creation, creation-with-upload, termination,
 * expiration and checksum, beside the direct uploads (handlers/uploads.c):
 *   POST   /uploads/tus                (API key) a slot, its job and its tus
 *                                      upload at once;
 *   POST   /uploads/tus/<id>?token=    creation for a slot of POST /uploads
 *                                      (its upload.tus_endpoint), optionally
 *                                      with the first chunk;
 *   HEAD   /uploads/tus/<id>?token=    the durable offset;
 *   PATCH  /uploads/tus/<id>?token=    a chunk at that offset;
 *   DELETE /uploads/tus/<id>?token=    termination: bytes gone, job CANCELED.
 * The URL's token is the only credential, as for a slot's PUT; the same
 * limits hold (max_bytes, expiry, allowed origins). nginx buffers each chunk
 * and asks this handler first (auth_request, MEDIAGATE_UPLOAD_CHECK set), so
 * a refused chunk is never read. The bytes go through the storage's row of
 * app/uploads/tus.h: each chunk is spooled to a temporary file while its
 * checksum is computed, then appended and made durable before its offset is
 * recorded; one request per upload writes at a time (an advisory lock of
 * the request thread's PostgreSQL session). At the last byte the file is
 * put in place and the slot is spent, stored and its encode queued in one
 * transaction, as for a PUT. Every refusal is the usual JSON body. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caller.h"
#include "config.h"
#include "cors.h"
#include "db.h"
#include "handlers.h"
#include "hash.h"
#include "log.h"
#include "profiles.h"
#include "storage/storage.h"
#include "uploads/tus.h"

#define TUS_PATH "/uploads/tus/"
#define METADATA_MAX 2048 /* echoed in every answer: nginx reads 8k of headers */
#define SPOOL_BUF (1 << 16)

static const char unknown_url[] = "This upload URL is unknown or its token is wrong.";
static const char no_space[] = "The chunk could not be stored: no space is left on the server. "
                               "Try again later.";
static const char busy[] = "Another request on this upload is in progress: HEAD it for its "
                           "offset, then go on from there.";

/* The columns of STMT_TUS_GET after TUS_UPLOAD_COLS. */
enum {
    C_JOB = 8,
    C_METADATA,
    C_STORED,
    C_EXPIRED,
    C_EXPIRES,
    C_MAX,
    C_DECLARED,
    C_TERMINATED,
    C_TARGET,
    C_JOB_FINAL
};

/* One tus request: the upload its URL names and what it holds. */
typedef struct tus_ctx {
    request *r;
    bool check; /* nginx's question before it reads the body */
    char id[UUID_BUF];
    unsigned char h[32]; /* the token's digest */
    const char *token;
    PGresult *row; /* STMT_TUS_GET's */
    tus_upload u;
    bool locked;
    const tus_storage *ts;
    store *s;
    int body_fd; /* the chunk, once taken (take_chunk); -1: none */
    long long body_len;
    bool writing; /* counted in writers */
} tus_ctx;

/* Requests storing a chunk now. A chunk may hold its thread long (a slow
 * disk, an object store's part upload): at most half the request threads
 * (MEDIAGATE_THREADS, at least one) do, so the rest of the API keeps its
 * threads; past that a chunk is 503 + Retry-After, which tus clients
 * retry (nginx's check says so before it reads the chunk). */
static atomic_long writers;

static long writers_cap(const config *cfg)
{
    return cfg->threads / 2 > 1 ? cfg->threads / 2 : 1;
}

/* A refusal: the JSON answer; in the check, nginx's 401 or 403 with the
 * reason and the status to answer (X-Mediagate-Status, which
 * nginx/mediagate-upload.conf turns into that status). */
static int refuse(tus_ctx *c, int status, const char *msg)
{
    request *r = c->r;
    const char *m = arena_strdup(r->a, msg);
    if (!m)
        return reply_error(r, 500, "Out of memory.");
    if (c->check) {
        char *st = arena_alloc(r->a, 8);
        if (st) {
            snprintf(st, 8, "%d", status);
            request_header(r, "X-Mediagate-Status", st);
        }
        r->reason = m;
        status = status == 401 ? 401 : 403;
    }
    return reply_error(r, status, m);
}

static void header_ll(request *r, const char *name, long long v)
{
    char *s = arena_alloc(r->a, 24);
    if (s) {
        snprintf(s, 24, "%lld", v);
        request_header(r, name, s);
    }
}

/* A whole number of bytes: ASCII digits only, no sign, no overflow. */
static bool bytes_value(const char *v, long long *out)
{
    if (!v || !*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 18)
        return false;
    *out = atoll(v);
    return true;
}

/* Tus-Resumable: 1.0.0, which every request but OPTIONS must carry. */
static int version_ok(tus_ctx *c)
{
    const char *v = request_param(c->r, "HTTP_TUS_RESUMABLE");
    if (v && strcmp(v, "1.0.0") == 0)
        return 0;
    return refuse(c, 412, "This server speaks tus 1.0.0: send Tus-Resumable: 1.0.0.");
}

/* The check's own CORS decision (the request's Origin comes apart from the
 * check's) and Tus-Resumable. Returns 0 or the refusal's status. */
static int check_start(tus_ctx *c)
{
    request *r = c->r;
    c->check = request_param(r, "MEDIAGATE_UPLOAD_CHECK") != NULL;
    if (c->check) {
        const char *origin = request_param(r, "MEDIAGATE_UPLOAD_ORIGIN");
        if (!cors_origin_ok(r, &r->cfg->origins, origin && *origin ? origin : NULL))
            return refuse(c, 422, "ORIGIN is invalid.");
    }
    r->cache_control = "no-store";
    if (!*r->cfg->uploads_dir && !store_is_s3(r->cfg))
        return refuse(c, 403, "Uploads are not configured (MEDIAGATE_UPLOADS_DIR).");
    return version_ok(c);
}

/* The id in the path and the token in the query. Any other shape (a path
 * with more in it, no token, a query the parser refused) opens nothing:
 * 401, as for a wrong token. */
static int parse_url(tus_ctx *c)
{
    request *r = c->r;
    const char *rest = r->path + strlen(TUS_PATH);
    const param *tok = params_get(&r->qp, "token");
    if (!uuid_valid(rest, strlen(rest)) || r->query_status || !tok || !*tok->val)
        return refuse(c, 401, unknown_url);
    snprintf(c->id, sizeof c->id, "%s", rest);
    c->token = tok->val;
    sha256_raw(tok->val, strlen(tok->val), c->h);
    return 0;
}

/* (Re)reads the upload into c->row and c->u. Returns 0, 401 for a URL
 * that opens none (a platform's upload has no tus URL), or the database's
 * failure (in the check: 204, the request itself answers the outage). */
static int load(tus_ctx *c)
{
    const char *vals[] = {c->id, (const char *)c->h};
    int lens[] = {0, 32}, fmts[] = {0, 1};
    PQclear(c->row);
    c->row = NULL;
    int ret = db_exec_params(c->r->db, STMT_TUS_GET, 2, vals, lens, fmts, &c->row);
    if (ret) /* in the check: the request itself answers the outage */
        return c->check ? 204 : reply_db_error(c->r, ret);
    if (PQntuples(c->row) != 1 || !PQgetisnull(c->row, 0, C_TARGET))
        return refuse(c, 401, unknown_url);
    tus_upload_from_row(&c->u, c->row, 0);
    return 0;
}

static bool col_true(const tus_ctx *c, int col)
{
    return strcmp(PQgetvalue(c->row, 0, col), "t") == 0;
}

/* An upload that may take bytes: not terminated (404), not expired and its
 * job not ended (410), created (404 unless creating). The caller deals
 * with a stored one. */
static int state_ok(tus_ctx *c, bool creating)
{
    if (col_true(c, C_TERMINATED))
        return refuse(c, 404, "This upload was terminated.");
    if (col_true(c, C_EXPIRED))
        return refuse(c, 410, "This upload URL has expired. Ask for a new one.");
    if (col_true(c, C_JOB_FINAL)) /* canceled (its bytes go at the slot's expiry) */
        return refuse(c, 410, "This upload's job was canceled. Ask for a new upload URL.");
    if (!creating && c->u.length == 0)
        return refuse(c, 404, "This upload was not created: POST its Upload-Length first.");
    return 0;
}

/* Upload-Offset, Upload-Length, Upload-Expires and Upload-Metadata. */
static void state_headers(tus_ctx *c)
{
    request *r = c->r;
    header_ll(r, "Upload-Offset", col_true(c, C_STORED) ? c->u.length : c->u.offset);
    header_ll(r, "Upload-Length", c->u.length);
    if (!col_true(c, C_STORED) && !PQgetisnull(c->row, 0, C_EXPIRES))
        request_header(r, "Upload-Expires", arena_strdup(r->a, PQgetvalue(c->row, 0, C_EXPIRES)));
    if (!PQgetisnull(c->row, 0, C_METADATA))
        request_header(r, "Upload-Metadata", arena_strdup(r->a, PQgetvalue(c->row, 0, C_METADATA)));
}

/* Becomes the one writer of the upload, unless another request is
 * (c->locked stays false). Returns 0 or the database's failure, replied. */
static int try_lock(tus_ctx *c)
{
    PGresult *res = NULL;
    const char *vals[] = {c->id};
    int ret = db_exec(c->r->db, STMT_TUS_LOCK, 1, vals, &res);
    if (ret)
        ret = reply_db_error(c->r, ret);
    else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        c->locked = true;
        c->r->db->session = true; /* a lost connection lost the lock: no silent reconnect */
    }
    PQclear(res);
    return ret;
}

/* try_lock, and 409 while another request holds the upload. */
static int lock(tus_ctx *c)
{
    int ret = try_lock(c);
    if (ret || c->locked)
        return ret;
    return refuse(c, 409, busy);
}

/* Releases what c holds: the lock (dropped with the connection if that
 * was lost), the store, the row. */
static void release(tus_ctx *c)
{
    if (c->locked) {
        PGresult *res = NULL;
        const char *vals[] = {c->id};
        if (db_exec(c->r->db, STMT_TUS_UNLOCK, 1, vals, &res) != 0)
            log_warn("tus %s: unlock: %s", c->id, c->r->db->error);
        PQclear(res);
        c->r->db->session = false;
        c->locked = false;
    }
    store_close(c->s);
    c->s = NULL;
    PQclear(c->row);
    c->row = NULL;
    if (c->body_fd >= 0)
        close(c->body_fd);
    c->body_fd = -1;
    if (c->writing)
        atomic_fetch_sub(&writers, 1);
    c->writing = false;
}

/* Counts c among the writers, or refuses 503 when they are as many as the
 * cap already (in the check: a look only). */
static int writer(tus_ctx *c)
{
    const long cap = writers_cap(c->r->cfg);
    if (c->check ? atomic_load(&writers) < cap : atomic_fetch_add(&writers, 1) < cap) {
        c->writing = !c->check;
        return 0;
    }
    if (!c->check)
        atomic_fetch_sub(&writers, 1);
    return refuse(c, 503, "Too many chunks are being stored at once: retry shortly.");
}

/* Replies to a failure st of the storage's row (what: the step). */
static int reply_storage(tus_ctx *c, store_status st, const char *what)
{
    char msg[200];
    if (st == STORE_PRECONDITION)
        return refuse(c, 409, busy);
    if (c->s && st != STORE_OK)
        log_error("tus %s: %s: %s", c->id, what, store_err(c->s));
    if (st == STORE_NOT_FOUND) /* the multipart upload or the partial file went */
        return refuse(c, 410, "This upload's bytes are gone: start a new upload.");
    if (st == STORE_NO_SPACE) { /* nothing of it kept: the same chunk later */
        snprintf(msg, sizeof msg, "%s: no space is left on the server. Try again later.", what);
        return reply_error(c->r, 507, msg);
    }
    snprintf(msg, sizeof msg, "%s: the storage %s. Try again.", what,
             st == STORE_RETRY ? "is unavailable" : "failed");
    return reply_error(c->r, st == STORE_RETRY ? 503 : 500, msg);
}

static void abandon(tus_ctx *c, const char *why);

/* The checksum extension's algorithms. */
static const struct {
    const char *name;
    const EVP_MD *(*md)(void);
} algorithms[] = {
    {"sha1", EVP_sha1},
    {"md5", EVP_md5},
    {"sha256", EVP_sha256},
};

/* Decodes base64 text (len bytes) into out (cap bytes). Returns the
 * length, or -1 when it is not base64 or too long. */
static int b64_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
    if (len % 4 || len / 4 * 3 > cap ||
        strspn(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs"
                   "tuvwxyz0123456789+/=") < len)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0)
        return -1;
    for (size_t i = len; i > 0 && in[i - 1] == '='; i--)
        n--;
    return n;
}

/* Upload-Checksum: "<algorithm> <base64 digest>", into *md and want.
 * *md NULL: none asked. Returns 0, or 400. */
static int checksum_header(tus_ctx *c, const EVP_MD **md, unsigned char want[EVP_MAX_MD_SIZE])
{
    const char *v = request_param(c->r, "HTTP_UPLOAD_CHECKSUM");
    *md = NULL;
    if (!v)
        return 0;
    const char *sp = strchr(v, ' ');
    size_t alen = sp ? (size_t)(sp - v) : strlen(v);
    for (size_t i = 0; i < sizeof algorithms / sizeof algorithms[0]; i++)
        if (strlen(algorithms[i].name) == alen && strncmp(v, algorithms[i].name, alen) == 0)
            *md = algorithms[i].md();
    if (!*md)
        return refuse(c, 400, "Upload-Checksum: the algorithm must be sha1, md5 or sha256.");
    if (!sp || b64_decode(sp + 1, strlen(sp + 1), want, EVP_MAX_MD_SIZE) != EVP_MD_get_size(*md))
        return refuse(c, 400,
                      "Upload-Checksum must be the algorithm, a space and the "
                      "chunk's digest in base64.");
    return 0;
}

/* Whether the request carries a body, and its declared length (-1: none
 * declared, e.g. chunked). */
static bool has_body(tus_ctx *c, long long *declared)
{
    const char *v = request_param(c->r, c->check ? "MEDIAGATE_UPLOAD_LENGTH" : "CONTENT_LENGTH");
    const char *te = request_param(c->r, c->check ? "MEDIAGATE_UPLOAD_TRANSFER_ENCODING"
                                                  : "HTTP_TRANSFER_ENCODING");
    *declared = -1;
    if (v && *v && bytes_value(v, declared))
        return *declared > 0;
    return te && *te;
}

/* A chunk's Content-Type. Returns 0 or 415. */
static int chunk_type_ok(tus_ctx *c)
{
    const char *t = c->r->content_type;
    if (t && strcmp(t, "application/offset+octet-stream") == 0)
        return 0;
    return refuse(c, 415, "A chunk's Content-Type must be application/offset+octet-stream.");
}

/* The body, at most max bytes, into a temporary file (unlinked; *fd) with
 * its digest (md not NULL) into got. Returns 0 with *len, or 413 past max
 * (nothing kept), 400 for a short body, 507 / 500. */
static int spool(tus_ctx *c, long long max, const EVP_MD *md, unsigned char *got, int *fd,
                 long long *len)
{
    request *r = c->r;
    int ret = 0;
    long long declared;
    char path[1024];
    const char *tmp = getenv("TMPDIR");
    EVP_MD_CTX *mctx = NULL;
    char *buf = arena_alloc(r->a, SPOOL_BUF);
    *fd = -1;
    *len = 0;
    if (has_body(c, &declared) && declared > max)
        return refuse(c, 413, "The chunk goes past the upload's Upload-Length.");
    snprintf(path, sizeof path, "%s/mediagate-tus.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!buf || (md && (!(mctx = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(mctx, md, NULL)))) {
        ret = reply_error(r, 500, "Out of memory.");
        goto out;
    }
    if ((*fd = mkostemp(path, O_CLOEXEC)) < 0) {
        log_error("tus %s: a temporary file in %s: %s", c->id, path, strerror(errno));
        ret = reply_error(r, 507, no_space);
        goto out;
    }
    unlink(path);
    for (long n; (n = request_read(r, buf, SPOOL_BUF)) > 0;) {
        if (*len + n > max) {
            ret = refuse(c, 413, "The chunk goes past the upload's Upload-Length.");
            goto out;
        }
        if (mctx && !EVP_DigestUpdate(mctx, buf, (size_t)n)) {
            ret = reply_error(r, 500, "The checksum could not be computed.");
            goto out;
        }
        for (long w = 0; w < n;) {
            ssize_t k = write(*fd, buf + w, (size_t)(n - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                log_error("tus %s: spool: %s", c->id, strerror(errno));
                ret = reply_error(r, 507, no_space);
                goto out;
            }
            w += k;
        }
        *len += n;
    }
    if (declared >= 0 && *len != declared) {
        ret = reply_error(r, 400, "The request body is shorter than Content-Length.");
        goto out;
    }
    if (mctx && !EVP_DigestFinal_ex(mctx, got, NULL))
        ret = reply_error(r, 500, "The checksum could not be computed.");
out:
    EVP_MD_CTX_free(mctx);
    if (ret && *fd >= 0) {
        close(*fd);
        *fd = -1;
    }
    return ret;
}

/* The last byte is in: the file at its place, then the slot spent, stored
 * and its encode queued in one transaction (as a PUT's). Repeatable: a
 * HEAD finishes what a crash left at offset == length. Returns 0 or the
 * status replied. */
static int complete(tus_ctx *c)
{
    request *r = c->r;
    PGresult *res = NULL;
    store_object meta;
    char size[24], path[1200];
    int ret;
    store_status st = c->ts->finish(r->cfg, c->s, &c->u, &meta);
    if (st != STORE_OK)
        return reply_storage(c, st, "The upload could not be completed");
    snprintf(size, sizeof size, "%lld", meta.size);
    if (strcmp(c->ts->name, "s3") == 0) {
        const char *vals[] = {c->id, (const char *)c->h, size, c->u.key, meta.etag};
        int lens[] = {0, 32, 0, 0, 0}, fmts[] = {0, 1, 0, 0, 0};
        ret = db_exec_params(r->db, STMT_UPLOAD_CONFIRM, 5, vals, lens, fmts, &res);
    } else {
        snprintf(path, sizeof path, "%s/%s/%s", r->cfg->uploads_dir, c->id, c->u.name);
        const char *vals[] = {c->id, (const char *)c->h, size, path};
        int lens[] = {0, 32, 0, 0}, fmts[] = {0, 1, 0, 0};
        ret = db_exec_params(r->db, STMT_UPLOAD_STORE, 4, vals, lens, fmts, &res);
    }
    if (ret)
        ret = reply_db_error(r, ret);
    else if (PQgetisnull(res, 0, 0))
        ret = refuse(c, 410, "This upload URL expired before its last byte was stored.");
    else
        log_info("tus %s: %lld bytes stored, job %s", c->id, meta.size, PQgetvalue(res, 0, 0));
    PQclear(res);
    return ret;
}

/* The body, a chunk of at most max bytes: spooled to c->body_fd and
 * checked against Upload-Checksum. Returns 0, or the refusal replied (400,
 * 413, 460, ...), which keeps nothing. */
static int take_chunk(tus_ctx *c, long long max)
{
    const EVP_MD *md;
    unsigned char want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
    int ret;
    if ((ret = checksum_header(c, &md, want)) != 0 ||
        (ret = spool(c, max, md, got, &c->body_fd, &c->body_len)) != 0)
        return ret;
    if (md && memcmp(want, got, (size_t)EVP_MD_get_size(md)) != 0) {
        close(c->body_fd);
        c->body_fd = -1;
        return refuse(c, 460, "Upload-Checksum does not match the chunk: it was not kept.");
    }
    return 0;
}

/* The chunk taken (take_chunk) at the upload's offset, under the lock:
 * appended durably, then recorded; at the last byte the upload completes.
 * Returns 0 or the status replied. */
static int store_chunk(tus_ctx *c)
{
    request *r = c->r;
    long long was = c->u.offset;
    int ret = 0;
    PGresult *res = NULL;
    if (c->body_len == 0)
        goto out;
    if (c->body_len > c->u.length - c->u.offset) {
        ret = refuse(c, 413, "The chunk goes past the upload's Upload-Length.");
        goto out;
    }
    store_status st = c->ts->append(r->cfg, c->s, &c->u, c->body_fd, c->body_len);
    if (st != STORE_OK) {
        ret = reply_storage(c, st, "The chunk could not be stored");
        if (st == STORE_NOT_FOUND) /* 410: the upload ends at once, its job says why */
            abandon(c, "the upload's bytes were lost from storage; start a new upload");
        goto out;
    }
    char off[24], parts[16], tail[24], old[24];
    snprintf(off, sizeof off, "%lld", c->u.offset);
    snprintf(parts, sizeof parts, "%d", c->u.parts);
    snprintf(tail, sizeof tail, "%lld", c->u.tail_bytes);
    snprintf(old, sizeof old, "%lld", was);
    const char *vals[] = {
        c->id, (const char *)c->h, off, parts, c->u.tail_key[0] ? c->u.tail_key : NULL, tail, old};
    int lens[] = {0, 32, 0, 0, 0, 0, 0}, fmts[] = {0, 1, 0, 0, 0, 0, 0};
    /* Not recorded: the bytes past the old offset are cut by the next
     * append; the client resumes at HEAD's offset. */
    if ((ret = db_exec_params(r->db, STMT_TUS_ADVANCE, 7, vals, lens, fmts, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    if (PQntuples(res) != 1) {
        ret = refuse(c, 409, "The upload changed meanwhile: HEAD it for its offset.");
        goto out;
    }
    if (c->u.offset == c->u.length)
        ret = complete(c);
out:
    PQclear(res);
    return ret;
}

/* take_chunk, then store_chunk. */
static int write_chunk(tus_ctx *c)
{
    int ret = take_chunk(c, c->u.length - c->u.offset);
    return ret ? ret : store_chunk(c);
}

/* Upload-Metadata: comma-separated "key" or "key base64-value" pairs, keys
 * of visible ASCII without commas, at most METADATA_MAX bytes. */
static bool metadata_ok(const char *m)
{
    if (strlen(m) > METADATA_MAX)
        return false;
    for (const char *p = m; *p;) {
        size_t k = strcspn(p, " ,");
        if (k == 0)
            return false;
        for (size_t i = 0; i < k; i++)
            if (p[i] < 0x21 || p[i] > 0x7e)
                return false;
        p += k;
        if (*p == ' ') {
            unsigned char out[METADATA_MAX];
            size_t v = strcspn(++p, ",");
            if (b64_decode(p, v, out, sizeof out) < 0)
                return false;
            p += v;
        }
        if (*p == ',' && !*++p)
            return false;
    }
    return true;
}

/* The decoded value of key in metadata m (valid), as an arena string; NULL
 * when absent, empty or not text. */
static const char *metadata_get(request *r, const char *m, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = m; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (strncmp(p, key, klen) != 0 || p[klen] != ' ')
            continue;
        const char *v = p + klen + 1;
        size_t vlen = strcspn(v, ",");
        unsigned char *out = arena_alloc(r->a, vlen + 1);
        int n = out ? b64_decode(v, vlen, out, vlen) : -1;
        if (n <= 0 || memchr(out, 0, (size_t)n) || utf8_length((char *)out, (size_t)n) < 0)
            return NULL;
        out[n] = '\0';
        return (const char *)out;
    }
    return NULL;
}

/* Upload-Length (1 to max: else 400, 413) and Upload-Metadata (400). Any
 * Upload-Concat is 400: concatenation is not an extension of this server
 * (a client's parallel parts would each become a whole file and a job). */
static int creation_headers(tus_ctx *c, long long max, long long *len, const char **meta)
{
    const char *v = request_param(c->r, "HTTP_UPLOAD_LENGTH");
    *meta = request_param(c->r, "HTTP_UPLOAD_METADATA");
    if (*meta && !**meta)
        *meta = NULL;
    if (request_param(c->r, "HTTP_UPLOAD_CONCAT"))
        return refuse(c, 400,
                      "Upload-Concat (the concatenation extension) is not supported: send "
                      "the file as one upload.");
    if (!v && request_param(c->r, "HTTP_UPLOAD_DEFER_LENGTH"))
        return refuse(c, 400, "Upload-Defer-Length is not supported: send Upload-Length.");
    if (!bytes_value(v, len) || *len < 1)
        return refuse(c, 400, "Upload-Length must be a whole number of bytes from 1.");
    if (*len > max)
        return refuse(c, 413, "Upload-Length is larger than this upload URL's max_bytes.");
    if (*meta && !metadata_ok(*meta))
        return refuse(c, 400,
                      "Upload-Metadata must be comma-separated keys, each with an "
                      "optional base64 value, at most 2048 bytes.");
    return 0;
}

/* The creation's answer: 201, Location, the offset and expiry. */
static int reply_created(tus_ctx *c, const char *job)
{
    request *r = c->r;
    char *loc = arena_alloc(r->a, 1024);
    if (!loc)
        return reply_error(r, 500, "Out of memory.");
    snprintf(loc, 1024, "%s/tus/%s?token=%s", r->cfg->uploads_url, c->id, c->token);
    r->location = loc;
    state_headers(c);
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "job_id", json_object_new_string(job));
    json_object_object_add(r->out, "tus_endpoint", json_object_new_string(loc));
    return 201;
}

/* Creation of the upload c names (its row loaded, locked): idempotent for
 * the same length; with a body (creation-with-upload) its first chunk. */
static int create(tus_ctx *c, long long len, const char *meta)
{
    request *r = c->r;
    PGresult *res = NULL;
    long long declared;
    int ret;
    if (col_true(c, C_STORED) && !c->u.length)
        return refuse(c, 403, "This upload URL was used already: its file came by PUT.");
    if (c->u.length) {
        if (c->u.length != len)
            return refuse(c, 409, "This upload was created with another Upload-Length.");
    } else {
        if ((ret = state_ok(c, true)) != 0)
            return ret;
        if (len > atoll(PQgetvalue(c->row, 0, C_MAX)))
            return refuse(c, 413, "Upload-Length is larger than this upload URL's max_bytes.");
        if (!PQgetisnull(c->row, 0, C_DECLARED) && atoll(PQgetvalue(c->row, 0, C_DECLARED)) != len)
            return refuse(c, 409, "Upload-Length must be the size this upload URL was made for.");
        c->u.length = len;
        store_status st = c->ts->begin(r->cfg, c->s, &c->u);
        if (st != STORE_OK)
            return reply_storage(c, st, "The upload could not be started");
        char lenbuf[24];
        snprintf(lenbuf, sizeof lenbuf, "%lld", len);
        const char *vals[] = {c->id, (const char *)c->h, lenbuf, meta,
                              c->u.multipart_id[0] ? c->u.multipart_id : NULL};
        int lens[] = {0, 32, 0, 0, 0}, fmts[] = {0, 1, 0, 0, 0};
        ret = db_exec_params(r->db, STMT_TUS_CREATE, 5, vals, lens, fmts, &res);
        bool made = !ret && PQntuples(res) == 1;
        PQclear(res);
        if (ret)
            return reply_db_error(r, ret);
        if (!made || (ret = load(c)) != 0)
            return made ? ret : refuse(c, 409, "The upload changed meanwhile: ask again.");
    }
    if (has_body(c, &declared) && !col_true(c, C_STORED)) {
        if ((ret = chunk_type_ok(c)) != 0)
            return ret;
        /* A repeated creation's body starts at 0: taken only there. */
        if (c->u.offset == 0 && (ret = c->body_fd >= 0 ? store_chunk(c) : write_chunk(c)) != 0)
            return ret;
        if ((ret = load(c)) != 0)
            return ret;
    }
    return reply_created(c, PQgetvalue(c->row, 0, C_JOB));
}

/* The check of a creation: what can be said before the body is read. */
static int check_creation(tus_ctx *c, long long len)
{
    long long declared;
    if (has_body(c, &declared)) {
        int ret = chunk_type_ok(c);
        if (ret)
            return ret;
        if (declared > len)
            return refuse(c, 413, "The chunk goes past the upload's Upload-Length.");
        if ((ret = writer(c)) != 0)
            return ret;
    }
    return 204;
}

int handle_tus_create_slot(request *r)
{
    tus_ctx c = {.r = r, .ts = tus_storage_for(r->cfg), .body_fd = -1};
    long long len;
    const char *meta;
    int ret;
    if ((ret = check_start(&c)) != 0 || (ret = parse_url(&c)) != 0 ||
        (ret = creation_headers(&c, r->cfg->upload_max_bytes, &len, &meta)) != 0)
        goto out;
    if (c.check) {
        if ((ret = load(&c)) == 0 && (col_true(&c, C_STORED) || (ret = state_ok(&c, true)) == 0))
            ret = c.u.length && c.u.length != len
                      ? refuse(&c, 409, "This upload was created with another Upload-Length.")
                      : check_creation(&c, len);
        goto out;
    }
    if (!(c.s = store_open(r->cfg))) {
        ret = reply_error(r, 500, "Out of memory.");
        goto out;
    }
    long long declared;
    if ((!has_body(&c, &declared) || (ret = writer(&c)) == 0) && (ret = lock(&c)) == 0 &&
        (ret = load(&c)) == 0)
        ret = create(&c, len, meta);
out:
    release(&c);
    return ret;
}

/* A slot for POST /uploads/tus (API key): its name, type and profile from
 * Upload-Metadata (filename, filetype, profile), its size Upload-Length.
 * Sets c->id, c->token, c->h. Returns 0 or the status replied. */
static int make_slot(tus_ctx *c, long long len, const char *meta)
{
    request *r = c->r;
    PGresult *res = NULL;
    const encoder *row;
    const char *snap, *type = meta ? metadata_get(r, meta, "filetype") : NULL;
    char job[UUID_BUF], *token = arena_alloc(r->a, 65), maxbuf[24], ttl[24], size[24];
    int ret = profile_pick(r, meta ? metadata_get(r, meta, "profile") : NULL, &snap, &row);
    if (ret)
        return ret;
    const char *name = upload_name_of(r, meta ? metadata_get(r, meta, "filename") : NULL);
    if (!token || !name)
        return reply_error(r, 500, "Out of memory.");
    if (random_hex(token) != 0)
        return reply_error(r, 500, "No randomness for an upload token.");
    if (type && !upload_type_ok(type))
        type = NULL;
    uuid_new(c->id);
    uuid_new(job);
    c->token = token;
    sha256_raw(token, strlen(token), c->h);
    snprintf(maxbuf, sizeof maxbuf, "%ld", r->cfg->upload_max_bytes);
    snprintf(ttl, sizeof ttl, "%ld", r->cfg->upload_slot_ttl);
    snprintf(size, sizeof size, "%lld", len);
    if (store_is_s3(r->cfg)) {
        const char *vals[] = {
            c->id, job,  r->caller->owner, name, type, maxbuf, (const char *)c->h, ttl, NULL, size,
            NULL,  snap, row->create_kind};
        int lens[13] = {[6] = 32}, fmts[13] = {[6] = 1};
        ret = db_exec_params(r->db, STMT_UPLOAD_CREATE_S3, 13, vals, lens, fmts, &res);
    } else {
        const char *vals[] = {c->id, job,    r->caller->owner,   name,
                              type,  maxbuf, (const char *)c->h, ttl,
                              NULL,  snap,   row->create_kind};
        int lens[11] = {[6] = 32}, fmts[11] = {[6] = 1};
        ret = db_exec_params(r->db, STMT_UPLOAD_CREATE, 11, vals, lens, fmts, &res);
    }
    PQclear(res);
    return ret ? reply_db_error(r, ret) : 0;
}

/* A reply (r->out's message) as the check's refusal, in the check. */
static int as_refusal(tus_ctx *c, int status)
{
    json_object *m;
    request *r = c->r;
    if (!c->check || !r->out || !json_object_object_get_ex(r->out, "message", &m))
        return status;
    return refuse(c, status, json_object_get_string(m));
}

/* Ends an upload that cannot go on: one a refused request made (POST
 * /uploads/tus), so that no job the client never learnt of waits for a
 * file, or one whose bytes were lost from storage. Its job CANCELED with
 * why, its bytes gone. Best effort: the slot's expiry does it too. */
static void abandon(tus_ctx *c, const char *why)
{
    PGresult *res = NULL;
    const char *vals[] = {c->id, (const char *)c->h, why};
    int lens[] = {0, 32, 0}, fmts[] = {0, 1, 0};
    if (db_exec_params(c->r->db, STMT_TUS_TERMINATE, 3, vals, lens, fmts, &res) != 0)
        log_warn("tus %s: not ended at once (its expiry will): %s", c->id, c->r->db->error);
    else if (c->u.id[0] && c->s && c->ts->discard(c->r->cfg, c->s, &c->u) != STORE_OK)
        log_warn("tus %s: its bytes stay until its expiry", c->id);
    PQclear(res);
}

int handle_tus_create(request *r)
{
    tus_ctx c = {.r = r, .ts = tus_storage_for(r->cfg), .body_fd = -1};
    long long len, declared;
    const char *meta;
    json_object *saved = NULL;
    int ret;
    bool made = false;
    if ((ret = check_start(&c)) != 0)
        goto out;
    if ((ret = caller_identify(r, CALLER_OWNER, r->caller)) != 0 ||
        (ret = upload_default_target_allowed(r)) != 0) {
        ret = as_refusal(&c, ret);
        goto out;
    }
    if ((ret = creation_headers(&c, r->cfg->upload_max_bytes, &len, &meta)) != 0)
        goto out;
    if (c.check) {
        ret = check_creation(&c, len);
        goto out;
    }
    if (!(c.s = store_open(r->cfg))) {
        ret = reply_error(r, 500, "Out of memory.");
        goto out;
    }
    /* The first chunk is checked before the slot is made: a refused one
     * leaves nothing behind. */
    if (has_body(&c, &declared) && ((ret = chunk_type_ok(&c)) != 0 || (ret = writer(&c)) != 0 ||
                                    (ret = take_chunk(&c, len)) != 0))
        goto out;
    if ((ret = make_slot(&c, len, meta)) != 0)
        goto out;
    made = true;
    if ((ret = lock(&c)) == 0 && (ret = load(&c)) == 0)
        ret = create(&c, len, meta);
out:
    if (made && ret != 201) {
        saved = r->out; /* the refusal's body, kept through the clean-up */
        r->out = NULL;
        abandon(&c, "the upload could not be created");
        json_object_put(r->out);
        r->out = saved;
    }
    release(&c);
    return ret;
}

/* HEAD (and GET): the durable offset. An upload left at offset == length
 * by a crash before its spend is completed here, so that a client that
 * sees its last byte in also has its job queued. */
int handle_tus_head(request *r)
{
    tus_ctx c = {.r = r, .ts = tus_storage_for(r->cfg), .body_fd = -1};
    int ret;
    if ((ret = check_start(&c)) != 0 || (c.check && (ret = 204)) || (ret = parse_url(&c)) != 0 ||
        (ret = load(&c)) != 0)
        goto out;
    if (!col_true(&c, C_STORED)) {
        if ((ret = state_ok(&c, false)) != 0)
            goto out;
        if (c.u.offset == c.u.length) {
            if (!(c.s = store_open(r->cfg))) {
                ret = reply_error(r, 500, "Out of memory.");
                goto out;
            }
            /* Held by another request: that one is finishing it. */
            if ((ret = try_lock(&c)) != 0 ||
                (c.locked &&
                 ((ret = load(&c)) != 0 || (!col_true(&c, C_STORED) && (ret = complete(&c)) != 0) ||
                  (ret = load(&c)) != 0)))
                goto out;
        }
    }
    state_headers(&c);
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "job_id", json_object_new_string(PQgetvalue(c.row, 0, C_JOB)));
    json_object_object_add(r->out, "upload_offset",
                           json_object_new_int64(col_true(&c, C_STORED) ? c.u.length : c.u.offset));
    json_object_object_add(r->out, "upload_length", json_object_new_int64(c.u.length));
    ret = 200;
out:
    release(&c);
    return ret;
}

int handle_tus_patch(request *r)
{
    tus_ctx c = {.r = r, .ts = tus_storage_for(r->cfg), .body_fd = -1};
    long long at, declared;
    int ret;
    if ((ret = check_start(&c)) != 0 || (ret = chunk_type_ok(&c)) != 0 ||
        (ret = parse_url(&c)) != 0)
        goto out;
    if (!bytes_value(request_param(r, "HTTP_UPLOAD_OFFSET"), &at)) {
        ret = refuse(&c, 400, "Upload-Offset must be a whole number of bytes.");
        goto out;
    }
    if (!c.check) {
        if (!(c.s = store_open(r->cfg))) {
            ret = reply_error(r, 500, "Out of memory.");
            goto out;
        }
        if ((ret = writer(&c)) != 0 || (ret = lock(&c)) != 0)
            goto out;
    }
    if ((ret = load(&c)) != 0)
        goto out;
    if (col_true(&c, C_STORED)) {
        ret = refuse(&c, 403, "This upload is complete: it takes no more bytes.");
        goto out;
    }
    if ((ret = state_ok(&c, false)) != 0)
        goto out;
    if (at != c.u.offset) {
        header_ll(r, "Upload-Offset", c.u.offset);
        ret = refuse(&c, 409, "Upload-Offset is not the upload's offset: HEAD it for that.");
        goto out;
    }
    if (c.check) {
        if (has_body(&c, &declared) && declared > c.u.length - c.u.offset)
            ret = refuse(&c, 413, "The chunk goes past the upload's Upload-Length.");
        else if ((ret = writer(&c)) == 0)
            ret = 204;
        goto out;
    }
    if ((ret = write_chunk(&c)) != 0 || (ret = load(&c)) != 0)
        goto out;
    state_headers(&c);
    ret = 204;
out:
    release(&c);
    return ret;
}

int handle_tus_delete(request *r)
{
    tus_ctx c = {.r = r, .ts = tus_storage_for(r->cfg), .body_fd = -1};
    PGresult *res = NULL;
    int ret;
    if ((ret = check_start(&c)) != 0 || (c.check && (ret = 204)) || (ret = parse_url(&c)) != 0)
        goto out;
    if (!(c.s = store_open(r->cfg))) {
        ret = reply_error(r, 500, "Out of memory.");
        goto out;
    }
    if ((ret = lock(&c)) != 0 || (ret = load(&c)) != 0)
        goto out;
    if (col_true(&c, C_STORED)) {
        ret = refuse(&c, 403, "This upload is complete: its job goes on.");
        goto out;
    }
    if ((ret = state_ok(&c, true)) != 0)
        goto out;
    const char *vals[] = {c.id, (const char *)c.h, "the upload was terminated by the client"};
    int lens[] = {0, 32, 0}, fmts[] = {0, 1, 0};
    if ((ret = db_exec_params(r->db, STMT_TUS_TERMINATE, 3, vals, lens, fmts, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    if (PQgetisnull(res, 0, 0)) {
        ret = refuse(&c, 409, "The upload changed meanwhile: ask again.");
        goto out;
    }
    /* Terminated: a failure here leaves the bytes to the expiry task. */
    store_status st = c.ts->discard(r->cfg, c.s, &c.u);
    if (st != STORE_OK)
        log_error("tus %s: discard: %s", c.id, store_err(c.s));
    log_info("tus %s: terminated, job %s CANCELED", c.id, PQgetvalue(res, 0, 0));
    ret = 204;
out:
    PQclear(res);
    release(&c);
    return ret;
}
