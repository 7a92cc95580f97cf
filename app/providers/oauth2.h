#ifndef MEDIAGATE_OAUTH2_H
#define MEDIAGATE_OAUTH2_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct config;

/* OAuth2 bearer tokens checked by token introspection (RFC 7662) at
 * MEDIAGATE_OAUTH2_INTROSPECTION_URL, with mediagate's client id and secret
 * (HTTP Basic). A token is a credential when the answer says it is active,
 * an access token (token_type Bearer), for an audience in
 * MEDIAGATE_OAUTH2_AUDIENCE, inside its exp/nbf/iat (RFC 7519
 * NumericDates), and its user, groups and institutions are ACL ids.
 * Admitted answers are cached in the process until the token's exp or
 * MEDIAGATE_OAUTH2_CACHE_SECONDS, whichever is sooner; others are not
 * cached. */

#define OAUTH2_MAX_LIST 32
#define OAUTH2_ID_MAX 129 /* ACL_ID_MAX and a NUL */
#define OAUTH2_LEEWAY 60  /* seconds of clock skew allowed for nbf and iat */

struct json_object;

typedef struct oauth2_identity {
    bool active;          /* a credential here */
    const char *refused;  /* when not: why, for the caller (static text); NULL: not active */
    char user[OAUTH2_ID_MAX];                 /* MEDIAGATE_OAUTH2_USER_CLAIM (sub) */
    char groups[OAUTH2_MAX_LIST][OAUTH2_ID_MAX]; /* the "groups" claim */
    int ngroups;
    char insts[OAUTH2_MAX_LIST][OAUTH2_ID_MAX];  /* the "institutions" claim */
    int ninsts;
    time_t until;                             /* cached until */
} oauth2_identity;

enum {
    OAUTH2_OK = 0,
    OAUTH2_UNAVAILABLE = -1, /* the endpoint did not answer, or answered wrong: 503 */
    OAUTH2_BUSY = -2,        /* too many request threads inside introspection: 503 */
};

/* Introspects token, through the cache. Returns OAUTH2_OK with out filled
 * (out->active false for a token the server does not vouch for), or an
 * error above. Safe from any thread. */
int oauth2_introspect(const struct config *cfg, const char *token, oauth2_identity *out);

/* Reads an RFC 7662 answer (JSON) into out; now is the time for exp.
 * Returns 0, or -1 when it is not an introspection answer. */
int oauth2_parse(const struct config *cfg, const char *buf, size_t len, time_t now,
                 oauth2_identity *out);

/* Copies a JSON string that is an ACL id (no NUL inside, see acl.h) into
 * dst. Returns 0, or -1 for anything else. */
int oauth2_copy_id(struct json_object *s, char dst[OAUTH2_ID_MAX]);

/* Logs, at start, a choice an operator should see (any audience admitted). */
void oauth2_notice(const struct config *cfg);

/* Empties the cache (tests; SIGHUP). */
void oauth2_cache_clear(void);

#endif
