#ifndef MEDIAGATE_ACL_H
#define MEDIAGATE_ACL_H
#include <stdbool.h>
#include <stddef.h>

/* Who may see a video or a job. An ACL is a list of entries, written
 * "acl:E1,E2,...:" in a JW Platform video's custom property sms_acl, and
 * "E1,E2" on a local job (jobs.acl); none at all means WORLD.
 *   WORLD        anyone, signed in or not
 *   CAM          any authenticated caller
 *   USER_<id>    that user
 *   GROUP_<id>   members of that group
 *   INST_<id>    members of that institution
 * An <id> is 1 to 128 of [A-Za-z0-9._@-]. Unknown or malformed entries
 * grant nothing. */

#define ACL_ID_MAX 128

/* True when id[0..len) is an <id> as above: 1 to ACL_ID_MAX bytes of
 * [A-Za-z0-9._@-], so no NUL, space or control byte. */
bool acl_id_ok(const char *id, size_t len);

typedef struct caller {
    bool authenticated;
    const char *kind;           /* "anonymous", "apikey", "session", "remote_user",
                                 * "oauth2" */
    const char *user;           /* NULL when anonymous */
    const char *const *groups;  /* the user's groups and institutions */
    size_t ngroups;
    const char *const *insts;
    size_t ninsts;
    const char *owner;          /* what the caller's streams, uploads and jobs are
                                 * owned by: "key:<id>" or "user:<name>"; NULL for
                                 * an OAuth2 caller or anonymous (caller.h) */
    const char *expires_at;     /* a console session's expiry (RFC 3339); NULL
                                 * for every other credential */
} caller;

/* True when the ACL text admits c. acl NULL admits everyone (WORLD).
 * Counts the entries that are neither known nor well formed in *bad
 * (may be NULL). */
bool acl_admits(const char *acl, const caller *c, int *bad);

/* Checks and normalizes an ACL given by an operator or an uploader
 * ("USER_a, GROUP_b" or "acl:USER_a,GROUP_b:") into out as "USER_a,GROUP_b".
 * Returns 0; -1 with a reason in err for an empty list or any bad entry. */
int acl_normalize(const char *in, char *out, size_t cap, char *err, size_t errcap);

#endif
