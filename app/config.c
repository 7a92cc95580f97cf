#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OFF(f) offsetof(config, f)
#define RELOAD true   /* serve applies a new value on SIGHUP */
#define RESTART false /* read once at start */

const cfg_setting config_settings[] = {
    {"MEDIAGATE_DATABASE_URL", CFG_STRING, NULL, 0, 0, true, OFF(database_url),
     "libpq connection string or URI of the PostgreSQL database", RESTART},
    {"MEDIAGATE_DATABASE_READ_URL", CFG_STRING, "", 0, 0, false, OFF(database_read_url),
     "connection string of a streaming replica for the read routes (/media/status, /media/job_id); unavailable: the primary answers; empty: the primary", RESTART},
    {"MEDIAGATE_SOCKET", CFG_STRING, "", 0, 0, false, OFF(socket),
     "unix socket to create and listen on; empty: fd 0 is the listening socket", RESTART},
    {"MEDIAGATE_SOCKET_GROUP", CFG_STRING, "", 0, 0, false, OFF(socket_group),
     "group given the socket (mode 0660), normally nginx's (www-data)", RESTART},
    {"MEDIAGATE_THREADS", CFG_INT, "16", 1, 1024, false, OFF(threads),
     "request threads, each with its own PostgreSQL connection", RESTART},
    {"MEDIAGATE_BACKLOG", CFG_INT, "1024", 1, 65535, false, OFF(backlog),
     "listen backlog of the socket mediagate creates; full: nginx answers 503 at once (a request that waited in it past MEDIAGATE_QUEUE_WAIT_MS is answered 503 by mediagate)", RESTART},
    {"MEDIAGATE_ALLOWED_ORIGINS", CFG_STRING, "", 0, 0, false, OFF(allowed_origins),
     "space-separated POSIX extended regexes; each must match a whole Origin", RELOAD},
    {"MEDIAGATE_PREFIX", CFG_STRING, "", 0, 0, false, OFF(prefix),
     "mount prefix such as /video-api; empty: routes sit at the root", RESTART},
    {"MEDIAGATE_MAX_BODY", CFG_INT, "1048576", 0, 16777216, false, OFF(max_body),
     "largest request body accepted, in bytes (larger: 413); nginx's per-location limits are smaller", RELOAD},
    {"MEDIAGATE_DB_TIMEOUT_MS", CFG_INT, "3000", 100, 600000, false, OFF(db_timeout_ms),
     "deadline for one database statement; past it the answer is 503", RESTART},
    {"MEDIAGATE_DB_READ_TIMEOUT_MS", CFG_INT, "300", 10, 600000, false, OFF(db_read_timeout_ms),
     "deadline for connecting to the read replica and for one statement on it; past it the read runs on the primary and the replica is left alone for MEDIAGATE_DB_READ_HOLDOFF_MS", RESTART},
    {"MEDIAGATE_DB_READ_HOLDOFF_MS", CFG_INT, "5000", 100, 3600000, false, OFF(db_read_holdoff_ms),
     "after the replica timed out or could not be reached, every read runs on the primary this long; then one read tries the replica again", RESTART},
    {"MEDIAGATE_QUEUE_WAIT_MS", CFG_INT, "1000", 0, 600000, false, OFF(queue_wait_ms),
     "a request that waited longer than this between nginx and a request thread (nginx passes its start as MEDIAGATE_REQUEST_START) is answered 503 + Retry-After at once, without running its route; 0: never", RELOAD},
    {"MEDIAGATE_RETRY_AFTER", CFG_INT, "2", 0, 3600, false, OFF(retry_after),
     "seconds sent in Retry-After with 503 answers", RELOAD},
    {"MEDIAGATE_CACHE_MAX_AGE", CFG_INT, "1", 0, 30, false, OFF(cache_max_age),
     "seconds a shared cache (nginx's micro-cache) may keep a final job's public status answer (s-maxage); a change of its ACL reaches every caller within this + 1 s", RELOAD},
    {"MEDIAGATE_SHUTDOWN_TIMEOUT", CFG_INT, "10", 0, 3600, false, OFF(shutdown_timeout),
     "seconds SIGTERM waits for in-flight requests before exiting", RESTART},
    {"MEDIAGATE_ACCESS_LOG", CFG_BOOL, "on", 0, 0, false, OFF(access_log),
     "one stderr line per request: method, path, status, µs, bytes (on/off)", RELOAD},
    {"MEDIAGATE_LOG_FORMAT", CFG_STRING, "text", 0, 0, false, OFF(log_format),
     "text: one plain line per event; json: JSON lines (access lines with a request id)", RELOAD},
    {"MEDIAGATE_MEDIACONVERT_SECRET", CFG_STRING, "", 0, 0, false, OFF(mediaconvert_secret),
     "API key the EventBridge API destination sends; empty: /notifications/mediaconvert is off (403)", RELOAD},
    {"MEDIAGATE_MEDIACONVERT_HEADER", CFG_STRING, "X-Api-Key", 0, 0, false, OFF(mediaconvert_header),
     "header name the EventBridge connection puts the API key in", RELOAD},
    {"MEDIAGATE_ZENCODER_SECRET", CFG_STRING, "", 0, 0, false, OFF(zencoder_secret),
     "X-Zencoder-Notification-Secret value; empty: /notifications/zencoder is off (403)", RELOAD},
    {"MEDIAGATE_TENCENT_TOKEN", CFG_STRING, "", 0, 0, false, OFF(tencent_token),
     "secret ?token= in the Tencent VOD callback URL; empty: /notifications/tencent is off (403)", RELOAD},
    {"MEDIAGATE_SNS_TOPIC_ARNS", CFG_STRING, "", 0, 0, false, OFF(sns_topic_arns),
     "SNS topic ARNs whose messages /notifications/sns accepts, space- or comma-separated; empty: /notifications/sns is off (403)", RELOAD},
    {"MEDIAGATE_SNS_CERT_HOST", CFG_STRING, "^sns\\.[a-zA-Z0-9-]{3,}\\.amazonaws\\.com(\\.cn)?$", 0, 0, false, OFF(sns_cert_host),
     "POSIX extended regex the host of an SNS SigningCertURL and SubscribeURL must match as a whole (both https on port 443 only)", RESTART},
    {"MEDIAGATE_MUX_SECRET", CFG_STRING, "", 0, 0, false, OFF(mux_secret),
     "signing secret of the Mux webhook endpoint (Mux-Signature); empty: /notifications/mux is off (403)", RELOAD},
    {"MEDIAGATE_STREAM_AUTH", CFG_STRING, "apikey", 0, 0, false, OFF(stream_auth),
     "who may call /stream/* and /uploads: apikey (Authorization: Bearer) or remote_user (the user the site's auth_request vouches for, as $mediagate_user)", RELOAD},
    {"MEDIAGATE_RTMP_URL", CFG_STRING, "", 0, 0, false, OFF(rtmp_url),
     "public RTMP ingest URL given to broadcasters, e.g. rtmp://live.example.com/live; empty: no RTMP", RELOAD},
    {"MEDIAGATE_HLS_URL", CFG_STRING, "", 0, 0, false, OFF(hls_url),
     "public base URL of live HLS playlists, e.g. https://live.example.com/hls", RELOAD},
    {"MEDIAGATE_UPLOAD_URL", CFG_STRING, "", 0, 0, false, OFF(upload_url),
     "public base URL of HTTP PUT ingest (nginx/mediagate-upload.conf), e.g. https://live.example.com/live; empty: no HTTP ingest", RELOAD},
    {"MEDIAGATE_S3_BUCKET", CFG_STRING, "", 0, 0, false, OFF(s3_bucket),
     "bucket for the S3 and S3_POST endpoints; empty: neither is offered", RELOAD},
    {"MEDIAGATE_S3_REGION", CFG_STRING, "us-east-1", 0, 0, false, OFF(s3_region),
     "region of MEDIAGATE_S3_BUCKET", RELOAD},
    {"MEDIAGATE_S3_PREFIX", CFG_STRING, "live/", 0, 0, false, OFF(s3_prefix),
     "key prefix; a stream may write only under <prefix><stream id>/", RELOAD},
    {"MEDIAGATE_S3_MAX_BYTES", CFG_INT, "1073741824", 1, 5368709120L, false, OFF(s3_max_bytes),
     "largest object an S3_POST upload may be", RELOAD},
    {"MEDIAGATE_AWS_ACCESS_KEY_ID", CFG_STRING, "", 0, 0, false, OFF(aws_access_key_id),
     "AWS key that signs STS calls and S3 POST policies", RELOAD},
    {"MEDIAGATE_AWS_SECRET_ACCESS_KEY", CFG_STRING, "", 0, 0, false, OFF(aws_secret_access_key),
     "its secret", RELOAD},
    {"MEDIAGATE_STS_ROLE_ARN", CFG_STRING, "", 0, 0, false, OFF(sts_role_arn),
     "role assumed for S3 credentials; empty: no S3 endpoint (S3_POST still offered)", RELOAD},
    {"MEDIAGATE_STS_URL", CFG_STRING, "https://sts.amazonaws.com/", 0, 0, false, OFF(sts_url),
     "STS endpoint", RELOAD},
    {"MEDIAGATE_STS_REGION", CFG_STRING, "us-east-1", 0, 0, false, OFF(sts_region),
     "region SigV4 signs STS calls for (us-east-1 for the global endpoint)", RELOAD},
    {"MEDIAGATE_TENCENT_SECRET_ID", CFG_STRING, "", 0, 0, false, OFF(tencent_secret_id),
     "Tencent Cloud API SecretId; set: a NewFileUpload starts ProcessMedia (worker task tencent.process_media); empty: Tencent's own task flow is expected", RESTART},
    {"MEDIAGATE_TENCENT_SECRET_KEY", CFG_STRING, "", 0, 0, false, OFF(tencent_secret_key),
     "its SecretKey (signs TC3-HMAC-SHA256)", RESTART},
    {"MEDIAGATE_TENCENT_REGION", CFG_STRING, "", 0, 0, false, OFF(tencent_region),
     "X-TC-Region of VOD calls, e.g. ap-guangzhou; empty: none (VOD does not require one)", RESTART},
    {"MEDIAGATE_TENCENT_DEFINITIONS", CFG_STRING, "", 0, 0, false, OFF(tencent_definitions),
     "transcoding template ids for ProcessMedia, comma-separated, e.g. 100210,100220; required with MEDIAGATE_TENCENT_SECRET_ID", RESTART},
    {"MEDIAGATE_TENCENT_SUBAPPID", CFG_INT, "0", 0, 4294967295L, false, OFF(tencent_subappid),
     "VOD SubAppId sent with ProcessMedia; 0: none", RESTART},
    {"MEDIAGATE_TENCENT_API_URL", CFG_STRING, "https://vod.tencentcloudapi.com", 0, 0, false, OFF(tencent_api_url),
     "Tencent VOD API endpoint (the host is signed)", RESTART},
    {"MEDIAGATE_OAUTH2_INTROSPECTION_URL", CFG_STRING, "", 0, 0, false, OFF(oauth2_introspection_url),
     "RFC 7662 token introspection endpoint; set: OAuth2 bearer tokens identify callers of /media/status; empty: API keys and REMOTE_USER only", RESTART},
    {"MEDIAGATE_OAUTH2_CLIENT_ID", CFG_STRING, "", 0, 0, false, OFF(oauth2_client_id),
     "mediagate's client id at the introspection endpoint (HTTP Basic)", RESTART},
    {"MEDIAGATE_OAUTH2_CLIENT_SECRET", CFG_STRING, "", 0, 0, false, OFF(oauth2_client_secret),
     "its client secret", RESTART},
    {"MEDIAGATE_OAUTH2_CACHE_SECONDS", CFG_INT, "300", 1, 86400, false, OFF(oauth2_cache_seconds),
     "an active token's introspection is reused this long at most (never past its exp)", RESTART},
    {"MEDIAGATE_OAUTH2_USER_CLAIM", CFG_STRING, "sub", 0, 0, false, OFF(oauth2_user_claim),
     "the introspection claim that names the user (USER_<id> entries); groups and institutions come from the claims groups and institutions", RESTART},
    {"MEDIAGATE_OAUTH2_AUDIENCE", CFG_STRING, "", 0, 0, false, OFF(oauth2_audience),
     "aud values of access tokens meant for mediagate, space- or comma-separated; a token for none of them is refused; required with MEDIAGATE_OAUTH2_INTROSPECTION_URL; *: any audience (logged at start)", RESTART},
    {"MEDIAGATE_OAUTH2_TOKEN_URL", CFG_STRING, "", 0, 0, false, OFF(oauth2_token_url),
     "token endpoint where mediagate gets its own bearer token (client credentials grant) for MEDIAGATE_LOOKUP_URL", RESTART},
    {"MEDIAGATE_LOOKUP_URL", CFG_STRING, "", 0, 0, false, OFF(lookup_url),
     "people directory: GET it ({user} replaced by the user) for a caller's groups and institutions when the credential carries none; empty: claims only", RESTART},
    {"MEDIAGATE_LOOKUP_PEOPLE_CACHE_LIFETIME", CFG_INT, "1800", 1, 86400, false, OFF(lookup_people_cache_lifetime),
     "seconds a person's groups and institutions from MEDIAGATE_LOOKUP_URL are reused", RESTART},
    {"MEDIAGATE_JWPLATFORM_API_URL", CFG_STRING, "https://api.jwplatform.com", 0, 0, false, OFF(jwplatform_api_url),
     "JW Platform management API (v1) base URL, for mediagate sync and the jwplatform.refresh task", RESTART},
    {"MEDIAGATE_JWPLATFORM_DELIVERY_URL", CFG_STRING, "https://cdn.jwplayer.com", 0, 0, false, OFF(jwplatform_delivery_url),
     "JW Player delivery base URL (media files, players)", RESTART},
    {"MEDIAGATE_JWPLATFORM_API_KEY", CFG_STRING, "", 0, 0, false, OFF(jwplatform_api_key),
     "JW Platform v1 API key (api_key); set: the JW Platform mirror is on (mediagate sync, worker task jwplatform.refresh)", RESTART},
    {"MEDIAGATE_JWPLATFORM_API_SECRET", CFG_STRING, "", 0, 0, false, OFF(jwplatform_api_secret),
     "its v1 API secret (signs api_signature, and delivery URLs); required with MEDIAGATE_JWPLATFORM_API_KEY", RESTART},
    {"MEDIAGATE_JWPLATFORM_WEBHOOK_SECRET", CFG_STRING, "", 0, 0, false, OFF(jwplatform_webhook_secret),
     "secret of the JW Platform webhook (HS256 JWT in Authorization); empty: /notifications/jwplatform is off (403)", RELOAD},
    {"MEDIAGATE_JWPLATFORM_PLAYER_KEY", CFG_STRING, "", 0, 0, false, OFF(jwplatform_player_key),
     "JW Player embed player key (/players/<media>-<player>.html)", RESTART},
    {"MEDIAGATE_JWPLATFORM_SIGNATURE_LIFETIME", CFG_INT, "3600", 60, 604800, false, OFF(jwplatform_signature_lifetime),
     "seconds a signed JW Player delivery URL stays valid", RESTART},
    {"MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK", CFG_BOOL, "off", 0, 0, false, OFF(outbound_allow_loopback),
     "let outgoing calls to customers' URLs (webhooks) reach 127.0.0.1 and ::1; for tests only (other private addresses stay refused)", RESTART},
    {"MEDIAGATE_WEBHOOK_TIMEOUT_MS", CFG_INT, "10000", 100, 30000, false, OFF(webhook_timeout_ms),
     "how long one webhook delivery may take, connect to the last byte of the answer; past it the attempt is retried (keep it under MEDIAGATE_LEASE_SECONDS)", RESTART},
    {"MEDIAGATE_WEBHOOK_RETRY_UNIT_MS", CFG_INT, "1000", 1, 1000, false, OFF(webhook_retry_unit_ms),
     "the webhook retry schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) counts in units of this many ms; smaller for tests only", RESTART},
    {"MEDIAGATE_OUTBOUND_CA_FILE", CFG_STRING, "", 0, 0, false, OFF(outbound_ca_file),
     "PEM bundle of the CAs outgoing https calls trust instead of the system's; empty: the system's (a private CA or a test's stand-in)", RESTART},
    {"MEDIAGATE_WORKER_CONCURRENCY", CFG_INT, "1", 1, 64, false, OFF(worker_concurrency),
     "tasks one mediagate worker runs at once", RESTART},
    {"MEDIAGATE_LEASE_SECONDS", CFG_INT, "60", 2, 3600, false, OFF(lease_seconds),
     "a claimed task is another worker's after this long without a heartbeat", RESTART},
    {"MEDIAGATE_ENCODE_NICE", CFG_INT, "10", 0, 19, false, OFF(encode_nice),
     "CPU niceness of ffmpeg encodes", RESTART},
    {"MEDIAGATE_ENCODE_TIMEOUT", CFG_INT, "3600", 5, 86400, false, OFF(encode_timeout),
     "seconds an encode may run before it is killed and the job set to ERROR", RESTART},
    {"MEDIAGATE_ENCODE_STALL", CFG_INT, "120", 5, 86400, false, OFF(encode_stall),
     "seconds an encode may go without progress before the attempt is ended (ERROR 7)", RESTART},
    {"MEDIAGATE_ENCODE_MAX_PIXELS", CFG_INT, "8912896", 1, 268435456, false, OFF(encode_max_pixels),
     "largest video frame (width x height) an input may have; larger: ERROR 9 before encoding (the default is 4096x2176)", RESTART},
    {"MEDIAGATE_ENCODE_MAX_DURATION", CFG_INT, "21600", 1, 604800, false, OFF(encode_max_duration),
     "longest input, in seconds; longer: ERROR 9 before encoding", RESTART},
    {"MEDIAGATE_ENCODE_MAX_MEGAPIXELS", CFG_INT, "1000000", 1, 1000000000L, false, OFF(encode_max_megapixels),
     "most decoding an input may cost: pixels x frames (duration x frame rate), in millions; more: ERROR 9 before encoding (the default is about an hour of 4K at 30 fps); the encode also stops writing there", RESTART},
    {"MEDIAGATE_ENCODE_MEMORY_MB", CFG_INT, "8192", 256, 1048576, false, OFF(encode_memory_mb),
     "address space (RLIMIT_AS) of every ffmpeg and ffprobe the worker runs, in MiB; it counts what threads reserve, well above what they use (ffmpeg's libraries alone take about 300)", RESTART},
    {"MEDIAGATE_ENCODE_CPU_SECONDS", CFG_INT, "14400", 1, 2592000, false, OFF(encode_cpu_seconds),
     "CPU time (RLIMIT_CPU) one ffmpeg or ffprobe may use, in seconds; past it the encode ends in ERROR 9", RESTART},
    {"MEDIAGATE_ENCODE_OWNER_CAP", CFG_INT, "2", 0, 1000, false, OFF(encode_owner_cap),
     "encodes of one owner (the API key or user of an upload or stream) running at once, across all workers; 0: no cap", RESTART},
    {"MEDIAGATE_RENDITIONS", CFG_STRING, "720,480,360", 0, 0, false, OFF(renditions),
     "HLS ladder heights of the local encoder (never above the source)", RESTART},
    {"MEDIAGATE_MEDIA_DIR", CFG_STRING, "/var/lib/mediagate/media", 0, 0, false, OFF(media_dir),
     "where the local encoder writes job outputs (<dir>/<job id>/master.m3u8)", RESTART},
    {"MEDIAGATE_MEDIA_URL", CFG_STRING, "/media-files", 0, 0, false, OFF(media_url),
     "public URL of MEDIAGATE_MEDIA_DIR, used in output_path", RESTART},
    {"MEDIAGATE_MEDIA_SIGNING_SECRET", CFG_STRING, "", 0, 0, false, OFF(media_signing_secret),
     "set: output_path of local jobs is a signed, expiring URL (/s/<sig>/<exp>/...) that nginx/mediagate-media-signed.conf checks with secure_link (the same secret goes there); empty: unsigned", RESTART},
    {"MEDIAGATE_MEDIA_URL_LIFETIME", CFG_INT, "3600", 60, 604800, false, OFF(media_url_lifetime),
     "seconds a signed output URL stays valid (rounded up to 3 minutes, so answers stay the same meanwhile)", RESTART},
    {"MEDIAGATE_UPLOADS_DIR", CFG_STRING, "", 0, 0, false, OFF(uploads_dir),
     "where uploads are stored (<dir>/<upload id>/<name>), each becoming a local job; a file dropped in it directly becomes one too; empty: no uploads", RESTART},
    {"MEDIAGATE_UPLOADS_URL", CFG_STRING, "/uploads", 0, 0, false, OFF(uploads_url),
     "public URL of the upload location (nginx/mediagate-upload.conf), used in upload.url; a path is relative to the site", RELOAD},
    {"MEDIAGATE_UPLOAD_SLOT_TTL", CFG_INT, "3600", 60, 604800, false, OFF(upload_slot_ttl),
     "seconds a direct upload URL (POST /uploads) may be used", RELOAD},
    {"MEDIAGATE_UPLOAD_MAX_BYTES", CFG_INT, "4294967296", 1, 1099511627776L, false, OFF(upload_max_bytes),
     "largest upload, and the default max_bytes of a slot; keep nginx's client_max_body_size at least this", RELOAD},
    {"MEDIAGATE_STREAM_VOD", CFG_BOOL, "on", 0, 0, false, OFF(stream_vod),
     "a stopped stream's recording becomes a local VOD job (needs one of the two below)", RESTART},
    {"MEDIAGATE_RECORDINGS_DIR", CFG_STRING, "", 0, 0, false, OFF(recordings_dir),
     "nginx-rtmp's record_path (<dir>/<stream id>-<time>.flv); empty: RTMP recordings are not used", RESTART},
    {"MEDIAGATE_LIVE_DIR", CFG_STRING, "", 0, 0, false, OFF(live_dir),
     "where HTTP PUT ingest lands (<dir>/<stream id>/), kept as the recording; empty: not kept", RESTART},
    {"MEDIAGATE_UPLOAD_TTL", CFG_INT, "21600", 60, 604800, false, OFF(upload_ttl),
     "seconds an HTTP upload token lives", RELOAD},
};
const size_t config_settings_count = sizeof config_settings / sizeof config_settings[0];

