#ifndef MEDIAGATE_UPLOADS_TARGET_H
#define MEDIAGATE_UPLOADS_TARGET_H
#include <stdbool.h>

#include "config.h"
#include "request.h"

/* Upload targets: where the file of a new upload (POST /uploads) goes, one
 * row per place (app/uploads/targets.c):
 *   local       MEDIAGATE_UPLOADS_DIR: a single-use URL on this site (PUT, or tus)
 *   s3          the bucket of MEDIAGATE_STORAGE=s3: presigned URLs (or tus)
 *   tencent     Tencent VOD: the browser upload signature of Tencent's SDK
 *   mux         a Mux direct upload: the URL Mux gives
 *   jwplatform  a JW Platform video: the upload link JW gives
 * The request names one with `target`; without, the storage's own (local or
 * s3). An API key may be limited to some (api_keys.targets, `mediagate
 * apikey create --targets`); a target that is not configured here is 400,
 * one the key may not use 403. */

/* What POST /uploads asked for, parsed and checked the same way for every
 * target (arena memory, the request's lifetime). */
typedef struct upload_slot {
    const char *owner;        /* the caller's owner ("key:<id>", a user) */
    const char *name;         /* the file name, made safe (slot_name) */
    const char *content_type; /* NULL: not given */
    long long max_bytes;      /* the cap (the setting's when not given) */
    const char *size;         /* the exact length as sent, NULL: not given */
    const char *acl;          /* who may see the job's status (acl.h); NULL: WORLD */
    const char *title;        /* NULL: not given (platforms show it) */
    const char *origin;       /* the page's allowed Origin, NULL: none */
    /* The encode profile (handlers/profiles.h): its snapshot and the kind
     * of task that starts the encode; both NULL for a target whose
     * platform encodes by itself with no profile. */
    const char *profile_snap;
    const char *profile_kind;
    const char *profile_encoder; /* the profile's encoder row name, or NULL */
} upload_slot;

typedef struct upload_target {
    const char *name;
    const char *help; /* one line, for docs and errors */
    /* True when this host has the settings the target needs. */
    bool (*configured)(const config *cfg);
    /* Makes the slot: its job (and uploads row) in one transaction, and
     * whatever the platform must make first; replies 201 with
     * {"success":true,"job_id":…,"upload":{…,"target":<name>}} and returns
     * the status it replied (a refusal's too). */
    int (*create)(request *r, const upload_slot *s);
} upload_target;

extern const upload_target upload_targets[];
extern const size_t upload_targets_count;

/* The row called name, or NULL. */
const upload_target *upload_target_find(const char *name);
/* The default row for cfg: "s3" on S3 storage, else "local". */
const upload_target *upload_target_default(const config *cfg);

/* The rows' create functions. local and s3 are in handlers/uploads.c. */
int upload_target_local_create(request *r, const upload_slot *s);
int upload_target_s3_create(request *r, const upload_slot *s);
int upload_target_tencent_create(request *r, const upload_slot *s);    /* app/uploads/tencent.c */
int upload_target_mux_create(request *r, const upload_slot *s);        /* app/uploads/mux.c */
int upload_target_jwplatform_create(request *r, const upload_slot *s); /* app/uploads/jwplatform.c */

#endif
