/* GET /media/jobs: the caller's jobs, newest first, a page at a time (a
 * keyset cursor); GET /media/jobs/<id>: one of them. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caller.h"
#include "db.h"
#include "encoders/encoder.h"
#include "handlers.h"
#include "job_json.h"

enum {
    LIST_LIMIT_DEFAULT = 20,
    LIST_LIMIT_MAX = 100,
    /* With a filter, a page's scans read at most this many rows, split
     * among the caller's principals (never fewer than limit + 1 each); a
     * page that runs out ends early with a cursor. */
    LIST_SCAN_BUDGET = 2000,
    CURSOR_VERSION = 1,
    CURSOR_ID_MAX = 1024, /* a job id's bytes in a cursor */
    Q_MAX = 200,         /* q's bytes */
    Q_WORDS_MAX = 8,
};

/* A page's position: older than the job created at us µs since the epoch
 * with id id (ids break ties). */
typedef struct cursor {
    long long us;
    char id[CURSOR_ID_MAX + 1];
} cursor;

/* Writes the cursor for (us, id) as base64url without padding (a version
 * byte, us big-endian in 8 bytes, then the id) into out; false when it
 * does not fit. */
static bool cursor_encode(long long us, const char *id, char *out, size_t cap)
{
    unsigned char raw[1 + 8 + CURSOR_ID_MAX];
    size_t n = strlen(id);
    if (n > CURSOR_ID_MAX || cap < 4 * ((9 + n + 2) / 3) + 1)
        return false;
    raw[0] = CURSOR_VERSION;
    for (int i = 0; i < 8; i++)
        raw[1 + i] = (unsigned char)((unsigned long long)us >> (56 - 8 * i));
    memcpy(raw + 9, id, n);
    int len = EVP_EncodeBlock((unsigned char *)out, raw, (int)(9 + n));
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return true;
}

/* Reads a cursor cursor_encode() wrote from s[0..len). Returns NULL, or
 * why it is not one. */
static const char *cursor_decode(const char *s, size_t len, cursor *c)
{
    char b64[4 * ((1 + 8 + CURSOR_ID_MAX + 2) / 3) + 1];
    unsigned char raw[sizeof b64];
    if (len == 0 || len >= sizeof b64 - 2)
        return "cursor is not one this server gave (its length).";
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return "cursor is not one this server gave (not base64url).";
        b64[i] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
    }
    if (len % 4 == 1)
        return "cursor is not one this server gave (not base64url).";
    size_t padded = len;
    while (padded % 4)
        b64[padded++] = '=';
    b64[padded] = '\0';
    int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)padded);
    if (n < 0)
        return "cursor is not one this server gave (not base64url).";
    n -= (int)(padded - len); /* EVP_DecodeBlock counts the padding's bytes */
    if (n < 10 || raw[0] != CURSOR_VERSION)
        return "cursor is not one this server gave (its version or length).";
    unsigned long long us = 0;
    for (int i = 0; i < 8; i++)
        us = us << 8 | raw[1 + i];
    size_t idlen = (size_t)n - 9;
    if (memchr(raw + 9, '\0', idlen) || utf8_length((const char *)raw + 9, idlen) < 0)
        return "cursor is not one this server gave (its job id).";
    /* created_at is between the years 1 and 9999 (and PostgreSQL's range) */
    if ((long long)us < -62135596800000000LL || (long long)us > 253402300799000000LL)
        return "cursor is not one this server gave (its time).";
    c->us = (long long)us;
    memcpy(c->id, raw + 9, idlen);
    c->id[idlen] = '\0';
    return NULL;
}

/* The query parameter name's value, or NULL when absent. */
static const char *qparam(const request *r, const char *name)
{
    const param *p = params_get(&r->qp, name);
    return p ? p->val : NULL;
}

/* Adds s to the JSON array a. */
static void push(json_object *a, const char *s)
{
    json_object_array_add(a, json_object_new_string(s));
}

/* The principals that list jobs to c (job_readers: its owner, USER_<user>
 * and its groups' GROUP_ and INST_ entries) as a JSON array; NULL when it
 * has none. The caller frees it. */
static json_object *principals(const caller *c)
{
    json_object *a = json_object_new_array();
    char e[8 + ACL_ID_MAX];
    if (c->owner)
        push(a, c->owner);
    if (c->user && acl_id_ok(c->user, strlen(c->user))) {
        snprintf(e, sizeof e, "USER_%s", c->user);
        push(a, e);
    }
    for (size_t i = 0; i < c->ngroups; i++) {
        snprintf(e, sizeof e, "GROUP_%s", c->groups[i]);
        push(a, e);
    }
    for (size_t i = 0; i < c->ninsts; i++) {
        snprintf(e, sizeof e, "INST_%s", c->insts[i]);
        push(a, e);
    }
    if (json_object_array_length(a) == 0) {
        json_object_put(a);
        return NULL;
    }
    return a;
}