#define NSET (sizeof config_settings / sizeof config_settings[0])

static void add_err(cfg_errors *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_err(cfg_errors *e, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **m = realloc(e->msg, (e->n + 1) * sizeof *m);
    if (!m)
        return;
    e->msg = m;
    e->msg[e->n] = strdup(buf);
    if (e->msg[e->n])
        e->n++;
}

void cfg_errors_free(cfg_errors *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->msg[i]);
    free(e->msg);
    e->msg = NULL;
    e->n = 0;
}

/* Finds a setting by its full name or by the lower-case short form used in
 * files ("threads" for MEDIAGATE_THREADS). Returns its index or -1. */
static int find_setting(const char *key, size_t len)
{
    for (size_t i = 0; i < NSET; i++) {
        const char *name = config_settings[i].name;
        const char *shortname = name + strlen("MEDIAGATE_");
        if (strlen(name) == len && strncmp(name, key, len) == 0)
            return (int)i;
        if (strlen(shortname) == len && strncasecmp(shortname, key, len) == 0)
            return (int)i;
    }
    return -1;
}

static bool parse_long(const char *s, long *out)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (!(isdigit((unsigned char)*p) || (p == s && *p == '-')))
            return false;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"1", "on", "true", "yes"};
    static const char *no[] = {"0", "off", "false", "no"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static const char *trim(char *s, char **end)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    *e = '\0';
    if (end)
        *end = e;
    return s;
}

