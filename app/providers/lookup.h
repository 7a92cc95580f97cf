#ifndef MEDIAGATE_LOOKUP_H
#define MEDIAGATE_LOOKUP_H
#include "providers/oauth2.h"

struct config;

/* A person's groups and institutions from the site's directory, for ACL
 * entries GROUP_<id> and INST_<id> when the caller's credential carries
 * none (an API key, REMOTE_USER, a token without those claims).
 * MEDIAGATE_LOOKUP_URL, with {user} replaced by the percent-encoded user,
 * is fetched with a bearer token of mediagate's own, obtained with the
 * client credentials grant at MEDIAGATE_OAUTH2_TOKEN_URL (cached until it
 * expires). The answer is a JSON object with "groups" and "institutions":
 * arrays of strings, or of objects naming "id" (or Lookup's "groupid" /
 * "instid"). Answers are cached per user for
 * MEDIAGATE_LOOKUP_PEOPLE_CACHE_LIFETIME seconds. */

/* Fills out->groups/insts for user (out->user is set to it). Returns
 * OAUTH2_OK, OAUTH2_UNAVAILABLE (an outage: 503) or OAUTH2_BUSY. An
 * unknown person (404) is OAUTH2_OK with no groups. */
int lookup_person(const struct config *cfg, const char *user, oauth2_identity *out);

/* Reads a directory answer into out. Returns 0, or -1 when it is not a
 * JSON object or names a group or institution that is not an ACL id (a
 * NUL inside, a space, too long: the whole answer is refused). */
int lookup_parse(const char *buf, size_t len, oauth2_identity *out);

#endif
