#ifndef MEDIAGATE_CONFIG_H
#define MEDIAGATE_CONFIG_H
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cors.h"

/* Every setting, already validated. Strings are owned by the config and
 * freed by config_free(). */
typedef struct config {
    char *database_url;
    char *database_read_url;
    char *socket;
    char *socket_group;
    long threads;
    long backlog;
    char *allowed_origins;
    char *prefix;
    long max_body;
    long db_timeout_ms;
    long db_read_timeout_ms;
    long db_read_holdoff_ms;
    long queue_wait_ms;
    long retry_after;
    long cache_max_age;
    long shutdown_timeout;
    bool access_log;
    char *log_format;
    char *mediaconvert_secret;
    char *mediaconvert_header;
    char *zencoder_secret;
    char *tencent_token;
    char *sns_topic_arns;
    char *sns_cert_host;
    char *mux_secret;
    char *outbound_ca_file;
    char *stream_auth;
    char *rtmp_url;
    char *hls_url;
    char *upload_url;
    long upload_ttl;
    char *s3_bucket;
    char *s3_region;
    char *s3_prefix;
    long s3_max_bytes;
    char *aws_access_key_id;
    char *aws_secret_access_key;
    char *sts_role_arn;
    bool outbound_allow_loopback;
    char *media_signing_secret; /* signed output URLs (app/urlsign.h); "" off */
    long media_url_lifetime;
    /* Encoders mediagate drives (app/encoders/). */
    char *public_url;
    long encoder_input_lifetime;
    long reconcile_after;
    char *mediaconvert_endpoint;
    char *mediaconvert_region;
    char *mediaconvert_role;
    char *mediaconvert_queue;
    char *mediaconvert_destination;
    char *mediaconvert_status_interval;
    char *zencoder_api_key;
    char *zencoder_api_url;
    char *zencoder_destination;
    char *mux_token_id;
    char *mux_token_secret;
    char *mux_api_url;
    /* OAuth2 callers: token introspection (RFC 7662). */
    char *oauth2_introspection_url;
    char *oauth2_client_id;
    char *oauth2_client_secret;
    long oauth2_cache_seconds;
    char *oauth2_user_claim;
    char *oauth2_audience;      /* aud values meant for mediagate; "*": any */
    char *oauth2_token_url;     /* client credentials, for the people lookup */
    char *lookup_url;
    char *admin_users; /* MEDIAGATE_ADMIN_USERS */
    long session_lifetime; /* MEDIAGATE_SESSION_LIFETIME: a console session's seconds */
    long lookup_people_cache_lifetime;
    /* Tencent Cloud VOD API (ProcessMedia on NewFileUpload). */
    char *tencent_secret_id;
    char *tencent_secret_key;
    char *tencent_region;
    char *tencent_definitions;
    long tencent_subappid;
    char *tencent_api_url;
    long tencent_defs[16];  /* derived: MEDIAGATE_TENCENT_DEFINITIONS */
    int tencent_ndefs;
    bool tencent_process;   /* derived: the API is configured, so the worker serves ProcessMedia */
    long webhook_timeout_ms;
    long webhook_retry_unit_ms;
    /* JW Platform (the mirror: mediagate sync, jwplatform.refresh, webhooks). */
    char *jwplatform_api_url;
    char *jwplatform_delivery_url;
    char *jwplatform_api_key;
    char *jwplatform_api_secret;
    char *jwplatform_webhook_secret;
    char *jwplatform_player_key;
    long jwplatform_signature_lifetime;
    bool jwplatform_mirror; /* derived: API key and secret set */
    bool jwplatform_force_https_upload;
    bool jwplatform_sync_items;
    char *sts_url;
    char *sts_region;
    long worker_concurrency;
    long lease_seconds;
    long encode_nice;
    long encode_timeout;
    long encode_stall;
    long encode_max_pixels;     /* the budget of one encode, checked before it starts */
    long encode_max_duration;
    long encode_max_megapixels;
    long encode_memory_mb;      /* limits of every child (app/proc.h) */
    long encode_cpu_seconds;
    long encode_owner_cap;      /* the claim's cap of one owner's running encodes */
    long retention_days;        /* jobs.purge: 0 keeps everything */
    long thumbnails_max;        /* thumbnails made on request, per job */
    long thumbnail_wait_ms;     /* a request waits this long for its thumbnail */
    long thumbnails_queued_max; /* thumbnail tasks of all jobs waiting at once */
    long thumbnail_retry_after; /* seconds a failed thumbnail stays failed */
    char *renditions;
    char *media_dir;
    char *media_url;
    char *uploads_dir;
    char *uploads_url;
    long upload_slot_ttl;
    long upload_max_bytes;
    long fetch_timeout;
    long fetch_min_rate;
    long fetch_rate_window;
    bool stream_vod;
    char *recordings_dir;
    char *live_dir;
    bool ingest_host;            /* this host's disk holds the recordings (s3: archived from here) */
    /* Where media lives (app/storage/storage.h). */
    char *storage;               /* "local" or "s3" */
    char *storage_endpoint;
    char *storage_region;
    char *storage_bucket;
    char *storage_prefix;
    char *storage_addressing;
    char *storage_access_key_id;
    char *storage_secret_access_key;
    char *storage_session_token;
    char *storage_public_url;
    long storage_part_bytes;
    long storage_timeout_ms;
    long storage_retries;

    char *source;                /* the file it was loaded from, or NULL */
    /* Derived by validation. */
    bool log_json;               /* MEDIAGATE_LOG_FORMAT=json */
    cors_list origins;
    gid_t socket_gid;
    bool has_socket_gid;
    bool trust_remote_user;      /* MEDIAGATE_STREAM_AUTH=remote_user */
    bool vod_rtmp;               /* stopped streams' RTMP recordings become VOD jobs */
    bool vod_put;                /* stopped streams' PUT segments become VOD jobs */
    regex_t sns_host_re;         /* MEDIAGATE_SNS_CERT_HOST, when sns_host_re_ok */
    bool sns_host_re_ok;
    char mediaconvert_param[96]; /* the header as a FastCGI param: HTTP_X_API_KEY */
    /* The tencent upload target's signature (app/uploads/tencent.c). */
    long tencent_upload_lifetime;
    bool tencent_upload_one_time;
    char *tencent_upload_procedure;
    long tencent_upload_class_id;
} config;