/* Splits a file's text into raw values by setting index. */
static void read_file_values(const char *buf, size_t len, const char *what,
                             char **raw, cfg_errors *errs)
{
    size_t lineno = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        char *line = strndup(p, n);
        p += n + (nl ? 1 : 0);
        if (!line)
            continue;
        if (memchr(line, '\0', n)) {
            add_err(errs, "%s:%zu: NUL byte in line", what, lineno);
            free(line);
            continue;
        }
        char *e;
        const char *t = trim(line, &e);
        if (*t == '\0' || *t == '#') {
            free(line);
            continue;
        }
        const char *eq = strchr(t, '=');
        if (!eq) {
            add_err(errs, "%s:%zu: expected 'key = value'", what, lineno);
            free(line);
            continue;
        }
        size_t klen = (size_t)(eq - t);
        while (klen && (t[klen - 1] == ' ' || t[klen - 1] == '\t'))
            klen--;
        int idx = find_setting(t, klen);
        if (idx < 0) {
            add_err(errs, "%s:%zu: unknown setting '%.*s'", what, lineno, (int)klen, t);
            free(line);
            continue;
        }
        char *v = (char *)eq + 1;
        const char *val = trim(v, &e);
        size_t vlen = strlen(val);
        if (vlen >= 2 && (val[0] == '"' || val[0] == '\'') && val[vlen - 1] == val[0]) {
            val++;
            vlen -= 2;
        }
        free(raw[idx]);
        raw[idx] = strndup(val, vlen);
        free(line);
    }
}

