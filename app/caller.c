/* Who is asking (caller.h): API keys, the console's sessions, REMOTE_USER
 * and OAuth2 bearer tokens, read in one place and in one order. */
#include "caller.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "db.h"
#include "hash.h"
#include "log.h"
#include "providers/lookup.h"
#include "providers/oauth2.h"

/* Copies the n strings of src (OAUTH2_ID_MAX each) into the arena as a
 * pointer list; NULL when n is 0 or memory runs out. */
static const char *const *arena_list(request *r, char (*src)[OAUTH2_ID_MAX], int n)
{
    const char **l = n > 0 ? arena_alloc(r->a, sizeof *l * (size_t)n) : NULL;
    for (int i = 0; l && i < n; i++)
        if (!(l[i] = arena_strdup(r->a, src[i])))
            return NULL;
    return l;
}

/* Sets c's groups and institutions from id (arena copies). */
static void set_groups(request *r, caller *c, oauth2_identity *id)
{
    c->groups = arena_list(r, id->groups, id->ngroups);
    c->ngroups = c->groups ? (size_t)id->ngroups : 0;
    c->insts = arena_list(r, id->insts, id->ninsts);
    c->ninsts = c->insts ? (size_t)id->ninsts : 0;
}

const char *caller_bearer(const request *r, bool *given)
{
    const char *auth = request_param(r, "HTTP_AUTHORIZATION");
    if (given)
        *given = auth && *auth;
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return NULL;
    auth += 7;
    auth += strspn(auth, " "); /* RFC 6750: one or more spaces */
    return *auth ? auth : NULL;
}

/* The user the site's auth step vouches for: u, owning as "user:<u>". */
static int by_remote_user(request *r, const char *u, caller *c)
{
    size_t n = strlen(u) + 6;
    char *o = arena_alloc(r->a, n);
    if (!o)
        return reply_error(r, 500, "Out of memory.");
    snprintf(o, n, "user:%s", u);
    c->kind = "remote_user";
    c->user = u;
    c->owner = o;
    c->authenticated = true;
    return 0;
}

/* The one row statement stmt finds on d for the SHA-256 of credential
 * cred. Returns 0 with *res (the caller PQclears it), or the refusal's
 * status replied (401 with unknown when there is no row). */
static int by_digest(request *r, struct db *d, int stmt, const char *cred, const char *unknown,
                     PGresult **res)
{
    unsigned char h[32];
    sha256_raw(cred, strlen(cred), h);
    const char *vals[] = {(const char *)h};
    int lens[] = {32}, fmts[] = {1};
    int ret = db_exec_params(d, stmt, 1, vals, lens, fmts, res);
    if (ret)
        return reply_db_error(r, ret);
    return PQntuples(*res) == 1 ? 0 : reply_error(r, 401, unknown);
}

/* c as kind, owning as res's first column, its user the second. Returns 0,
 * or 500 replied. */
static int set_owner(request *r, caller *c, const char *kind, PGresult *res)
{
    c->owner = arena_strdup(r->a, PQgetvalue(res, 0, 0));
    c->user = arena_strdup(r->a, PQgetvalue(res, 0, 1));
    c->kind = kind;
    c->authenticated = c->user && c->owner;
    return c->authenticated ? 0 : reply_error(r, 500, "Out of memory.");
}

/* An API key, by its digest: its name is the user, "key:<id>" the owner. */
static int by_api_key(request *r, const char *key, caller *c)
{
    PGresult *res = NULL;
    int ret = by_digest(r, r->db, STMT_APIKEY, key, "Invalid or revoked API key.", &res);
    if (!ret)
        ret = set_owner(r, c, "apikey", res);
    PQclear(res);
    return ret;
}

/* Every dead console session token gets this one answer, whatever the
 * reason (never issued, expired, signed out, its key revoked), so that a
 * token found later tells nothing of its history; mediagate's log says
 * which. */
static const char session_refused[] =
    "The console session is not valid (expired, signed out or unknown); sign in again.";

/* A console session's token (POST /media/session), by its digest: the
 * caller of the API key it was made from (its owner and user), with its
 * expiry. Always on the primary: a session made or ended a moment ago may
 * not have reached the replica yet; when the primary is unavailable then,
 * r->primary_failed says so (the replica is not to blame). */
