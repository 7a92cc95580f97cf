#ifndef MEDIAGATE_STORAGE_BACKEND_H
#define MEDIAGATE_STORAGE_BACKEND_H
#include "http_client.h"
#include "storage/storage.h"

/* What storage.c's table holds for each backend, and the handle they
 * share. Only app/storage/ includes this. */

typedef struct store_backend {
    const char *name; /* MEDIAGATE_STORAGE's value */
    int (*open)(store *s);
    void (*close)(store *s);
    store_status (*put_file)(store *s, const char *key, const char *path, const store_put_opts *o,
                             store_object *meta);
    store_status (*put_mem)(store *s, const char *key, const void *buf, size_t len,
                            const store_put_opts *o, store_object *meta);
    store_status (*get_file)(store *s, const char *key, const char *path, long long max_bytes,
                             const char *if_match, store_object *meta);
    store_status (*get_mem)(store *s, const char *key, size_t cap, char **buf, size_t *len);
    store_status (*head)(store *s, const char *key, store_object *meta);
    store_status (*del)(store *s, const char *key);
    store_status (*del_prefix)(store *s, const char *prefix);
    store_status (*list)(store *s, const char *prefix,
                         int (*fn)(void *arg, const char *key, const store_object *o), void *arg);
    store_status (*mp_create)(store *s, const char *key, const store_put_opts *o, char *upload_id,
                              size_t cap);
    /* parts > 0: parts 1..parts only; 0: every part listed */
    store_status (*mp_complete)(store *s, const char *key, const char *upload_id, int parts,
                                store_object *meta);
    store_status (*mp_abort)(store *s, const char *key, const char *upload_id);
    int (*check)(store *s, char *msg, size_t cap);
    store_status (*set_public)(store *s, const char *key, bool public_read); /* NULL: nothing to do */
    store_status (*mp_put_part)(store *s, const char *key, const char *upload_id, int part, int fd,
                                long long off, long long len, char *etag, size_t cap);
} store_backend;

extern const store_backend store_local_backend;
extern const store_backend store_s3_backend;

struct store {
    const struct config *cfg;
    const store_backend *b;
    char err[256];
    long retry_after;
    http_client http;                                  /* s3 */
    char cred_key[128], cred_secret[128], *cred_token; /* s3: resolved at open */
    store_progress_fn progress;                        /* store_set_progress */
    void *progress_arg;
    double progress_at;       /* monotonic seconds of its last call */
    long long done_before;    /* bytes moved by the call's earlier requests (parts) */
    long long progress_total; /* the call's bytes, -1 unknown */
};

/* Calls s's progress function when a second passed since the last call (or
 * always when force); done counts bytes of the whole call. Returns false
 * when it asked to stop (err then says "cancelled"). */
bool store_progress(store *s, long long done, long long total, bool force);

/* The S3 pieces storage.c needs without a handle (s3.c). */
int s3_presign(const struct config *cfg, const store_presign_req *p, char *url, size_t cap);
int s3_public_url(const struct config *cfg, const char *key, char *url, size_t cap);

#endif