static void set_defaults(config *c)
{
    memset(c, 0, sizeof *c);
}

/* The Tencent VOD API settings: all or nothing, the template ids parsed
 * into c->tencent_defs. */
static void check_tencent(config *c, cfg_errors *errs)
{
    const char *id = c->tencent_secret_id ? c->tencent_secret_id : "",
               *key = c->tencent_secret_key ? c->tencent_secret_key : "",
               *defs = c->tencent_definitions ? c->tencent_definitions : "",
               *region = c->tencent_region ? c->tencent_region : "",
               *url = c->tencent_api_url ? c->tencent_api_url : "";
    c->tencent_ndefs = 0;
    for (const char *p = defs; *p;) {
        char *end;
        long v = (*p >= '0' && *p <= '9') ? strtol(p, &end, 10) : -1;
        if (v <= 0 || v > 2147483647L || c->tencent_ndefs == 16 || (*end && *end != ',') ||
            (*end == ',' && !end[1])) {
            add_err(errs, "MEDIAGATE_TENCENT_DEFINITIONS must be 1 to 16 comma-separated template "
                          "ids such as 100210,100220, got '%s'", defs);
            c->tencent_ndefs = 0;
            break;
        }
        c->tencent_defs[c->tencent_ndefs++] = v;
        p = *end ? end + 1 : end;
    }
    if (*id && !*key)
        add_err(errs, "MEDIAGATE_TENCENT_SECRET_KEY is required when MEDIAGATE_TENCENT_SECRET_ID is set");
    if (*key && !*id)
        add_err(errs, "MEDIAGATE_TENCENT_SECRET_ID is required when MEDIAGATE_TENCENT_SECRET_KEY is set");
    if (*id && !*defs)
        add_err(errs, "MEDIAGATE_TENCENT_DEFINITIONS (transcoding template ids) is required when "
                      "MEDIAGATE_TENCENT_SECRET_ID is set");
    if (strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-_") != strlen(id) ||
        strlen(id) > 128)
        add_err(errs, "MEDIAGATE_TENCENT_SECRET_ID is not a SecretId (letters and digits)");
    if (strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region) || strlen(region) > 64)
        add_err(errs, "MEDIAGATE_TENCENT_REGION must be a region such as ap-guangzhou, got '%s'", region);
    if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
        strpbrk(url, " \t\r\n\"'<>?#"))
        add_err(errs, "MEDIAGATE_TENCENT_API_URL must be an http(s) URL without a query, got '%s'", url);
    c->tencent_process = *id && *key && c->tencent_ndefs > 0;
}

