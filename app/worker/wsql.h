#ifndef MEDIAGATE_WORKER_WSQL_H
#define MEDIAGATE_WORKER_WSQL_H
#include "db.h"

/* Every SQL statement of the worker (and of submit), prepared once per
 * connection through the db layer, like the request path's enum stmt. */
enum wstmt {
    W_CLAIM,
    W_BEAT,
    W_FINISH,
    W_SNOOZE,
    W_REAP,
    W_KIND_SYNC,
    W_SETTLE,
    W_ARCHIVED,
    W_SUBMIT,
    W_UPLOAD_EXPIRE,
    W_WH_LOAD,
    W_WH_RECORD,
    W_MIRROR_PUT,
    W_JOB_PLAYBACK,
    W_ENC_JOB,
    W_ENC_STORAGE,
    W_ENC_POLLED,
    W_ENC_RUNNING,
    W_ENC_TRY,
    W_JW_WRITE_READ,
    W_JW_WRITE_SENT,
    W_JW_LOCK,
    W_JW_UNLOCK,
    W_JW_DISCARD_READ,
    W_JW_DISCARD_DONE,
    W_UPLOAD_PLATFORM,
    W_JW_UPLOAD_LAPSE,
    W_JW_UPLOAD_DISCARDED,
    W_FETCH_UPLOAD,
    W_FETCH_STORED,
    W_UPLOAD_TUS,
    W_KEY_PUT,
    W_THUMB_JOB,
    W_THUMB_KEY,
    W_THUMB_MADE,
    W_THUMB_FAILED,
    W_CAP_JOB,
    W_CAP_LIST,
    W_CAP_PUBLISHED,
    W_CAP_PURGE,
    W_CAP_LOCK,
    W_CAP_UNLOCK,
    W_CAP_KEY,
    W_JOB_DELETE_READ,
    W_JOB_DELETE_KEYS,
    W_JOB_DELETE_DONE,
    W_JOBS_PURGE,
    W_PERIODIC,
    W__COUNT
};

extern const stmt_def worker_stmts[W__COUNT];
_Static_assert(W__COUNT <= DB_MAX_STMTS, "the db layer tracks at most DB_MAX_STMTS statements");

/* A connection of the worker role. */
void wsql_init(db *d, const struct config *cfg);

#endif
