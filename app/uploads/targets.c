/* The upload targets' table (app/uploads/target.h): one row per place a new
 * upload's file may go. */
#include "uploads/target.h"

#include <string.h>

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
     .configured = tencent_configured,
     .create = upload_target_tencent_create},
    {.name = "mux",
     .help = "Mux: a direct upload, the URL Mux answers",
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
