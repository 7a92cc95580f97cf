#ifndef MEDIAGATE_STORAGE_STORAGE_H
#define MEDIAGATE_STORAGE_STORAGE_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Where media lives: the storage backends' table (app/storage/storage.c),
 * `local` (files under the configured directories, the default) or `s3`
 * (an S3-compatible bucket: AWS S3, Ceph RGW, MinIO, R2).
 *
 * Every object is named by a key relative to the store's root (for s3 the
 * bucket and MEDIAGATE_STORAGE_PREFIX, for local the media directories):
 *   media/<job id>/<file>          a job's published outputs
 *   uploads/<upload id>/<name>     an upload
 *   recordings/<stream id>/<file>  a stream's recordings
 *   live/<stream id>/<file>        HTTP PUT and S3 ingest of a stream
 * A key is 1..1024 bytes of [A-Za-z0-9._/-], never starts with / or ., and
 * has no "//" or "/." (store_key_ok); the backends refuse anything else.
 *
 * A store handle belongs to one thread (a worker slot, a request thread, a
 * command); the config outlives it. */

struct config;

typedef enum store_status {
    STORE_OK = 0,
    STORE_NOT_FOUND,    /* no such key (404), or no such upload id */
    STORE_PRECONDITION, /* a condition failed: If-None-Match (the key exists) or
                         * If-Match (the object changed) (412) */
    STORE_DENIED,       /* the store refused the credentials or the request (403,
                         * InvalidAccessKeyId, SignatureDoesNotMatch) */
    STORE_NO_BUCKET,    /* NoSuchBucket */
    STORE_TOO_LARGE,    /* an object over the caller's cap */
    STORE_RETRY,        /* not answered, 5xx, 503 SlowDown: try again later
                         * (retry_after set when the store said) */
    STORE_ERROR,        /* anything else: a bad key, a local I/O error, a
                         * malformed answer; err says which */
    STORE_NO_SPACE,     /* a local disk is full (ENOSPC, EDQUOT): nothing written
                         * counts; err names the reason */
} store_status;

/* What a HEAD or a completed write learned of an object. */
typedef struct store_object {
    long long size;
    char etag[80];          /* as the store quotes it, e.g. "\"9b2c...\"" */
    char content_type[128];
} store_object;

/* How an object is written. */
typedef struct store_put_opts {
    const char *content_type;  /* NULL: application/octet-stream */
    const char *cache_control; /* NULL: none */
    bool if_none_match;        /* write only if the key is absent */
    bool public_read;          /* readable without a signature (x-amz-acl: public-read) */
} store_put_opts;

typedef struct store store;

/* Opens a handle on cfg's store. Returns NULL when out of memory. */
store *store_open(const struct config *cfg);
/* Frees s and its connections; NULL is fine. */
void store_close(store *s);

/* The last failure's reason, for logs and error messages: names the key and
 * the store's error code, never a credential or a server path. */
const char *store_err(const store *s);
/* Sets s's last failure (store_err) and returns st: the backends', and a
 * caller's whose work beside the store failed (app/uploads/tus_s3.c). */
