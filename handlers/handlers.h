#ifndef MEDIAGATE_HANDLERS_H
#define MEDIAGATE_HANDLERS_H
#include "request.h"

/* One function per route; each returns an HTTP status and sets r->out.
 * The router has set r->caller from the row's credential (caller.h). */
int handle_media_job_id(request *r);
int handle_media_status(request *r);
int handle_media_jobs(request *r);
int handle_media_hls(request *r); /* a private job's playlists from the bucket */
int handle_media_key(request *r); /* an encrypted job's HLS key, to callers its ACL admits */
int handle_media_thumbnail(request *r); /* handlers/thumbnail.c */
int handle_captions_put(request *r);    /* handlers/captions.c */
int handle_captions_delete(request *r);
/* the library (handlers/media_list.c, media_job_patch.c, media_job_delete.c) */
int handle_media_list(request *r);       /* GET /media/jobs */
int handle_media_job_get(request *r);    /* GET /media/jobs/<id> */
int handle_media_job_patch(request *r);  /* PATCH /media/jobs/<id>: acl, title */
int handle_media_job_delete(request *r); /* DELETE /media/jobs/<id> */
int handle_media_events(request *r);     /* handlers/media_events.c */
/* handlers/webhooks.c: endpoints, deliveries, redeliver (administrators) */
int handle_webhooks_list(request *r);
int handle_webhook_deliveries(request *r);
int handle_webhook_redeliver(request *r);
/* handlers/session.c: the console's session */
int handle_session_create(request *r);
int handle_session_get(request *r);
int handle_session_delete(request *r);
int handle_stream_list(request *r); /* handlers/stream_list.c */
int handle_notify(request *r); /* handlers/notifications.c: every sender */
int handle_rtmp(request *r);   /* nginx-rtmp's callbacks */
int handle_stream_start(request *r);
int handle_stream_stop(request *r);
int handle_stream_status(request *r);
int handle_stream_upload_auth(request *r);
int handle_uploads_create(request *r);
int handle_uploads_put(request *r);
int handle_uploads_complete(request *r); /* S3 storage: the file is in the bucket */
int handle_healthz(request *r); /* handlers/ops.c */
int handle_readyz(request *r);
int handle_metrics(request *r);
/* handlers/tus.c: resumable uploads (tus 1.0) */
int handle_tus_create(request *r);      /* POST /uploads/tus (API key) */
int handle_tus_create_slot(request *r); /* POST /uploads/tus/<id>?token= */
int handle_tus_head(request *r);
int handle_tus_patch(request *r);
int handle_tus_delete(request *r);
/* handlers/uploads.c, for tus: a slot's file name from the one asked for
 * (arena memory, NULL when out of memory), and whether a media type is
 * one a slot keeps. */
char *upload_name_of(request *r, const char *want);
bool upload_type_ok(const char *type);
/* Whether the caller's API key may upload to the storage's own target
 * (api_keys.targets): 0, or the refusal replied (403, 503). */
int upload_default_target_allowed(request *r);

#endif
