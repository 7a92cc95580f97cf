#include "config.h"
#include "acl.h"

#include <arpa/inet.h>
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

static void add_err(cfg_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The rows' own checks (below the table). */
#define ROW_CHECK(f) static void f(config *c, const char *v, cfg_errors *errs)
ROW_CHECK(check_prefix);
ROW_CHECK(check_socket);
ROW_CHECK(check_socket_group);
ROW_CHECK(check_origins);
ROW_CHECK(check_mediaconvert_header);
ROW_CHECK(check_signing_secret);
ROW_CHECK(check_renditions);
ROW_CHECK(check_tencent_definitions);
ROW_CHECK(check_tencent_id);
ROW_CHECK(check_tencent_region);
ROW_CHECK(check_tencent_procedure);
ROW_CHECK(check_jwplatform_key);
ROW_CHECK(check_user_claim);
ROW_CHECK(check_audience);
ROW_CHECK(check_sns_topics);
ROW_CHECK(check_admin_users);
ROW_CHECK(check_sns_cert_host);
ROW_CHECK(check_storage_endpoint);
ROW_CHECK(check_storage_region);
ROW_CHECK(check_storage_bucket);
ROW_CHECK(check_storage_prefix);
ROW_CHECK(check_storage_addressing);

const cfg_setting config_settings[] = {
    {.name = "MEDIAGATE_DATABASE_URL", .kind = CFG_CONNINFO, .required = true, .reload = RESTART,
     .offset = OFF(database_url),
     .help = "libpq connection string or URI of the PostgreSQL database"},
    {.name = "MEDIAGATE_DATABASE_READ_URL", .kind = CFG_CONNINFO, .def = "", .reload = RESTART,
     .offset = OFF(database_read_url),
     .help = "connection string of a streaming replica for the read routes (/media/status, /media/job_id); unavailable: the primary answers; empty: the primary"},
    {.name = "MEDIAGATE_SOCKET", .kind = CFG_TEXT, .def = "", .check = check_socket,
     .reload = RESTART, .offset = OFF(socket),
     .help = "unix socket to create and listen on; empty: fd 0 is the listening socket"},
    {.name = "MEDIAGATE_SOCKET_GROUP", .kind = CFG_TEXT, .def = "", .check = check_socket_group,
     .reload = RESTART, .offset = OFF(socket_group),
     .help = "group given the socket (mode 0660), normally nginx's (www-data)"},
    {.name = "MEDIAGATE_THREADS", .kind = CFG_NUMBER, .def = "16", .min = 1, .max = 1024,
     .reload = RESTART, .offset = OFF(threads),
     .help = "request threads, each with its own PostgreSQL connection"},
    {.name = "MEDIAGATE_BACKLOG", .kind = CFG_NUMBER, .def = "1024", .min = 1, .max = 65535,
     .reload = RESTART, .offset = OFF(backlog),
     .help = "listen backlog of the socket mediagate creates; full: nginx answers 503 at once (a request that waited in it past MEDIAGATE_QUEUE_WAIT_MS is answered 503 by mediagate)"},
    {.name = "MEDIAGATE_ALLOWED_ORIGINS", .kind = CFG_TEXT, .def = "", .check = check_origins,
     .reload = RELOAD, .offset = OFF(allowed_origins),
     .help = "space-separated POSIX extended regexes; each must match a whole Origin"},
    {.name = "MEDIAGATE_PREFIX", .kind = CFG_TEXT, .def = "", .check = check_prefix,
     .reload = RESTART, .offset = OFF(prefix),
     .help = "mount prefix such as /video-api; empty: routes sit at the root"},
    {.name = "MEDIAGATE_MAX_BODY", .kind = CFG_BYTES, .def = "1048576", .min = 0, .max = 16777216,
     .reload = RELOAD, .offset = OFF(max_body),
     .help = "largest request body accepted, in bytes (larger: 413); nginx's per-location limits are smaller"},
    {.name = "MEDIAGATE_DB_TIMEOUT_MS", .kind = CFG_MILLISECONDS, .def = "3000", .min = 100,
     .max = 600000, .reload = RESTART, .offset = OFF(db_timeout_ms),
     .help = "deadline for one database statement; past it the answer is 503"},
    {.name = "MEDIAGATE_DB_READ_TIMEOUT_MS", .kind = CFG_MILLISECONDS, .def = "300", .min = 10,
     .max = 600000, .reload = RESTART, .offset = OFF(db_read_timeout_ms),
     .help = "deadline for connecting to the read replica and for one statement on it; past it the read runs on the primary and the replica is left alone for MEDIAGATE_DB_READ_HOLDOFF_MS"},
    {.name = "MEDIAGATE_DB_READ_HOLDOFF_MS", .kind = CFG_MILLISECONDS, .def = "5000", .min = 100,
     .max = 3600000, .reload = RESTART, .offset = OFF(db_read_holdoff_ms),
     .help = "after the replica timed out or could not be reached, every read runs on the primary this long; then one read tries the replica again"},
    {.name = "MEDIAGATE_QUEUE_WAIT_MS", .kind = CFG_MILLISECONDS, .def = "1000", .min = 0,
     .max = 600000, .reload = RELOAD, .offset = OFF(queue_wait_ms),
     .help = "a request that waited longer than this between nginx and a request thread (nginx passes its start as MEDIAGATE_REQUEST_START) is answered 503 + Retry-After at once, without running its route; 0: never"},
    {.name = "MEDIAGATE_RETRY_AFTER", .kind = CFG_SECONDS, .def = "2", .min = 0, .max = 3600,
     .reload = RELOAD, .offset = OFF(retry_after),
     .help = "seconds sent in Retry-After with 503 answers"},
    {.name = "MEDIAGATE_CACHE_MAX_AGE", .kind = CFG_SECONDS, .def = "1", .min = 0, .max = 30,
     .reload = RELOAD, .offset = OFF(cache_max_age),
     .help = "seconds a shared cache (nginx's micro-cache) may keep a final job's public status answer (s-maxage); a change of its ACL reaches every caller within this + 1 s"},
    {.name = "MEDIAGATE_SHUTDOWN_TIMEOUT", .kind = CFG_SECONDS, .def = "10", .min = 0, .max = 3600,
     .reload = RESTART, .offset = OFF(shutdown_timeout),
     .help = "seconds SIGTERM waits for in-flight requests before exiting"},
    {.name = "MEDIAGATE_ACCESS_LOG", .kind = CFG_SWITCH, .def = "on", .reload = RELOAD,
     .offset = OFF(access_log),
     .help = "one stderr line per request: method, path, status, µs, bytes (on/off)"},
    {.name = "MEDIAGATE_LOG_FORMAT", .kind = CFG_ENUM, .def = "text", .choices = "text json",
     .reload = RELOAD, .offset = OFF(log_format),
     .help = "text: one plain line per event; json: JSON lines (access lines with a request id)"},
    {.name = "MEDIAGATE_MEDIACONVERT_SECRET", .kind = CFG_TEXT, .def = "", .secret = true,
     .min_length = 16, .reload = RELOAD, .offset = OFF(mediaconvert_secret),
     .help = "API key the EventBridge API destination sends; empty: /notifications/mediaconvert is off (403)"},
    {.name = "MEDIAGATE_MEDIACONVERT_HEADER", .kind = CFG_TEXT, .def = "X-Api-Key",
     .check = check_mediaconvert_header, .reload = RELOAD, .offset = OFF(mediaconvert_header),
     .help = "header name the EventBridge connection puts the API key in"},
    {.name = "MEDIAGATE_ZENCODER_SECRET", .kind = CFG_TEXT, .def = "", .secret = true,
     .min_length = 16, .reload = RELOAD, .offset = OFF(zencoder_secret),
     .help = "X-Zencoder-Notification-Secret value; empty: /notifications/zencoder is off (403)"},
    {.name = "MEDIAGATE_TENCENT_TOKEN", .kind = CFG_TEXT, .def = "", .secret = true,
     .min_length = 16, .reload = RELOAD, .offset = OFF(tencent_token),
     .help = "secret ?token= in the Tencent VOD callback URL; empty: /notifications/tencent is off (403)"},
    {.name = "MEDIAGATE_SNS_TOPIC_ARNS", .kind = CFG_TEXT, .def = "", .check = check_sns_topics,
     .reload = RELOAD, .offset = OFF(sns_topic_arns),
     .help = "SNS topic ARNs whose messages /notifications/sns accepts, space- or comma-separated; empty: /notifications/sns is off (403)"},
    {.name = "MEDIAGATE_SNS_CERT_HOST", .kind = CFG_TEXT,
     .def = "^sns\\.[a-zA-Z0-9-]{3,}\\.amazonaws\\.com(\\.cn)?$", .check = check_sns_cert_host,
     .reload = RESTART, .offset = OFF(sns_cert_host),
     .help = "POSIX extended regex the host of an SNS SigningCertURL and SubscribeURL must match as a whole (both https on port 443 only)"},
    {.name = "MEDIAGATE_MUX_SECRET", .kind = CFG_TEXT, .def = "", .secret = true, .min_length = 16,
     .reload = RELOAD, .offset = OFF(mux_secret),
     .help = "signing secret of the Mux webhook endpoint (Mux-Signature); empty: /notifications/mux is off (403)"},
    {.name = "MEDIAGATE_STREAM_AUTH", .kind = CFG_ENUM, .def = "apikey",
     .choices = "apikey remote_user", .reload = RELOAD, .offset = OFF(stream_auth),
     .help = "who may call /stream/* and /uploads: apikey (Authorization: Bearer) or remote_user (the user the site's auth_request vouches for, as $mediagate_user)"},
    {.name = "MEDIAGATE_RTMP_URL", .kind = CFG_URL, .def = "", .schemes = "rtmp rtmps",
     .url = CFG_URL_SCHEME, .reload = RELOAD, .offset = OFF(rtmp_url),
     .help = "public RTMP ingest URL given to broadcasters, e.g. rtmp://live.example.com/live; empty: no RTMP"},
    {.name = "MEDIAGATE_HLS_URL", .kind = CFG_URL, .def = "", .url = CFG_URL_SCHEME,
     .required_with = "MEDIAGATE_RTMP_URL", .reload = RELOAD, .offset = OFF(hls_url),
     .help = "public base URL of live HLS playlists, e.g. https://live.example.com/hls"},
    {.name = "MEDIAGATE_UPLOAD_URL", .kind = CFG_URL, .def = "", .url = CFG_URL_SCHEME,
     .reload = RELOAD, .offset = OFF(upload_url),
     .help = "public base URL of HTTP PUT ingest (nginx/mediagate-upload.conf), e.g. https://live.example.com/live; empty: no HTTP ingest"},
    {.name = "MEDIAGATE_S3_BUCKET", .kind = CFG_TEXT, .def = "", .reload = RELOAD,
     .offset = OFF(s3_bucket),
     .help = "bucket for the S3 and S3_POST endpoints; empty: neither is offered"},
    {.name = "MEDIAGATE_S3_REGION", .kind = CFG_TEXT, .def = "us-east-1", .reload = RELOAD,
     .offset = OFF(s3_region),
     .help = "region of MEDIAGATE_S3_BUCKET"},
    {.name = "MEDIAGATE_S3_PREFIX", .kind = CFG_TEXT, .def = "live/", .reload = RELOAD,
     .offset = OFF(s3_prefix),
     .help = "key prefix; a stream may write only under <prefix><stream id>/"},
    {.name = "MEDIAGATE_S3_MAX_BYTES", .kind = CFG_BYTES, .def = "1073741824", .min = 1,
     .max = 5368709120L, .reload = RELOAD, .offset = OFF(s3_max_bytes),
     .help = "largest object an S3_POST upload may be"},
    {.name = "MEDIAGATE_AWS_ACCESS_KEY_ID", .kind = CFG_TEXT, .def = "", .reload = RELOAD,
     .offset = OFF(aws_access_key_id),
     .help = "AWS key that signs STS calls, S3 POST policies and MediaConvert calls"},
    {.name = "MEDIAGATE_AWS_SECRET_ACCESS_KEY", .kind = CFG_TEXT, .def = "", .secret = true,
     .reload = RELOAD, .offset = OFF(aws_secret_access_key),
     .help = "its secret"},
    {.name = "MEDIAGATE_STS_ROLE_ARN", .kind = CFG_TEXT, .def = "", .reload = RELOAD,
     .offset = OFF(sts_role_arn),
     .help = "role assumed for S3 credentials; empty: no S3 endpoint (S3_POST still offered)"},
    {.name = "MEDIAGATE_STS_URL", .kind = CFG_URL, .def = "https://sts.amazonaws.com/",
     .url = CFG_URL_SCHEME, .reload = RELOAD, .offset = OFF(sts_url),
     .help = "STS endpoint"},
    {.name = "MEDIAGATE_STS_REGION", .kind = CFG_TEXT, .def = "us-east-1", .reload = RELOAD,
     .offset = OFF(sts_region),
     .help = "region SigV4 signs STS calls for (us-east-1 for the global endpoint)"},
    {.name = "MEDIAGATE_TENCENT_SECRET_ID", .kind = CFG_TEXT, .def = "",
     .required_with = "MEDIAGATE_TENCENT_SECRET_KEY", .check = check_tencent_id, .reload = RESTART,
     .offset = OFF(tencent_secret_id),
     .help = "Tencent Cloud API SecretId; set: jobs made with a tencent profile are started at Tencent, and a NewFileUpload starts ProcessMedia (worker task tencent.process_media); empty: Tencent's own task flow is expected"},
    {.name = "MEDIAGATE_TENCENT_SECRET_KEY", .kind = CFG_TEXT, .def = "", .secret = true,
     .required_with = "MEDIAGATE_TENCENT_SECRET_ID", .reload = RESTART,
     .offset = OFF(tencent_secret_key),
     .help = "its SecretKey (signs TC3-HMAC-SHA256)"},
    {.name = "MEDIAGATE_TENCENT_REGION", .kind = CFG_TEXT, .def = "", .check = check_tencent_region,
     .reload = RESTART, .offset = OFF(tencent_region),
     .help = "X-TC-Region of VOD calls, e.g. ap-guangzhou; empty: none (VOD does not require one)"},
    {.name = "MEDIAGATE_TENCENT_DEFINITIONS", .kind = CFG_TEXT, .def = "",
     .check = check_tencent_definitions, .reload = RESTART, .offset = OFF(tencent_definitions),
     .help = "transcoding template ids for ProcessMedia, comma-separated, e.g. 100210,100220; required with MEDIAGATE_TENCENT_SECRET_ID"},
    {.name = "MEDIAGATE_TENCENT_SUBAPPID", .kind = CFG_NUMBER, .def = "0", .min = 0,
     .max = 4294967295L, .reload = RESTART, .offset = OFF(tencent_subappid),
     .help = "VOD SubAppId sent with ProcessMedia; 0: none"},
    {.name = "MEDIAGATE_TENCENT_API_URL", .kind = CFG_URL, .def = "https://vod.tencentcloudapi.com",
     .url = CFG_URL_NO_QUERY, .reload = RESTART, .offset = OFF(tencent_api_url),
     .help = "Tencent VOD API endpoint (the host is signed)"},
    {.name = "MEDIAGATE_PUBLIC_URL", .kind = CFG_URL, .def = "", .url = CFG_URL_NO_QUERY,
     .reload = RESTART, .offset = OFF(public_url),
     .help = "this site's public base URL as cloud encoders reach it (with MEDIAGATE_PREFIX's path, if any), e.g. https://media.example.com; it makes their notification URLs and local uploads' signed input URLs; empty: encoders get no notification URL (the reconciler polls) and only uploads in the bucket can go to a cloud encoder"},
    {.name = "MEDIAGATE_ENCODER_INPUT_LIFETIME", .kind = CFG_SECONDS, .def = "86400", .min = 900,
     .max = 604800, .reload = RESTART, .offset = OFF(encoder_input_lifetime),
     .help = "seconds the signed input URL a cloud encoder fetches stays valid"},
    {.name = "MEDIAGATE_RECONCILE_AFTER", .kind = CFG_SECONDS, .def = "900", .min = 5,
     .max = 86400, .reload = RESTART, .offset = OFF(reconcile_after),
     .help = "seconds a cloud encoder's job may go without an event before the reconciler asks the encoder; then again every so many seconds until the job is final"},
    {.name = "MEDIAGATE_MEDIACONVERT_ENDPOINT", .kind = CFG_URL, .def = "", .url = CFG_URL_NO_QUERY,
     .required_with = "MEDIAGATE_MEDIACONVERT_ROLE", .reload = RESTART,
     .offset = OFF(mediaconvert_endpoint),
     .help = "the account's MediaConvert API endpoint, e.g. https://abcd1234.mediaconvert.us-east-1.amazonaws.com (signed with MEDIAGATE_AWS_ACCESS_KEY_ID); empty: no mediaconvert encoder"},
    {.name = "MEDIAGATE_MEDIACONVERT_REGION", .kind = CFG_TEXT, .def = "us-east-1",
     .reload = RESTART, .offset = OFF(mediaconvert_region),
     .help = "region SigV4 signs MediaConvert calls for"},
    {.name = "MEDIAGATE_MEDIACONVERT_ROLE", .kind = CFG_TEXT, .def = "",
     .required_with = "MEDIAGATE_MEDIACONVERT_ENDPOINT", .reload = RESTART,
     .offset = OFF(mediaconvert_role),
     .help = "ARN of the IAM role MediaConvert assumes to read inputs and write outputs"},
    {.name = "MEDIAGATE_MEDIACONVERT_QUEUE", .kind = CFG_TEXT, .def = "", .reload = RESTART,
     .offset = OFF(mediaconvert_queue),
     .help = "ARN of the queue jobs go to; empty: the account's Default queue"},
    {.name = "MEDIAGATE_MEDIACONVERT_DESTINATION", .kind = CFG_TEXT, .def = "", .reload = RESTART,
     .offset = OFF(mediaconvert_destination),
     .help = "s3://bucket/prefix/ under which each job's outputs go (<destination><job id>/); empty: the storage bucket's media/<job id>/ (MEDIAGATE_STORAGE=s3)"},
    {.name = "MEDIAGATE_MEDIACONVERT_STATUS_INTERVAL", .kind = CFG_ENUM, .def = "SECONDS_60",
     .choices = "SECONDS_10 SECONDS_12 SECONDS_15 SECONDS_20 SECONDS_30 SECONDS_60 SECONDS_120 SECONDS_180 SECONDS_240 SECONDS_300 SECONDS_360 SECONDS_420 SECONDS_480 SECONDS_540 SECONDS_600",
     .reload = RESTART, .offset = OFF(mediaconvert_status_interval),
     .help = "StatusUpdateInterval of created jobs: how often MediaConvert sends STATUS_UPDATE events"},
    {.name = "MEDIAGATE_ZENCODER_API_KEY", .kind = CFG_TEXT, .def = "", .secret = true,
     .reload = RESTART, .offset = OFF(zencoder_api_key),
     .help = "Zencoder API key (Zencoder-Api-Key) that creates jobs; empty: no zencoder encoder"},
    {.name = "MEDIAGATE_ZENCODER_API_URL", .kind = CFG_URL, .def = "https://app.zencoder.com/api/v2",
     .url = CFG_URL_NO_QUERY, .reload = RESTART, .offset = OFF(zencoder_api_url),
     .help = "Zencoder API base URL"},
    {.name = "MEDIAGATE_ZENCODER_DESTINATION", .kind = CFG_TEXT, .def = "", .reload = RESTART,
     .offset = OFF(zencoder_destination),
     .help = "base URL (s3://bucket/prefix/) under which each job's outputs go (<destination><job id>/); empty: the storage bucket's media/<job id>/ (MEDIAGATE_STORAGE=s3)"},
    {.name = "MEDIAGATE_MUX_TOKEN_ID", .kind = CFG_TEXT, .def = "",
     .required_with = "MEDIAGATE_MUX_TOKEN_SECRET", .reload = RESTART, .offset = OFF(mux_token_id),
     .help = "Mux access token id that creates assets (HTTP Basic user); empty: no mux encoder"},
    {.name = "MEDIAGATE_MUX_TOKEN_SECRET", .kind = CFG_TEXT, .def = "", .secret = true,
     .required_with = "MEDIAGATE_MUX_TOKEN_ID", .reload = RESTART,
     .offset = OFF(mux_token_secret),
     .help = "its secret"},
    {.name = "MEDIAGATE_MUX_API_URL", .kind = CFG_URL, .def = "https://api.mux.com",
     .url = CFG_URL_NO_QUERY, .reload = RESTART, .offset = OFF(mux_api_url),
     .help = "Mux API base URL"},
    {.name = "MEDIAGATE_OAUTH2_INTROSPECTION_URL", .kind = CFG_URL, .def = "", .url = CFG_URL_PLAIN,
     .reload = RESTART, .offset = OFF(oauth2_introspection_url),
     .help = "RFC 7662 token introspection endpoint; set: OAuth2 bearer tokens identify callers of /media/status; empty: API keys and REMOTE_USER only"},
    {.name = "MEDIAGATE_OAUTH2_CLIENT_ID", .kind = CFG_TEXT, .def = "", .reload = RESTART,
     .offset = OFF(oauth2_client_id),
     .help = "mediagate's client id at the introspection endpoint (HTTP Basic)"},
    {.name = "MEDIAGATE_OAUTH2_CLIENT_SECRET", .kind = CFG_TEXT, .def = "", .secret = true,
     .reload = RESTART, .offset = OFF(oauth2_client_secret),
     .help = "its client secret"},
    {.name = "MEDIAGATE_OAUTH2_CACHE_SECONDS", .kind = CFG_SECONDS, .def = "300", .min = 1,
     .max = 86400, .reload = RESTART, .offset = OFF(oauth2_cache_seconds),
     .help = "an active token's introspection is reused this long at most (never past its exp)"},
    {.name = "MEDIAGATE_OAUTH2_USER_CLAIM", .kind = CFG_TEXT, .def = "sub",
     .check = check_user_claim, .reload = RESTART, .offset = OFF(oauth2_user_claim),
     .help = "the introspection claim that names the user (USER_<id> entries); groups and institutions come from the claims groups and institutions"},
    {.name = "MEDIAGATE_OAUTH2_AUDIENCE", .kind = CFG_TEXT, .def = "", .check = check_audience,
     .reload = RESTART, .offset = OFF(oauth2_audience),
     .help = "aud values of access tokens meant for mediagate, space- or comma-separated; a token for none of them is refused; required with MEDIAGATE_OAUTH2_INTROSPECTION_URL; *: any audience (logged at start)"},
    {.name = "MEDIAGATE_OAUTH2_TOKEN_URL", .kind = CFG_URL, .def = "", .url = CFG_URL_PLAIN,
     .reload = RESTART, .offset = OFF(oauth2_token_url),
     .help = "token endpoint where mediagate gets its own bearer token (client credentials grant) for MEDIAGATE_LOOKUP_URL"},
    {.name = "MEDIAGATE_ADMIN_USERS", .kind = CFG_TEXT, .def = "", .check = check_admin_users,
     .reload = RELOAD, .offset = OFF(admin_users),
     .help = "users (API key names, the site's REMOTE_USER names) who administer the installation: the webhook endpoints and deliveries, every job's events; space- or comma-separated ids; empty: nobody"},
    {.name = "MEDIAGATE_SESSION_LIFETIME", .kind = CFG_SECONDS, .def = "3600", .min = 60,
     .max = 86400, .reload = RELOAD, .offset = OFF(session_lifetime),
     .help = "seconds a console session (POST /media/session, made from an API key) lasts; then the console asks for the key again"},
    {.name = "MEDIAGATE_LOOKUP_URL", .kind = CFG_URL, .def = "", .url = CFG_URL_PLAIN,
     .reload = RESTART, .offset = OFF(lookup_url),
     .help = "people directory: GET it ({user} replaced by the user) for a caller's groups and institutions when the credential carries none; empty: claims only"},
    {.name = "MEDIAGATE_LOOKUP_PEOPLE_CACHE_LIFETIME", .kind = CFG_SECONDS, .def = "1800", .min = 1,
     .max = 86400, .reload = RESTART, .offset = OFF(lookup_people_cache_lifetime),
     .help = "seconds a person's groups and institutions from MEDIAGATE_LOOKUP_URL are reused"},
    {.name = "MEDIAGATE_JWPLATFORM_API_URL", .kind = CFG_URL, .def = "https://api.jwplatform.com",
     .url = CFG_URL_NO_QUERY, .reload = RESTART, .offset = OFF(jwplatform_api_url),
     .help = "JW Platform management API (v1) base URL, for mediagate sync and the jwplatform.refresh task"},
    {.name = "MEDIAGATE_JWPLATFORM_DELIVERY_URL", .kind = CFG_URL,
     .def = "https://cdn.jwplayer.com", .url = CFG_URL_NO_QUERY, .reload = RESTART,
     .offset = OFF(jwplatform_delivery_url),
     .help = "JW Player delivery base URL (media files, players)"},
    {.name = "MEDIAGATE_JWPLATFORM_API_KEY", .kind = CFG_TEXT, .def = "",
     .required_with = "MEDIAGATE_JWPLATFORM_API_SECRET", .check = check_jwplatform_key,
     .reload = RESTART, .offset = OFF(jwplatform_api_key),
     .help = "JW Platform v1 API key (api_key); set: the JW Platform mirror is on (mediagate sync, worker task jwplatform.refresh)"},
    {.name = "MEDIAGATE_JWPLATFORM_API_SECRET", .kind = CFG_TEXT, .def = "", .secret = true,
     .required_with = "MEDIAGATE_JWPLATFORM_API_KEY", .reload = RESTART,
     .offset = OFF(jwplatform_api_secret),
     .help = "its v1 API secret (signs api_signature, and delivery URLs); required with MEDIAGATE_JWPLATFORM_API_KEY"},
    {.name = "MEDIAGATE_JWPLATFORM_WEBHOOK_SECRET", .kind = CFG_TEXT, .def = "", .secret = true,
     .reload = RELOAD, .offset = OFF(jwplatform_webhook_secret),
     .help = "secret of the JW Platform webhook (HS256 JWT in Authorization); empty: /notifications/jwplatform is off (403)"},
    {.name = "MEDIAGATE_JWPLATFORM_PLAYER_KEY", .kind = CFG_TEXT, .def = "", .reload = RESTART,
     .offset = OFF(jwplatform_player_key),
     .help = "JW Player embed player key (/players/<media>-<player>.html)"},
    {.name = "MEDIAGATE_JWPLATFORM_SIGNATURE_LIFETIME", .kind = CFG_SECONDS, .def = "3600",
     .min = 60, .max = 604800, .reload = RESTART, .offset = OFF(jwplatform_signature_lifetime),
     .help = "seconds a signed JW Player delivery URL stays valid"},
    {.name = "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK", .kind = CFG_SWITCH, .def = "off",
     .reload = RESTART, .offset = OFF(outbound_allow_loopback),
     .help = "let outgoing calls to customers' URLs (webhooks, upload by URL) reach 127.0.0.1 and ::1; for tests only (other private addresses stay refused)"},
    {.name = "MEDIAGATE_WEBHOOK_TIMEOUT_MS", .kind = CFG_MILLISECONDS, .def = "10000", .min = 100,
     .max = 30000, .reload = RESTART, .offset = OFF(webhook_timeout_ms),
     .help = "how long one webhook delivery may take, connect to the last byte of the answer; past it the attempt is retried (keep it under MEDIAGATE_LEASE_SECONDS)"},
    {.name = "MEDIAGATE_WEBHOOK_RETRY_UNIT_MS", .kind = CFG_MILLISECONDS, .def = "1000", .min = 1,
     .max = 1000, .reload = RESTART, .offset = OFF(webhook_retry_unit_ms),
     .help = "the webhook retry schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) counts in units of this many ms; smaller for tests only"},
    {.name = "MEDIAGATE_OUTBOUND_CA_FILE", .kind = CFG_FILE, .def = "", .reload = RESTART,
     .offset = OFF(outbound_ca_file),
     .help = "PEM bundle of the CAs outgoing https calls trust instead of the system's; empty: the system's (a private CA or a test's stand-in)"},
    {.name = "MEDIAGATE_WORKER_CONCURRENCY", .kind = CFG_NUMBER, .def = "1", .min = 1, .max = 64,
     .reload = RESTART, .offset = OFF(worker_concurrency),
     .help = "tasks one mediagate worker runs at once"},
    {.name = "MEDIAGATE_LEASE_SECONDS", .kind = CFG_SECONDS, .def = "60", .min = 2, .max = 3600,
     .reload = RESTART, .offset = OFF(lease_seconds),
     .help = "a claimed task is another worker's after this long without a heartbeat"},
    {.name = "MEDIAGATE_ENCODE_NICE", .kind = CFG_NUMBER, .def = "10", .min = 0, .max = 19,
     .reload = RESTART, .offset = OFF(encode_nice),
     .help = "CPU niceness of ffmpeg encodes"},
    {.name = "MEDIAGATE_ENCODE_TIMEOUT", .kind = CFG_SECONDS, .def = "3600", .min = 5, .max = 86400,
     .reload = RESTART, .offset = OFF(encode_timeout),
     .help = "seconds an encode may run before it is killed and the job set to ERROR"},
    {.name = "MEDIAGATE_ENCODE_STALL", .kind = CFG_SECONDS, .def = "120", .min = 5, .max = 86400,
     .reload = RESTART, .offset = OFF(encode_stall),
     .help = "seconds an encode may go without progress before the attempt is ended (ERROR 7)"},
    {.name = "MEDIAGATE_ENCODE_MAX_PIXELS", .kind = CFG_NUMBER, .def = "8912896", .min = 1,
     .max = 268435456, .reload = RESTART, .offset = OFF(encode_max_pixels),
     .help = "largest video frame (width x height) an input may have; larger: ERROR 9 before encoding (the default is 4096x2176)"},
    {.name = "MEDIAGATE_ENCODE_MAX_DURATION", .kind = CFG_SECONDS, .def = "21600", .min = 1,
     .max = 604800, .reload = RESTART, .offset = OFF(encode_max_duration),
     .help = "longest input, in seconds; longer: ERROR 9 before encoding"},
    {.name = "MEDIAGATE_ENCODE_MAX_MEGAPIXELS", .kind = CFG_NUMBER, .def = "1000000", .min = 1,
     .max = 1000000000L, .reload = RESTART, .offset = OFF(encode_max_megapixels),
     .help = "most decoding an input may cost: pixels x frames (duration x frame rate), in millions; more: ERROR 9 before encoding (the default is about an hour of 4K at 30 fps); the encode also stops writing there"},
    {.name = "MEDIAGATE_ENCODE_MEMORY_MB", .kind = CFG_NUMBER, .def = "8192", .min = 256,
     .max = 1048576, .reload = RESTART, .offset = OFF(encode_memory_mb),
     .help = "address space (RLIMIT_AS) of every ffmpeg and ffprobe the worker runs, in MiB; it counts what threads reserve, well above what they use (ffmpeg's libraries alone take about 300)"},
    {.name = "MEDIAGATE_ENCODE_CPU_SECONDS", .kind = CFG_SECONDS, .def = "14400", .min = 1,
     .max = 2592000, .reload = RESTART, .offset = OFF(encode_cpu_seconds),
     .help = "CPU time (RLIMIT_CPU) one ffmpeg or ffprobe may use, in seconds; past it the encode ends in ERROR 9"},
    {.name = "MEDIAGATE_ENCODE_OWNER_CAP", .kind = CFG_NUMBER, .def = "2", .min = 0, .max = 1000,
     .reload = RESTART, .offset = OFF(encode_owner_cap),
     .help = "encodes of one owner (the API key or user of an upload or stream) running at once, across all workers; 0: no cap"},
    {.name = "MEDIAGATE_RETENTION_DAYS", .kind = CFG_NUMBER, .def = "0", .min = 0, .max = 36500,
     .reload = RESTART, .offset = OFF(retention_days),
     .help = "jobs not changed for this many days are deleted as their owner would delete them (files removed, a job.deleted webhook), their rows and notifications of that age purged, by the worker's jobs.purge task (hourly); 0: keep everything"},
    {.name = "MEDIAGATE_THUMBNAILS_MAX", .kind = CFG_NUMBER, .def = "100", .min = 1,
     .max = 100000, .reload = RELOAD, .offset = OFF(thumbnails_max),
     .help = "thumbnails GET /media/thumbnail makes of one job (distinct times and widths; failed ones do not count); times snap to a step that keeps every time and width of the job within it"},
    {.name = "MEDIAGATE_THUMBNAILS_QUEUED_MAX", .kind = CFG_NUMBER, .def = "50", .min = 1,
     .max = 100000, .reload = RELOAD, .offset = OFF(thumbnails_queued_max),
     .help = "thumbnail.make tasks of all jobs waiting at once; past it GET /media/thumbnail queues nothing new and answers 503 + Retry-After"},
    {.name = "MEDIAGATE_THUMBNAIL_RETRY_AFTER", .kind = CFG_SECONDS, .def = "3600", .min = 0,
     .max = 604800, .reload = RELOAD, .offset = OFF(thumbnail_retry_after),
     .help = "a thumbnail that failed is answered as failed this long after it was asked; the next request then queues it again (0: at once)"},
    {.name = "MEDIAGATE_THUMBNAIL_WAIT_MS", .kind = CFG_MILLISECONDS, .def = "5000", .min = 0,
     .max = 10000, .reload = RELOAD, .offset = OFF(thumbnail_wait_ms),
     .help = "how long GET /media/thumbnail waits for a thumbnail being made (a quarter of MEDIAGATE_THREADS wait at most); not made by then: 503 + Retry-After"},
    {.name = "MEDIAGATE_RENDITIONS", .kind = CFG_TEXT, .def = "720,480,360",
     .check = check_renditions, .reload = RESTART, .offset = OFF(renditions),
     .help = "HLS ladder heights of the local encoder (never above the source)"},
    {.name = "MEDIAGATE_MEDIA_DIR", .kind = CFG_DIR, .def = "/var/lib/mediagate/media",
     .reload = RESTART, .offset = OFF(media_dir),
     .help = "where the local encoder writes job outputs (<dir>/<job id>/master.m3u8)"},
    {.name = "MEDIAGATE_MEDIA_URL", .kind = CFG_URL, .def = "/media-files", .url = CFG_URL_OR_PATH,
     .reload = RESTART, .offset = OFF(media_url),
     .help = "public URL of MEDIAGATE_MEDIA_DIR, used in output_path"},
    {.name = "MEDIAGATE_MEDIA_SIGNING_SECRET", .kind = CFG_TEXT, .def = "", .secret = true,
     .min_length = 16, .check = check_signing_secret, .reload = RESTART,
     .offset = OFF(media_signing_secret),
     .help = "set: output_path of local jobs is a signed, expiring URL (/s/<sig>/<exp>/...) that nginx/mediagate-media-signed.conf checks with secure_link (the same secret goes there); empty: unsigned"},
    {.name = "MEDIAGATE_MEDIA_URL_LIFETIME", .kind = CFG_SECONDS, .def = "3600", .min = 60,
     .max = 604800, .reload = RESTART, .offset = OFF(media_url_lifetime),
     .help = "seconds a signed output URL stays valid (rounded up to 3 minutes, so answers stay the same meanwhile)"},
    {.name = "MEDIAGATE_UPLOADS_DIR", .kind = CFG_DIR, .def = "", .reload = RESTART,
     .offset = OFF(uploads_dir),
     .help = "where uploads are stored (<dir>/<upload id>/<name>), each becoming a local job; a file dropped in it directly becomes one too; empty: no uploads"},
    {.name = "MEDIAGATE_UPLOADS_URL", .kind = CFG_URL, .def = "/uploads", .url = CFG_URL_OR_PATH,
     .reload = RELOAD, .offset = OFF(uploads_url),
     .help = "public URL of the upload location (nginx/mediagate-upload.conf), used in upload.url; a path is relative to the site"},
    {.name = "MEDIAGATE_UPLOAD_SLOT_TTL", .kind = CFG_SECONDS, .def = "3600", .min = 60,
     .max = 604800, .reload = RELOAD, .offset = OFF(upload_slot_ttl),
     .help = "seconds a direct upload URL (POST /uploads) may be used"},
    {.name = "MEDIAGATE_UPLOAD_MAX_BYTES", .kind = CFG_BYTES, .def = "4294967296", .min = 1,
     .max = 1099511627776L, .reload = RELOAD, .offset = OFF(upload_max_bytes),
     .help = "largest upload, and the default max_bytes of a slot; keep nginx's client_max_body_size at least this"},
    {.name = "MEDIAGATE_FETCH_TIMEOUT", .kind = CFG_SECONDS, .def = "14400", .min = 5,
     .max = 604800, .reload = RESTART, .offset = OFF(fetch_timeout),
     .help = "seconds one attempt of an upload by URL may take to fetch its file; past it the attempt ends and a later one resumes (6 attempts)"},
    {.name = "MEDIAGATE_FETCH_MIN_RATE", .kind = CFG_NUMBER, .def = "1024", .min = 0,
     .max = 1073741824, .reload = RESTART, .offset = OFF(fetch_min_rate),
     .help = "bytes per second an upload by URL's server must send on average over each MEDIAGATE_FETCH_RATE_WINDOW; slower: the connection is dropped and a later attempt resumes; 0: no floor"},
    {.name = "MEDIAGATE_FETCH_RATE_WINDOW", .kind = CFG_SECONDS, .def = "60", .min = 1,
     .max = 3600, .reload = RESTART, .offset = OFF(fetch_rate_window),
     .help = "seconds over which MEDIAGATE_FETCH_MIN_RATE is averaged"},
    {.name = "MEDIAGATE_STREAM_VOD", .kind = CFG_SWITCH, .def = "on", .reload = RESTART,
     .offset = OFF(stream_vod),
     .help = "a stopped stream's recording becomes a local VOD job (needs one of the two below)"},
    {.name = "MEDIAGATE_RECORDINGS_DIR", .kind = CFG_DIR, .def = "", .reload = RESTART,
     .offset = OFF(recordings_dir),
     .help = "nginx-rtmp's record_path (<dir>/<stream id>-<time>.flv); empty: RTMP recordings are not used"},
    {.name = "MEDIAGATE_LIVE_DIR", .kind = CFG_DIR, .def = "", .reload = RESTART,
     .offset = OFF(live_dir),
     .help = "where HTTP PUT ingest lands (<dir>/<stream id>/), kept as the recording; empty: not kept"},
    {.name = "MEDIAGATE_INGEST_HOST", .kind = CFG_SWITCH, .def = "off", .reload = RESTART,
     .offset = OFF(ingest_host),
     .help = "on where nginx-rtmp and PUT ingest write (the two above): with s3 storage, this host's worker moves a stopped stream's recordings into the store"},
    {.name = "MEDIAGATE_STORAGE", .kind = CFG_ENUM, .def = "local", .choices = "local s3",
     .reload = RESTART, .offset = OFF(storage),
     .help = "where uploads, outputs and recordings live: local (the directories above) or s3 (the bucket below)"},
    {.name = "MEDIAGATE_STORAGE_ENDPOINT", .kind = CFG_URL, .def = "", .url = CFG_URL_NO_QUERY,
     .check = check_storage_endpoint, .reload = RESTART, .offset = OFF(storage_endpoint),
     .help = "URL of the S3-compatible store, such as http://127.0.0.1:7480 (Ceph RGW, MinIO, R2); empty: AWS S3's endpoint of MEDIAGATE_STORAGE_REGION"},
    {.name = "MEDIAGATE_STORAGE_REGION", .kind = CFG_TEXT, .def = "us-east-1",
     .check = check_storage_region, .reload = RESTART, .offset = OFF(storage_region),
     .help = "region requests to the store are signed for (R2: auto)"},
    {.name = "MEDIAGATE_STORAGE_BUCKET", .kind = CFG_TEXT, .def = "",
     .check = check_storage_bucket, .reload = RESTART, .offset = OFF(storage_bucket),
     .help = "the bucket; required with MEDIAGATE_STORAGE=s3"},
    {.name = "MEDIAGATE_STORAGE_PREFIX", .kind = CFG_TEXT, .def = "",
     .check = check_storage_prefix, .reload = RESTART, .offset = OFF(storage_prefix),
     .help = "key prefix of every object mediagate writes, ending with /, such as mediagate/; empty: the bucket's root"},
    {.name = "MEDIAGATE_STORAGE_ADDRESSING", .kind = CFG_ENUM, .def = "path",
     .choices = "path virtual", .check = check_storage_addressing, .reload = RESTART,
     .offset = OFF(storage_addressing),
     .help = "path: <endpoint>/<bucket>/<key> (every store); virtual: <bucket>.<endpoint host>/<key>"},
    {.name = "MEDIAGATE_STORAGE_ACCESS_KEY_ID", .kind = CFG_TEXT, .def = "",
     .required_with = "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY", .reload = RESTART,
     .offset = OFF(storage_access_key_id),
     .help = "access key of the store; empty: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN from the environment"},
    {.name = "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY", .kind = CFG_TEXT, .def = "", .secret = true,
     .required_with = "MEDIAGATE_STORAGE_ACCESS_KEY_ID", .reload = RESTART,
     .offset = OFF(storage_secret_access_key),
     .help = "its secret"},
    {.name = "MEDIAGATE_STORAGE_SESSION_TOKEN", .kind = CFG_TEXT, .def = "", .secret = true,
     .reload = RESTART, .offset = OFF(storage_session_token),
     .help = "session token of temporary credentials (sent as X-Amz-Security-Token); empty: none"},
    {.name = "MEDIAGATE_STORAGE_PUBLIC_URL", .kind = CFG_URL, .def = "", .url = CFG_URL_NO_QUERY,
     .reload = RESTART, .offset = OFF(storage_public_url),
     .help = "public URL of the bucket's root (a CDN in front of it), without a trailing /; an object's URL is <this>/<prefix><key>; empty: the bucket's own URL"},
    {.name = "MEDIAGATE_STORAGE_PART_BYTES", .kind = CFG_BYTES, .def = "67108864", .min = 5242880,
     .max = 5368709120L, .reload = RESTART, .offset = OFF(storage_part_bytes),
     .help = "files larger than this are written as multipart uploads of parts this size (S3 allows 5 MiB to 5 GiB, 10000 parts)"},
    {.name = "MEDIAGATE_STORAGE_TIMEOUT_MS", .kind = CFG_MILLISECONDS, .def = "10000", .min = 100,
     .max = 600000, .reload = RESTART, .offset = OFF(storage_timeout_ms),
     .help = "deadline of one small request to the store; a streamed transfer may take longer but ends after this long without a byte moving"},
    {.name = "MEDIAGATE_STORAGE_RETRIES", .kind = CFG_NUMBER, .def = "4", .min = 0, .max = 20,
     .reload = RESTART, .offset = OFF(storage_retries),
     .help = "times a request the store did not answer, answered 5xx or 503 SlowDown is sent again, after a backoff or the store's Retry-After (up to 10 s); one call waits 30 s at most in all"},
    {.name = "MEDIAGATE_UPLOAD_TTL", .kind = CFG_SECONDS, .def = "21600", .min = 60, .max = 604800,
     .reload = RELOAD, .offset = OFF(upload_ttl),
     .help = "seconds an HTTP upload token lives"},
    {.name = "MEDIAGATE_JWPLATFORM_FORCE_HTTPS_UPLOAD", .kind = CFG_SWITCH, .def = "on",
     .reload = RELOAD, .offset = OFF(jwplatform_force_https_upload),
     .help = "POST /uploads with target=jwplatform: answer JW's upload link with https even when JW names http"},
    {.name = "MEDIAGATE_JWPLATFORM_SYNC_ITEMS", .kind = CFG_SWITCH, .def = "on", .reload = RELOAD,
     .offset = OFF(jwplatform_sync_items),
     .help = "changes made here to a JW Platform video's job (title, ACL) are written back to the platform (/v1/videos/update, worker task jwplatform.update); off: kept here only"},
    {.name = "MEDIAGATE_TENCENT_UPLOAD_LIFETIME", .kind = CFG_SECONDS, .def = "3600", .min = 60,
     .max = 604800, .reload = RELOAD, .offset = OFF(tencent_upload_lifetime),
     .help = "seconds the browser upload signature of POST /uploads target=tencent stays valid (expireTime; Tencent allows 7 days); the slot's job is canceled 10 minutes later if no NewFileUpload named it"},
    {.name = "MEDIAGATE_TENCENT_UPLOAD_ONE_TIME", .kind = CFG_SWITCH, .def = "on",
     .reload = RELOAD, .offset = OFF(tencent_upload_one_time),
     .help = "on: that signature carries oneTimeValid=1 (Tencent takes it for one upload only)"},
    {.name = "MEDIAGATE_TENCENT_UPLOAD_PROCEDURE", .kind = CFG_TEXT, .def = "",
     .check = check_tencent_procedure, .reload = RELOAD, .offset = OFF(tencent_upload_procedure),
     .help = "a Tencent task flow the signature names (procedure), run by Tencent after the upload besides the profile's ProcessMedia; empty: none"},
    {.name = "MEDIAGATE_TENCENT_UPLOAD_CLASS_ID", .kind = CFG_NUMBER, .def = "0", .min = 0,
     .max = 4294967295L, .reload = RELOAD, .offset = OFF(tencent_upload_class_id),
     .help = "the VOD category (classId) the signature puts uploads in; 0: none (Tencent's default)"},
};
const size_t config_settings_count = sizeof config_settings / sizeof config_settings[0];

#define NSET (sizeof config_settings / sizeof config_settings[0])

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

/* The cross-setting rules that are more than one row's required_with. */
const cfg_rule config_rules[] = {
    {.when = "MEDIAGATE_S3_BUCKET",
     .needs = {"MEDIAGATE_AWS_ACCESS_KEY_ID", "MEDIAGATE_AWS_SECRET_ACCESS_KEY"},
     .msg = "MEDIAGATE_S3_BUCKET needs MEDIAGATE_AWS_ACCESS_KEY_ID and "
            "MEDIAGATE_AWS_SECRET_ACCESS_KEY"},
    {.when = "MEDIAGATE_TENCENT_SECRET_ID", .needs = {"MEDIAGATE_TENCENT_DEFINITIONS"},
     .msg = "MEDIAGATE_TENCENT_DEFINITIONS (transcoding template ids) is required when "
            "MEDIAGATE_TENCENT_SECRET_ID is set"},
    {.when = "MEDIAGATE_OAUTH2_INTROSPECTION_URL",
     .needs = {"MEDIAGATE_OAUTH2_CLIENT_ID", "MEDIAGATE_OAUTH2_CLIENT_SECRET"},
     .msg = "MEDIAGATE_OAUTH2_CLIENT_ID and MEDIAGATE_OAUTH2_CLIENT_SECRET are required when "
            "MEDIAGATE_OAUTH2_INTROSPECTION_URL is set"},
    {.when = "MEDIAGATE_MEDIACONVERT_ENDPOINT",
     .needs = {"MEDIAGATE_AWS_ACCESS_KEY_ID", "MEDIAGATE_AWS_SECRET_ACCESS_KEY"},
     .msg = "MEDIAGATE_MEDIACONVERT_ENDPOINT needs MEDIAGATE_AWS_ACCESS_KEY_ID and "
            "MEDIAGATE_AWS_SECRET_ACCESS_KEY (they sign its calls)"},
    {.when = "MEDIAGATE_LOOKUP_URL",
     .needs = {"MEDIAGATE_OAUTH2_TOKEN_URL", "MEDIAGATE_OAUTH2_CLIENT_ID",
               "MEDIAGATE_OAUTH2_CLIENT_SECRET"},
     .msg = "MEDIAGATE_LOOKUP_URL needs MEDIAGATE_OAUTH2_TOKEN_URL, MEDIAGATE_OAUTH2_CLIENT_ID "
            "and MEDIAGATE_OAUTH2_CLIENT_SECRET (its own client credentials token)"},
    /* A cloud encoder half set up would take jobs and fail each one. */
    {.when = "MEDIAGATE_MEDIACONVERT_ENDPOINT", .needs = {"MEDIAGATE_MEDIACONVERT_DESTINATION"},
     .storage = "local",
     .msg = "MEDIAGATE_MEDIACONVERT_DESTINATION is required when MEDIAGATE_MEDIACONVERT_ENDPOINT "
            "is set and MEDIAGATE_STORAGE is local (MediaConvert writes its outputs to S3)"},
    {.when = "MEDIAGATE_ZENCODER_API_KEY", .needs = {"MEDIAGATE_ZENCODER_DESTINATION"},
     .storage = "local",
     .msg = "MEDIAGATE_ZENCODER_DESTINATION is required when MEDIAGATE_ZENCODER_API_KEY is set "
            "and MEDIAGATE_STORAGE is local (Zencoder writes its outputs to S3)"},
};
const size_t config_rules_count = sizeof config_rules / sizeof config_rules[0];

cfg_type config_type(const cfg_setting *s)
{
    switch (s->kind) {
    case CFG_NUMBER:
    case CFG_SECONDS:
    case CFG_MILLISECONDS:
    case CFG_BYTES:
        return CFG_INT;
    case CFG_SWITCH:
        return CFG_BOOL;
    default:
        return CFG_STRING;
    }
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

/* The value of string setting s in c, "" when it has none. */
static const char *text_of(const config *c, const cfg_setting *s)
{
    const char *v = *(char *const *)((const char *)c + s->offset);
    return v ? v : "";
}

/* The value of the string setting named name in c, "" when it has none. */
static const char *string_of(const config *c, const char *name)
{
    int i = find_setting(name, strlen(name));
    return i >= 0 && config_type(&config_settings[i]) == CFG_STRING
               ? text_of(c, &config_settings[i]) : "";
}

/* The space-separated words as "a, b or c" in buf (cap bytes). */
static void choices_text(const char *words, char *buf, size_t cap)
{
    size_t len = 0;
    *buf = '\0';
    for (const char *p = words; *p && len < cap;) {
        size_t k = strcspn(p, " ");
        const char *rest = p + k + strspn(p + k, " ");
        len += (size_t)snprintf(buf + len, cap - len, "%s%.*s",
                                p == words ? "" : *rest ? ", " : " or ", (int)k, p);
        p = rest;
    }
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

/* The row checks: each looks at one setting's value v (never NULL) and
 * fills what the config derives from it. */

static void check_prefix(config *c, const char *v, cfg_errors *errs)
{
    if (!*v)
        return;
    size_t n = strlen(v);
    bool ok = v[0] == '/' && v[n - 1] != '/' && n < 200;
    for (const char *p = v; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || strchr("/-_.~", *p);
    if (!ok || strstr(v, "//") || strstr(v, "/."))
        add_err(errs, "MEDIAGATE_PREFIX must look like /video-api (leading /, no "
                      "trailing /, letters, digits, -_.~), got '%s'", v);
}

static void check_socket(config *c, const char *v, cfg_errors *errs)
{
    if (strlen(v) >= 108)
        add_err(errs, "MEDIAGATE_SOCKET is longer than a unix socket path may be");
}

/* Derives c->socket_gid. */
static void check_socket_group(config *c, const char *v, cfg_errors *errs)
{
    struct group gr, *res = NULL;
    char buf[4096];
    if (!*v)
        return;
    if (getgrnam_r(v, &gr, buf, sizeof buf, &res) != 0 || !res) {
        add_err(errs, "MEDIAGATE_SOCKET_GROUP: no group named '%s'", v);
        return;
    }
    c->socket_gid = res->gr_gid;
    c->has_socket_gid = true;
}

/* Derives c->origins. */
static void check_origins(config *c, const char *v, cfg_errors *errs)
{
    char err[256];
    if (cors_compile(&c->origins, v, err, sizeof err) != 0)
        add_err(errs, "MEDIAGATE_ALLOWED_ORIGINS: %s", err);
}

/* Derives c->mediaconvert_param, the header as a FastCGI param. */
static void check_mediaconvert_header(config *c, const char *v, cfg_errors *errs)
{
    size_t hl = strlen(v), k;
    bool ok = hl > 0 && hl < sizeof c->mediaconvert_param - 6;
    for (size_t i = 0; ok && i < hl; i++)
        ok = isalnum((unsigned char)v[i]) || v[i] == '-' || v[i] == '_';
    if (!ok) {
        add_err(errs, "MEDIAGATE_MEDIACONVERT_HEADER must be a header name such as X-Api-Key, "
                      "got '%s'", v);
        return;
    }
    k = (size_t)snprintf(c->mediaconvert_param, sizeof c->mediaconvert_param, "HTTP_");
    for (size_t i = 0; i < hl; i++)
        c->mediaconvert_param[k++] = v[i] == '-' ? '_' : (char)toupper((unsigned char)v[i]);
    c->mediaconvert_param[k] = '\0';
}

/* It goes into nginx's secure_link_md5 string, between quotes. */
static void check_signing_secret(config *c, const char *v, cfg_errors *errs)
{
    if (strpbrk(v, " \t\r\n\"';$\\{}"))
        add_err(errs, "MEDIAGATE_MEDIA_SIGNING_SECRET must not hold spaces, quotes, $ ; \\ or "
                      "braces (nginx's secure_link_md5 holds it too)");
}

static void check_renditions(config *c, const char *v, cfg_errors *errs)
{
    if (config_renditions_check(v) != 0)
        add_err(errs, "MEDIAGATE_RENDITIONS must be 1 to 8 comma-separated heights from 144 to "
                      "4320, such as 720,480,360, got '%s'", v);
}

/* Derives c->tencent_defs. */
static void check_tencent_definitions(config *c, const char *v, cfg_errors *errs)
{
    c->tencent_ndefs = 0;
    for (const char *p = v; *p;) {
        char *end;
        long d = (*p >= '0' && *p <= '9') ? strtol(p, &end, 10) : -1;
        if (d <= 0 || d > 2147483647L || c->tencent_ndefs == 16 || (*end && *end != ',') ||
            (*end == ',' && !end[1])) {
            add_err(errs, "MEDIAGATE_TENCENT_DEFINITIONS must be 1 to 16 comma-separated template "
                          "ids such as 100210,100220, got '%s'", v);
            c->tencent_ndefs = 0;
            return;
        }
        c->tencent_defs[c->tencent_ndefs++] = d;
        p = *end ? end + 1 : end;
    }
}

/* True when v is at most max characters, each one of set. */
static bool only_of(const char *v, const char *set, size_t max)
{
    return strspn(v, set) == strlen(v) && strlen(v) <= max;
}

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

static void check_tencent_id(config *c, const char *v, cfg_errors *errs)
{
    if (!only_of(v, ALNUM "*-_", 128))
        add_err(errs, "MEDIAGATE_TENCENT_SECRET_ID is not a SecretId (letters and digits)");
}

static void check_tencent_region(config *c, const char *v, cfg_errors *errs)
{
    if (!only_of(v, "abcdefghijklmnopqrstuvwxyz0123456789-", 64))
        add_err(errs, "MEDIAGATE_TENCENT_REGION must be a region such as ap-guangzhou, got '%s'",
                v);
}

static void check_tencent_procedure(config *c, const char *v, cfg_errors *errs)
{
    (void)c;
    if (!only_of(v, ALNUM "-_.", 40))
        add_err(errs, "MEDIAGATE_TENCENT_UPLOAD_PROCEDURE is not a task flow's name (1 to 40 of "
                      "A-Z a-z 0-9 - _ .)");
}

static void check_jwplatform_key(config *c, const char *v, cfg_errors *errs)
{
    if (!only_of(v, ALNUM, 64))
        add_err(errs, "MEDIAGATE_JWPLATFORM_API_KEY is not a JW Platform API key (letters and "
                      "digits)");
}

static void check_user_claim(config *c, const char *v, cfg_errors *errs)
{
    if (!*v || strlen(v) > 64)
        add_err(errs, "MEDIAGATE_OAUTH2_USER_CLAIM must name a claim, such as sub");
}

/* Introspection needs to know which tokens are meant for mediagate. */
static void check_audience(config *c, const char *v, cfg_errors *errs)
{
    if (!c->oauth2_introspection_url || !*c->oauth2_introspection_url)
        return;
    if (v[strspn(v, " ,")] == '\0')
        add_err(errs, "MEDIAGATE_OAUTH2_AUDIENCE is required when "
                      "MEDIAGATE_OAUTH2_INTROSPECTION_URL is set: the aud of tokens meant for "
                      "mediagate (or * to accept any audience)");
    else if (strpbrk(v, "\t\r\n\"'"))
        add_err(errs, "MEDIAGATE_OAUTH2_AUDIENCE must be aud values separated by spaces or commas");
}

static void check_admin_users(config *c, const char *v, cfg_errors *errs)
{
    (void)c;
    for (const char *p = v; *p;) {
        size_t n = strcspn(p, " ,");
        if (n && !acl_id_ok(p, n))
            add_err(errs, "MEDIAGATE_ADMIN_USERS must hold user ids (1 to 128 of A-Z a-z 0-9 . _ "
                          "@ -) separated by spaces or commas, got '%.*s'",
                    (int)(n > 80 ? 80 : n), p);
        p += n;
        p += strspn(p, " ,");
    }
}

static void check_sns_topics(config *c, const char *v, cfg_errors *errs)
{
    for (const char *p = v; *p;) {
        size_t n = strcspn(p, " ,");
        if (n && (strncmp(p, "arn:", 4) != 0 || n > 256 || memchr(p, '\t', n)))
            add_err(errs, "MEDIAGATE_SNS_TOPIC_ARNS must hold topic ARNs such as "
                          "arn:aws:sns:us-east-1:123456789012:mediaconvert, got '%.*s'",
                    (int)(n > 80 ? 80 : n), p);
        p += n;
        p += strspn(p, " ,");
    }
}

/* Derives c->sns_host_re. */
static void check_sns_cert_host(config *c, const char *v, cfg_errors *errs)
{
    const char *problem = cors_pattern_problem(v);
    int rc = problem ? -1 : regcomp(&c->sns_host_re, v, REG_EXTENDED);
    c->sns_host_re_ok = rc == 0 && *v;
    if (rc == 0 && !c->sns_host_re_ok)
        regfree(&c->sns_host_re);
    if (!c->sns_host_re_ok)
        add_err(errs, "MEDIAGATE_SNS_CERT_HOST is not a POSIX extended regex%s%s: '%s'",
                problem ? " we accept: " : "", problem ? problem : "", v);
}

/* The storage rows: values that go into URLs and signed requests. */
static void check_storage_endpoint(config *c, const char *v, cfg_errors *errs)
{
    const char *host = strstr(v, "://");
    const char *path = host ? host + 3 + strcspn(host + 3, "/?#") : "";
    if (*path == '/' && strcspn(path, "?#") > 1) /* a query is the kind check's to report */
        add_err(errs, "MEDIAGATE_STORAGE_ENDPOINT must be a scheme and host[:port] without a path, "
                      "got '%s'", v);
}

static void check_storage_region(config *c, const char *v, cfg_errors *errs)
{
    if (!*v || !only_of(v, "abcdefghijklmnopqrstuvwxyz0123456789-", 64))
        add_err(errs, "MEDIAGATE_STORAGE_REGION must be a region such as us-east-1, got '%s'", v);
}

/* S3's bucket naming rules: 3 to 63 lower-case letters, digits, - and ., starting and
 * ending with a letter or digit. */
static void check_storage_bucket(config *c, const char *v, cfg_errors *errs)
{
    size_t n = strlen(v);
    if (!*v) {
        if (c->storage && strcmp(c->storage, "s3") == 0)
            add_err(errs, "MEDIAGATE_STORAGE_BUCKET is required when MEDIAGATE_STORAGE is s3");
        return;
    }
    if (n < 3 || !only_of(v, "abcdefghijklmnopqrstuvwxyz0123456789-.", 63) ||
        !isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]) || strstr(v, ".."))
        add_err(errs, "MEDIAGATE_STORAGE_BUCKET must be a bucket name (3 to 63 lower-case letters, "
                      "digits, - and .), got '%s'", v);
}

static void check_storage_prefix(config *c, const char *v, cfg_errors *errs)
{
    size_t n = strlen(v);
    if (*v && (!only_of(v, ALNUM "._/-", 512) || v[n - 1] != '/' || v[0] == '/' || v[0] == '.' ||
               strstr(v, "//") || strstr(v, "/.")))
        add_err(errs, "MEDIAGATE_STORAGE_PREFIX must be letters, digits, . _ - and /, end with / "
                      "and not start with / or ., such as mediagate/, got '%s'", v);
}

/* Virtual addressing puts the bucket before the endpoint's host: an IP
 * address there makes a name that does not resolve. */
static void check_storage_addressing(config *c, const char *v, cfg_errors *errs)
{
    const char *e = c->storage_endpoint ? strstr(c->storage_endpoint, "://") : NULL;
    char host[256];
    unsigned char addr[sizeof(struct in6_addr)];
    if (strcmp(v, "virtual") != 0 || !e)
        return;
    e += 3;
    size_t n = *e == '[' ? strcspn(e, "]") + 1 : strcspn(e, ":/?#");
    if (n >= sizeof host)
        return;
    snprintf(host, sizeof host, "%.*s", (int)n, e);
    if (host[0] == '[' || inet_pton(AF_INET, host, addr) == 1)
        add_err(errs, "MEDIAGATE_STORAGE_ADDRESSING is virtual (<bucket>.<endpoint host>) but "
                      "MEDIAGATE_STORAGE_ENDPOINT's host is an IP address (%s): use path, or "
                      "a host name",
                host);
}

/* The kinds' checks: each looks at the value v (never NULL) of string
 * setting s and appends its problems to errs. */

/* True when u starts with one of the space-separated schemes, then "://". */
static bool has_scheme(const char *u, const char *schemes)
{
    for (const char *p = schemes; *p;) {
        size_t n = strcspn(p, " ");
        if (strncmp(u, p, n) == 0 && strncmp(u + n, "://", 3) == 0)
            return true;
        p += n + strspn(p + n, " ");
    }
    return false;
}

static void check_url(const cfg_setting *s, const char *v, cfg_errors *errs)
{
    const char *schemes = s->schemes ? s->schemes : "http https";
    size_t n = strlen(v);
    if (!*v && s->def && !*s->def)
        return;
    switch (s->url) {
    case CFG_URL_SCHEME:
        if (!has_scheme(v, schemes)) {
            char list[64] = "";
            for (const char *p = schemes; *p;) {
                size_t k = strcspn(p, " ");
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%.*s://",
                         *list ? " or " : "", (int)k, p);
                p += k + strspn(p + k, " ");
            }
            add_err(errs, "%s must start with %s, got '%s'", s->name, list, v);
        }
        break;
    case CFG_URL_PLAIN:
        if (!has_scheme(v, schemes) || strpbrk(v, " \t\r\n\"'<>#"))
            add_err(errs, "%s must be an http(s) URL, got '%s'", s->name, v);
        break;
    case CFG_URL_NO_QUERY:
        if (!has_scheme(v, schemes) || strpbrk(v, " \t\r\n\"'<>?#"))
            add_err(errs, "%s must be an http(s) URL without a query, got '%s'", s->name, v);
        break;
    case CFG_URL_OR_PATH:
        if (!(v[0] == '/' || has_scheme(v, schemes)) || v[n ? n - 1 : 0] == '/' ||
            strpbrk(v, " \t\r\n\"'<>?#"))
            add_err(errs, "%s must be a path such as /media-files or an http(s) URL, without a "
                          "trailing /, a query or spaces, got '%s'", s->name, v);
        break;
    }
}

/* True when v is one of the space-separated words. */
static bool is_choice(const char *v, const char *words)
{
    size_t n = strlen(v);
    for (const char *p = words; *p;) {
        size_t k = strcspn(p, " ");
        if (n && k == n && strncmp(p, v, n) == 0)
            return true;
        p += k + strspn(p + k, " ");
    }
    return false;
}

static void check_conninfo(const cfg_setting *s, const char *v, cfg_errors *errs)
{
    char *perr = NULL;
    if (!*v)
        return;
    PQconninfoOption *opts = PQconninfoParse(v, &perr);
    if (!opts)
        add_err(errs, "%s is not a valid connection string: %s", s->name,
                perr ? trim(perr, NULL) : "out of memory");
    PQconninfoFree(opts);
    PQfreemem(perr);
}

/* Appends a problem when v is not what s's kind holds. */
static void check_kind(const cfg_setting *s, const char *v, cfg_errors *errs)
{
    switch (s->kind) {
    case CFG_URL:
        check_url(s, v, errs);
        break;
    case CFG_DIR:
        if (*v && (v[0] != '/' || strstr(v, "/..") || v[strlen(v) - 1] == '/'))
            add_err(errs, "%s must be an absolute directory without a trailing /, got '%s'",
                    s->name, v);
        break;
    case CFG_FILE:
        if (*v && access(v, R_OK) != 0)
            add_err(errs, "%s: cannot read '%s': %s", s->name, v, strerror(errno));
        break;
    case CFG_ENUM:
        if (!is_choice(v, s->choices)) {
            char list[128];
            choices_text(s->choices, list, sizeof list);
            add_err(errs, "%s must be %s, got '%s'", s->name, list, v);
        }
        break;
    case CFG_CONNINFO:
        check_conninfo(s, v, errs);
        break;
    default:
        break;
    }
}

/* Reads every setting's value into c: the environment's, else the file's
 * (raw), else the default. Numbers and switches are parsed here. */
static void read_values(config *c, char **raw, const char *(*getenv_fn)(const char *),
                        cfg_errors *errs)
{
    for (size_t i = 0; i < NSET; i++) {
        const cfg_setting *s = &config_settings[i];
        const char *env = getenv_fn ? getenv_fn(s->name) : NULL;
        const char *v = env ? env : raw[i] ? raw[i] : s->def;
        void *field = (char *)c + s->offset;
        long n;
        if (s->required && (!v || !*v)) {
            add_err(errs, "%s is required: %s", s->name, s->help);
            continue;
        }
        if (!v)
            v = "";
        switch (config_type(s)) {
        case CFG_STRING:
            *(char **)field = strdup(v);
            break;
        case CFG_INT:
            if (!parse_long(v, &n))
                add_err(errs, "%s must be an integer, got '%s'", s->name, v);
            else if (n < s->min || n > s->max)
                add_err(errs, "%s must be between %ld and %ld, got %ld", s->name, s->min,
                        s->max, n);
            else
                *(long *)field = n;
            break;
        case CFG_BOOL:
            if (!parse_bool(v, (bool *)field))
                add_err(errs, "%s must be on or off, got '%s'", s->name, v);
            break;
        }
    }
}

/* The table pass over the string settings: each value against its kind,
 * a secret's length, the row's own check, and its required_with. */
static void check_values(config *c, cfg_errors *errs)
{
    for (size_t i = 0; i < NSET; i++) {
        const cfg_setting *s = &config_settings[i];
        if (config_type(s) != CFG_STRING)
            continue;
        const char *v = text_of(c, s);
        check_kind(s, v, errs);
        if (s->secret && *v && strlen(v) < s->min_length)
            add_err(errs, "%s is too short to be a secret (at least %zu characters)", s->name,
                    s->min_length);
        if (s->check)
            s->check(c, v, errs);
        if (s->required_with && !*v && *string_of(c, s->required_with))
            add_err(errs, "%s is required when %s is set", s->name, s->required_with);
    }
}

static void check_rules(const config *c, cfg_errors *errs)
{
    for (size_t i = 0; i < config_rules_count; i++) {
        const cfg_rule *r = &config_rules[i];
        bool ok = true;
        if (!*string_of(c, r->when) ||
            (r->storage && strcmp(string_of(c, "MEDIAGATE_STORAGE"), r->storage) != 0))
            continue;
        for (size_t k = 0; r->needs[k]; k++)
            ok &= *string_of(c, r->needs[k]) != '\0';
        if (!ok)
            add_err(errs, "%s", r->msg);
    }
}

/* s, or "" for NULL (a string setting whose copy failed). */
static const char *str(const char *s)
{
    return s ? s : "";
}

/* The cloud encoders: the setting that turns each on, and the secret its
 * notifications are checked with. */
static const struct {
    const char *encoder, *when, *secret;
} cloud_encoders[] = {
    {"mediaconvert", "MEDIAGATE_MEDIACONVERT_ENDPOINT", "MEDIAGATE_MEDIACONVERT_SECRET"},
    {"zencoder", "MEDIAGATE_ZENCODER_API_KEY", "MEDIAGATE_ZENCODER_SECRET"},
    {"mux", "MEDIAGATE_MUX_TOKEN_ID", "MEDIAGATE_MUX_SECRET"},
};

void config_media_notice(const config *c, void (*note)(const char *msg))
{
    if (strcmp(string_of(c, "MEDIAGATE_STORAGE"), "local") != 0 || *str(c->media_signing_secret))
        return;
    note("local storage with MEDIAGATE_MEDIA_SIGNING_SECRET empty: every file under "
         "/media-files/<job id>/ is served to anyone with its URL, a job with an ACL (private) "
         "too; AES-128 keeps an encrypted job's segments useless without its key, but its "
         "captions, poster, storyboard and thumbnails are clear: set "
         "MEDIAGATE_MEDIA_SIGNING_SECRET (nginx/mediagate-media-signed.conf) when jobs are "
         "private");
}

void config_notices(const config *c, void (*note)(const char *msg))
{
    char m[400];
    bool local = strcmp(string_of(c, "MEDIAGATE_STORAGE"), "local") == 0 && *str(c->uploads_dir);
    for (size_t i = 0; i < sizeof cloud_encoders / sizeof cloud_encoders[0]; i++) {
        const char *e = cloud_encoders[i].encoder;
        if (!*string_of(c, cloud_encoders[i].when))
            continue;
        if (!*str(c->public_url)) {
            snprintf(m, sizeof m,
                     "MEDIAGATE_PUBLIC_URL is empty: the %s encoder gets no notification URL; "
                     "its jobs end only by the reconciler (MEDIAGATE_RECONCILE_AFTER, %ld s "
                     "after their last event)",
                     e, (long)c->reconcile_after);
            note(m);
        } else if (!*string_of(c, cloud_encoders[i].secret)) {
            snprintf(m, sizeof m,
                     "%s is empty: the %s encoder's notifications are refused (403); its jobs "
                     "end only by the reconciler (MEDIAGATE_RECONCILE_AFTER, %ld s after their "
                     "last event)",
                     cloud_encoders[i].secret, e, (long)c->reconcile_after);
            note(m);
        }
        if (local && (!*str(c->public_url) || !*str(c->media_signing_secret))) {
            snprintf(m, sizeof m,
                     "an upload on local storage reaches the %s encoder only through a signed "
                     "URL: with MEDIAGATE_%s empty, each upload whose profile names %s fails",
                     e, !*str(c->public_url) ? "PUBLIC_URL" : "MEDIA_SIGNING_SECRET", e);
            note(m);
        }
    }
}

/* What the rest of mediagate reads instead of the settings themselves. */
static void derive(config *c)
{
    c->log_json = strcmp(str(c->log_format), "json") == 0;
    c->trust_remote_user = strcmp(str(c->stream_auth), "remote_user") == 0;
    c->tencent_process = *str(c->tencent_secret_id) && *str(c->tencent_secret_key) &&
                         c->tencent_ndefs > 0;
    c->jwplatform_mirror = *str(c->jwplatform_api_key) && *str(c->jwplatform_api_secret);
    c->vod_rtmp = c->stream_vod && *str(c->recordings_dir);
    c->vod_put = c->stream_vod && *str(c->live_dir);
}

static size_t finish(config *c, char **raw, const char *(*getenv_fn)(const char *),
                     cfg_errors *errs)
{
    size_t before = errs->n;
    read_values(c, raw, getenv_fn, errs);
    check_values(c, errs);
    check_rules(c, errs);
    derive(c);
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
        if (config_type(&config_settings[i]) == CFG_STRING) {
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
    switch (config_type(s)) {
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