/* The SNS settings: topic ARNs, the host regex compiled into
 * c->sns_host_re, and a readable CA bundle. */
static void check_sns(config *c, cfg_errors *errs)
{
    const char *topics = c->sns_topic_arns ? c->sns_topic_arns : "";
    for (const char *p = topics; *p;) {
        size_t n = strcspn(p, " ,");
        if (n && (strncmp(p, "arn:", 4) != 0 || n > 256 || memchr(p, '\t', n)))
            add_err(errs, "MEDIAGATE_SNS_TOPIC_ARNS must hold topic ARNs such as "
                          "arn:aws:sns:us-east-1:123456789012:mediaconvert, got '%.*s'",
                    (int)(n > 80 ? 80 : n), p);
        p += n;
        p += strspn(p, " ,");
    }
    const char *host = c->sns_cert_host ? c->sns_cert_host : "";
    const char *problem = cors_pattern_problem(host);
    int rc = problem ? -1 : regcomp(&c->sns_host_re, host, REG_EXTENDED);
    c->sns_host_re_ok = rc == 0 && *host;
    if (rc == 0 && !c->sns_host_re_ok)
        regfree(&c->sns_host_re);
    if (!c->sns_host_re_ok)
        add_err(errs, "MEDIAGATE_SNS_CERT_HOST is not a POSIX extended regex%s%s: '%s'",
                problem ? " we accept: " : "", problem ? problem : "", host);
    if (c->outbound_ca_file && *c->outbound_ca_file && access(c->outbound_ca_file, R_OK) != 0)
        add_err(errs, "MEDIAGATE_OUTBOUND_CA_FILE: cannot read '%s': %s", c->outbound_ca_file,
                strerror(errno));
}

/* The JW Platform settings: the API key and secret come together; the
 * URLs are http(s) without a query. */
static void check_jwplatform(config *c, cfg_errors *errs)
{
    const char *key = c->jwplatform_api_key ? c->jwplatform_api_key : "",
               *secret = c->jwplatform_api_secret ? c->jwplatform_api_secret : "";
    const char *urls[][2] = {{"MEDIAGATE_JWPLATFORM_API_URL", c->jwplatform_api_url},
                             {"MEDIAGATE_JWPLATFORM_DELIVERY_URL", c->jwplatform_delivery_url}};
    if (*key && !*secret)
        add_err(errs, "MEDIAGATE_JWPLATFORM_API_SECRET is required when MEDIAGATE_JWPLATFORM_API_KEY is set");
    if (*secret && !*key)
        add_err(errs, "MEDIAGATE_JWPLATFORM_API_KEY is required when MEDIAGATE_JWPLATFORM_API_SECRET is set");
    if (strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != strlen(key) ||
        strlen(key) > 64)
        add_err(errs, "MEDIAGATE_JWPLATFORM_API_KEY is not a JW Platform API key (letters and digits)");
    for (size_t i = 0; i < 2; i++) {
        const char *u = urls[i][1] ? urls[i][1] : "";
        if ((strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) ||
            strpbrk(u, " \t\r\n\"'<>?#"))
            add_err(errs, "%s must be an http(s) URL without a query, got '%s'", urls[i][0], u);
    }
    c->jwplatform_mirror = *key && *secret;
}

