/* GET /media/status?job_id=<id>: a job's status, progress and results. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "caller.h"
#include "db.h"
#include "handlers.h"
#include "job_json.h"
#include "log.h"
#include "hash.h"

/* Logs a video's malformed ACL entries once per job (a small set of the
 * jobs already named, forgotten when full). */
static void log_bad_acl(const char *job, const char *acl, int bad)
{
    static unsigned long long seen[256];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    unsigned char h[32];
    unsigned long long k;
    sha256_raw(job, strlen(job), h);
    memcpy(&k, h, sizeof k);
    k |= 1;
    pthread_mutex_lock(&lock);
    bool fresh = seen[k % 256] != k;
    seen[k % 256] = k;
    pthread_mutex_unlock(&lock);
    if (fresh)
        log_warn("job %.100s: %d ACL entr%s in '%.200s' grant nothing (not WORLD, CAM, USER_, "
                 "GROUP_ or INST_)", job, bad, bad == 1 ? "y" : "ies", acl);
}

int handle_media_status(request *r)
{
    int ret;
    const char *id;
    PGresult *res = NULL;
    json_object *o = NULL;

    ret = require_param(r, "job_id", &id);
    if (ret)
        goto out;
    const char *vals[] = {id};
    ret = db_exec(r->db, STMT_JOB_STATUS, 1, vals, &res);
    if (ret) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    /* A job with an ACL answers only its owner and the callers the ACL
     * admits; to anyone else it is the same unknown job, so its existence
     * does not leak. */
    bool guarded = PQntuples(res) == 1 && !PQgetisnull(res, 0, JC_ACL);
    if (guarded) {
        bool ok;
        const char *owner = PQgetisnull(res, 0, JC_OWNER) ? NULL : PQgetvalue(res, 0, JC_OWNER);
        if ((ret = caller_admits(r, r->caller, owner, PQgetvalue(res, 0, JC_ACL), &ok)) != 0)
            goto out;
        int bad = 0;
        (void)acl_admits(PQgetvalue(res, 0, JC_ACL), NULL, &bad);
        if (bad)
            log_bad_acl(id, PQgetvalue(res, 0, JC_ACL), bad);
        if (!ok) {
            ret = reply_error(r, 422, "Not found item.");
            goto out;
        }
    }
    if (PQntuples(res) == 0) {
        ret = reply_error(r, 422, "Not found item.");
        goto out;
    }
    const char *status = PQgetvalue(res, 0, JC_STATUS);
    bool terminal = strcmp(status, "COMPLETE") == 0 || strcmp(status, "ERROR") == 0 ||
                    strcmp(status, "CANCELED") == 0;
    o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    job_status_add(r, o, res, 0);
    r->out = o;
    o = NULL;
    r->etag = true;
    /* Browsers revalidate on every use (max-age=0: a 304 from nginx's
     * copy); a shared cache keeps a public answer s-maxage seconds, so a
     * change of status or ACL reaches every caller within that + 1 s
     * (nginx counts whole seconds). */
    if (guarded) {
        /* Never in a shared cache: it depends on who asks. */
        r->cache_control = "private, no-cache";
        r->etag_extra = arena_strdup(r->a, PQgetvalue(res, 0, JC_ACL));
    } else if (terminal) {
        char *cc = arena_alloc(r->a, 64);
        if (cc)
            snprintf(cc, 64, "public, max-age=0, s-maxage=%ld", r->cfg->cache_max_age);
        r->cache_control = cc ? cc : "public, max-age=0, s-maxage=1";
    } else {
        r->cache_control = "public, max-age=0, s-maxage=1";
    }
    ret = 200;
out:
    json_object_put(o);
    PQclear(res);
    return ret;
}
