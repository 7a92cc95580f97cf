#ifndef MEDIAGATE_HANDLERS_UPLOAD_URL_H
#define MEDIAGATE_HANDLERS_UPLOAD_URL_H
#include "request.h"
#include "uploads/target.h"

/* Upload by URL (handlers/upload_url.c): POST /uploads (or POST
 * /media/jobs) with url=: mediagate fetches the file itself (the
 * upload.fetch task, app/worker/fetch.c) into its own storage, then
 * encodes it as any upload. */

/* Called by POST /uploads once the slot s (for target t) is parsed:
 * returns 0 when the request has no url= (the target makes its slot as
 * usual), else the status it replied: 201 with the slot, its job and its
 * fetch task made in one transaction, or a refusal. */
int upload_url_take(request *r, const upload_target *t, const upload_slot *s);

/* Called by POST /media/jobs with its input_url and file_id: returns 0
 * when the request has no url=, else the status replied (400 when it has
 * input_url or file_id too; else as POST /uploads with url=). */
int upload_url_job(request *r, const char *input_url, const char *file_id);

/* A slot's file name from what the client asked (handlers/uploads.c):
 * [A-Za-z0-9._-] kept, anything else '_', no leading dot, at most 128
 * bytes; "upload" when empty. Arena memory, or NULL when out of memory. */
char *slot_name(request *r, const char *want);

#endif
