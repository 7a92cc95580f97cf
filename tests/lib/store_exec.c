/* store_exec COMMAND ARG... [--if-none-match] [--public] [--content-type=T]
 * [--cache-control=C]: runs one call of the storage layer (app/storage/
 * storage.h) on the store the MEDIAGATE_* environment configures, and
 * prints one JSON object: the status, the failure's reason, what the call
 * learned (size, ETag, content type, keys, a URL, data), the progress
 * calls of a streamed transfer (--progress counts them, --cancel stops the
 * transfer at the first), and the process's
 * peak resident memory after the call (rss_kib, getrusage). The storage
 * tests (tests/pytest/test_storage.py) drive mediagate's own client with
 * it, and tests/pytest/test_tus_s3.py the tus row of the store (tus-*). Exits 0 when the call ran (whatever its status), 2 on bad usage or
 * configuration. */
#include <curl/curl.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "storage/storage.h"
#include "uploads/tus.h"

static const char *env(const char *name)
{
    return getenv(name);
}

/* One command: its name, how many positional arguments, what it does. */
typedef struct command {
    const char *name;
    int nargs;
    store_status (*run)(store *s, const config *cfg, char **a, const store_put_opts *o,
                        json_object *out);
    const char *usage;
} command;

static void put_meta(json_object *out, const store_object *m)
{
    json_object_object_add(out, "size", json_object_new_int64(m->size));
    json_object_object_add(out, "etag", json_object_new_string(m->etag));
    json_object_object_add(out, "content_type", json_object_new_string(m->content_type));
}

#define RUN(f)                                                                            \
    static store_status f(store *s, const config *cfg, char **a, const store_put_opts *o, \
                          json_object *out)

RUN(run_put_mem)
{
    store_object m = {0};
    store_status st = store_put_mem(s, a[0], a[1], strlen(a[1]), o, &m);
    put_meta(out, &m);
    return st;
}

RUN(run_put_file)
{
    store_object m = {0};
    store_status st = store_put_file(s, a[0], a[1], o, &m);
    put_meta(out, &m);
    return st;
}

RUN(run_get_file)
{
    store_object m = {0};
    store_status st = store_get_file(s, a[0], a[1], strtoll(a[2], NULL, 10), *a[3] ? a[3] : NULL,
                                     &m);
    put_meta(out, &m);
    return st;
}

RUN(run_get_mem)
{
    char *buf;
    size_t len;
    store_status st = store_get_mem(s, a[0], (size_t)strtoull(a[1], NULL, 10), &buf, &len);
    if (st == STORE_OK) {
        json_object_object_add(out, "data", json_object_new_string_len(buf, (int)len));
        json_object_object_add(out, "len", json_object_new_int64((long long)len));
        free(buf);
    }
    return st;
}

RUN(run_head)
{
    store_object m = {0};
    store_status st = store_head(s, a[0], &m);
    put_meta(out, &m);
    return st;
}

RUN(run_delete)
{
    return store_delete(s, a[0]);
}

RUN(run_delete_prefix)
{
    return store_delete_prefix(s, a[0]);
}

/* Collects up to "limit" keys (0: all). */
typedef struct listing {
    json_object *keys;
    long limit;
} listing;

static int one_key(void *arg, const char *key, const store_object *o)
{
    listing *l = arg;
    json_object *k = json_object_new_object();
    json_object_object_add(k, "key", json_object_new_string(key));
    json_object_object_add(k, "size", json_object_new_int64(o->size));
    json_object_object_add(k, "etag", json_object_new_string(o->etag));
    json_object_array_add(l->keys, k);
    return l->limit > 0 && (long)json_object_array_length(l->keys) >= l->limit;
}

RUN(run_list)
{
    listing l = {json_object_new_array(), strtol(a[1], NULL, 10)};
    json_object_object_add(out, "keys", l.keys);
    return store_list(s, a[0], one_key, &l);
}

RUN(run_mp_create)
{
    char id[512] = "";
    store_status st = store_multipart_create(s, a[0], o, id, sizeof id);
    json_object_object_add(out, "upload_id", json_object_new_string(id));
    return st;
}

RUN(run_mp_complete)
{
    store_object m = {0};
    store_status st = store_multipart_complete(s, a[0], a[1], &m);
    put_meta(out, &m);
    return st;
}

RUN(run_mp_abort)
{
    return store_multipart_abort(s, a[0], a[1]);
}

