/* GET /stream/upload_auth: nginx's auth_request for HTTP PUT ingest
 * (nginx/mediagate-upload.conf). nginx passes the original request as
 * X-Original-Method and X-Original-URI. A PUT or DELETE is allowed only to
 * <MEDIAGATE_UPLOAD_URL path>/<stream id>/<plain file name>, with that
 * stream's upload token, before it expires and before the stream stops.
 * Reading (GET, HEAD) is playback and needs no token. */
#include <string.h>

#include "caller.h"
#include "config.h"
#include "db.h"
#include "handlers.h"
#include "stream.h"

/* The path part of a URL ("https://h:1/live" -> "/live"), "" if none. */
static const char *url_path(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    return p ? p : "";
}

/* The check itself: 204 when allowed, else the refusal's status (its
 * message set as the reply's). */
static int upload_auth(request *r)
{
    int ret;
    PGresult *res = NULL;
    const char *method = request_param(r, "HTTP_X_ORIGINAL_METHOD");
    const char *uri = request_param(r, "HTTP_X_ORIGINAL_URI");
    r->cache_control = "no-store";
    if (!method || !uri)
        return reply_error(r, 403, "Upload is not configured.");
    if (!*r->cfg->upload_url)
        return reply_error(r, 403, "Upload is not configured.");
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return 204;
    if (strcmp(method, "PUT") != 0 && strcmp(method, "DELETE") != 0)
        return reply_error(r, 403, "Method not allowed for uploads.");

    const char *base = url_path(r->cfg->upload_url);
    size_t blen = strlen(base);
    if (strncmp(uri, base, blen) != 0 || uri[blen] != '/')
        return reply_error(r, 403, "Outside the upload path.");
    const char *id = uri + blen + 1, *slash = strchr(id, '/');
    if (!slash || !uuid_valid(id, (size_t)(slash - id)))
        return reply_error(r, 403, "Not a stream's upload path.");
    char sid[UUID_BUF];
    memcpy(sid, id, UUID_LEN);
    sid[UUID_LEN] = '\0';
    if (!stream_plain_name(slash + 1))
        return reply_error(r, 403, "Not a stream's upload path.");

    const char *token = caller_bearer(r, NULL);
    if (!token)
        return reply_error(r, 401, "Upload token required.");
    unsigned char h[32];
    sha256_raw(token, strlen(token), h);
    const char *vals[] = {sid, (const char *)h, strcmp(method, "PUT") == 0 ? "t" : "f"};
    int lens[] = {0, 32, 0}, fmts[] = {0, 1, 0};
    ret = db_exec_params(r->db, STMT_UPLOAD_AUTH, 3, vals, lens, fmts, &res);
    if (ret)
        ret = reply_db_error(r, ret);
    else if (PQntuples(res) != 1)
        ret = reply_error(r, 403, "Token refused: wrong stream, expired or stopped.");
    else
        ret = 204;
    PQclear(res);
    return ret;
}

int handle_stream_upload_auth(request *r)
{
    int ret = upload_auth(r);
    json_object *m;
    /* nginx's JSON page for a refusal says why (X-Mediagate-Reason). */
    if ((ret == 401 || ret == 403) && r->out && json_object_object_get_ex(r->out, "message", &m))
        r->reason = arena_strdup(r->a, json_object_get_string(m));
    return ret;
}