/* A list of problems found while loading; each message is malloc'd. */
typedef struct cfg_errors {
    char **msg;
    size_t n;
} cfg_errors;

/* How a value is stored in struct config: char *, long or bool. */
typedef enum { CFG_STRING, CFG_INT, CFG_BOOL } cfg_type;

/* What a setting holds. The table pass checks it; the man page and
 * docs/settings.md name it. */
typedef enum {
    CFG_TEXT,     /* text; a row's .check may look further */
    CFG_URL,      /* a URL of .schemes, as strict as .url says; empty: off when the default
                   * is empty, else a problem */
    CFG_DIR,      /* an absolute directory without a trailing /; empty: off */
    CFG_FILE,     /* a file mediagate can read; empty: off */
    CFG_ENUM,     /* one of the space-separated words of .choices */
    CFG_CONNINFO, /* a libpq connection string or URI; empty: off */
    CFG_NUMBER,   /* integers from .min to .max, like the three below */
    CFG_SECONDS,
    CFG_MILLISECONDS,
    CFG_BYTES,
    CFG_SWITCH,   /* on or off */
} cfg_kind;

/* How strict a CFG_URL is; each later form includes the one before. */
typedef enum {
    CFG_URL_SCHEME,   /* it starts with one of the schemes */
    CFG_URL_PLAIN,    /* and holds no space, quote, < > or # */
    CFG_URL_NO_QUERY, /* nor a ? */
    CFG_URL_OR_PATH,  /* or it is a path from the site's root; no trailing / either way */
} cfg_url_form;

/* One row of the settings table: the single source for names, kinds,
 * defaults, bounds and help text (the man page and docs/settings.md are
 * printed from it). */
