/* The profile of a job made through the API (POST /uploads, PUT
 * /uploads/<name>, POST /media/jobs): the request's profile parameter,
 * checked against the profiles table and the caller's API key. */
#include "profiles.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "caller.h"
#include "db.h"
#include "profile.h"

int profile_pick(request *r, const char *name, const char **snap, const encoder **row)
{
    int ret;
    char msg[256], err[200];
    PGresult *res = NULL;
    json_object *spec = NULL, *o = NULL;
    profile p;
    *snap = NULL;
    *row = NULL;
    if (name && !profile_name_ok(name))
        return reply_error(r, 400,
                           "profile must be a profile's name: 1 to 63 of a-z 0-9 . _ - "
                           "starting with a letter or a digit.");
    const char *vals[] = {name, r->caller ? r->caller->owner : NULL};
    if ((ret = db_exec(r->db, STMT_PROFILE_PICK, 2, vals, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    const char *pname = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "default";
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1)) {
        /* The name looked for: with none given, maybe the key's first. */
        snprintf(msg, sizeof msg,
                 !name && strcmp(pname, "default") != 0
                     ? "This API key's profile '%s' no longer exists (mediagate profiles list)."
                     : "No profile is named '%s' (mediagate profiles list).",
                 pname);
        ret = reply_error(r, 400, msg);
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 2), "t") != 0) {
        snprintf(msg, sizeof msg, "This API key may not use profile '%s'.", pname);
        ret = reply_error(r, 403, msg);
        goto out;
    }
    const char *text = PQgetvalue(res, 0, 1);
    spec = json_tokener_parse(text);
    if (profile_parse(pname, spec, &p, err, sizeof err) != 0) {
        /* Written checked (mediagate profiles add): a row edited by hand. */
        snprintf(msg, sizeof msg, "Profile '%s' is not valid: %s.", pname, err);
        ret = reply_error(r, 500, msg);
        goto out;
    }
    const encoder *e = encoder_find(p.encoder);
    if (!e || !e->create_kind || !e->configured || !e->configured(r->cfg)) {
        snprintf(msg, sizeof msg,
                 "Profile '%s' runs on the %s encoder, which is not configured "
                 "on this server.",
                 pname, p.encoder);
        ret = reply_error(r, 400, msg);
        goto out;
    }
    o = profile_json(&p);
    *snap = arena_strdup(r->a, json_object_to_json_string_ext(
                                   o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    *row = e;
    ret = *snap ? 0 : reply_error(r, 500, "Out of memory.");
out:
    json_object_put(o);
    json_object_put(spec);
    PQclear(res);
    return ret;
}

int profile_pick_on(request *r, const char *name, const char *enc, const char **snap,
                    const encoder **row)
{
    int ret;
    char msg[300];
    PGresult *res = NULL;
    *snap = NULL;
    *row = NULL;
    if (!enc || name)
        goto pick;
    const char *vals[] = {enc, r->caller ? r->caller->owner : NULL};
    if ((ret = db_exec(r->db, STMT_PROFILE_FIRST, 2, vals, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    if (PQntuples(res) != 1) {
        snprintf(msg, sizeof msg,
                 "No profile on the %s encoder that this caller may use: name one with "
                 "profile= (mediagate profiles list).",
                 enc);
        ret = reply_error(r, 400, msg);
        goto out;
    }
    name = arena_strdup(r->a, PQgetvalue(res, 0, 0));
pick:
    if ((ret = profile_pick(r, name, snap, row)) != 0 || !enc || strcmp((*row)->name, enc) == 0)
        goto out;
    snprintf(msg, sizeof msg, "This upload target takes a profile on the %s encoder; profile "
             "'%.63s' runs on %s.", enc, name ? name : "default", (*row)->name);
    *snap = NULL;
    *row = NULL;
    ret = reply_error(r, 400, msg);
out:
    PQclear(res);
    return ret;
}
