#ifndef MEDIAGATE_STREAM_H
#define MEDIAGATE_STREAM_H
#include <json-c/json.h>
#include <libpq-fe.h>

#include "hash.h"
#include "request.h"

/* A stream parameter: from the query, else from a form body. NULL when
 * absent. Replies 400/415 and sets *status on a malformed body. */
const char *stream_param(request *r, const char *name, int *status);

/* The acl parameter (who may see a new job: app/acl.h), normalized into
 * buf (cap bytes). Returns 0 with *acl buf, or NULL when there is none (the
 * job is WORLD's); or replies 400 (or as stream_param) and returns that. */
int stream_acl_param(request *r, char *buf, size_t cap, const char **acl);

/* The django-broadcast stream object from a row of STREAM_COLS. */
json_object *stream_object(const PGresult *res, int row);

/* Where stream id plays live, into buf (cap bytes): MEDIAGATE_HLS_URL's
 * playlist when RTMP ingest is on (MEDIAGATE_RTMP_URL), else the playlist
 * the HTTP PUT ingest serves back under MEDIAGATE_UPLOAD_URL. False when
 * neither is configured (or it does not fit). */
bool stream_hls_url(const struct config *cfg, const char *id, char *buf, size_t cap);

/* The stream named by the id parameter, for this caller, through statement
 * stmt (which takes the id and the owner and returns STREAM_COLS). Returns
 * 0 with *res (the caller PQclears it) and r->out = {"stream": {…}}, or
 * replies 400/401/404/5xx and returns that status. */
int stream_by_id(request *r, int stmt, PGresult **res);

/* True when s is one plain file name: 1 to 128 of [A-Za-z0-9._-], not
 * starting with a dot (so no "..", no "/"). */
bool stream_plain_name(const char *s);


#endif