typedef struct cfg_setting {
    const char *name;
    cfg_kind kind;
    const char *def;            /* NULL: required */
    bool required;
    long min, max;              /* CFG_NUMBER, CFG_SECONDS, CFG_MILLISECONDS, CFG_BYTES */
    const char *choices;        /* CFG_ENUM */
    const char *schemes;        /* CFG_URL: space-separated; NULL: http https */
    cfg_url_form url;           /* CFG_URL */
    bool secret;                /* a credential; set: at least min_length characters */
    size_t min_length;
    const char *required_with;  /* the setting that, set, makes this one required */
    /* A further check of the value (never NULL, maybe ""), which may also
     * fill what the config derives from it; appends its problems to errs. */
    void (*check)(struct config *c, const char *v, cfg_errors *errs);
    bool reload;                /* serve applies a new value on SIGHUP; false: restart */
    size_t offset;
    const char *help;
} cfg_setting;

extern const cfg_setting config_settings[];
extern const size_t config_settings_count;

/* How setting s is stored (from its kind). */
cfg_type config_type(const cfg_setting *s);

/* A rule between settings: when setting .when is set (not empty), every
 * one of .needs must be too; else the problem is .msg. */
typedef struct cfg_rule {
    const char *when;
    const char *needs[4];       /* NULL-terminated */
    const char *msg;
    const char *storage;        /* only when MEDIAGATE_STORAGE is this; NULL: whatever it is */
} cfg_rule;

extern const cfg_rule config_rules[];
extern const size_t config_rules_count;

/* Calls note with a sentence for each setting left empty that a configured
 * cloud encoder works without, but worse: no notification URL or secret
 * (its jobs end only by the reconciler), no way for an upload on local
 * storage to reach it. check-config's warnings; never an error (the
 * profiles decide whether uploads go to that encoder at all). */
void config_notices(const config *c, void (*note)(const char *msg));

/* Calls note with a sentence when media files are served unsigned from
 * local storage (MEDIAGATE_STORAGE local, MEDIAGATE_MEDIA_SIGNING_SECRET
 * empty): a private job's files are then reachable by URL, and AES-128
 * hides only an encrypted job's segments. serve logs it at start (not
 * one of config_notices: it holds for the packaged defaults, which
 * check-config accepts as they are). */
void config_media_notice(const config *c, void (*note)(const char *msg));

/* Loads defaults, then the key = value file at path (if path is non-NULL),
 * then MEDIAGATE_* environment variables, which win. Validates everything
 * and appends one message per problem to errs. Returns the number of
 * problems; c is usable only when it returns 0. Lookups of the environment
 * go through getenv_fn so tests can supply their own. */
size_t config_load(config *c, const char *path,
                   const char *(*getenv_fn)(const char *), cfg_errors *errs);
/* Same, from a buffer holding a file's text (for tests and fuzzing). */
size_t config_load_buf(config *c, const char *buf, size_t len, const char *what,
                       const char *(*getenv_fn)(const char *), cfg_errors *errs);
void config_free(config *c);

/* The value of setting s in c as text ("on"/"off" for booleans), in buf
 * (cap bytes) or as c's own string. */
const char *config_value(const config *c, const cfg_setting *s, char *buf, size_t cap);

/* SIGHUP: loads path and the environment into *next like config_load,
 * except that a setting that needs a restart keeps cur's value. Calls
 * changed(s, applied) for every setting whose value differs (applied is
 * s->reload). Returns the number of problems (next is then not usable, and
 * changed was not called). */
size_t config_reload(const config *cur, config *next, const char *path,
                     const char *(*getenv_fn)(const char *), cfg_errors *errs,
                     void (*changed)(const cfg_setting *s, bool applied));

/* 0 when s is 1 to 8 comma-separated heights from 144 to 4320. */
int config_renditions_check(const char *s);

/* Calls warn for every MEDIAGATE_* name in env (NAME=value strings) that
 * is no setting, with the setting it most likely misspells (or NULL).
 * Returns how many. */
size_t config_unknown_names(char *const *env, void (*warn)(const char *name, const char *near));
void cfg_errors_free(cfg_errors *e);

#endif
