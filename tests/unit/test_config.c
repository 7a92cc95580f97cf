/* Unit tests for app/config.c: defaults, the file format, environment
 * overrides and one report listing every bad setting. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

#define DB "postgresql://mediagate@localhost/mediagate"

/* The fake environment: name, value pairs ending with NULL. */
static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
    for (const char *const *p = fake_env; p && p[0]; p += 2)
        if (strcmp(p[0], name) == 0)
            return p[1];
    return NULL;
}

static const char *const env_db[] = {"MEDIAGATE_DATABASE_URL", DB, NULL};

/* Loads text (a NUL-terminated file body, or NULL for no file) with env. */
static size_t load(config *c, const char *text, const char *const *env, cfg_errors *e)
{
    fake_env = env;
    return config_load_buf(c, text, text ? strlen(text) : 0, "test.conf", fake_getenv, e);
}

/* Prints the messages, so a failure shows what the loader said. */
static void dump(const cfg_errors *e)
{
    for (size_t i = 0; i < e->n; i++)
        fprintf(stderr, "  error %zu: %s\n", i, e->msg[i]);
}

/* Loads, expects exactly one problem whose message contains each of the
 * two strings, and cleans up. */
static void expect_one(const char *text, const char *const *env, const char *s1,
                       const char *s2, int line)
{
    config c;
    cfg_errors e = {0};
    size_t n = load(&c, text, env, &e);
    bool ok = n == 1 && e.n == 1 && strstr(e.msg[0], s1) && (!s2 || strstr(e.msg[0], s2));
    if (!check_(ok, __FILE__, line, "exactly one matching error")) {
        fprintf(stderr, "  want one error naming \"%s\"%s%s%s, got %zu\n", s1,
                s2 ? " and \"" : "", s2 ? s2 : "", s2 ? "\"" : "", n);
        dump(&e);
    }
    config_free(&c);
    cfg_errors_free(&e);
}

/* Loads and expects no problem; leaves c for the caller to inspect. */
static bool expect_ok(config *c, const char *text, const char *const *env, int line)
{
    cfg_errors e = {0};
    size_t n = load(c, text, env, &e);
    if (!check_(n == 0 && e.n == 0, __FILE__, line, "config loads without errors"))
        dump(&e);
    cfg_errors_free(&e);
    return n == 0;
}

/* True when name is a setting's. */
static bool names_setting(const char *name)
{
    for (size_t i = 0; name && i < config_settings_count; i++)
        if (strcmp(config_settings[i].name, name) == 0)
            return true;
    return false;
}

static void test_table(void)
{
    /* The settings the README documents are all in the table. */
    static const char *const known[] = {
        "MEDIAGATE_DATABASE_URL", "MEDIAGATE_SOCKET", "MEDIAGATE_SOCKET_GROUP",
        "MEDIAGATE_THREADS", "MEDIAGATE_BACKLOG", "MEDIAGATE_ALLOWED_ORIGINS",
        "MEDIAGATE_PREFIX", "MEDIAGATE_MAX_BODY", "MEDIAGATE_DB_TIMEOUT_MS",
        "MEDIAGATE_RETRY_AFTER", "MEDIAGATE_CACHE_MAX_AGE", "MEDIAGATE_SHUTDOWN_TIMEOUT",
        "MEDIAGATE_ACCESS_LOG"};
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        size_t hits = 0;
        for (size_t i = 0; i < config_settings_count; i++)
            hits += strcmp(config_settings[i].name, known[k]) == 0;
        if (!CHECK_INT(hits, 1))
            fprintf(stderr, "  setting %s\n", known[k]);
    }
    for (size_t i = 0; i < config_settings_count; i++) {
        const cfg_setting *s = &config_settings[i];
        CHECK(strncmp(s->name, "MEDIAGATE_", 10) == 0);
        CHECK(s->help && *s->help);
        if (config_type(s) == CFG_INT) {
            long d = s->def ? strtol(s->def, NULL, 10) : -1;
            if (!CHECK(s->def && d >= s->min && d <= s->max))
                fprintf(stderr, "  %s default out of range\n", s->name);
        }
        CHECK(s->required == (s->def == NULL));
        /* A kind's own fields are set on its rows and only there. */
        CHECK((s->kind == CFG_ENUM) == (s->choices != NULL));
        CHECK(s->kind == CFG_URL || (s->schemes == NULL && s->url == CFG_URL_SCHEME));
        CHECK(s->kind != CFG_URL || s->url == CFG_URL_SCHEME || s->schemes == NULL);
        CHECK(s->secret || s->min_length == 0);
        if (s->required_with && !CHECK(names_setting(s->required_with)))
            fprintf(stderr, "  %s: required_with %s\n", s->name, s->required_with);
    }
    for (size_t i = 0; i < config_rules_count; i++) {
        CHECK(names_setting(config_rules[i].when));
        CHECK(config_rules[i].needs[0] && config_rules[i].msg);
        CHECK(!config_rules[i].storage || strcmp(config_rules[i].storage, "local") == 0 ||
              strcmp(config_rules[i].storage, "s3") == 0);
        for (size_t k = 0; config_rules[i].needs[k]; k++)
            CHECK(names_setting(config_rules[i].needs[k]));
    }
}

