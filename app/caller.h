#ifndef MEDIAGATE_CALLER_H
#define MEDIAGATE_CALLER_H
#include "acl.h"
#include "request.h"

/* Who is asking: the one place that reads a request's credentials. The
 * router sets r->caller from the credential its route row accepts, before
 * the handler runs. The credentials, in their one order:
 *   1. REMOTE_USER, the user the site's auth step vouches for, when
 *      MEDIAGATE_STREAM_AUTH=remote_user trusts it;
 *   2. Authorization: Bearer <credential>, either
 *      - an API key (mediagate key create), looked up by its digest,
 *      - a console session's token ("mgs_…", POST /media/session), looked
 *        up by its digest on the primary: the caller of the API key it was
 *        made from, until it expires, is signed out or the key revoked, or
 *      - an OAuth2 access token, checked by introspection
 *        (MEDIAGATE_OAUTH2_INTROSPECTION_URL), on the routes that show
 *        some things only to some callers. */

/* What a route asks of its caller. */
typedef enum caller_need {
    CALLER_NONE,     /* nothing: no credential is read, the caller is anonymous */
    CALLER_OPTIONAL, /* anyone: anonymous without a credential; REMOTE_USER when
                      * trusted, else an API key ("mgk_…"), a console session
                      * ("mgs_…") or an OAuth2 token (an
                      * unknown token is anonymous when introspection is not set
                      * up); a credential that fails is refused 401 */
    CALLER_OWNER,    /* an owner for streams, uploads and jobs, as
                      * MEDIAGATE_STREAM_AUTH says: REMOTE_USER only when it is
                      * trusted, else an API key or a console session made
                      * from one; c->owner is set */
} caller_need;

/* Fills *c for r as need says (arena memory; *c is reset first). Returns 0,
 * or replies with the refusal and returns its status: 401 for a missing or
 * bad credential, 503 when introspection or the database is unavailable,
 * 500 when memory runs out. */
int caller_identify(request *r, caller_need need, caller *c);

/* The credential of an "Authorization: Bearer <credential>" header (the
 * scheme in any case): the text after "Bearer " and the spaces that
 * follow it (RFC 6750 allows several), or NULL when there is none. *given is set when the header is there and not empty, so NULL with
 * *given is a header of another form (may be NULL). */
const char *caller_bearer(const request *r, bool *given);

/* Fills c's groups and institutions from the people directory
 * (MEDIAGATE_LOOKUP_URL) when c's credential carried none and a user is
 * known. Returns 0, or 503 replied when the directory is down. */
int caller_groups(request *r, caller *c);

/* Sets *ok when c may see a job of owner `owner` (jobs.owner; NULL: none)
 * and ACL acl (NULL: WORLD): the job's owner always, else as acl admits c,
 * asking the people directory (MEDIAGATE_LOOKUP_URL) for c's groups first
 * when the ACL names groups or institutions and c's credential carried
 * none. Every route that reads a job for a caller asks here. Returns 0,
 * or 503 replied when the directory is down. */
int caller_admits(request *r, caller *c, const char *owner, const char *acl, bool *ok);

/* caller_admits's rule with c's groups as they are (no directory asked). */
bool caller_sees(const caller *c, const char *owner, const char *acl);

/* True when c administers the installation: an owner (an API key, the
 * site's REMOTE_USER, a console session) whose user MEDIAGATE_ADMIN_USERS
 * names. Administrators see the webhook endpoints and deliveries and any
 * job's events; they own no one else's jobs. */
bool caller_is_admin(const request *r, const caller *c);

#endif
