/* POST, GET, DELETE /media/session: the console's short-lived session,
 * made from an API key; its token (mgs_...) is then the caller's credential
 * (app/caller.c) until it expires, is signed out, or its key is revoked.
 * The token is shown once, in POST's answer, and kept as its SHA-256. */
#include <stdio.h>
#include <string.h>

#include "caller.h"
#include "config.h"
#include "db.h"
#include "handlers.h"
#include "hash.h"

static const char remote_user_signs_in[] =
    "This site signs its users in itself (MEDIAGATE_STREAM_AUTH=remote_user): the console needs "
    "no session.";

/* {"success": true, "user", "admin"} of c, with "expires_at" (NULL: null);
 * NULL when memory runs out. */
static json_object *who(const request *r, const caller *c, const char *expires_at)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "user", json_object_new_string(c->user));
    json_object_object_add(o, "admin", json_object_new_boolean(caller_is_admin(r, c)));
    json_object_object_add(o, "expires_at", expires_at ? json_object_new_string(expires_at) : NULL);
    return o;
}

int handle_session_create(request *r)
{
    const caller *c = r->caller;
    PGresult *res = NULL;
    char token[4 + 65], lifetime[24];
    unsigned char h[32];
    int ret;
    r->cache_control = "no-store";
    if (strcmp(c->kind, "remote_user") == 0)
        return reply_error(r, 400, remote_user_signs_in);
    if (strcmp(c->kind, "apikey") != 0)
        return reply_error(r, 403,
                           "A console session cannot make another; sign in with an API "
                           "key.");
    memcpy(token, "mgs_", 4);
    if (random_hex(token + 4) != 0)
        return reply_error(r, 500, "No randomness available.");
    sha256_raw(token, strlen(token), h);
    snprintf(lifetime, sizeof lifetime, "%ld", r->cfg->session_lifetime);
    const char *vals[] = {(const char *)h, c->owner + 4 /* "key:<id>" */, lifetime};
    int lens[] = {32, 0, 0}, fmts[] = {1, 0, 0};
    if ((ret = db_exec_params(r->db, STMT_SESSION_CREATE, 3, vals, lens, fmts, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    if (PQntuples(res) != 1) { /* the key was revoked since the caller's lookup */
        ret = reply_error(r, 401, "Invalid or revoked API key.");
        goto out;
    }
    if (!(r->out = who(r, c, PQgetvalue(res, 0, 0)))) {
        ret = reply_error(r, 500, "Out of memory.");
        goto out;
    }
    json_object_object_add(r->out, "token", json_object_new_string(token));
    ret = 201;
out:
    PQclear(res);
    return ret;
}

int handle_session_get(request *r)
{
    const caller *c = r->caller;
    r->cache_control = "no-store";
    if (!c->authenticated)
        return reply_error(r, 401,
                           "Not signed in: Authorization: Bearer <API key or console "
                           "session token>.");
    if (!(r->out = who(r, c, c->expires_at)))
        return reply_error(r, 500, "Out of memory.");
    json_object_object_add(r->out, "kind", json_object_new_string(c->kind));
    return 200;
}

int handle_session_delete(request *r)
{
    const caller *c = r->caller;
    PGresult *res = NULL;
    unsigned char h[32];
    r->cache_control = "no-store";
    if (strcmp(c->kind, "remote_user") == 0)
        return reply_error(r, 400,
                           "This site signs its users in and out itself "
                           "(MEDIAGATE_STREAM_AUTH=remote_user).");
    if (strcmp(c->kind, "session") != 0)
        return reply_error(r, 400,
                           "Only a console session signs out: send its token (mgs_...), "
                           "not an API key (mediagate apikey revoke ends a key).");
    const char *token = caller_bearer(r, NULL);
    sha256_raw(token, strlen(token), h);
    const char *vals[] = {(const char *)h};
    int lens[] = {32}, fmts[] = {1};
    int ret = db_exec_params(r->db, STMT_SESSION_END, 1, vals, lens, fmts, &res);
    PQclear(res);
    return ret ? reply_db_error(r, ret) : 204;
}
