#ifndef MEDIAGATE_JOB_JSON_H
#define MEDIAGATE_JOB_JSON_H
#include <json-c/json.h>
#include <libpq-fe.h>

#include "request.h"

/* The columns of a job as /media/status and the library read it: db.c's
 * JOB_ITEM_COLS, in this order (STMT_JOB_STATUS, STMT_JOB_LIST). */
enum job_col {
    JC_STATUS, JC_PROGRESS, JC_DURATION, JC_WIDTH, JC_HEIGHT, JC_OUTPUT, JC_PLAYLISTS,
    JC_ERR_CODE, JC_ERR_MSG, JC_VARIATIONS, JC_ACL, JC_BACKEND, JC_BACKEND_JOB, JC_STORAGE,
    JC_EXTRAS,
    JC_ID, JC_NAME, JC_CREATED, JC_UPDATED, JC_OWNER, JC_CREATED_US, JC_DELETED,
    JC__COUNT
};

/* Adds to o what /media/status answers for the job in row `row` of res
 * (JOB_ITEM_COLS), "success" aside: job_status, progress_rate and, as its
 * status has them, the results (output_path signed as app/playback.h and
 * app/urlsign.h say), the player outputs or the error. */
void job_status_add(request *r, json_object *o, const PGresult *res, int row);

/* The library's item for that row: job_status_add's fields plus job_id,
 * name, backend, created_at, updated_at, mine (the caller owns it) and,
 * for its owner only, acl (null: WORLD). A new object the caller owns. */
json_object *job_item_json(request *r, const PGresult *res, int row);

#endif