/* mp-put-part KEY UPLOAD_ID PART PATH OFFSET LEN */
RUN(run_mp_put_part)
{
    char etag[80] = "";
    int fd = open(a[3], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return STORE_ERROR;
    store_status st = store_multipart_put_part(s, a[0], a[1], atoi(a[2]), fd,
                                               strtoll(a[4], NULL, 10), strtoll(a[5], NULL, 10),
                                               etag, sizeof etag);
    close(fd);
    json_object_object_add(out, "etag", json_object_new_string(etag));
    return st;
}

RUN(run_mp_complete_parts)
{
    store_object m = {0};
    store_status st = store_multipart_complete_parts(s, a[0], a[1], atoi(a[2]), &m);
    put_meta(out, &m);
    return st;
}

/* The tus row of the store (app/uploads/tus.h) on an upload whose state
 * the arguments carry: ID NAME LENGTH [OFFSET UPLOAD_ID PARTS TAIL_KEY
 * TAIL_BYTES]; the new state is printed (a test that does not pass it on
 * to the next call is a crash before the state was recorded). */
static void tus_state_in(tus_upload *u, char **a, bool full)
{
    snprintf(u->id, sizeof u->id, "%s", a[0]);
    snprintf(u->name, sizeof u->name, "%s", a[1]);
    snprintf(u->key, sizeof u->key, "uploads/%s/%s", a[0], a[1]);
    u->length = strtoll(a[2], NULL, 10);
    if (!full)
        return;
    u->offset = strtoll(a[3], NULL, 10);
    snprintf(u->multipart_id, sizeof u->multipart_id, "%s", a[4]);
    u->parts = atoi(a[5]);
    snprintf(u->tail_key, sizeof u->tail_key, "%s", a[6]);
    u->tail_bytes = strtoll(a[7], NULL, 10);
}

static void tus_state_out(const tus_upload *u, json_object *out)
{
    json_object_object_add(out, "offset", json_object_new_int64(u->offset));
    json_object_object_add(out, "upload_id", json_object_new_string(u->multipart_id));
    json_object_object_add(out, "parts", json_object_new_int(u->parts));
    json_object_object_add(out, "tail_key", json_object_new_string(u->tail_key));
    json_object_object_add(out, "tail_bytes", json_object_new_int64(u->tail_bytes));
}

RUN(run_tus_begin)
{
    tus_upload u = {0};
    tus_state_in(&u, a, false);
    store_status st = tus_storage_for(cfg)->begin(cfg, s, &u);
    tus_state_out(&u, out);
    return st;
}

/* tus-append ... PATH: the chunk is the file at PATH. */
RUN(run_tus_append)
{
    tus_upload u = {0};
    struct stat sb;
    tus_state_in(&u, a, true);
    int fd = open(a[8], O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0)
            close(fd);
        return STORE_ERROR;
    }
    store_status st = tus_storage_for(cfg)->append(cfg, s, &u, fd, (long long)sb.st_size);
    close(fd);
    tus_state_out(&u, out);
    return st;
}

RUN(run_tus_finish)
{
    tus_upload u = {0};
    store_object m = {0};
    tus_state_in(&u, a, true);
    store_status st = tus_storage_for(cfg)->finish(cfg, s, &u, &m);
    put_meta(out, &m);
    tus_state_out(&u, out);
    return st;
}

RUN(run_tus_discard)
{
    tus_upload u = {0};
    tus_state_in(&u, a, true);
    return tus_storage_for(cfg)->discard(cfg, s, &u);
}

/* presign METHOD KEY EXPIRES CONTENT_LENGTH IF_NONE_MATCH CONTENT_TYPE UPLOAD_ID PART NOW
 * ("" for none). */
RUN(run_presign)
{
    char url[8192];
    store_presign_req p = {a[0],
                           a[1],
                           strtol(a[2], NULL, 10),
                           *a[3] ? strtoll(a[3], NULL, 10) : -1,
                           strcmp(a[4], "1") == 0,
                           *a[5] ? a[5] : NULL,
                           *a[6] ? a[6] : NULL,
                           atoi(a[7]),
                           (time_t)strtoll(a[8], NULL, 10)};
    if (store_presign(cfg, &p, url, sizeof url) != 0)
        return STORE_ERROR;
    json_object_object_add(out, "url", json_object_new_string(url));
    return STORE_OK;
}

RUN(run_public_url)
{
    char url[4096];
    if (store_public_url(cfg, a[0], url, sizeof url) != 0)
        return STORE_ERROR;
    json_object_object_add(out, "url", json_object_new_string(url));
    return STORE_OK;
}

RUN(run_check)
{
    char msg[2048];
    int rc = store_check(s, msg, sizeof msg);
    json_object_object_add(out, "message", json_object_new_string(msg));
    return rc == 0 ? STORE_OK : STORE_ERROR;
}

/* What the progress function saw (--progress, --cancel). */
typedef struct progress_seen {
    int calls;
    long long last_done, last_total;
    bool cancel;
} progress_seen;

