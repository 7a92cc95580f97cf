#ifndef MEDIAGATE_HANDLERS_PROFILES_H
#define MEDIAGATE_HANDLERS_PROFILES_H
#include "encoders/encoder.h"
#include "request.h"

/* The profile a new job of r's caller is made with (handlers/profiles.c):
 * name (the request's profile parameter), or with name NULL the caller's
 * API key's first profile, else "default". Returns 0 with *snap the
 * profile's snapshot as create tasks carry it (profile_json's text, with
 * its name; arena memory) and *row its encoder's row; or
 * replies and returns the status: 400 for a name that is no profile (or
 * a profile whose encoder is not configured here), 403 for a profile the
 * caller's API key may not use, 5xx when the database fails. */
int profile_pick(request *r, const char *name, const char **snap, const encoder **row);

/* profile_pick for a job that must run on encoder enc (NULL: any): with
 * name NULL, the caller's default when it is on enc, else the first
 * profile on enc its API key may use (400 when there is none); a named
 * profile on another encoder is 400. */
int profile_pick_on(request *r, const char *name, const char *enc, const char **snap,
                    const encoder **row);

#endif