/* Values each kind accepts, beside the ones test_messages refuses. */
static void test_kinds(void)
{
    static const char *const good[][4] = {
        {"MEDIAGATE_RTMP_URL", "rtmps://live.example.com/live", "MEDIAGATE_HLS_URL", "https://h"},
        {"MEDIAGATE_HLS_URL", "http://h"},
        {"MEDIAGATE_UPLOAD_URL", ""},
        {"MEDIAGATE_STS_URL", "https://sts.example/?q x"},
        {"MEDIAGATE_OAUTH2_TOKEN_URL", "https://as.example/token?a=b"},
        {"MEDIAGATE_JWPLATFORM_API_URL", "http://127.0.0.1:8080/v1/"},
        {"MEDIAGATE_MEDIA_URL", "https://cdn.example/media"},
        {"MEDIAGATE_UPLOADS_URL", "/up"},
        {"MEDIAGATE_MEDIA_DIR", ""},
        {"MEDIAGATE_LIVE_DIR", "/srv/live"},
        {"MEDIAGATE_OUTBOUND_CA_FILE", "/dev/null"},
        {"MEDIAGATE_LOG_FORMAT", "json"},
        {"MEDIAGATE_STREAM_AUTH", "remote_user"},
        {"MEDIAGATE_DATABASE_READ_URL", "host=/run/postgresql dbname=x"},
        {"MEDIAGATE_MUX_SECRET", "0123456789abcdef"},
        {"MEDIAGATE_AWS_SECRET_ACCESS_KEY", "s"},
        {"MEDIAGATE_MAX_BODY", "0"},
        {"MEDIAGATE_QUEUE_WAIT_MS", "600000"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *const env[] = {"MEDIAGATE_DATABASE_URL", DB, good[i][0], good[i][1],
                                   good[i][2], good[i][3], NULL};
        config c;
        if (!expect_ok(&c, NULL, env, __LINE__))
            fprintf(stderr, "  %s=%s\n", good[i][0], good[i][1]);
        config_free(&c);
    }
    config c;
    static const char *const env[] = {"MEDIAGATE_LOG_FORMAT", "json",
                                      "MEDIAGATE_STREAM_AUTH", "remote_user",
                                      "MEDIAGATE_DATABASE_URL", DB, NULL};
    if (expect_ok(&c, NULL, env, __LINE__))
        CHECK(c.log_json && c.trust_remote_user);
    config_free(&c);
    const cfg_setting *s = &config_settings[0];
    CHECK_INT(config_type(s), CFG_STRING);
    for (size_t i = 0; i < config_settings_count; i++)
        if (config_settings[i].kind == CFG_SWITCH)
            CHECK_INT(config_type(&config_settings[i]), CFG_BOOL);
        else if (config_settings[i].kind >= CFG_NUMBER && config_settings[i].kind <= CFG_BYTES)
            CHECK_INT(config_type(&config_settings[i]), CFG_INT);
}

static void test_defaults(void)
{
    config c;
    if (expect_ok(&c, NULL, env_db, __LINE__)) {
        CHECK_STR(c.database_url, DB);
        CHECK_INT(c.threads, 16);
        CHECK_INT(c.backlog, 1024);
        CHECK_INT(c.max_body, 1048576);
        CHECK_INT(c.db_timeout_ms, 3000);
        CHECK_INT(c.retry_after, 2);
        CHECK_INT(c.cache_max_age, 1);
        CHECK_INT(c.shutdown_timeout, 10);
        CHECK(c.access_log);
        CHECK_STR(c.prefix, "");
        CHECK_STR(c.socket, "");
        CHECK_STR(c.allowed_origins, "");
        CHECK_INT(c.origins.n, 0);
        CHECK(!c.has_socket_gid);
    }
    config_free(&c);
    CHECK(c.database_url == NULL && c.prefix == NULL && c.origins.re == NULL);
}

/* Every kind of setting is validated, not silently replaced. */
static void test_values_checked(void)
{
    static const char *bad[][3] = {
        {"MEDIAGATE_RENDITIONS", "abc", "MEDIAGATE_RENDITIONS"},
        {"MEDIAGATE_RENDITIONS", "720,,360", "MEDIAGATE_RENDITIONS"},
        {"MEDIAGATE_RENDITIONS", "720,100", "MEDIAGATE_RENDITIONS"},
        {"MEDIAGATE_RENDITIONS", "1,2,3,4,5,6,7,8,9", "MEDIAGATE_RENDITIONS"},
        {"MEDIAGATE_RENDITIONS", "720 ", "MEDIAGATE_RENDITIONS"},
        {"MEDIAGATE_MEDIA_DIR", "media", "MEDIAGATE_MEDIA_DIR"},
        {"MEDIAGATE_UPLOADS_DIR", "/srv/up/", "MEDIAGATE_UPLOADS_DIR"},
        {"MEDIAGATE_MEDIA_URL", "/media-files/", "MEDIAGATE_MEDIA_URL"},
        {"MEDIAGATE_UPLOADS_URL", "ftp://x/uploads", "MEDIAGATE_UPLOADS_URL"},
        {"MEDIAGATE_UPLOADS_URL", "/up loads", "MEDIAGATE_UPLOADS_URL"},
        {"MEDIAGATE_STS_URL", "sts.amazonaws.com", "MEDIAGATE_STS_URL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *const env[] = {"MEDIAGATE_DATABASE_URL", DB, bad[i][0], bad[i][1], NULL};
        expect_one(NULL, env, bad[i][2], NULL, __LINE__);
    }
    CHECK_INT(config_renditions_check("1080,720,480,360"), 0);
    CHECK_INT(config_renditions_check("144"), 0);
}

/* Every message a bad setting gives, word for word: check-config's
 * report is an interface (operators and the suites read it). Each case is
 * name, value pairs over a valid database URL, and all its messages in any
 * order. */
typedef struct msg_case {
    const char *env[12]; /* name, value pairs, NULL-terminated */
    const char *want[5];
} msg_case;
static const msg_case msg_cases[] = {
    {{"MEDIAGATE_DATABASE_URL", ""},
     {"MEDIAGATE_DATABASE_URL is required: libpq connection string or URI of the PostgreSQL "
      "database"}},
    {{"MEDIAGATE_DATABASE_URL", "postgresql://%zz"},
     {"MEDIAGATE_DATABASE_URL is not a valid connection string: invalid percent-encoded token: "
      "\"%zz\"\n"}},
    {{"MEDIAGATE_DATABASE_READ_URL", "host=x bogus=1"},
     {"MEDIAGATE_DATABASE_READ_URL is not a valid connection string: invalid connection option "
      "\"bogus\"\n"}},
    {{"MEDIAGATE_PREFIX", "video-api/"},
     {"MEDIAGATE_PREFIX must look like /video-api (leading /, no trailing /, letters, digits, "
      "-_.~), got 'video-api/'"}},
    {{"MEDIAGATE_PREFIX", "/a//b"},
     {"MEDIAGATE_PREFIX must look like /video-api (leading /, no trailing /, letters, digits, "
      "-_.~), got '/a//b'"}},
    {{"MEDIAGATE_SOCKET",
      "/run/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
     {"MEDIAGATE_SOCKET is longer than a unix socket path may be"}},
    {{"MEDIAGATE_SOCKET_GROUP", "no-such-group-mg"},
     {"MEDIAGATE_SOCKET_GROUP: no group named 'no-such-group-mg'"}},
    {{"MEDIAGATE_MEDIACONVERT_HEADER", "X Api"},
     {"MEDIAGATE_MEDIACONVERT_HEADER must be a header name such as X-Api-Key, got 'X Api'"}},
    {{"MEDIAGATE_MEDIACONVERT_HEADER", ""},
     {"MEDIAGATE_MEDIACONVERT_HEADER must be a header name such as X-Api-Key, got ''"}},
    {{"MEDIAGATE_MEDIACONVERT_SECRET", "short", "MEDIAGATE_ZENCODER_SECRET", "short",
      "MEDIAGATE_TENCENT_TOKEN", "short", "MEDIAGATE_MUX_SECRET", "short"},
     {"MEDIAGATE_MEDIACONVERT_SECRET is too short to be a secret (at least 16 characters)",
      "MEDIAGATE_ZENCODER_SECRET is too short to be a secret (at least 16 characters)",
      "MEDIAGATE_TENCENT_TOKEN is too short to be a secret (at least 16 characters)",
      "MEDIAGATE_MUX_SECRET is too short to be a secret (at least 16 characters)"}},
    {{"MEDIAGATE_MEDIA_SIGNING_SECRET", "short"},
     {"MEDIAGATE_MEDIA_SIGNING_SECRET is too short to be a secret (at least 16 characters)"}},
    {{"MEDIAGATE_MEDIA_SIGNING_SECRET", "0123456789abcdef$x"},
     {"MEDIAGATE_MEDIA_SIGNING_SECRET must not hold spaces, quotes, $ ; \\ or braces (nginx's "
      "secure_link_md5 holds it too)"}},
    {{"MEDIAGATE_STREAM_AUTH", "basic"},
     {"MEDIAGATE_STREAM_AUTH must be apikey or remote_user, got 'basic'"}},
    {{"MEDIAGATE_LOG_FORMAT", "xml"},
     {"MEDIAGATE_LOG_FORMAT must be text or json, got 'xml'"}},
    {{"MEDIAGATE_RTMP_URL", "http://x", "MEDIAGATE_HLS_URL", "https://h"},
     {"MEDIAGATE_RTMP_URL must start with rtmp:// or rtmps://, got 'http://x'"}},
    {{"MEDIAGATE_RTMP_URL", "rtmp://x"},
     {"MEDIAGATE_HLS_URL is required when MEDIAGATE_RTMP_URL is set"}},
    {{"MEDIAGATE_HLS_URL", "ftp://x", "MEDIAGATE_UPLOAD_URL", "ftp://x"},
     {"MEDIAGATE_HLS_URL must start with http:// or https://, got 'ftp://x'",
      "MEDIAGATE_UPLOAD_URL must start with http:// or https://, got 'ftp://x'"}},
    {{"MEDIAGATE_S3_BUCKET", "b", "MEDIAGATE_AWS_ACCESS_KEY_ID", "k"},
     {"MEDIAGATE_S3_BUCKET needs MEDIAGATE_AWS_ACCESS_KEY_ID and MEDIAGATE_AWS_SECRET_ACCESS_KEY"}},
    {{"MEDIAGATE_RECORDINGS_DIR", "rec/", "MEDIAGATE_LIVE_DIR", "/live/"},
     {"MEDIAGATE_RECORDINGS_DIR must be an absolute directory without a trailing /, got 'rec/'",
      "MEDIAGATE_LIVE_DIR must be an absolute directory without a trailing /, got '/live/'"}},
    {{"MEDIAGATE_MEDIA_DIR", "media", "MEDIAGATE_UPLOADS_DIR", "/a/../b"},
     {"MEDIAGATE_MEDIA_DIR must be an absolute directory without a trailing /, got 'media'",
      "MEDIAGATE_UPLOADS_DIR must be an absolute directory without a trailing /, got '/a/../b'"}},
    {{"MEDIAGATE_MEDIA_URL", "/m/", "MEDIAGATE_UPLOADS_URL", ""},
     {"MEDIAGATE_MEDIA_URL must be a path such as /media-files or an http(s) URL, without a "
      "trailing /, a query or spaces, got '/m/'",
      "MEDIAGATE_UPLOADS_URL must be a path such as /media-files or an http(s) URL, without a "
      "trailing /, a query or spaces, got ''"}},
    {{"MEDIAGATE_MEDIA_URL", "", "MEDIAGATE_UPLOADS_URL", "https://x/u?a"},
     {"MEDIAGATE_MEDIA_URL must be a path such as /media-files or an http(s) URL, without a "
      "trailing /, a query or spaces, got ''",
      "MEDIAGATE_UPLOADS_URL must be a path such as /media-files or an http(s) URL, without a "
      "trailing /, a query or spaces, got 'https://x/u?a'"}},
    {{"MEDIAGATE_STS_URL", ""},
     {"MEDIAGATE_STS_URL must start with http:// or https://, got ''"}},
    {{"MEDIAGATE_STS_URL", "sts"},
     {"MEDIAGATE_STS_URL must start with http:// or https://, got 'sts'"}},
    {{"MEDIAGATE_RENDITIONS", "abc"},
     {"MEDIAGATE_RENDITIONS must be 1 to 8 comma-separated heights from 144 to 4320, such as "
      "720,480,360, got 'abc'"}},
    {{"MEDIAGATE_TENCENT_DEFINITIONS", "1,,2"},
     {"MEDIAGATE_TENCENT_DEFINITIONS must be 1 to 16 comma-separated template ids such as "
      "100210,100220, got '1,,2'"}},
    {{"MEDIAGATE_TENCENT_SECRET_ID", "abc"},
     {"MEDIAGATE_TENCENT_SECRET_KEY is required when MEDIAGATE_TENCENT_SECRET_ID is set",
      "MEDIAGATE_TENCENT_DEFINITIONS (transcoding template ids) is required when "
      "MEDIAGATE_TENCENT_SECRET_ID is set"}},
    {{"MEDIAGATE_TENCENT_SECRET_KEY", "abc"},
     {"MEDIAGATE_TENCENT_SECRET_ID is required when MEDIAGATE_TENCENT_SECRET_KEY is set"}},
    {{"MEDIAGATE_TENCENT_SECRET_ID", "a b", "MEDIAGATE_TENCENT_SECRET_KEY", "k",
      "MEDIAGATE_TENCENT_DEFINITIONS", "10"},
     {"MEDIAGATE_TENCENT_SECRET_ID is not a SecretId (letters and digits)"}},
    {{"MEDIAGATE_TENCENT_REGION", "AP", "MEDIAGATE_TENCENT_API_URL", "https://x?q"},
     {"MEDIAGATE_TENCENT_REGION must be a region such as ap-guangzhou, got 'AP'",
      "MEDIAGATE_TENCENT_API_URL must be an http(s) URL without a query, got 'https://x?q'"}},
    {{"MEDIAGATE_TENCENT_API_URL", ""},
     {"MEDIAGATE_TENCENT_API_URL must be an http(s) URL without a query, got ''"}},
    {{"MEDIAGATE_OAUTH2_INTROSPECTION_URL", "ftp://x"},
     {"MEDIAGATE_OAUTH2_INTROSPECTION_URL must be an http(s) URL, got 'ftp://x'",
      "MEDIAGATE_OAUTH2_CLIENT_ID and MEDIAGATE_OAUTH2_CLIENT_SECRET are required when "
      "MEDIAGATE_OAUTH2_INTROSPECTION_URL is set",
      "MEDIAGATE_OAUTH2_AUDIENCE is required when MEDIAGATE_OAUTH2_INTROSPECTION_URL is set: "
      "the aud of tokens meant for mediagate (or * to accept any audience)"}},
    {{"MEDIAGATE_OAUTH2_INTROSPECTION_URL", "https://x", "MEDIAGATE_OAUTH2_CLIENT_ID", "i",
      "MEDIAGATE_OAUTH2_CLIENT_SECRET", "s", "MEDIAGATE_OAUTH2_AUDIENCE", "a\\\"b"},
     {"MEDIAGATE_OAUTH2_AUDIENCE must be aud values separated by spaces or commas"}},
    {{"MEDIAGATE_OAUTH2_AUDIENCE", "a\\\"b"}, {0}},
    {{"MEDIAGATE_OAUTH2_TOKEN_URL", "ftp://x", "MEDIAGATE_LOOKUP_URL", "https://x y"},
     {"MEDIAGATE_OAUTH2_TOKEN_URL must be an http(s) URL, got 'ftp://x'",
      "MEDIAGATE_LOOKUP_URL must be an http(s) URL, got 'https://x y'",
      "MEDIAGATE_LOOKUP_URL needs MEDIAGATE_OAUTH2_TOKEN_URL, MEDIAGATE_OAUTH2_CLIENT_ID and "
      "MEDIAGATE_OAUTH2_CLIENT_SECRET (its own client credentials token)"}},
    {{"MEDIAGATE_LOOKUP_URL", "https://x"},
     {"MEDIAGATE_LOOKUP_URL needs MEDIAGATE_OAUTH2_TOKEN_URL, MEDIAGATE_OAUTH2_CLIENT_ID and "
      "MEDIAGATE_OAUTH2_CLIENT_SECRET (its own client credentials token)"}},
    {{"MEDIAGATE_OAUTH2_USER_CLAIM", ""},
     {"MEDIAGATE_OAUTH2_USER_CLAIM must name a claim, such as sub"}},
    {{"MEDIAGATE_SNS_TOPIC_ARNS", "foo,arn:x"},
     {"MEDIAGATE_SNS_TOPIC_ARNS must hold topic ARNs such as "
      "arn:aws:sns:us-east-1:123456789012:mediaconvert, got 'foo'"}},
    {{"MEDIAGATE_SNS_CERT_HOST", ""},
     {"MEDIAGATE_SNS_CERT_HOST is not a POSIX extended regex: ''"}},
    {{"MEDIAGATE_SNS_CERT_HOST", "("},
     {"MEDIAGATE_SNS_CERT_HOST is not a POSIX extended regex: '('"}},
    {{"MEDIAGATE_OUTBOUND_CA_FILE", "/nonexistent/ca.pem"},
     {"MEDIAGATE_OUTBOUND_CA_FILE: cannot read '/nonexistent/ca.pem': No such file or directory"}},
    {{"MEDIAGATE_JWPLATFORM_API_KEY", "abc"},
     {"MEDIAGATE_JWPLATFORM_API_SECRET is required when MEDIAGATE_JWPLATFORM_API_KEY is set"}},
    {{"MEDIAGATE_JWPLATFORM_API_SECRET", "abc"},
     {"MEDIAGATE_JWPLATFORM_API_KEY is required when MEDIAGATE_JWPLATFORM_API_SECRET is set"}},
    {{"MEDIAGATE_JWPLATFORM_API_KEY", "a-b", "MEDIAGATE_JWPLATFORM_API_SECRET", "s"},
     {"MEDIAGATE_JWPLATFORM_API_KEY is not a JW Platform API key (letters and digits)"}},
    {{"MEDIAGATE_JWPLATFORM_API_URL", "ftp://x",
      "MEDIAGATE_JWPLATFORM_DELIVERY_URL", "https://x#y"},
     {"MEDIAGATE_JWPLATFORM_API_URL must be an http(s) URL without a query, got 'ftp://x'",
      "MEDIAGATE_JWPLATFORM_DELIVERY_URL must be an http(s) URL without a query, got "
      "'https://x#y'"}},
    {{"MEDIAGATE_ALLOWED_ORIGINS", "("},
     {"MEDIAGATE_ALLOWED_ORIGINS: bad origin pattern '(': Unmatched ( or \\("}},
    {{"MEDIAGATE_THREADS", "x", "MEDIAGATE_BACKLOG", "0", "MEDIAGATE_ACCESS_LOG", "maybe"},
     {"MEDIAGATE_THREADS must be an integer, got 'x'",
      "MEDIAGATE_BACKLOG must be between 1 and 65535, got 0",
      "MEDIAGATE_ACCESS_LOG must be on or off, got 'maybe'"}},
    {{"MEDIAGATE_UPLOAD_MAX_BYTES", "0", "MEDIAGATE_DB_TIMEOUT_MS", "5"},
     {"MEDIAGATE_DB_TIMEOUT_MS must be between 100 and 600000, got 5",
      "MEDIAGATE_UPLOAD_MAX_BYTES must be between 1 and 1099511627776, got 0"}},
    /* A cloud encoder half set up: refused, naming what is missing. */
    {{"MEDIAGATE_ZENCODER_API_KEY", "zk"},
     {"MEDIAGATE_ZENCODER_DESTINATION is required when MEDIAGATE_ZENCODER_API_KEY is set and "
      "MEDIAGATE_STORAGE is local (Zencoder writes its outputs to S3)"}},
    {{"MEDIAGATE_ZENCODER_API_KEY", "zk", "MEDIAGATE_ZENCODER_DESTINATION", "s3://b/p/"}, {0}},
    {{"MEDIAGATE_ZENCODER_API_KEY", "zk", "MEDIAGATE_STORAGE", "s3", "MEDIAGATE_STORAGE_BUCKET",
      "bkt"},
     {0}},
    {{"MEDIAGATE_MEDIACONVERT_ENDPOINT", "https://mc.example.com", "MEDIAGATE_MEDIACONVERT_ROLE",
      "arn:aws:iam::1:role/r", "MEDIAGATE_MEDIACONVERT_DESTINATION", "s3://b/p/"},
     {"MEDIAGATE_MEDIACONVERT_ENDPOINT needs MEDIAGATE_AWS_ACCESS_KEY_ID and "
      "MEDIAGATE_AWS_SECRET_ACCESS_KEY (they sign its calls)"}},
    {{"MEDIAGATE_MEDIACONVERT_ENDPOINT", "https://mc.example.com", "MEDIAGATE_MEDIACONVERT_ROLE",
      "arn:aws:iam::1:role/r", "MEDIAGATE_AWS_ACCESS_KEY_ID", "ak",
      "MEDIAGATE_AWS_SECRET_ACCESS_KEY", "sk"},
     {"MEDIAGATE_MEDIACONVERT_DESTINATION is required when MEDIAGATE_MEDIACONVERT_ENDPOINT is "
      "set and MEDIAGATE_STORAGE is local (MediaConvert writes its outputs to S3)"}},
};

/* Counts the messages of e equal to m. */
static size_t count_msg(const cfg_errors *e, const char *m)
{
    size_t n = 0;
    for (size_t j = 0; j < e->n; j++)
        n += strcmp(e->msg[j], m) == 0;
    return n;
}

static void test_messages(void)
{
    for (size_t i = 0; i < sizeof msg_cases / sizeof msg_cases[0]; i++) {
        const msg_case *mc = &msg_cases[i];
        const char *env[16] = {0};
        size_t k = 0, nwant = 0;
        for (; mc->env[k]; k++)
            env[k] = mc->env[k];
        env[k++] = "MEDIAGATE_DATABASE_URL";
        env[k] = DB;
        config c;
        cfg_errors e = {0};
        size_t n = load(&c, NULL, env, &e);
        bool ok = true;
        for (; nwant < 5 && mc->want[nwant]; nwant++)
            ok &= count_msg(&e, mc->want[nwant]) == 1;
        if (!check_(ok && n == nwant && e.n == nwant, __FILE__, __LINE__, "the messages of a case")) {
            fprintf(stderr, "  case %zu (%s): want %zu messages:\n", i, mc->env[0], nwant);
            for (size_t j = 0; j < nwant; j++)
                fprintf(stderr, "    %s\n", mc->want[j]);
            dump(&e);
        }
        config_free(&c);
        cfg_errors_free(&e);
    }
}

static char notices[4096];
static void on_notice(const char *msg)
{
    size_t l = strlen(notices);
    snprintf(notices + l, sizeof notices - l, "%s\n", msg);
}

/* Notices of the settings a cloud encoder works without, but worse. */
static void test_notices(void)
{
    static const struct {
        const char *env[12];
        const char *want[3]; /* substrings, in order */
    } cases[] = {
        /* no notification URL; a local upload cannot reach the encoder */
        {{"MEDIAGATE_MUX_TOKEN_ID", "a", "MEDIAGATE_MUX_TOKEN_SECRET", "b",
          "MEDIAGATE_UPLOADS_DIR", "/srv/up"},
         {"MEDIAGATE_PUBLIC_URL is empty: the mux encoder gets no notification URL; its jobs end "
          "only by the reconciler (MEDIAGATE_RECONCILE_AFTER, 900 s after their last event)",
          "with MEDIAGATE_PUBLIC_URL empty, each upload whose profile names mux fails"}},
        /* a notification URL, but its secret is empty */
        {{"MEDIAGATE_ZENCODER_API_KEY", "zk", "MEDIAGATE_ZENCODER_DESTINATION", "s3://b/p/",
          "MEDIAGATE_PUBLIC_URL", "https://media.example.com", "MEDIAGATE_UPLOADS_DIR", "/srv/up"},
         {"MEDIAGATE_ZENCODER_SECRET is empty: the zencoder encoder's notifications are refused",
          "with MEDIAGATE_MEDIA_SIGNING_SECRET empty, each upload whose profile names zencoder "
          "fails"}},
        /* everything set, or no cloud encoder: nothing to say */
        {{"MEDIAGATE_ZENCODER_API_KEY", "zk", "MEDIAGATE_ZENCODER_DESTINATION", "s3://b/p/",
          "MEDIAGATE_PUBLIC_URL", "https://media.example.com", "MEDIAGATE_ZENCODER_SECRET",
          "zencoder-secret-0123456789", "MEDIAGATE_MEDIA_SIGNING_SECRET",
          "media-signing-0123456789"},
         {0}},
        {{"MEDIAGATE_UPLOADS_DIR", "/srv/up", "MEDIAGATE_MEDIA_SIGNING_SECRET",
          "media-signing-0123456789"},
         {0}},
        /* local storage, unsigned: the packaged defaults, nothing to say
         * here (serve logs config_media_notice at start) */
        {{"MEDIAGATE_UPLOADS_DIR", "/srv/up"}, {0}},
        {{"MEDIAGATE_STORAGE", "s3", "MEDIAGATE_STORAGE_BUCKET", "media",
          "MEDIAGATE_STORAGE_ENDPOINT", "http://127.0.0.1:9000"},
         {0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *env[16] = {0};
        size_t k = 0;
        for (; cases[i].env[k]; k++)
            env[k] = cases[i].env[k];
        env[k++] = "MEDIAGATE_DATABASE_URL";
        env[k] = DB;
        config c;
        cfg_errors e = {0};
        notices[0] = '\0';
        CHECK(load(&c, NULL, env, &e) == 0);
        dump(&e);
        config_notices(&c, on_notice);
        const char *at = notices;
        size_t n = 0;
        for (; n < 3 && cases[i].want[n]; n++)
            if (at && (at = strstr(at, cases[i].want[n])))
                at += strlen(cases[i].want[n]);
        if (!check_(n ? at != NULL : notices[0] == '\0', __FILE__, __LINE__,
                    "the notices of a case"))
            fprintf(stderr, "  case %zu: got:\n%s", i, notices);
        config_free(&c);
        cfg_errors_free(&e);
    }
}

static int unknown_seen;
static char unknown_near[64];
static void on_unknown(const char *name, const char *near)
{
    unknown_seen++;
    snprintf(unknown_near, sizeof unknown_near, "%s", near ? near : "-");
    (void)name;
}

/* A misspelled MEDIAGATE_* variable is named, with the likely setting. */
static void test_unknown_names(void)
{
    char *env1[] = {"MEDIAGATE_UPLOAD_DIR=/x", "PATH=/bin", "MEDIAGATE_THREADS=4",
                    "MEDIAGATE_CONFIG=/etc/m.conf", NULL};
    CHECK_INT((int)config_unknown_names(env1, on_unknown), 1);
    CHECK_INT(unknown_seen, 1);
    CHECK(strcmp(unknown_near, "MEDIAGATE_UPLOADS_DIR") == 0);
    char *env2[] = {"MEDIAGATE_SOMETHING_ELSE_ENTIRELY=1", NULL};
    CHECK_INT((int)config_unknown_names(env2, on_unknown), 1);
    CHECK(strcmp(unknown_near, "-") == 0);
}

static void test_required(void)
{
    expect_one(NULL, NULL, "MEDIAGATE_DATABASE_URL", "required", __LINE__);
    static const char *const env_empty[] = {"MEDIAGATE_DATABASE_URL", "", NULL};
    expect_one(NULL, env_empty, "MEDIAGATE_DATABASE_URL", "required", __LINE__);
    expect_one("database_url =\n", NULL, "MEDIAGATE_DATABASE_URL", "required", __LINE__);
    expect_one("threads = 4\n", NULL, "MEDIAGATE_DATABASE_URL", "required", __LINE__);
    /* Introspection needs to know which tokens are meant for mediagate. */
    static const char oauth[] = "oauth2_introspection_url = https://as.example/introspect\n"
                                "oauth2_client_id = mediagate\noauth2_client_secret = s\n";
    expect_one(oauth, env_db, "MEDIAGATE_OAUTH2_AUDIENCE is required", "* to accept any", __LINE__);
    char text[512];
    snprintf(text, sizeof text, "%soauth2_audience = ,\n", oauth);
    expect_one(text, env_db, "MEDIAGATE_OAUTH2_AUDIENCE is required", NULL, __LINE__);
    config c;
    snprintf(text, sizeof text, "%soauth2_audience = https://media.example/ urn:mediagate\n", oauth);
    if (expect_ok(&c, text, env_db, __LINE__))
        CHECK_STR(c.oauth2_audience, "https://media.example/ urn:mediagate");
    config_free(&c);
    snprintf(text, sizeof text, "%soauth2_audience = *\n", oauth);
    expect_ok(&c, text, env_db, __LINE__);
    config_free(&c);
}

static void test_many_problems(void)
{
    static const char text[] =
        "# a comment\n"
        "threads = 0\n"
        "backlog = abc\n"
        "prefix = \"video-api/\"\n"
        "allowed_origins = https://ok\\.example\\.com (\n"
        "bogus_setting = 1\n"
        "this line has no equals sign\n"
        "database_url = postgresql://%zz\n"
        "max_body = 99999999999999999999\n"
        "access_log = maybe\n"
        "db_timeout_ms = 99\n";
    /* One substring per expected problem; each names its setting or line. */
    static const char *const want[] = {
        "MEDIAGATE_THREADS",
        "MEDIAGATE_BACKLOG",
        "MEDIAGATE_PREFIX",
        "MEDIAGATE_ALLOWED_ORIGINS",
        "'bogus_setting'",
        "test.conf:7:",
        "MEDIAGATE_DATABASE_URL",
        "MEDIAGATE_MAX_BODY",
        "MEDIAGATE_ACCESS_LOG",
        "MEDIAGATE_DB_TIMEOUT_MS",
    };
    const size_t nwant = sizeof want / sizeof want[0];
    config c;
    cfg_errors e = {0};
    size_t n = load(&c, text, NULL, &e);
    bool ok = CHECK_INT(n, nwant);
    ok &= CHECK_INT(e.n, nwant);
    /* Every problem is reported, each in its own message. */
    for (size_t i = 0; i < nwant; i++) {
        size_t hits = 0;
        for (size_t j = 0; j < e.n; j++)
            hits += strstr(e.msg[j], want[i]) != NULL;
        if (!CHECK_INT(hits, 1)) {
            fprintf(stderr, "  messages naming %s\n", want[i]);
            ok = false;
        }
    }
    CHECK(e.n >= 1 && strstr(e.msg[0], "test.conf:") == e.msg[0]);
    for (size_t j = 0; j < e.n; j++) {
        if (strstr(e.msg[j], "MEDIAGATE_THREADS"))
            CHECK_HAS(e.msg[j], "got 0");
        if (strstr(e.msg[j], "MEDIAGATE_BACKLOG"))
            CHECK_HAS(e.msg[j], "'abc'");
        if (strstr(e.msg[j], "MEDIAGATE_PREFIX"))
            CHECK_HAS(e.msg[j], "'video-api/'");
        if (strstr(e.msg[j], "MEDIAGATE_ALLOWED_ORIGINS"))
            CHECK_HAS(e.msg[j], "'('");
        if (strstr(e.msg[j], "MEDIAGATE_DATABASE_URL"))
            CHECK_HAS(e.msg[j], "%zz");
    }
    if (!ok)
        dump(&e);
    config_free(&c);
    cfg_errors_free(&e);

    /* Problems from the environment are counted with the file's, and errs
     * accumulates across loads. */
    static const char *const env[] = {"MEDIAGATE_THREADS", "abc",
                                      "MEDIAGATE_RETRY_AFTER", "-1",
                                      NULL};
    n = load(&c, "unknown = 1\n", env, &e);
    CHECK_INT(n, 4);
    config_free(&c);
    n = load(&c, NULL, env_db, &e);
    CHECK_INT(n, 0);
    CHECK_INT(e.n, 4);
    config_free(&c);
    cfg_errors_free(&e);
    CHECK(e.msg == NULL && e.n == 0);
}

static void test_env_overrides_file(void)
{
    static const char *const env[] = {"MEDIAGATE_DATABASE_URL", DB,
                                      "MEDIAGATE_THREADS", "8",
                                      "MEDIAGATE_ACCESS_LOG", "off",
                                      "threads", "99", /* only full names */
                                      NULL};
    config c;
    if (expect_ok(&c, "threads = 4\nbacklog = 10\naccess_log = on\n"
                      "database_url = host=/nowhere\n",
                  env, __LINE__)) {
        CHECK_INT(c.threads, 8);
        CHECK_INT(c.backlog, 10);
        CHECK(!c.access_log);
        CHECK_STR(c.database_url, DB);
    }
    config_free(&c);

    /* A bad file value overridden by a good env value is no problem. */
    static const char *const env2[] = {"MEDIAGATE_DATABASE_URL", DB,
                                       "MEDIAGATE_THREADS", "2", NULL};
    if (expect_ok(&c, "threads = lots\n", env2, __LINE__))
        CHECK_INT(c.threads, 2);
    config_free(&c);
}

static void test_file_format(void)
{
    config c;
    if (expect_ok(&c,
                  "# mediagate.conf\n"
                  "\n"
                  "   \t\n"
                  "   # an indented comment = with an equals sign\n"
                  "database_url = " DB "\n"
                  "threads = 4\n"
                  "MEDIAGATE_BACKLOG=77\n"
                  "\tMax_Body\t=\t1000 \n"
                  "prefix = \"/video-api\"\n"
                  "allowed_origins = 'https://app\\.example\\.com http://localhost:[0-9]+'\n"
                  "retry_after = 5\r\n"
                  "access_log = NO\n"
                  "socket = \"/run/mediagate/sock\"\n"
                  "cache_max_age = 30",
                  NULL, __LINE__)) {
        CHECK_STR(c.database_url, DB);
        CHECK_INT(c.threads, 4);
        CHECK_INT(c.backlog, 77);
        CHECK_INT(c.max_body, 1000);
        CHECK_STR(c.prefix, "/video-api");
        CHECK_STR(c.allowed_origins, "https://app\\.example\\.com http://localhost:[0-9]+");
        CHECK_INT(c.origins.n, 2);
        CHECK(cors_allowed(&c.origins, "https://app.example.com", 23));
        CHECK(cors_allowed(&c.origins, "http://localhost:8080", 21));
        CHECK_INT(c.retry_after, 5);
        CHECK(!c.access_log);
        CHECK_STR(c.socket, "/run/mediagate/sock");
        CHECK_INT(c.cache_max_age, 30);
    }
    config_free(&c);

    /* Both spellings of a key; the later line wins. */
    if (expect_ok(&c, "MEDIAGATE_THREADS = 4\nthreads = 6\n", env_db, __LINE__))
        CHECK_INT(c.threads, 6);
    config_free(&c);
    if (expect_ok(&c, "threads = 6\nMEDIAGATE_THREADS = 4\n", env_db, __LINE__))
        CHECK_INT(c.threads, 4);
    config_free(&c);

    /* Mismatched quotes are kept as they are. */
    if (expect_ok(&c, "socket = \"/tmp/s'\n", env_db, __LINE__))
        CHECK_STR(c.socket, "\"/tmp/s'");
    config_free(&c);

    /* The full name is case-sensitive; a prefixed short name is unknown. */
    expect_one("mediagate_threads = 4\n", env_db, "'mediagate_threads'", "test.conf:1:",
               __LINE__);
    expect_one("\n\nno equals here\n", env_db, "test.conf:3:", NULL, __LINE__);
    expect_one(" = 4\n", env_db, "test.conf:1:", "unknown", __LINE__);
    /* A NUL byte inside a line is reported with its line number. */
    {
        static const char nul[] = "threads = 4\nbacklog = 1\0" "0\n";
        cfg_errors e = {0};
        fake_env = env_db;
        size_t n = config_load_buf(&c, nul, sizeof nul - 1, "nul.conf", fake_getenv, &e);
        if (!CHECK(n == 1 && e.n == 1 && strstr(e.msg[0], "nul.conf:2:")))
            dump(&e);
        config_free(&c);
        cfg_errors_free(&e);
    }
}

static void test_values(void)
{
    config c;
    static const char *const t1024[] = {"MEDIAGATE_DATABASE_URL", DB,
                                        "MEDIAGATE_THREADS", "1024", NULL};
    if (expect_ok(&c, NULL, t1024, __LINE__))
        CHECK_INT(c.threads, 1024);
    config_free(&c);

    expect_one("threads = 1025\n", env_db, "MEDIAGATE_THREADS", "1024", __LINE__);
    expect_one("threads = -1\n", env_db, "MEDIAGATE_THREADS", NULL, __LINE__);
    expect_one("threads = 4x\n", env_db, "MEDIAGATE_THREADS", "'4x'", __LINE__);
    expect_one("threads = 0x10\n", env_db, "MEDIAGATE_THREADS", NULL, __LINE__);
    expect_one("threads = 4.0\n", env_db, "MEDIAGATE_THREADS", NULL, __LINE__);
    expect_one("threads = --4\n", env_db, "MEDIAGATE_THREADS", NULL, __LINE__);
    expect_one("threads = \"\"\n", env_db, "MEDIAGATE_THREADS", NULL, __LINE__);
    static const char *const env_sp[] = {"MEDIAGATE_DATABASE_URL", DB,
                                         "MEDIAGATE_THREADS", " 4", NULL};
    expect_one(NULL, env_sp, "MEDIAGATE_THREADS", NULL, __LINE__);
    expect_one("max_body = 16777217\n", env_db, "MEDIAGATE_MAX_BODY", NULL, __LINE__);
    expect_one("access_log = 2\n", env_db, "MEDIAGATE_ACCESS_LOG", "'2'", __LINE__);

    static const char *bools[] = {"1", "on", "TRUE", "Yes", "0", "off", "False", "NO"};
    for (size_t i = 0; i < 8; i++) {
        char line[64];
        snprintf(line, sizeof line, "access_log = %s\n", bools[i]);
        if (expect_ok(&c, line, env_db, __LINE__))
            CHECK(c.access_log == (i < 4));
        config_free(&c);
    }

    static const char *good_prefix[] = {"/video-api", "/a", "/a/b_c.d~e-1"};
    for (size_t i = 0; i < 3; i++) {
        char line[64];
        snprintf(line, sizeof line, "prefix = %s\n", good_prefix[i]);
        if (expect_ok(&c, line, env_db, __LINE__))
            CHECK_STR(c.prefix, good_prefix[i]);
        config_free(&c);
    }
    static const char *bad_prefix[] = {"video-api/", "video-api", "/video-api/", "/",
                                       "/a//b", "/a/../b", "/a b", "/a?b", "/a%2Fb"};
    for (size_t i = 0; i < sizeof bad_prefix / sizeof bad_prefix[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "prefix = \"%s\"\n", bad_prefix[i]);
        expect_one(line, env_db, "MEDIAGATE_PREFIX", bad_prefix[i], __LINE__);
    }

    expect_one("database_url = host\n", NULL, "MEDIAGATE_DATABASE_URL", "\"=\"", __LINE__);
    expect_one("database_url = postgresql://%zz\n", NULL, "MEDIAGATE_DATABASE_URL", "%zz",
               __LINE__);
    expect_one("database_url = bogus=1\n", NULL, "MEDIAGATE_DATABASE_URL", "bogus",
               __LINE__);
    expect_one("database_url = host='x\n", NULL, "MEDIAGATE_DATABASE_URL", NULL, __LINE__);
    if (expect_ok(&c, "database_url = host=/run/postgresql dbname=media\n", NULL, __LINE__))
        CHECK_STR(c.database_url, "host=/run/postgresql dbname=media");
    config_free(&c);

    char longsock[160];
    memset(longsock, 's', sizeof longsock);
    memcpy(longsock, "socket = /", 10);
    longsock[sizeof longsock - 2] = '\n';
    longsock[sizeof longsock - 1] = '\0';
    expect_one(longsock, env_db, "MEDIAGATE_SOCKET", NULL, __LINE__);
    expect_one("socket_group = no-such-group-mediagate-test\n", env_db,
               "MEDIAGATE_SOCKET_GROUP", "no-such-group-mediagate-test", __LINE__);

    expect_one("allowed_origins = [z-a]\n", env_db, "MEDIAGATE_ALLOWED_ORIGINS", "[z-a]",
               __LINE__);

    /* A multi-line environment value (a YAML block, say) is a list too. */
    static const char *const env_nl[] = {
        "MEDIAGATE_DATABASE_URL", DB, "MEDIAGATE_ALLOWED_ORIGINS",
        "https://a\\.example\\.com\nhttps://b\\.example\\.com\n", NULL};
    if (expect_ok(&c, NULL, env_nl, __LINE__)) {
        CHECK_INT(c.origins.n, 2);
        CHECK(cors_allowed(&c.origins, "https://b.example.com", 21));
    }
    config_free(&c);
    /* So is a file value with a stray CR between patterns. */
    if (expect_ok(&c, "allowed_origins = https://a\\.example\\.com\rhttps://b\\.example\\.com\n",
                  env_db, __LINE__))
        CHECK_INT(c.origins.n, 2);
    config_free(&c);
}

static void test_load_path(void)
{
    config c;
    cfg_errors e = {0};
    fake_env = env_db;
    size_t n = config_load(&c, "/nonexistent/mediagate-test.conf", fake_getenv, &e);
    if (!CHECK(n == 1 && e.n == 1 && strstr(e.msg[0], "/nonexistent/mediagate-test.conf")))
        dump(&e);
    config_free(&c);
    cfg_errors_free(&e);

    char path[] = "/tmp/mediagate-test-XXXXXX";
    int fd = mkstemp(path);
    if (!CHECK(fd >= 0))
        return;
    static const char text[] = "threads = 3\nbogus\n";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    n = config_load(&c, path, fake_getenv, &e);
    CHECK_INT(n, 1);
    CHECK_INT(c.threads, 3);
    char where[64];
    snprintf(where, sizeof where, "%s:2:", path);
    if (!CHECK(e.n == 1 && strstr(e.msg[0], where)))
        dump(&e);
    config_free(&c);
    cfg_errors_free(&e);
    unlink(path);

    /* No path: defaults and environment only. */
    CHECK_INT(config_load(&c, NULL, fake_getenv, &e), 0);
    CHECK_INT(c.threads, 16);
    config_free(&c);
    cfg_errors_free(&e);
}

/* config_reload: what changed is reported; a restart-only setting keeps
 * the running value; a bad file reports its problems. */
static char reload_seen[512];
static void reload_changed(const cfg_setting *s, bool applied)
{
    size_t n = strlen(reload_seen);
    snprintf(reload_seen + n, sizeof reload_seen - n, "%s%s:%s", n ? " " : "", s->name,
             applied ? "applied" : "restart");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (CHECK(f != NULL)) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_reload(void)
{
    config cur, next;
    cfg_errors e = {0};
    char path[] = "/tmp/mediagate-reload-XXXXXX";
    int fd = mkstemp(path);
    if (!CHECK(fd >= 0))
        return;
    close(fd);
    fake_env = env_db;
    write_file(path, "threads = 3\nallowed_origins = https://a\\.example\nzencoder_secret = 0123456789abcdef\n");
    CHECK_INT(config_load(&cur, path, fake_getenv, &e), 0);
    CHECK(cur.source && strcmp(cur.source, path) == 0);

    write_file(path, "threads = 9\nallowed_origins = https://b\\.example\nzencoder_secret = 0123456789abcdef\n"
                     "log_format = json\n");
    reload_seen[0] = '\0';
    if (!CHECK_INT(config_reload(&cur, &next, path, fake_getenv, &e, reload_changed), 0))
        dump(&e);
    CHECK_STR(reload_seen, "MEDIAGATE_THREADS:restart MEDIAGATE_ALLOWED_ORIGINS:applied "
                           "MEDIAGATE_LOG_FORMAT:applied");
    CHECK_INT(next.threads, 3); /* kept until a restart */
    CHECK_STR(next.allowed_origins, "https://b\\.example");
    CHECK(next.log_json);
    CHECK(cors_allowed(&next.origins, "https://b.example", 17));
    CHECK(!cors_allowed(&next.origins, "https://a.example", 17));
    CHECK_STR(next.zencoder_secret, "0123456789abcdef");
    config_free(&next);

    /* Every problem of a bad file, and no change reported. */
    write_file(path, "threads = lots\nretry_after = -1\n");
    reload_seen[0] = '\0';
    size_t n = config_reload(&cur, &next, path, fake_getenv, &e, reload_changed);
    CHECK_INT(n, 2);
    CHECK_STR(reload_seen, "");
    config_free(&next);
    cfg_errors_free(&e);
    config_free(&cur);
    unlink(path);
}

/* The storage rows: what goes into URLs and signatures is checked; s3
 * needs a bucket; local (the default) needs nothing. */
static void test_storage(void)
{
    static const char *bad[][3] = {
        {"MEDIAGATE_STORAGE", "gcs", "MEDIAGATE_STORAGE must be local or s3"},
        {"MEDIAGATE_STORAGE_BUCKET", "ab", "MEDIAGATE_STORAGE_BUCKET must be a bucket name"},
        {"MEDIAGATE_STORAGE_BUCKET", "My_Bucket", "MEDIAGATE_STORAGE_BUCKET must be"},
        {"MEDIAGATE_STORAGE_BUCKET", "-media", "MEDIAGATE_STORAGE_BUCKET must be"},
        {"MEDIAGATE_STORAGE_BUCKET", "a..b", "MEDIAGATE_STORAGE_BUCKET must be"},
        {"MEDIAGATE_STORAGE_PREFIX", "media", "MEDIAGATE_STORAGE_PREFIX must be"},
        {"MEDIAGATE_STORAGE_PREFIX", "/media/", "MEDIAGATE_STORAGE_PREFIX must be"},
        {"MEDIAGATE_STORAGE_PREFIX", "a//b/", "MEDIAGATE_STORAGE_PREFIX must be"},
        {"MEDIAGATE_STORAGE_PREFIX", "a/../b/", "MEDIAGATE_STORAGE_PREFIX must be"},
        {"MEDIAGATE_STORAGE_PREFIX", "a b/", "MEDIAGATE_STORAGE_PREFIX must be"},
        {"MEDIAGATE_STORAGE_ENDPOINT", "rgw:7480", "MEDIAGATE_STORAGE_ENDPOINT"},
        {"MEDIAGATE_STORAGE_ENDPOINT", "http://rgw:7480/s3", "without a path"},
        {"MEDIAGATE_STORAGE_ENDPOINT", "http://rgw:7480/?x", "without a query"},
        {"MEDIAGATE_STORAGE_REGION", "US East", "MEDIAGATE_STORAGE_REGION must be a region"},
        {"MEDIAGATE_STORAGE_ADDRESSING", "dns", "path or virtual"},
        {"MEDIAGATE_STORAGE_PART_BYTES", "1048576", "MEDIAGATE_STORAGE_PART_BYTES must be between"},
        {"MEDIAGATE_STORAGE_ACCESS_KEY_ID", "AKIA", "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY is "
                                                    "required when"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *const env[] = {"MEDIAGATE_DATABASE_URL", DB, bad[i][0], bad[i][1], NULL};
        expect_one(NULL, env, bad[i][2], NULL, __LINE__);
    }
    /* Virtual addressing on an IP-literal host: <bucket>.<address> resolves nowhere. */
    static const char *const ip_hosts[] = {"http://127.0.0.1:7480", "https://10.0.0.5",
                                           "http://[::1]:7480"};
    for (size_t i = 0; i < sizeof ip_hosts / sizeof ip_hosts[0]; i++) {
        const char *const env[] = {"MEDIAGATE_DATABASE_URL", DB, "MEDIAGATE_STORAGE_ENDPOINT",
                                   ip_hosts[i], "MEDIAGATE_STORAGE_ADDRESSING", "virtual", NULL};
        expect_one(NULL, env, "MEDIAGATE_STORAGE_ADDRESSING is virtual", NULL, __LINE__);
    }
    const char *const s3_only[] = {"MEDIAGATE_DATABASE_URL", DB, "MEDIAGATE_STORAGE", "s3", NULL};
    expect_one(NULL, s3_only, "MEDIAGATE_STORAGE_BUCKET is required when MEDIAGATE_STORAGE is s3",
               NULL, __LINE__);
    config c;
    if (expect_ok(&c, NULL, env_db, __LINE__)) {
        CHECK_STR(c.storage, "local");
        CHECK_STR(c.storage_addressing, "path");
        CHECK_INT(c.storage_part_bytes, 64L << 20);
    }
    config_free(&c);
    const char *const ok[] = {"MEDIAGATE_DATABASE_URL", DB, "MEDIAGATE_STORAGE", "s3",
                              "MEDIAGATE_STORAGE_BUCKET", "media.example-1",
                              "MEDIAGATE_STORAGE_PREFIX", "mediagate/v1/",
                              "MEDIAGATE_STORAGE_ENDPOINT", "http://127.0.0.1:7480/",
                              "MEDIAGATE_STORAGE_REGION", "auto", NULL};
    if (expect_ok(&c, NULL, ok, __LINE__))
        CHECK_STR(c.storage_bucket, "media.example-1");
    config_free(&c);
    const char *const virt[] = {"MEDIAGATE_DATABASE_URL", DB, "MEDIAGATE_STORAGE_ENDPOINT",
                                "http://rgw.example.com:7480", "MEDIAGATE_STORAGE_ADDRESSING",
                                "virtual", NULL};
    if (expect_ok(&c, NULL, virt, __LINE__))
        CHECK_STR(c.storage_addressing, "virtual");
    config_free(&c);
}

int main(void)
{
    test_storage();
    test_reload();
    test_table();
    test_defaults();
    test_required();
    test_values_checked();
    test_messages();
    test_notices();
    test_kinds();
    test_unknown_names();
    test_many_problems();
    test_env_overrides_file();
    test_file_format();
    test_values();
    test_load_path();
    return CHECK_DONE("test_config");
}