static bool on_progress(void *arg, long long done, long long total)
{
    progress_seen *p = arg;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    return !p->cancel;
}

#define TUS_STATE "OFFSET UPLOAD_ID PARTS TAIL_KEY TAIL_BYTES"
static const command commands[] = {
    {"put-mem", 2, run_put_mem, "KEY DATA"},
    {"put-file", 2, run_put_file, "KEY PATH"},
    {"get-file", 4, run_get_file, "KEY PATH MAX_BYTES IF_MATCH"},
    {"get-mem", 2, run_get_mem, "KEY CAP"},
    {"head", 1, run_head, "KEY"},
    {"delete", 1, run_delete, "KEY"},
    {"delete-prefix", 1, run_delete_prefix, "PREFIX"},
    {"list", 2, run_list, "PREFIX LIMIT"},
    {"mp-create", 1, run_mp_create, "KEY"},
    {"mp-complete", 2, run_mp_complete, "KEY UPLOAD_ID"},
    {"mp-abort", 2, run_mp_abort, "KEY UPLOAD_ID"},
    {"mp-put-part", 6, run_mp_put_part, "KEY UPLOAD_ID PART PATH OFFSET LEN"},
    {"mp-complete-parts", 3, run_mp_complete_parts, "KEY UPLOAD_ID PARTS"},
    {"tus-begin", 3, run_tus_begin, "ID NAME LENGTH"},
    {"tus-append", 9, run_tus_append, "ID NAME LENGTH " TUS_STATE " PATH"},
    {"tus-finish", 8, run_tus_finish, "ID NAME LENGTH " TUS_STATE},
    {"tus-discard", 8, run_tus_discard, "ID NAME LENGTH " TUS_STATE},
    {"presign", 9, run_presign,
     "METHOD KEY EXPIRES CONTENT_LENGTH IF_NONE_MATCH CONTENT_TYPE UPLOAD_ID PART NOW"},
    {"public-url", 1, run_public_url, "KEY"},
    {"check", 0, run_check, ""},
};

int main(int argc, char **argv)
{
    config cfg;
    cfg_errors errs = {0};
    store_put_opts o = {0};
    progress_seen seen = {0};
    bool progress = false;
    char *pos[16];
    int npos = 0, ret = 2;
    const command *c = NULL;
    store *s = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--if-none-match") == 0)
            o.if_none_match = true;
        else if (strcmp(argv[i], "--public") == 0)
            o.public_read = true;
        else if (strncmp(argv[i], "--content-type=", 15) == 0)
            o.content_type = argv[i] + 15;
        else if (strncmp(argv[i], "--cache-control=", 16) == 0)
            o.cache_control = argv[i] + 16;
        else if (strcmp(argv[i], "--progress") == 0)
            progress = true;
        else if (strcmp(argv[i], "--cancel") == 0)
            progress = seen.cancel = true;
        else if (npos < 16)
            pos[npos++] = argv[i];
    }
    for (size_t i = 0; npos > 0 && i < sizeof commands / sizeof *commands; i++)
        if (strcmp(commands[i].name, pos[0]) == 0 && commands[i].nargs == npos - 1)
            c = &commands[i];
    if (!c) {
        fputs("usage: store_exec COMMAND ARG... [--if-none-match] [--public] "
              "[--content-type=T] [--cache-control=C] [--progress] [--cancel]\n",
              stderr);
        for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
            fprintf(stderr, "  %s %s\n", commands[i].name, commands[i].usage);
        return 2;
    }
    if (config_load(&cfg, NULL, env, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "store_exec: %s\n", errs.msg[i]);
        goto out;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!(s = store_open(&cfg))) {
        fputs("store_exec: cannot open the store\n", stderr);
        goto out;
    }
    if (progress)
        store_set_progress(s, on_progress, &seen);
    json_object *res = json_object_new_object();
    store_status st = c->run(s, &cfg, pos + 1, &o, res);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    json_object_object_add(res, "status", json_object_new_string(store_status_name(st)));
    json_object_object_add(res, "err", json_object_new_string(store_err(s)));
    json_object_object_add(res, "retry_after", json_object_new_int64(store_retry_after(s)));
    json_object_object_add(res, "rss_kib", json_object_new_int64(ru.ru_maxrss));
    if (progress) {
        json_object_object_add(res, "progress_calls", json_object_new_int(seen.calls));
        json_object_object_add(res, "progress_done", json_object_new_int64(seen.last_done));
        json_object_object_add(res, "progress_total", json_object_new_int64(seen.last_total));
    }
    puts(json_object_to_json_string_ext(res,
                                        JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(res);
    ret = 0;
out:
    store_close(s);
    cfg_errors_free(&errs);
    config_free(&cfg);
    return ret;
}