/* q's words (at most Q_WORDS_MAX, split at spaces) as a JSON array in
 * *out (NULL for none). Returns 0 or a 400 replied. */
static int q_words(request *r, const char *q, json_object **out)
{
    *out = NULL;
    if (!q)
        return 0;
    if (strlen(q) > Q_MAX)
        return reply_error(r, 400, "q must be at most 200 bytes.");
    json_object *a = json_object_new_array();
    for (const char *p = q + strspn(q, " \t"); *p; p += strspn(p, " \t")) {
        size_t n = strcspn(p, " \t");
        if (json_object_array_length(a) == Q_WORDS_MAX) {
            json_object_put(a);
            return reply_error(r, 400, "q must have at most 8 words.");
        }
        json_object_array_add(a, json_object_new_string_len(p, (int)n));
        p += n;
    }
    if (json_object_array_length(a) == 0)
        json_object_put(a);
    else
        *out = a;
    return 0;
}

/* Whether backend names one a job may have: an encoder, or JW Platform. */
static bool backend_ok(const char *b)
{
    return encoder_find(b) != NULL || strcmp(b, "jwplatform") == 0;
}

/* 401 for anonymous callers: the library is someone's. */
static int require_caller(request *r)
{
    if (r->caller->authenticated)
        return 0;
    return reply_error(r, 401, "Authentication required: Authorization: Bearer <API key or "
                               "token>.");
}

/* Whether row's job may be shown to the caller, as /media/status decides
 * (theirs, or its ACL as /media/status reads it admits them), the people
 * directory asked as caller_admits() does unless the caller's groups are
 * known already (known). 0 with *ok, or a status replied. */
static int may_see(request *r, const PGresult *res, int row, bool known, bool *ok)
{
    const char *owner = PQgetisnull(res, row, JC_OWNER) ? NULL : PQgetvalue(res, row, JC_OWNER);
    const char *acl = PQgetisnull(res, row, JC_ACL) ? NULL : PQgetvalue(res, row, JC_ACL);
    if (known) {
        *ok = caller_sees(r->caller, owner, acl);
        return 0;
    }
    return caller_admits(r, r->caller, owner, acl, ok);
}

/* The page's parameters, checked: 0, or a 400 replied. */
static int list_params(request *r, int *limit, cursor *cur, bool *has_cursor, const char **status,
                       const char **backend)
{
    static const char *const statuses[] = {"SUBMITTED", "PROGRESSING", "COMPLETE", "ERROR",
                                           "CANCELED"};
    const char *l = qparam(r, "limit"), *cs;
    *limit = LIST_LIMIT_DEFAULT;
    if (l) {
        size_t n = strlen(l);
        int v = n >= 1 && n <= 3 && strspn(l, "0123456789") == n ? atoi(l) : 0;
        if (v < 1 || v > LIST_LIMIT_MAX)
            return reply_error(r, 400, "limit must be a whole number from 1 to 100.");
        *limit = v;
    }
    const param *cp = params_get(&r->qp, "cursor");
    *has_cursor = cp && cp->vlen > 0;
    if (*has_cursor && (cs = cursor_decode(cp->val, cp->vlen, cur)) != NULL)
        return reply_error(r, 400, cs);
    *status = qparam(r, "status");
    if (*status && !**status)
        *status = NULL;
    bool known = !*status;
    for (size_t i = 0; !known && i < sizeof statuses / sizeof statuses[0]; i++)
        known = strcmp(*status, statuses[i]) == 0;
    if (!known)
        return reply_error(r, 400, "status must be SUBMITTED, PROGRESSING, COMPLETE, ERROR or "
                                   "CANCELED.");
    *backend = qparam(r, "backend");
    if (*backend && !**backend)
        *backend = NULL;
    if (*backend && !backend_ok(*backend))
        return reply_error(r, 400, "backend must be local, mediaconvert, mux, tencent, zencoder "
                                   "or jwplatform.");
    return 0;
}

