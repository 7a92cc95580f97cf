/* mediagate sync. See sync.h. Pages are fetched one at a time and copied
 * into a session temporary table, so memory stays one page whatever the
 * catalogue's size; mediagate_mirror_replace (sql/functions/) then replaces the
 * type in one transaction. A second sync waits on, or gives up at, a
 * session advisory lock. Its statements are a table of the db layer's, on
 * one connection that holds the lock and the temporary table (db.session). */
#include "jwplatform/sync.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "http_client.h"
#include "jwplatform/api.h"
#include "json.h"
#include "log.h"

#define PAGE_SIZE "1000"
#define SYNC_LOCK "7164624634553938551" /* pg advisory lock key of mediagate sync */

enum sync_stmt {
    S_SETUP,
    S_TRY_LOCK,
    S_LOCK,
    S_NOW,
    S_DROP_INCOMING,
    S_INCOMING,
    S_COPY,
    S_ANALYZE,
    S_DEDUPE,
    S_BEGIN,
    S_REPLACE,
    S_COMMIT,
    S_ROLLBACK,
    S_DERIVE,
    S_UNLOCK,
    S__COUNT
};

/* The bulk steps run without a deadline (db.unbounded), as S_SETUP's
 * statement_timeout says to the server. */
_Static_assert(S__COUNT <= DB_MAX_STMTS, "the db layer tracks at most DB_MAX_STMTS statements");
static const stmt_def sync_stmts[S__COUNT] = {
    [S_SETUP] = {"s_setup",
        "SELECT set_config('statement_timeout', '0', false), "
        "set_config('client_min_messages', 'warning', false)", 0, PGRES_TUPLES_OK},
    [S_TRY_LOCK] = {"s_try_lock", "SELECT pg_try_advisory_lock(" SYNC_LOCK ")", 0, PGRES_TUPLES_OK},
    [S_LOCK] = {"s_lock", "SELECT pg_advisory_lock(" SYNC_LOCK ")", 0, PGRES_TUPLES_OK},
    [S_NOW] = {"s_now", "SELECT now()", 0, PGRES_TUPLES_OK},
    [S_DROP_INCOMING] = {"s_drop_incoming", "DROP TABLE IF EXISTS mirror_incoming", 0,
                         PGRES_COMMAND_OK},
    [S_INCOMING] = {"s_incoming",
        "CREATE TEMP TABLE mirror_incoming (key text NOT NULL, data jsonb NOT NULL)", 0,
        PGRES_COMMAND_OK},
    [S_COPY] = {"s_copy", "COPY mirror_incoming (key, data) FROM STDIN", 0, PGRES_COPY_IN},
    [S_ANALYZE] = {"s_analyze", "ANALYZE mirror_incoming", 0, PGRES_COMMAND_OK},
    /* A key fetched twice (the catalogue shifted between pages): the later copy. */
    [S_DEDUPE] = {"s_dedupe",
        "DELETE FROM mirror_incoming a USING mirror_incoming b "
        "WHERE a.key = b.key AND a.ctid < b.ctid", 0, PGRES_COMMAND_OK},
    [S_BEGIN] = {"s_begin", "BEGIN", 0, PGRES_COMMAND_OK},
    [S_REPLACE] = {"s_replace",
        "SELECT created, updated, deleted, revived, unchanged "
        "FROM mediagate_mirror_replace($1, $2::boolean, $3::timestamptz)", 3, PGRES_TUPLES_OK},
    [S_COMMIT] = {"s_commit", "COMMIT", 0, PGRES_COMMAND_OK},
    [S_ROLLBACK] = {"s_rollback", "ROLLBACK", 0, PGRES_COMMAND_OK},
    [S_DERIVE] = {"s_derive", "SELECT mediagate_mirror_derive($1::boolean)", 1, PGRES_TUPLES_OK},
    /* At once: a backend whose client left releases its locks a moment later. */
    [S_UNLOCK] = {"s_unlock", "SELECT pg_advisory_unlock_all()", 0, PGRES_TUPLES_OK},
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs statement s with n params; true when it succeeded, with its result
 * in *out (the caller PQclears it) when out is not NULL. */
static bool run(db *d, enum sync_stmt s, int n, const char *const *vals, PGresult **out)
{
    PGresult *r = NULL;
    bool ok = db_exec(d, s, n, vals, &r) == 0;
    if (!ok)
        fprintf(stderr, "mediagate sync: the database refused a step: %s\n", d->error);
    if (out && ok)
        *out = r;
    else
        PQclear(r);
    return ok;
}

/* Appends text to the COPY row buffer, escaped for COPY's text format. */
static bool copy_field(PGconn *c, const char *s, char end)
{
    char buf[8192];
    size_t o = 0;
    for (;; s++) {
        if (o > sizeof buf - 4 || !*s) {
            if (!*s)
                buf[o++] = end;
            if (PQputCopyData(c, buf, (int)o) != 1)
                return false;
            o = 0;
            if (!*s)
                return true;
        }
        switch (*s) {
        case '\\': buf[o++] = '\\'; buf[o++] = '\\'; break;
        case '\t': buf[o++] = '\\'; buf[o++] = 't'; break;
        case '\n': buf[o++] = '\\'; buf[o++] = 'n'; break;
        case '\r': buf[o++] = '\\'; buf[o++] = 'r'; break;
        default: buf[o++] = *s;
        }
    }
}

/* A key as the mirror accepts it (sql/013's CHECK). */
static bool good_key(const char *k)
{
    size_t n = strlen(k);
    return n >= 1 && n <= 64 &&
           strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* One line per page, or a bar redrawn in place on a terminal. */
static void progress(const jw_sync_opts *o, const char *what, int page, long long got,
                     long long total, bool done)
{
    if (!o->progress)
        return;
    if (!isatty(fileno(o->progress))) {
        if (!done)
            fprintf(o->progress, "%s: page %d: %lld of %lld fetched\n", what, page, got, total);
        fflush(o->progress);
        return;
    }
    int width = 30, fill = total > 0 ? (int)(got * width / (total > got ? total : got)) : width;
    fprintf(o->progress, "\r%-8s [%.*s%*s] %lld/%lld", what, fill,
            "##############################", width - fill, "", got, total);
    if (done)
        fputc('\n', o->progress);
    fflush(o->progress);
}

/* Fetches every resource of one type into mirror_incoming, page by page.
 * Returns 0, or 1 having said why. */
static int fetch_type(db *d, jw_api *api, const jw_sync_opts *o, const char *type,
                      const char *plural)
{
    char call[32], offset[24], err[512];
    long long got = 0, total = -1;
    int page = 0;
    double t0 = now_s();
    snprintf(call, sizeof call, "%s/list", plural);
    if (!run(d, S_DROP_INCOMING, 0, NULL, NULL) || !run(d, S_INCOMING, 0, NULL, NULL))
        return 1;
    for (;;) {
        json_object *root = NULL, *list;
        snprintf(offset, sizeof offset, "%lld", got);
        jw_param page_prm[] = {{"result_limit", PAGE_SIZE}, {"result_offset", offset}};
        jw_outcome oc = jw_api_get_retrying(api, call, page_prm, 2, &root, err, sizeof err);
        page++;
        if (oc != JW_OK) {
            fprintf(stderr, "mediagate sync: /v1/%s page %d (result_offset %lld): %s; the %s mirror "
                    "is unchanged\n", call, page, got, err, type);
            return 1;
        }
        if (jobj(root, plural, json_type_array, &list) <= 0) {
            fprintf(stderr, "mediagate sync: /v1/%s page %d has no \"%s\" array; the %s mirror is "
                    "unchanged\n", call, page, plural, type);
            json_object_put(root);
            return 1;
        }
        int64_t t;
        if (jint(root, "total", INT64_MIN, INT64_MAX, &t) > 0)
            total = t;
        size_t n = json_object_array_length(list);
        if (!run(d, S_COPY, 0, NULL, NULL)) {
            json_object_put(root);
            return 1;
        }
        PGconn *c = d->conn;
        bool ok = true;
        for (size_t i = 0; ok && i < n; i++) {
            json_object *item = json_object_array_get_idx(list, i);
            const char *key = jstr_or(item, "key", "");
            if (!json_object_is_type(item, json_type_object) || !good_key(key)) {
                log_warn("sync: a %s without a usable key on page %d is skipped", type, page);
                continue;
            }
            ok = copy_field(c, key, '\t') &&
                 copy_field(c, json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN |
                                                                        JSON_C_TO_STRING_NOSLASHESCAPE),
                            '\n');
        }
        json_object_put(root);
        if (db_copy_end(d, ok ? NULL : "aborted") != 0) {
            fprintf(stderr, "mediagate sync: storing page %d failed: %s\n", page, d->error);
            ok = false;
        }
        if (!ok)
            return 1;
        got += (long long)n;
        bool last = n == 0 || (total >= 0 && got >= total);
        if (n > 0 || page == 1)
            progress(o, plural, page, got, total >= 0 ? total : got, false);
        if (last)
            break;
    }
    progress(o, plural, page, got, got, true);
    if (o->progress)
        fprintf(o->progress, "%s: %lld fetched in %.2f s\n", plural, got, now_s() - t0);
    return 0;
}

/* Replaces type from mirror_incoming in one transaction; fills counts. */
static int replace_type(db *d, const jw_sync_opts *o, const char *type, bool force,
                        const char *since, jw_sync_counts *counts)
{
    PGresult *r = NULL;
    double t0 = now_s();
    const char *vals[] = {type, force ? "true" : "false", since};
    if (!run(d, S_ANALYZE, 0, NULL, NULL) || !run(d, S_DEDUPE, 0, NULL, NULL) ||
        !run(d, S_BEGIN, 0, NULL, NULL))
        return 1;
    if (!run(d, S_REPLACE, 3, vals, &r) || PQntuples(r) != 1) {
        PQclear(r);
        run(d, S_ROLLBACK, 0, NULL, NULL);
        return 1;
    }
    long long *f[] = {&counts->created, &counts->updated, &counts->deleted, &counts->revived,
                      &counts->unchanged};
    for (int i = 0; i < 5; i++)
        *f[i] = strtoll(PQgetvalue(r, 0, i), NULL, 10);
    PQclear(r);
    if (!run(d, S_COMMIT, 0, NULL, NULL))
        return 1;
    if (o->progress)
        fprintf(o->progress, "%ss: replaced in one transaction in %.2f s\n", type, now_s() - t0);
    return 0;
}

int jw_sync_run(const config *cfg, const jw_sync_opts *o, jw_sync_report *rep)
{
    int ret = 1;
    PGresult *r = NULL;
    http_client http = {0};
    jw_api api = {0};
    char since[64];
    bool fetch = !o->skip_video_fetch || !o->skip_channel_fetch;
    memset(rep, 0, sizeof *rep);
    if (fetch && !cfg->jwplatform_mirror) {
        fprintf(stderr, "mediagate sync: MEDIAGATE_JWPLATFORM_API_KEY and "
                        "MEDIAGATE_JWPLATFORM_API_SECRET are not set (--skip-fetch needs neither)\n");
        return 1;
    }
    db d;
    db_init_table(&d, cfg, sync_stmts, S__COUNT, "mediagate-admin");
    d.lazy = d.session = d.quiet = d.unbounded = true;
    if (!run(&d, S_SETUP, 0, NULL, NULL) || !run(&d, S_TRY_LOCK, 0, NULL, &r))
        goto out;
    if (*PQgetvalue(r, 0, 0) != 't') {
        PQclear(r);
        r = NULL;
        if (!o->wait) {
            fprintf(stderr, "mediagate sync: another mediagate sync is running; this one does "
                            "nothing (--wait waits for it)\n");
            ret = 3;
            goto out;
        }
        fprintf(stderr, "mediagate sync: another mediagate sync is running; waiting for it\n");
        if (!run(&d, S_LOCK, 0, NULL, NULL))
            goto out;
    }
    PQclear(r);
    r = NULL;
    /* Rows a webhook refreshes from now on are fresher than this fetch. */
    if (!run(&d, S_NOW, 0, NULL, &r))
        goto out;
    snprintf(since, sizeof since, "%s", PQgetvalue(r, 0, 0));
    if (fetch && (http_client_init(&http, cfg->outbound_allow_loopback) != 0 ||
                  jw_api_init(&api, cfg, &http) != 0)) {
        fprintf(stderr, "mediagate sync: out of memory\n");
        goto out;
    }
    if (!o->skip_video_fetch) {
        if (fetch_type(&d, &api, o, "video", "videos") ||
            replace_type(&d, o, "video", o->sync_all, since, &rep->videos))
            goto out;
        rep->fetched_videos = true;
    }
    if (!o->skip_channel_fetch) {
        if (fetch_type(&d, &api, o, "channel", "channels") ||
            replace_type(&d, o, "channel", o->sync_all, since, &rep->channels))
            goto out;
        rep->fetched_channels = true;
    }
    PQclear(r);
    r = NULL;
    const char *all[] = {o->sync_all ? "true" : "false"};
    if (!run(&d, S_DERIVE, 1, all, &r))
        goto out;
    rep->derived = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    ret = 0;
out:
    rep->calls = api.calls;
    PQclear(r);
    r = NULL;
    if (d.conn && PQstatus(d.conn) == CONNECTION_OK) {
        if (PQtransactionStatus(d.conn) != PQTRANS_IDLE)
            db_exec(&d, S_ROLLBACK, 0, NULL, &r);
        PQclear(r);
        db_exec(&d, S_UNLOCK, 0, NULL, &r);
        PQclear(r);
    }
    db_close(&d);
    jw_api_free(&api);
    http_client_free(&http);
    return ret;
}
