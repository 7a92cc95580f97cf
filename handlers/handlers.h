#ifndef MEDIAGATE_HANDLERS_H
#define MEDIAGATE_HANDLERS_H
#include "request.h"

/* One function per route; each returns an HTTP status and sets r->out.
 * The router has set r->caller from the row's credential (caller.h). */
int handle_media_job_id(request *r);
int handle_media_status(request *r);
int handle_media_jobs(request *r);
int handle_media_hls(request *r); /* a private job's playlists from the bucket */
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

#endif
