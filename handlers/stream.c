/* What the stream routes share: parameters, the stream object, and the
 * stream named by its id. */
#include "stream.h"

#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "caller.h"
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

int stream_acl_param(request *r, char *buf, size_t cap, const char **acl)
{
    int st;
    char err[200], msg[260];
    const char *in = stream_param(r, "acl", &st);
    *acl = NULL;
    if (st || !in)
        return st;
    if (acl_normalize(in, buf, cap, err, sizeof err) != 0) {
        snprintf(msg, sizeof msg, "acl: %s.", err);
        return reply_error(r, 400, msg);
    }
    *acl = buf;
    return 0;
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

bool stream_hls_url(const config *cfg, const char *id, char *buf, size_t cap)
{
    int n;
    if (*cfg->hls_url && *cfg->rtmp_url)
        n = snprintf(buf, cap, "%s/%s.m3u8", cfg->hls_url, id);
    else if (*cfg->upload_url) /* what the PUT ingest serves back */
        n = snprintf(buf, cap, "%s/%s/index.m3u8", cfg->upload_url, id);
    else
        return false;
    return n > 0 && (size_t)n < cap;
}

int stream_by_id(request *r, int stmt, PGresult **res)
{
    const config *c = r->cfg;
    int ret, st;
    const char *owner;
    *res = NULL;
    if (!(owner = r->caller->owner)) /* the route is AUTH_CALLER */
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