static size_t finish(config *c, char **raw, const char *(*getenv_fn)(const char *),
                     cfg_errors *errs)
{
    size_t before = errs->n;
    for (size_t i = 0; i < NSET; i++) {
        const cfg_setting *s = &config_settings[i];
        const char *env = getenv_fn ? getenv_fn(s->name) : NULL;
        const char *v = env ? env : raw[i] ? raw[i] : s->def;
        void *field = (char *)c + s->offset;
        if (s->required && (!v || !*v)) {
            add_err(errs, "%s is required: %s", s->name, s->help);
            continue;
        }
        if (!v)
            v = "";
        switch (s->type) {
        case CFG_STRING:
            *(char **)field = strdup(v);
            break;
        case CFG_INT: {
            long n;
            if (!parse_long(v, &n))
                add_err(errs, "%s must be an integer, got '%s'", s->name, v);
            else if (n < s->min || n > s->max)
                add_err(errs, "%s must be between %ld and %ld, got %ld", s->name,
                        s->min, s->max, n);
            else
                *(long *)field = n;
            break;
        }
        case CFG_BOOL:
            if (!parse_bool(v, (bool *)field))
                add_err(errs, "%s must be on or off, got '%s'", s->name, v);
            break;
        }
    }

    if (c->database_url && *c->database_url) {
        char *perr = NULL;
        PQconninfoOption *opts = PQconninfoParse(c->database_url, &perr);
        if (!opts)
            add_err(errs, "MEDIAGATE_DATABASE_URL is not a valid connection string: %s",
                    perr ? trim(perr, NULL) : "out of memory");
        PQconninfoFree(opts);
        PQfreemem(perr);
    }
    if (c->database_read_url && *c->database_read_url) {
        char *perr = NULL;
        PQconninfoOption *opts = PQconninfoParse(c->database_read_url, &perr);
        if (!opts)
            add_err(errs, "MEDIAGATE_DATABASE_READ_URL is not a valid connection string: %s",
                    perr ? trim(perr, NULL) : "out of memory");
        PQconninfoFree(opts);
        PQfreemem(perr);
    }
    if (c->prefix && *c->prefix) {
        size_t n = strlen(c->prefix);
        bool ok = c->prefix[0] == '/' && c->prefix[n - 1] != '/' && n < 200;
        for (const char *p = c->prefix; ok && *p; p++)
            ok = isalnum((unsigned char)*p) || strchr("/-_.~", *p);
        if (!ok || strstr(c->prefix, "//") || strstr(c->prefix, "/."))
            add_err(errs, "MEDIAGATE_PREFIX must look like /video-api (leading /, no "
                          "trailing /, letters, digits, -_.~), got '%s'", c->prefix);
    }
    if (c->socket && strlen(c->socket) >= 108)
        add_err(errs, "MEDIAGATE_SOCKET is longer than a unix socket path may be");
    if (c->socket_group && *c->socket_group) {
        struct group gr, *res = NULL;
        char buf[4096];
        if (getgrnam_r(c->socket_group, &gr, buf, sizeof buf, &res) != 0 || !res)
            add_err(errs, "MEDIAGATE_SOCKET_GROUP: no group named '%s'", c->socket_group);
        else {
            c->socket_gid = res->gr_gid;
            c->has_socket_gid = true;
        }
    }
    const char *h = c->mediaconvert_header ? c->mediaconvert_header : "";
    size_t hl = strlen(h), k = 0;
    bool hok = hl > 0 && hl < sizeof c->mediaconvert_param - 6;
    for (size_t i = 0; hok && i < hl; i++)
        hok = isalnum((unsigned char)h[i]) || h[i] == '-' || h[i] == '_';
    if (!hok)
        add_err(errs, "MEDIAGATE_MEDIACONVERT_HEADER must be a header name such as X-Api-Key, got '%s'", h);
    else {
        k = (size_t)snprintf(c->mediaconvert_param, sizeof c->mediaconvert_param, "HTTP_");
        for (size_t i = 0; i < hl; i++)
            c->mediaconvert_param[k++] = h[i] == '-' ? '_' : (char)toupper((unsigned char)h[i]);
        c->mediaconvert_param[k] = '\0';
    }
    for (size_t i = 0; i < 5; i++) {
        static const char *names[] = {"MEDIAGATE_MEDIACONVERT_SECRET", "MEDIAGATE_ZENCODER_SECRET",
                                      "MEDIAGATE_TENCENT_TOKEN", "MEDIAGATE_MUX_SECRET",
                                      "MEDIAGATE_MEDIA_SIGNING_SECRET"};
        const char *secrets[] = {c->mediaconvert_secret, c->zencoder_secret, c->tencent_token,
                                 c->mux_secret, c->media_signing_secret};
        const char *v = secrets[i];
        if (v && *v && strlen(v) < 16)
            add_err(errs, "%s is too short to be a secret (at least 16 characters)", names[i]);
    }
    if (c->stream_auth && strcmp(c->stream_auth, "apikey") != 0 &&
        strcmp(c->stream_auth, "remote_user") != 0)
        add_err(errs, "MEDIAGATE_STREAM_AUTH must be apikey or remote_user, got '%s'", c->stream_auth);
    if (c->log_format && strcmp(c->log_format, "text") != 0 && strcmp(c->log_format, "json") != 0)
        add_err(errs, "MEDIAGATE_LOG_FORMAT must be text or json, got '%s'", c->log_format);
    c->log_json = c->log_format && strcmp(c->log_format, "json") == 0;
    c->trust_remote_user = c->stream_auth && strcmp(c->stream_auth, "remote_user") == 0;
    if (c->rtmp_url && *c->rtmp_url && strncmp(c->rtmp_url, "rtmp://", 7) != 0 &&
        strncmp(c->rtmp_url, "rtmps://", 8) != 0)
        add_err(errs, "MEDIAGATE_RTMP_URL must start with rtmp:// or rtmps://, got '%s'", c->rtmp_url);
    if (c->hls_url && *c->hls_url && strncmp(c->hls_url, "http://", 7) != 0 &&
        strncmp(c->hls_url, "https://", 8) != 0)
        add_err(errs, "MEDIAGATE_HLS_URL must start with http:// or https://, got '%s'", c->hls_url);
    if (c->upload_url && *c->upload_url && strncmp(c->upload_url, "http://", 7) != 0 &&
        strncmp(c->upload_url, "https://", 8) != 0)
        add_err(errs, "MEDIAGATE_UPLOAD_URL must start with http:// or https://, got '%s'", c->upload_url);
    if (c->s3_bucket && *c->s3_bucket &&
        !(*c->aws_access_key_id && *c->aws_secret_access_key))
        add_err(errs, "MEDIAGATE_S3_BUCKET needs MEDIAGATE_AWS_ACCESS_KEY_ID and "
                      "MEDIAGATE_AWS_SECRET_ACCESS_KEY");
    if (c->rtmp_url && *c->rtmp_url && !(c->hls_url && *c->hls_url))
        add_err(errs, "MEDIAGATE_HLS_URL is required when MEDIAGATE_RTMP_URL is set");
    for (size_t i = 0; i < 2; i++) {
        const char *v = i ? c->live_dir : c->recordings_dir;
        if (v && *v && (v[0] != '/' || strstr(v, "/..") || v[strlen(v) - 1] == '/'))
            add_err(errs, "%s must be an absolute directory without a trailing /, got '%s'",
                    i ? "MEDIAGATE_LIVE_DIR" : "MEDIAGATE_RECORDINGS_DIR", v);
    }
    /* The local encoder's and the uploads' directories and public URLs. */
    static const char *dir_names[] = {"MEDIAGATE_MEDIA_DIR", "MEDIAGATE_UPLOADS_DIR"};
    const char *dirs[] = {c->media_dir, c->uploads_dir};
    for (size_t i = 0; i < 2; i++)
        if (dirs[i] && *dirs[i] &&
            (dirs[i][0] != '/' || strstr(dirs[i], "/..") || dirs[i][strlen(dirs[i]) - 1] == '/'))
            add_err(errs, "%s must be an absolute directory without a trailing /, got '%s'",
                    dir_names[i], dirs[i]);
    static const char *url_names[] = {"MEDIAGATE_MEDIA_URL", "MEDIAGATE_UPLOADS_URL"};
    const char *urls[] = {c->media_url, c->uploads_url};
    for (size_t i = 0; i < 2; i++) {
        const char *u = urls[i] ? urls[i] : "";
        bool ok = (u[0] == '/' || strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
                  u[strlen(u) - 1] != '/' && !strpbrk(u, " \t\r\n\"'<>?#");
        if (!ok)
            add_err(errs, "%s must be a path such as /media-files or an http(s) URL, without a "
                          "trailing /, a query or spaces, got '%s'", url_names[i], u);
    }
    if (c->sts_url && strncmp(c->sts_url, "http://", 7) != 0 && strncmp(c->sts_url, "https://", 8) != 0)
        add_err(errs, "MEDIAGATE_STS_URL must start with http:// or https://, got '%s'", c->sts_url);
    if (config_renditions_check(c->renditions) != 0)
        add_err(errs, "MEDIAGATE_RENDITIONS must be 1 to 8 comma-separated heights from 144 to "
                      "4320, such as 720,480,360, got '%s'", c->renditions ? c->renditions : "");
    check_tencent(c, errs);
    /* It goes into nginx's secure_link_md5 string, between quotes. */
    if (c->media_signing_secret && strpbrk(c->media_signing_secret, " \t\r\n\"';$\\{}"))
        add_err(errs, "MEDIAGATE_MEDIA_SIGNING_SECRET must not hold spaces, quotes, $ ; \\ or braces "
                      "(nginx's secure_link_md5 holds it too)");
    if (c->oauth2_introspection_url && *c->oauth2_introspection_url) {
        const char *u = c->oauth2_introspection_url;
        if ((strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) ||
            strpbrk(u, " \t\r\n\"'<>#"))
            add_err(errs, "MEDIAGATE_OAUTH2_INTROSPECTION_URL must be an http(s) URL, got '%s'", u);
        if (!*c->oauth2_client_id || !*c->oauth2_client_secret)
            add_err(errs, "MEDIAGATE_OAUTH2_CLIENT_ID and MEDIAGATE_OAUTH2_CLIENT_SECRET are required "
                          "when MEDIAGATE_OAUTH2_INTROSPECTION_URL is set");
        const char *aud = c->oauth2_audience ? c->oauth2_audience : "";
        if (aud[strspn(aud, " ,")] == '\0')
            add_err(errs, "MEDIAGATE_OAUTH2_AUDIENCE is required when MEDIAGATE_OAUTH2_INTROSPECTION_URL "
                          "is set: the aud of tokens meant for mediagate (or * to accept any audience)");
        else if (strpbrk(aud, "\t\r\n\"'"))
            add_err(errs, "MEDIAGATE_OAUTH2_AUDIENCE must be aud values separated by spaces or commas");
    }
    static const char *const oauth_url_names[] = {"MEDIAGATE_OAUTH2_TOKEN_URL", "MEDIAGATE_LOOKUP_URL"};
    const char *oauth_urls[] = {c->oauth2_token_url, c->lookup_url};
    for (size_t i = 0; i < 2; i++)
        if (oauth_urls[i] && *oauth_urls[i] &&
            ((strncmp(oauth_urls[i], "http://", 7) != 0 && strncmp(oauth_urls[i], "https://", 8) != 0) ||
             strpbrk(oauth_urls[i], " \t\r\n\"'<>#")))
            add_err(errs, "%s must be an http(s) URL, got '%s'", oauth_url_names[i], oauth_urls[i]);
    if (c->lookup_url && *c->lookup_url &&
        (!*c->oauth2_token_url || !*c->oauth2_client_id || !*c->oauth2_client_secret))
        add_err(errs, "MEDIAGATE_LOOKUP_URL needs MEDIAGATE_OAUTH2_TOKEN_URL, MEDIAGATE_OAUTH2_CLIENT_ID "
                      "and MEDIAGATE_OAUTH2_CLIENT_SECRET (its own client credentials token)");
    if (!c->oauth2_user_claim || !*c->oauth2_user_claim || strlen(c->oauth2_user_claim) > 64)
        add_err(errs, "MEDIAGATE_OAUTH2_USER_CLAIM must name a claim, such as sub");
    check_sns(c, errs);
    check_jwplatform(c, errs);
    c->vod_rtmp = c->stream_vod && c->recordings_dir && *c->recordings_dir;
    c->vod_put = c->stream_vod && c->live_dir && *c->live_dir;
    char err[256];
    if (cors_compile(&c->origins, c->allowed_origins ? c->allowed_origins : "", err,
                     sizeof err) != 0)
        add_err(errs, "MEDIAGATE_ALLOWED_ORIGINS: %s", err);
    return errs->n - before;
}

size_t config_load_buf(config *c, const char *buf, size_t len, const char *what,
                       const char *(*getenv_fn)(const char *), cfg_errors *errs)
{
    char *raw[NSET] = {0};
    set_defaults(c);
    size_t before = errs->n;
    if (buf)
        read_file_values(buf, len, what ? what : "config", raw, errs);
    finish(c, raw, getenv_fn, errs);
    for (size_t i = 0; i < NSET; i++)
        free(raw[i]);
    return errs->n - before;
}

size_t config_load(config *c, const char *path,
                   const char *(*getenv_fn)(const char *), cfg_errors *errs)
{
    char *buf = NULL;
    size_t len = 0;
    if (path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            set_defaults(c);
            add_err(errs, "cannot read config file %s: %s", path, strerror(errno));
            return config_load_buf(c, NULL, 0, path, getenv_fn, errs) + 1;
        }
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
            char *nb = realloc(buf, len + n);
            if (!nb)
                break;
            buf = nb;
            memcpy(buf + len, chunk, n);
            len += n;
        }
        fclose(f);
    }
    size_t r = config_load_buf(c, buf ? buf : (path ? "" : NULL), len, path, getenv_fn, errs);
    free(buf);
    c->source = path ? strdup(path) : NULL;
    return r;
}

