/* The upload targets' table (app/uploads/target.h): one row per place a new
 * upload's file may go. */
#include "uploads/target.h"

#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"

#include "storage/storage.h"

static bool local_configured(const config *cfg)
{
    return *cfg->uploads_dir && !store_is_s3(cfg);
}

static bool s3_configured(const config *cfg)
{
    return store_is_s3(cfg);
}

static bool tencent_configured(const config *cfg)
{
    return *cfg->tencent_secret_id && *cfg->tencent_secret_key;
}

static bool mux_configured(const config *cfg)
{
    return *cfg->mux_token_id && *cfg->mux_token_secret;
}

static bool jwplatform_configured(const config *cfg)
{
    return *cfg->jwplatform_api_key && *cfg->jwplatform_api_secret;
}

const upload_target upload_targets[] = {
    {.name = "local",
     .help = "MEDIAGATE_UPLOADS_DIR on this site: a single-use URL that takes one PUT, or tus",
     .configured = local_configured,
     .create = upload_target_local_create},
    {.name = "s3",
     .help = "the bucket (MEDIAGATE_STORAGE=s3): presigned PUT URLs, or tus through this site",
     .configured = s3_configured,
     .create = upload_target_s3_create},
    {.name = "tencent",
     .help = "Tencent VOD: the browser upload signature of Tencent's upload SDK",
     .encoder = "tencent",
     .configured = tencent_configured,
     .create = upload_target_tencent_create},
    {.name = "mux",
     .help = "Mux: a direct upload, the URL Mux answers",
     .encoder = "mux",
     .configured = mux_configured,
     .create = upload_target_mux_create},
    {.name = "jwplatform",
     .help = "JW Platform: a new video and the upload link JW answers",
     .configured = jwplatform_configured,
     .create = upload_target_jwplatform_create},
};
const size_t upload_targets_count = sizeof upload_targets / sizeof upload_targets[0];

const upload_target *upload_target_find(const char *name)
{
    for (size_t i = 0; name && i < upload_targets_count; i++)
        if (strcmp(upload_targets[i].name, name) == 0)
            return &upload_targets[i];
    return NULL;
}

const upload_target *upload_target_default(const config *cfg)
{
    return upload_target_find(store_is_s3(cfg) ? "s3" : "local");
}

int upload_target_created(request *r, const char *job, json_object *upload)
{
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "job_id", json_object_new_string(job));
    json_object_object_add(r->out, "upload", upload);
    r->cache_control = "no-store";
    return 201;
}

int upload_target_record(request *r, const upload_slot *s, const char *target, const char *id,
                         const char *job, time_t now, long valid_s, char expires_at[32])
{
    int ret;
    PGresult *res = NULL;
    char maxbuf[24], ttl[24];
    time_t expires = now + valid_s;
    struct tm tm;
    gmtime_r(&expires, &tm);
    strftime(expires_at, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(maxbuf, sizeof maxbuf, "%lld", s->max_bytes);
    snprintf(ttl, sizeof ttl, "%ld", valid_s + UPLOAD_PLATFORM_GRACE_S);
    const char *vals[] = {id,  job,    s->owner,        s->name,         s->content_type, maxbuf,
                          ttl, s->acl, s->profile_snap, s->profile_kind, target};
    if ((ret = db_exec(r->db, STMT_UPLOAD_CREATE_PLATFORM, 11, vals, &res)) != 0)
        ret = reply_db_error(r, ret);
    PQclear(res);
    return ret;
}

/* Requests waiting on a platform now (upload_platform_enter). */
static atomic_long platform_waits;

int upload_platform_enter(request *r, const char *platform)
{
    const long cap = r->cfg->threads / 4 > 1 ? r->cfg->threads / 4 : 1;
    char msg[200];
    if (atomic_fetch_add(&platform_waits, 1) < cap)
        return 0;
    atomic_fetch_sub(&platform_waits, 1);
    snprintf(msg, sizeof msg, "%s is busy with other uploads being made: retry shortly.",
             platform);
    return reply_error(r, 503, msg);
}

void upload_platform_leave(void)
{
    atomic_fetch_sub(&platform_waits, 1);
}