static int by_session(request *r, const char *token, caller *c)
{
    PGresult *res = NULL;
    struct db *primary = r->primary_db ? r->primary_db : r->db;
    int ret = by_digest(r, primary, STMT_SESSION_CALLER, token, session_refused, &res);
    if (ret == 401)
        log_info("console session refused: unknown");
    if (ret == 503 && primary != r->db)
        r->primary_failed = true;
    if (ret)
        goto out;
    const char *state = PQgetvalue(res, 0, 3);
    if (strcmp(state, "ok") != 0) {
        log_info("console session refused: %s", state);
        ret = reply_error(r, 401, session_refused);
        goto out;
    }
    if ((ret = set_owner(r, c, "session", res)) != 0)
        goto out;
    if (!(c->expires_at = arena_strdup(r->a, PQgetvalue(res, 0, 2))))
        ret = reply_error(r, 500, "Out of memory.");
out:
    PQclear(res);
    return ret;
}

/* An OAuth2 access token, by introspection; anonymous when that is not
 * set up. */
static int by_token(request *r, const char *token, caller *c)
{
    oauth2_identity id;
    if (!*r->cfg->oauth2_introspection_url)
        return 0; /* not a credential here: the caller stays anonymous */
    int st = oauth2_introspect(r->cfg, token, &id);
    if (st != OAUTH2_OK)
        return reply_error(r, 503, "The token introspection endpoint is unavailable; retry later.");
    if (!id.active && id.refused)
        return reply_error(r, 401, id.refused); /* active, but no caller here */
    if (!id.active)
        return reply_error(r, 401, "The bearer token is not active (expired, revoked or unknown).");
    c->kind = "oauth2";
    c->user = arena_strdup(r->a, id.user);
    set_groups(r, c, &id);
    c->authenticated = c->user != NULL;
    return c->user ? 0 : reply_error(r, 500, "Out of memory.");
}

int caller_identify(request *r, caller_need need, caller *c)
{
    static const char owner_needed[] = "Authentication required: Authorization: Bearer <API key>.";
    *c = (caller){.authenticated = false, .kind = "anonymous"};
    if (need == CALLER_NONE)
        return 0;
    bool owner = need == CALLER_OWNER, given;
    if (r->cfg->trust_remote_user) {
        const char *u = request_param(r, "REMOTE_USER");
        if (u && *u)
            return by_remote_user(r, u, c);
        if (owner)
            return reply_error(r, 401, "Authentication required.");
    }
    const char *cred = caller_bearer(r, &given);
    if (!cred && owner)
        return reply_error(r, 401, owner_needed);
    if (!cred && given)
        return reply_error(r, 401, "Authorization must be Bearer <API key or OAuth2 token>.");
    if (!cred)
        return 0;
    if (strncmp(cred, "mgs_", 4) == 0)
        return by_session(r, cred, c);
    return owner || strncmp(cred, "mgk_", 4) == 0 ? by_api_key(r, cred, c) : by_token(r, cred, c);
}

/* True when acl names a group or an institution. */
static bool mentions_groups(const char *acl)
{
    return strstr(acl, "GROUP_") || strstr(acl, "INST_");
}

int caller_groups(request *r, caller *c)
{
    if (!c->authenticated || !c->user || c->ngroups || c->ninsts || !*r->cfg->lookup_url)
        return 0;
    /* The credential named no groups: ask the directory once. */
    oauth2_identity id;
    if (lookup_person(r->cfg, c->user, &id) != OAUTH2_OK)
        return reply_error(r, 503, "The people directory is unavailable; retry later.");
    set_groups(r, c, &id);
    return 0;
}

bool caller_sees(const caller *c, const char *owner, const char *acl)
{
    return (owner && c->owner && strcmp(owner, c->owner) == 0) || acl_admits(acl, c, NULL);
}

int caller_admits(request *r, caller *c, const char *owner, const char *acl, bool *ok)
{
    *ok = caller_sees(c, owner, acl);
    if (*ok || !acl || !mentions_groups(acl))
        return 0;
    int ret = caller_groups(r, c);
    if (ret == 0)
        *ok = acl_admits(acl, c, NULL);
    return ret;
}

bool caller_is_admin(const request *r, const caller *c)
{
    if (!c->authenticated || !c->user || !c->owner)
        return false; /* an OAuth2 token or anonymous: never */
    size_t ul = strlen(c->user);
    for (const char *p = r->cfg->admin_users; p && *p;) {
        size_t n = strcspn(p, " ,");
        if (n && n == ul && memcmp(p, c->user, n) == 0)
            return true;
        p += n;
        p += strspn(p, " ,");
    }
    return false;
}
