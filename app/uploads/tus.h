#ifndef MEDIAGATE_UPLOADS_TUS_H
#define MEDIAGATE_UPLOADS_TUS_H
#include <libpq-fe.h>
#include <stdbool.h>

#include "config.h"
#include "storage/storage.h"

/* Resumable uploads, tus 1.0 (handlers/tus.c, sql/032_tus.sql): how the
 * bytes of an upload in flight are kept, one row per storage. The handler
 * owns the protocol and the database (offset, state); a row owns the bytes.
 * A chunk reaches a row spooled to a file and already checked (its
 * checksum, its offset, the length); when append returns STORE_OK the bytes
 * are durable (fsync'd; or the store's part upload and tail object written)
 * and the handler records the new state; otherwise nothing of the chunk
 * counts and the upload is as before. */

/* A tus upload in flight, as the database holds it. */
typedef struct tus_upload {
    char id[37];            /* the upload id (uuid) */
    char name[129];         /* its file name */
    char key[300];          /* uploads/<id>/<name> */
    long long length;       /* Upload-Length */
    long long offset;       /* bytes durable so far */
    /* s3: the multipart upload, the parts it holds (1..parts, each at
     * least 5 MiB but the last), and the bytes after them kept in a tail
     * object (tail_key "": none) until a part's worth has come. */
    char multipart_id[1025];
    int parts;
    char tail_key[300];
    long long tail_bytes;
} tus_upload;

typedef struct tus_storage {
    const char *name; /* "local" or "s3": the uploads row's storage */
    /* Creation: makes room for u (local: its directory and an empty
     * partial file; s3: the multipart upload, u->multipart_id set). */
    store_status (*begin)(const config *cfg, store *s, tus_upload *u);
    /* Appends the len bytes of the file fd (at its start) at u->offset;
     * STORE_OK: durable, *u updated (offset, parts, tail); else *u as it
     * was and nothing of them kept. */
    store_status (*append)(const config *cfg, store *s, tus_upload *u, int fd, long long len);
    /* The last byte is in (offset == length): the file at its final
     * place, the key (local: renamed into MEDIAGATE_UPLOADS_DIR/<id>/<name>;
     * s3: the tail as the last part, the multipart upload completed);
     * meta gets its size and ETag. Repeatable after a crash. */
    store_status (*finish)(const config *cfg, store *s, tus_upload *u, store_object *meta);
    /* Termination or expiry: removes whatever u holds (absent: STORE_OK). */
    store_status (*discard)(const config *cfg, store *s, const tus_upload *u);
} tus_storage;

/* The columns of uploads a tus_upload is read from, in this order, first
 * in a statement's result (STMT_TUS_GET, W_UPLOAD_TUS). */
#define TUS_UPLOAD_COLS                                                                        \
    "id, name, coalesce(tus_length, 0), tus_offset, coalesce(multipart_id, ''), tus_parts, " \
    "coalesce(tus_tail_key, ''), tus_tail_bytes"

/* Fills *u from row i of res (TUS_UPLOAD_COLS first). */
void tus_upload_from_row(tus_upload *u, const PGresult *res, int i);

/* The row for cfg's storage. */
const tus_storage *tus_storage_for(const config *cfg);

extern const tus_storage tus_storage_local; /* app/uploads/tus_local.c */
extern const tus_storage tus_storage_s3;    /* app/uploads/tus_s3.c */

#endif