void config_free(config *c)
{
    for (size_t i = 0; i < NSET; i++)
        if (config_settings[i].type == CFG_STRING) {
            char **f = (char **)((char *)c + config_settings[i].offset);
            free(*f);
            *f = NULL;
        }
    cors_free(&c->origins);
    if (c->sns_host_re_ok)
        regfree(&c->sns_host_re);
    c->sns_host_re_ok = false;
    free(c->source);
    c->source = NULL;
}

int config_renditions_check(const char *s)
{
    int n = 0;
    if (!s || !*s)
        return -1;
    for (const char *p = s;;) {
        char *end;
        if (*p < '0' || *p > '9')
            return -1;
        long h = strtol(p, &end, 10);
        if (h < 144 || h > 4320 || ++n > 8)
            return -1;
        if (*end == '\0')
            return 0;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
}

/* Levenshtein distance of a[0..an) and b[0..bn), capped at 99 for long
 * names. */
static size_t edit_distance(const char *a, size_t an, const char *b, size_t bn)
{
    size_t row[64];
    if (an >= 63 || bn >= 63)
        return 99;
    for (size_t j = 0; j <= bn; j++)
        row[j] = j;
    for (size_t i = 1; i <= an; i++) {
        size_t prev = row[0]++;
        for (size_t j = 1; j <= bn; j++) {
            size_t cur = row[j];
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            size_t best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            prev = cur;
        }
    }
    return row[bn];
}

size_t config_unknown_names(char *const *env, void (*warn)(const char *name, const char *near))
{
    size_t n = 0;
    for (; env && *env; env++) {
        const char *e = *env, *eq = strchr(e, '=');
        if (strncmp(e, "MEDIAGATE_", 10) != 0 || !eq)
            continue;
        size_t len = (size_t)(eq - e);
        bool known = len == strlen("MEDIAGATE_CONFIG") && strncmp(e, "MEDIAGATE_CONFIG", len) == 0;
        const char *near = NULL;
        size_t best = 4; /* at most 3 edits away counts as a likely misspelling */
        for (size_t i = 0; !known && i < config_settings_count; i++) {
            const char *k = config_settings[i].name;
            if (strlen(k) == len && strncmp(k, e, len) == 0) {
                known = true;
                break;
            }
            size_t d = edit_distance(e, len, k, strlen(k));
            if (d < best) {
                best = d;
                near = k;
            }
        }
        if (known)
            continue;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(len < 120 ? len : 120), e);
        warn(name, near);
        n++;
    }
    return n;
}

