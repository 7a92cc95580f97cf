/* PATCH /media/jobs/<id> JSON {"acl": "USER_a,GROUP_b" | null, "title": "..."}
 * (either or both): its owner changes its ACL or its title, with the
 * effects of `mediagate jobs acl` and `jobs title` (mediagate_job_edit: a
 * JW Platform video's write-back, the bucket's media.acl task); every new
 * answer of /media/status follows within MEDIAGATE_CACHE_MAX_AGE + 1 s.
 * To anyone else the job is unknown, as /media/status answers one. */
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "caller.h"
#include "config.h"
#include "db.h"
#include "handlers.h"
#include "jwplatform/api.h"

#define PREFIX "/media/jobs/"
#define JOB_ID_MAX 255
#define ACL_MAX 1024

/* A change the body asks for. */
typedef struct edit {
    bool set_acl, set_title;
    const char *acl; /* normalized; NULL: WORLD */
    const char *title;
    char norm[ACL_MAX];
} edit;

/* The string value v of field name into *out: 0, or 400 replied (not a
 * string, or one holding a NUL). */
static int string_of(request *r, const char *name, json_object *v, const char **out)
{
    char msg[96];
    if (!json_object_is_type(v, json_type_string) ||
        strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
        snprintf(msg, sizeof msg, "%s must be a string%s.", name,
                 strcmp(name, "acl") == 0 ? " or null" : "");
        return reply_error(r, 400, msg);
    }
    *out = json_object_get_string(v);
    return 0;
}

/* Reads r's body into *e: 0, or 400 replied with what is wrong. Borrowed
 * strings live as long as *body. */
static int parse_body(request *r, json_object **body, edit *e)
{
    const char *err;
    char why[200], msg[260];
    int ret;
    if (!r->body || r->body_len == 0)
        return reply_error(r, 400, "The body must be a JSON object with acl and/or title.");
    if (!(*body = parse_json(r->body, r->body_len, &err))) {
        snprintf(msg, sizeof msg, "The body is not JSON: %s.", err);
        return reply_error(r, 400, msg);
    }
    if (!json_object_is_type(*body, json_type_object))
        return reply_error(r, 400, "The body must be a JSON object with acl and/or title.");
    json_object_object_foreach(*body, k, v)
    {
        if (strcmp(k, "acl") == 0) {
            e->set_acl = true;
            if (json_object_is_type(v, json_type_null))
                continue; /* WORLD */
            if ((ret = string_of(r, "acl", v, &e->acl)) != 0)
                return ret;
            if (acl_normalize(e->acl, e->norm, sizeof e->norm, why, sizeof why) != 0) {
                snprintf(msg, sizeof msg, "acl is refused: %s.", why);
                return reply_error(r, 400, msg);
            }
            e->acl = e->norm;
        } else if (strcmp(k, "title") == 0) {
            e->set_title = true;
            if ((ret = string_of(r, "title", v, &e->title)) != 0)
                return ret;
            if (!jw_title_ok(e->title))
                return reply_error(r, 400,
                                   "title must be 1 to 1000 bytes of UTF-8 without "
                                   "control characters.");
        } else
            return reply_error(r, 400, "Unknown field: the body may hold acl and title only.");
    }
    if (!e->set_acl && !e->set_title)
        return reply_error(r, 400, "The body must be a JSON object with acl and/or title.");
    return 0;
}

int handle_media_job_patch(request *r)
{
    int ret;
    json_object *body = NULL;
    PGresult *res = NULL;
    edit e = {0};
    char sms_acl[ACL_MAX + 16];
    const char *id = r->path + strlen(PREFIX);
    size_t n = strlen(id);
    if (strchr(id, '/'))
        return reply_error(r, 404, "No route matches.");
    if (n == 0 || n > JOB_ID_MAX || utf8_length(id, n) < 0)
        return reply_error(r, 422, "Not found item.");
    if ((ret = parse_body(r, &body, &e)) != 0)
        goto out;
    /* what a JW Platform video's write-back would send (mediagate_jw_write) */
    snprintf(sms_acl, sizeof sms_acl, "acl:%s:", e.acl ? e.acl : "WORLD");
    bool fits = (!e.set_title || jw_value_fits(e.title)) && (!e.set_acl || jw_value_fits(sms_acl));
    const char *vals[] = {id,
                          r->caller->owner,
                          e.set_acl ? "t" : "f",
                          e.acl,
                          e.set_title ? "t" : "f",
                          e.title,
                          r->cfg->jwplatform_sync_items ? "t" : "f",
                          fits ? "t" : "f"};
    if ((ret = db_exec(r->db, STMT_JOB_EDIT, 8, vals, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    if (PQntuples(res) != 1) {
        ret = reply_error(r, 422, "Not found item.");
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "too_long") == 0) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "The title or the ACL is too long for JW Platform (%d bytes each, "
                 "percent-encoded).",
                 JW_VALUE_ENCODED_MAX);
        ret = reply_error(r, 400, msg);
        goto out;
    }
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "job_id", json_object_new_string(id));
    json_object_object_add(r->out, "acl",
                           PQgetisnull(res, 0, 1) ? NULL
                                                  : json_object_new_string(PQgetvalue(res, 0, 1)));
    json_object_object_add(r->out, "title",
                           PQgetisnull(res, 0, 2) ? NULL
                                                  : json_object_new_string(PQgetvalue(res, 0, 2)));
    r->cache_control = "no-store";
    ret = 200;
out:
    json_object_put(body);
    PQclear(res);
    return ret;
}
