/* app/providers/oauth2.c and lookup.c: which introspection answers make a
 * caller (token type, audience, exp/nbf/iat as RFC 7519 NumericDates,
 * identity claims that are ACL ids with no NUL inside), and which people
 * directory answers are taken. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "providers/lookup.h"
#include "providers/oauth2.h"

#define NOW 1760000000L
#define MEDIA "https://media.example/"

static config cfg;

/* Parses an introspection answer made of the common claims and extra
 * (JSON members, with a leading comma, or ""). */
static oauth2_identity parse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static oauth2_identity parse(const char *fmt, ...)
{
    char extra[1024], buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(extra, sizeof extra, fmt, ap);
    va_end(ap);
    snprintf(buf, sizeof buf, "{\"active\": true%s}", extra);
    oauth2_identity id;
    if (!CHECK_INT(oauth2_parse(&cfg, buf, strlen(buf), NOW, &id), 0))
        fprintf(stderr, "  %s\n", buf);
    return id;
}

#define GOOD ", \"token_type\": \"Bearer\", \"aud\": \"" MEDIA "\", \"sub\": \"alice\""

/* A refusal with its reason (reason NULL: plain "not active"). */
static void refused(oauth2_identity id, const char *reason, int line)
{
    bool ok = CHECK(!id.active);
    ok &= CHECK(id.user[0] == '\0' && id.ngroups == 0 && id.ninsts == 0);
    if (!reason)
        ok &= CHECK(id.refused == NULL);
    else if ((ok &= CHECK(id.refused != NULL)))
        ok &= CHECK_HAS(id.refused, reason);
    if (!ok)
        fprintf(stderr, "  the case at line %d\n", line);
}
#define REFUSED(id, reason) refused((id), (reason), __LINE__)

static void token_type_and_audience(void)
{
    oauth2_identity id = parse(GOOD ", \"groups\": [\"staff\", \"101888\"], \"institutions\": \"UIS\"");
    CHECK(id.active && id.refused == NULL);
    CHECK_STR(id.user, "alice");
    CHECK_INT(id.ngroups, 2);
    CHECK_STR(id.groups[1], "101888");
    CHECK_INT(id.ninsts, 1);
    CHECK_STR(id.insts[0], "UIS");
    CHECK_INT(id.until, NOW + 300);
    /* RFC 6749 7.1: the type is compared without regard to case. */
    CHECK(parse(GOOD ", \"token_type\": \"bearer\"").active);
    /* oidc-provider reports no token_type for a refresh token. */
    REFUSED(parse(", \"aud\": \"" MEDIA "\", \"sub\": \"alice\""), "not an access token");
    REFUSED(parse(GOOD ", \"token_type\": \"refresh_token\""), "not an access token");
    REFUSED(parse(GOOD ", \"token_type\": \"DPoP\""), "not an access token");
    REFUSED(parse(GOOD ", \"token_type\": \"Bearer\\u0000x\""), "not an access token");
    REFUSED(parse(GOOD ", \"token_type\": [\"Bearer\"]"), "not an access token");
    REFUSED(parse(GOOD ", \"token_use\": \"refresh_token\""), "not an access token");  /* Hydra */
    CHECK(parse(GOOD ", \"token_use\": \"access_token\"").active);
    REFUSED(parse(GOOD ", \"typ\": \"Refresh\""), "not an access token");              /* Keycloak */
    CHECK(parse(GOOD ", \"typ\": \"Bearer\"").active);
    /* Another API's token at the same server, or none named. */
    REFUSED(parse(GOOD ", \"aud\": \"https://other-api.example/\""), "not meant for this service");
    REFUSED(parse(", \"token_type\": \"Bearer\", \"sub\": \"alice\""), "not meant for this service");
    REFUSED(parse(GOOD ", \"aud\": [\"https://other-api.example/\", 7]"), "not meant for this service");
    REFUSED(parse(GOOD ", \"aud\": \"https://media.example/\\u0000\""), "not meant for this service");
    REFUSED(parse(GOOD ", \"aud\": \"https://media.example\""), "not meant for this service");
    CHECK(parse(GOOD ", \"aud\": [\"https://other-api.example/\", \"" MEDIA "\"]").active);
    cfg.oauth2_audience = "urn:a, " MEDIA;
    CHECK(parse(GOOD).active);
    cfg.oauth2_audience = "*";
    CHECK(parse(", \"token_type\": \"Bearer\", \"sub\": \"alice\"").active);
    CHECK(parse(GOOD ", \"aud\": \"https://other-api.example/\"").active);
    /* Any audience is no reason to take a refresh token. */
    REFUSED(parse(", \"sub\": \"alice\""), "not an access token");
    cfg.oauth2_audience = MEDIA;
    REFUSED(parse(", \"token_type\": \"Bearer\", \"aud\": \"" MEDIA "\""), "names no user");
}