const char *config_value(const config *c, const cfg_setting *s, char *buf, size_t cap)
{
    const void *field = (const char *)c + s->offset;
    switch (s->type) {
    case CFG_STRING: {
        const char *v = *(char *const *)field;
        return v ? v : "";
    }
    case CFG_INT:
        snprintf(buf, cap, "%ld", *(const long *)field);
        return buf;
    case CFG_BOOL:
        return *(const bool *)field ? "on" : "off";
    }
    return "";
}

/* The reload in progress: restart-only settings answer cur's value. Only
 * the thread that reloads uses these. */
static const config *reload_cur;
static const char *(*reload_env)(const char *);
static char reload_buf[NSET][32];

static const char *reload_getenv(const char *name)
{
    int i = find_setting(name, strlen(name));
    if (i >= 0 && !config_settings[i].reload)
        return config_value(reload_cur, &config_settings[i], reload_buf[i], sizeof reload_buf[i]);
    return reload_env ? reload_env(name) : NULL;
}

size_t config_reload(const config *cur, config *next, const char *path,
                     const char *(*getenv_fn)(const char *), cfg_errors *errs,
                     void (*changed)(const cfg_setting *s, bool applied))
{
    /* First as written, to name what changed; then with the restart-only
     * settings pinned to their running values. */
    config fresh;
    memset(next, 0, sizeof *next);
    size_t n = config_load(&fresh, path, getenv_fn, errs);
    if (n == 0) {
        for (size_t i = 0; i < NSET; i++) {
            char a[32], b[32];
            const cfg_setting *s = &config_settings[i];
            if (strcmp(config_value(cur, s, a, sizeof a), config_value(&fresh, s, b, sizeof b)) != 0)
                changed(s, s->reload);
        }
    }
    config_free(&fresh);
    if (n)
        return n;
    reload_cur = cur;
    reload_env = getenv_fn;
    n = config_load(next, path, reload_getenv, errs);
    reload_cur = NULL;
    return n;
}
