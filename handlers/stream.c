/* What the stream routes share: the caller, parameters, the stream
 * object, and key material. */
#include "stream.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "db.h"

bool stream_plain_name(const char *s)
{
    if (!*s || *s == '.' || strlen(s) > 128)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

int stream_caller(request *r, const char **owner)
{
    int ret;
    PGresult *res = NULL;
    *owner = NULL;
    if (r->cfg->trust_remote_user) {
        const char *u = request_param(r, "REMOTE_USER");
        if (!u || !*u)
            return reply_error(r, 401, "Authentication required.");
        size_t n = strlen(u) + 6;
        char *o = arena_alloc(r->a, n);
        if (!o)
            return reply_error(r, 500, "Out of memory.");
        snprintf(o, n, "user:%s", u);
        *owner = o;
        return 0;
    }
    const char *auth = request_param(r, "HTTP_AUTHORIZATION");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 || !auth[7])
        return reply_error(r, 401, "Authentication required: Authorization: Bearer <API key>.");
    unsigned char h[32];
    sha256_raw(auth + 7, strlen(auth + 7), h);
    const char *vals[] = {(const char *)h};
    int lens[] = {32}, fmts[] = {1};
    ret = db_exec_params(r->db, STMT_APIKEY_OWNER, 1, vals, lens, fmts, &res);
    if (ret) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    if (PQntuples(res) != 1) {
        ret = reply_error(r, 401, "Invalid or revoked API key.");
        goto out;
    }
    *owner = arena_strdup(r->a, PQgetvalue(res, 0, 0));
    ret = *owner ? 0 : reply_error(r, 500, "Out of memory.");
out:
    PQclear(res);
    return ret;
}

const char *stream_param(request *r, const char *name, int *status)
{
    *status = 0;
    const param *p = params_get(&r->qp, name);
    if (p)
        return p->val;
    if (!r->body_len)
        return NULL;
    if (!r->content_type ||
        strncasecmp(r->content_type, "application/x-www-form-urlencoded", 33) != 0) {
        *status = reply_error(r, 415, "Send parameters url-encoded, in the query or as "
                                      "application/x-www-form-urlencoded.");
        return NULL;
    }
    params form;
    int rc = parse_urlencoded(r->a, r->body, r->body_len, &form);
    if (rc != PARSE_OK) {
        *status = reply_error(r, 400, "The form body is malformed.");
        return NULL;
    }
    p = params_get(&form, name);
    return p ? p->val : NULL;
}

json_object *stream_object(const PGresult *res, int row)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(PQgetvalue(res, row, 0)));
    json_object_object_add(o, "name", json_object_new_string(PQgetvalue(res, row, 1)));
    json_object_object_add(o, "start_date", json_object_new_string(PQgetvalue(res, row, 3)));
    if (!PQgetisnull(res, row, 4))
        json_object_object_add(o, "stop_date", json_object_new_string(PQgetvalue(res, row, 4)));
    json_object_object_add(o, "status", json_object_new_string(PQgetvalue(res, row, 2)));
    /* The local encode of the stopped stream's recording (GET /media/status). */
    if (!PQgetisnull(res, row, 5))
        json_object_object_add(o, "vod_job_id", json_object_new_string(PQgetvalue(res, row, 5)));
    return o;
}

int stream_by_id(request *r, int stmt, PGresult **res)
{
    const config *c = r->cfg;
    int ret, st;
    const char *owner;
    *res = NULL;
    if (!(owner = r->owner)) /* the route is AUTH_CALLER */
        return reply_error(r, 500, "The route has no caller.");
    const char *id = stream_param(r, "id", &st);
    if (st)
        return st;
    if (!id || !*id)
        return reply_error(r, 400, "Not found parameter id.");
    if (!uuid_valid(id, strlen(id)))
        return reply_error(r, 400, "The parameter id is not a stream id.");
    /* The stop statement also takes what counts as a recording. */
    const char *vals[] = {id, owner, c->vod_rtmp ? "t" : "f", c->vod_put ? "t" : "f"};
    ret = db_exec(r->db, (enum stmt)stmt, db_stmt_params((enum stmt)stmt), vals, res);
    if (ret)
        return reply_db_error(r, ret);
    if (PQntuples(*res) != 1) {
        PQclear(*res);
        *res = NULL;
        return reply_error(r, 404, "No such stream.");
    }
    r->out = json_object_new_object();
    json_object_object_add(r->out, "stream", stream_object(*res, 0));
    return 0;
}