static void identity_claims(void)
{
    const char *bad[] = {
        ", \"sub\": \"alice\\u0000@evil.example\"",
        ", \"sub\": \"alice bob\"",
        ", \"sub\": \"\"",
        ", \"sub\": \"al\\nice\"",
        ", \"sub\": 42",
        (", \"sub\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""), /* 129 bytes */
        ", \"groups\": [\"101888\", \"staff\\u0000-interns\"]",
        ", \"groups\": \"staff\\u0000-interns\"",
        ", \"groups\": [\"staff\", 7]",
        ", \"groups\": {\"id\": \"staff\"}",
        ", \"institutions\": [\"UIS\\u0000\"]",
        ", \"institutions\": [\"U I S\"]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char extra[512];
        snprintf(extra, sizeof extra, "%s%s", GOOD, bad[i]);
        oauth2_identity id = parse("%s", extra);
        if (!CHECK(!id.active && id.refused && strstr(id.refused, "are not ids")))
            fprintf(stderr, "  %s\n", bad[i]);
    }
    /* 128 bytes is the longest id. */
    oauth2_identity id = parse(GOOD ", \"sub\": \"%0128d\", \"groups\": null", 0);
    CHECK(id.active && strlen(id.user) == 128 && id.ngroups == 0);
    CHECK(parse(GOOD ", \"sub\": \"a.b_c@d-e.example\"").active);
    cfg.oauth2_user_claim = "user";
    CHECK_STR(parse(GOOD ", \"user\": \"bob\"").user, "bob");
    REFUSED(parse(GOOD ", \"user\": \"bob\\u0000x\""), "are not ids");
    cfg.oauth2_user_claim = "sub";
}

static void times(void)
{
    /* RFC 7519 section 2: a NumericDate may have a fraction. */
    REFUSED(parse(GOOD ", \"exp\": %ld.5", NOW - 3600), NULL);
    REFUSED(parse(GOOD ", \"exp\": %ld.0", NOW), NULL);
    REFUSED(parse(GOOD ", \"exp\": %ld", NOW), NULL);
    REFUSED(parse(GOOD ", \"exp\": %ld.5", NOW), NULL); /* now may be later in this second */
    REFUSED(parse(GOOD ", \"exp\": %lde0", NOW - 1), NULL);
    REFUSED(parse(GOOD ", \"exp\": -1.5"), NULL);
    /* Anything else is no NumericDate: not active. */
    REFUSED(parse(GOOD ", \"exp\": \"%ld\"", NOW + 3600), "not a NumericDate");
    REFUSED(parse(GOOD ", \"exp\": null"), "not a NumericDate");
    REFUSED(parse(GOOD ", \"exp\": true"), "not a NumericDate");
    REFUSED(parse(GOOD ", \"exp\": [%ld]", NOW + 3600), "not a NumericDate");
    REFUSED(parse(GOOD ", \"nbf\": \"0\""), "not a NumericDate");
    REFUSED(parse(GOOD ", \"iat\": {}"), "not a NumericDate");
    /* The answer, and so its cached copy, ends by exp. */
    oauth2_identity id = parse(GOOD ", \"exp\": %ld", NOW + 1);
    CHECK(id.active && id.until == NOW + 1);
    id = parse(GOOD ", \"exp\": %ld.75", NOW + 10);
    CHECK(id.active && id.until == NOW + 10);
    id = parse(GOOD ", \"exp\": %ld.75e0", NOW + 10);
    CHECK(id.active && id.until == NOW + 10);
    id = parse(GOOD ", \"exp\": 1e300");
    CHECK(id.active && id.until == NOW + 300);
    id = parse(GOOD ", \"exp\": %ld", NOW + 86400);
    CHECK(id.active && id.until == NOW + 300);
    /* Not valid yet, or issued in the future, past the leeway. */
    REFUSED(parse(GOOD ", \"nbf\": %ld", NOW + 3600), NULL);
    REFUSED(parse(GOOD ", \"iat\": %ld.5", NOW + OAUTH2_LEEWAY), NULL);
    CHECK(parse(GOOD ", \"nbf\": %ld, \"iat\": %ld.5", NOW + 30, NOW - 10).active);
}

static void answers(void)
{
    oauth2_identity id;
    CHECK_INT(oauth2_parse(&cfg, "{\"active\": false}", 17, NOW, &id), 0);
    CHECK(!id.active && !id.refused);
    CHECK_INT(oauth2_parse(&cfg, "{\"active\": \"true\"}", 18, NOW, &id), -1);
    CHECK_INT(oauth2_parse(&cfg, "[]", 2, NOW, &id), -1);
}

static void directory(void)
{
    oauth2_identity id;
    static const char good[] = "{\"groups\": [{\"groupid\": \"101888\"}, \"readers\", {\"name\": \"x\"}],"
                               " \"institutions\": [{\"instid\": \"UIS\"}]}";
    memset(&id, 0, sizeof id);
    CHECK_INT(lookup_parse(good, strlen(good), &id), 0);
    CHECK_INT(id.ngroups, 2);
    CHECK_STR(id.groups[0], "101888");
    CHECK_STR(id.groups[1], "readers");
    CHECK_INT(id.ninsts, 1);
    CHECK_STR(id.insts[0], "UIS");
    static const char *const bad[] = {
        "{\"groups\": [\"staff\\u0000-interns\"]}",
        "{\"groups\": [{\"groupid\": \"staff\\u0000-interns\"}]}",
        "{\"groups\": [\"readers\"], \"institutions\": [{\"instid\": \"U\\u0000IS\"}]}",
        "{\"groups\": [\"two words\"]}",
        "{\"groups\": [\"\"]}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&id, 0, sizeof id);
        if (!CHECK_INT(lookup_parse(bad[i], strlen(bad[i]), &id), -1) ||
            !CHECK(id.ngroups == 0 && id.ninsts == 0))
            fprintf(stderr, "  %s\n", bad[i]);
    }
}

int main(void)
{
    cfg.oauth2_user_claim = "sub";
    cfg.oauth2_audience = MEDIA;
    cfg.oauth2_cache_seconds = 300;
    token_type_and_audience();
    identity_claims();
    times();
    answers();
    directory();
    return CHECK_DONE("oauth2");
}