store_status store_fail(store *s, store_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Seconds the store asked to wait (Retry-After), or -1. */
long store_retry_after(const store *s);
/* "ok", "not found", ... */
const char *store_status_name(store_status st);

/* Called during the streamed transfers of s (store_put_file,
 * store_get_file) about once a second, between parts and between tries,
 * with the bytes moved so far of the call's total (-1 when unknown). It
 * returning false ends the transfer: the call is STORE_ERROR ("cancelled")
 * and leaves nothing (a multipart upload is aborted, a read's file is
 * removed). A worker passes a function that beats its task's lease and
 * reads its cancel flag. fn NULL: none (the default). */
typedef bool (*store_progress_fn)(void *arg, long long done, long long total);
void store_set_progress(store *s, store_progress_fn fn, void *arg);

/* True when cfg's storage is an S3 bucket, false for local disk. */
bool store_is_s3(const struct config *cfg);
/* True when key is a well-formed key (see above). */
bool store_key_ok(const char *key);

/* Writes the regular file at path to key, streamed (never whole in memory):
 * a single PUT up to the multipart threshold, a multipart upload above it,
 * aborted on any failure. meta (may be NULL) gets the size and ETag. */
store_status store_put_file(store *s, const char *key, const char *path, const store_put_opts *o,
                            store_object *meta);
/* Writes len bytes of buf to key. */
store_status store_put_mem(store *s, const char *key, const void *buf, size_t len,
                           const store_put_opts *o, store_object *meta);
/* Reads key into a new file at path (created, mode 0600), streamed, at most
 * max_bytes (STORE_TOO_LARGE and no file beyond that). With if_match (an
 * ETag), an object that changed since is STORE_PRECONDITION. */
store_status store_get_file(store *s, const char *key, const char *path, long long max_bytes,
                            const char *if_match, store_object *meta);
/* Reads key into a malloc'd, NUL-terminated buffer of at most cap bytes. */
store_status store_get_mem(store *s, const char *key, size_t cap, char **buf, size_t *len);
/* Learns an object's size and ETag. */
store_status store_head(store *s, const char *key, store_object *meta);
/* Removes key; an absent key is STORE_OK. */
store_status store_delete(store *s, const char *key);
/* Removes every object whose key starts with prefix (which ends with /). */
store_status store_delete_prefix(store *s, const char *prefix);
/* Makes key readable without a signature (the canned ACL public-read) or
 * private again (PutObjectAcl), for a job whose ACL changed. Local
 * storage: STORE_OK, nothing to do (nginx's snippet decides). */
store_status store_set_public(store *s, const char *key, bool public_read);
/* Calls fn for every object under prefix, in key order, until it returns
 * non-zero (which ends the listing with STORE_OK). */
store_status store_list(store *s, const char *prefix,
                        int (*fn)(void *arg, const char *key, const store_object *o), void *arg);

/* Multipart uploads a client sends itself (presigned parts). */
store_status store_multipart_create(store *s, const char *key, const store_put_opts *o,
                                    char *upload_id, size_t cap);
/* Completes with every part the store holds (ListParts), in part order;
 * meta gets the final size and ETag. */
store_status store_multipart_complete(store *s, const char *key, const char *upload_id,
                                      store_object *meta);
/* Uploads part number part (1..10000) of upload_id: len bytes of the file
 * fd from offset off (UploadPart), streamed. A part number sent again
 * replaces that part. etag gets the part's ETag as the store quotes it. */
store_status store_multipart_put_part(store *s, const char *key, const char *upload_id, int part,
                                      int fd, long long off, long long len, char *etag,
                                      size_t cap);
/* Completes with parts 1..parts of those the store holds: each must be
 * there (else STORE_ERROR); a higher part number an earlier try left is
 * left out of the object. */
store_status store_multipart_complete_parts(store *s, const char *key, const char *upload_id,
                                            int parts, store_object *meta);
/* Aborts; an unknown or finished upload id is STORE_OK. */
store_status store_multipart_abort(store *s, const char *key, const char *upload_id);

/* A presigned URL (SigV4 query signing) for one request on key, valid for
 * expires_s seconds from now, into url. method is GET, PUT or HEAD. For a
 * PUT, content_length >= 0 is signed (the store refuses another length)
 * and so is if_none_match (the store refuses a second write); upload_id
 * and part (> 0) make it an UploadPart URL. Returns 0, or -1 when the store
 * is not s3 or url is too small. */
typedef struct store_presign_req {
    const char *method;
    const char *key;
    long expires_s;
    long long content_length; /* -1: not signed */
    bool if_none_match;
    const char *content_type; /* signed when not NULL */
    const char *upload_id;
    int part;
    time_t now;               /* 0: time(NULL) */
} store_presign_req;
int store_presign(const struct config *cfg, const store_presign_req *p, char *url, size_t cap);

/* The URL viewers fetch key at without a signature (the public base URL, or
 * for local storage MEDIAGATE_MEDIA_URL), into url. Returns 0 or -1. */
int store_public_url(const struct config *cfg, const char *key, char *url, size_t cap);

/* check-config --connect: the bucket answers (HEAD), and a small object
 * can be written under the prefix and removed. Returns 0, or -1 with one
 * line per problem in msg. Local storage: the directories are writable. */
int store_check(store *s, char *msg, size_t cap);

#endif