int handle_media_list(request *r)
{
    int ret, limit = LIST_LIMIT_DEFAULT;
    cursor cur = {0};
    bool has_cursor = false;
    const char *status = NULL, *backend = NULL;
    json_object *who = NULL, *words = NULL, *items = NULL;
    PGresult *res = NULL;
    char us[24], lim1[16], budget[16], next[4 * ((9 + CURSOR_ID_MAX + 2) / 3) + 1];

    if ((ret = require_caller(r)) || (ret = list_params(r, &limit, &cur, &has_cursor, &status,
                                                         &backend)))
        goto out;
    if ((ret = q_words(r, qparam(r, "q"), &words)) || (ret = caller_groups(r, r->caller)))
        goto out;
    bool filtered = status || backend || words;
    snprintf(us, sizeof us, "%lld", cur.us);
    snprintf(lim1, sizeof lim1, "%d", limit + 1);
    who = principals(r->caller);
    int n = who ? (int)json_object_array_length(who) : 1, each = LIST_SCAN_BUDGET / n;
    snprintf(budget, sizeof budget, "%d", filtered && each > limit + 1 ? each : limit + 1);
    items = json_object_new_array();
    if (who) {
        const char *vals[] = {
            json_object_to_json_string_ext(who, JSON_C_TO_STRING_PLAIN |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE),
            has_cursor ? us : NULL, has_cursor ? cur.id : NULL, budget, lim1, status, backend,
            words ? json_object_to_json_string_ext(words, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE)
                  : NULL};
        if ((ret = db_exec(r->db, STMT_JOB_LIST, 8, vals, &res)) != 0) {
            ret = reply_db_error(r, ret);
            goto out;
        }
    }
    int rows = res ? PQntuples(res) : 0, shown = 0;
    bool more = false;
    *next = '\0';
    for (int i = 0; i < rows; i++) {
        if (PQgetisnull(res, i, JC_ID))
            continue; /* the page's one row when nothing matched */
        if (shown == limit) {
            more = true; /* the next page starts after the last item shown */
            break;
        }
        bool ok;
        if ((ret = may_see(r, res, i, true, &ok)) != 0)
            goto out;
        if (!cursor_encode(strtoll(PQgetvalue(res, i, JC_CREATED_US), NULL, 10),
                           PQgetvalue(res, i, JC_ID), next, sizeof next)) {
            ret = reply_error(r, 500, "A job's id is longer than a cursor holds.");
            goto out;
        }
        shown++;
        if (ok) /* a JW video's ACL is the platform's: as /media/status reads it */
            json_object_array_add(items, job_item_json(r, res, i));
    }
    /* Fewer than a page: a scan that read its budget ends it early, at
     * the row where it stopped (every newer row of every principal seen). */
    if (!more && rows > 0 && !PQgetisnull(res, 0, JC__COUNT)) {
        if (!cursor_encode(strtoll(PQgetvalue(res, 0, JC__COUNT), NULL, 10),
                           PQgetvalue(res, 0, JC__COUNT + 1), next, sizeof next)) {
            ret = reply_error(r, 500, "A job's id is longer than a cursor holds.");
            goto out;
        }
        more = true;
    }
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "items", items);
    items = NULL;
    json_object_object_add(r->out, "next_cursor", more ? json_object_new_string(next) : NULL);
    r->cache_control = "private, no-cache";
    r->etag = true;
    ret = 200;
out:
    json_object_put(who);
    json_object_put(words);
    json_object_put(items);
    PQclear(res);
    return ret;
}

int handle_media_job_get(request *r)
{
    int ret;
    PGresult *res = NULL;
    const char *tail = r->path + strlen("/media/jobs/");
    char *id = NULL;
    size_t idlen;
    if ((ret = require_caller(r)) != 0)
        goto out;
    /* the id as the console sends it (encodeURIComponent) */
    if (url_decode(r->a, tail, strlen(tail), false, &id, &idlen) != 0 || !*id ||
        strchr(id, '/') || utf8_length(id, idlen) < 0) {
        ret = reply_error(r, 422, "Not found item.");
        goto out;
    }
    const char *vals[] = {id};
    if ((ret = db_exec(r->db, STMT_JOB_STATUS, 1, vals, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    bool ok = false;
    if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, JC_DELETED), "t") != 0 &&
        (ret = may_see(r, res, 0, false, &ok)) != 0)
        goto out;
    if (!ok) { /* unknown, deleted or not the caller's: the same answer */
        ret = reply_error(r, 422, "Not found item.");
        goto out;
    }
    r->out = job_item_json(r, res, 0);
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    r->cache_control = "private, no-cache";
    r->etag = true;
    ret = 200;
out:
    PQclear(res);
    return ret;
}
