#ifndef MEDIAGATE_UPLOADS_TARGET_H
#define MEDIAGATE_UPLOADS_TARGET_H
#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "http_client.h"
#include "request.h"

struct json_object;

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
 * one the key may not use 403. A platform's row encodes there: its job's
 * profile is one on that platform's encoder (without profile=, the
 * caller's default if it is, else the first such profile it may use). */
/* Seconds a platform's slot outlives what it hands out (the signature, the
 * upload URL), so that the platform's word about an upload finished at the
 * last moment still finds the job before the slot's expiry cancels it. */
#define UPLOAD_PLATFORM_GRACE_S 600

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
    /* The encoder its job's profile must name (the platform encodes), or
     * NULL: any (handlers/profiles.h, profile_pick_on). */
    const char *encoder;
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

/* Replies a platform row's 201: {"success":true,"job_id":job,"upload":
 * upload} (which it takes), never stored (no-store). Returns 201. */
int upload_target_created(request *r, const char *job, struct json_object *upload);

/* A platform row's slot, made before anything goes to the platform: job
 * id and upload id, in one transaction with its uploads row (target) and
 * the upload.expire task at valid_s + UPLOAD_PLATFORM_GRACE_S seconds;
 * expires_at gets now + valid_s (ISO 8601, UTC), what the
 * platform is told. Returns 0, or the status replied (the database's). */
int upload_target_record(request *r, const upload_slot *s, const char *target, const char *id,
                         const char *job, time_t now, long valid_s, char expires_at[32]);

/* A platform row's wait on its platform's API inside the request (Mux's
 * upload create, JW's video create) holds a request thread: at most a
 * quarter of MEDIAGATE_THREADS (at least one) wait at once, so that a slow
 * platform never takes the threads the rest of the API needs (tus chunk
 * writers take at most half). upload_platform_enter returns 0 holding a
 * place, to give back with upload_platform_leave once the platform
 * answered; or, when every place is taken, replies 503 (Retry-After)
 * "<platform> is busy ..." and returns 503: before anything is made. */
int upload_platform_enter(request *r, const char *platform);
void upload_platform_leave(void);

/* The rows' create functions. local and s3 are in handlers/uploads.c. */
int upload_target_local_create(request *r, const upload_slot *s);
int upload_target_s3_create(request *r, const upload_slot *s);
int upload_target_tencent_create(request *r, const upload_slot *s);    /* app/uploads/tencent.c */
int upload_target_mux_create(request *r, const upload_slot *s);        /* app/uploads/mux.c */
int upload_target_jwplatform_create(request *r, const upload_slot *s); /* app/uploads/jwplatform.c */

/* At a mux slot's expiry (app/worker/upload.c): cancels Mux direct upload
 * mux_id through hc. Returns 0 (canceled, or no longer waiting), 1 to
 * retry (no answer, 429, 5xx) or -1 (refused for good), with err. */
int upload_target_mux_cancel(http_client *hc, const config *cfg, const char *mux_id, char *err,
                             size_t cap);

#endif
