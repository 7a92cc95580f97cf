#ifndef MEDIAGATE_HANDLERS_H
#define MEDIAGATE_HANDLERS_H
#include "request.h"

/* One function per route; each returns an HTTP status and sets r->out. */
int handle_media_job_id(request *r);
int handle_media_status(request *r);
int handle_media_jobs(request *r);
int handle_notify(request *r); /* handlers/notify/: every sender */
int handle_stream_start(request *r);
int handle_stream_stop(request *r);
int handle_stream_status(request *r);
int handle_stream_upload_auth(request *r);
int handle_uploads_create(request *r);
int handle_uploads_put(request *r);
int handle_healthz(request *r); /* handlers/ops.c */
int handle_readyz(request *r);
int handle_metrics(request *r);

/* Who asks (handlers/caller.c): anonymous when no credential comes;
 * 0 with *c set, or the refusal's status (401 for a bad credential, 503
 * when introspection is unavailable). */
struct caller;
int caller_identify(request *r, struct caller *c);
/* Sets *ok when acl admits c, asking the people directory (MEDIAGATE_LOOKUP_URL)
 * for c's groups first when the ACL names groups or institutions and c's
 * credential carried none. Returns 0, or 503 replied when it is down. */
int caller_admits(request *r, struct caller *c, const char *acl, bool *ok);

/* The caller of an AUTH_CALLER route (handlers/stream.c), for the router:
 * 0 with *owner set, or the refusal's status. */
int stream_caller(request *r, const char **owner);

#endif
