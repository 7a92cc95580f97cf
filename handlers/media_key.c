/* GET /media/key/<job id>/<n>: the AES-128 key of encode attempt n of an
 * encrypted job's HLS (media_keys), answered only to its owner and the
 * callers its ACL admits (caller_admits, as /media/status), Cache-Control: private,
 * no-store; anyone else gets what an unknown job gets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caller.h"
#include "db.h"
#include "handlers.h"
#include "playback.h"
#include "worker/hls_crypt.h"

enum { C_STATUS, C_ACL, C_KEY, C_OWNER }; /* STMT_MEDIA_KEY's columns */

/* The path after "/media/key/", "<job>/<n>": job 1 to 100 of PLAYBACK_JOB_CHARS,
 * n 1 to 9 digits, no leading zero. Returns 0 with them copied, or -1. */
static int parse_path(const char *p, char job[101], char n[10])
{
    size_t jl = strspn(p, PLAYBACK_JOB_CHARS), nl;
    if (jl < 1 || jl > 100 || p[jl] != '/')
        return -1;
    const char *d = p + jl + 1;
    nl = strspn(d, "0123456789");
    if (nl < 1 || nl > 9 || d[nl] != '\0' || d[0] == '0')
        return -1;
    memcpy(job, p, jl);
    job[jl] = '\0';
    memcpy(n, d, nl + 1);
    return 0;
}

int handle_media_key(request *r)
{
    int ret;
    char job[101], n[10];
    PGresult *res = NULL;
    unsigned char *key = NULL;
    if (parse_path(r->path + strlen("/media/key/"), job, n) != 0) {
        ret = reply_error(r, 404, "Not found item.");
        goto out;
    }
    const char *vals[] = {job, n};
    if ((ret = db_exec(r->db, STMT_MEDIA_KEY, 2, vals, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    /* Who may not see the job learns nothing of it: an unknown job's answer. */
    bool ok = PQntuples(res) == 1;
    if (ok && !PQgetisnull(res, 0, C_ACL) &&
        (ret = caller_admits(r, r->caller,
                             PQgetisnull(res, 0, C_OWNER) ? NULL : PQgetvalue(res, 0, C_OWNER),
                             PQgetvalue(res, 0, C_ACL), &ok)) != 0)
        goto out;
    if (!ok || strcmp(PQgetvalue(res, 0, C_STATUS), "COMPLETE") != 0 ||
        PQgetisnull(res, 0, C_KEY)) {
        ret = reply_error(r, 404, "Not found item.");
        goto out;
    }
    if (!(key = arena_alloc(r->a, 16)) ||
        hls_crypt_unhex(PQgetvalue(res, 0, C_KEY), (size_t)PQgetlength(res, 0, C_KEY), key, 16) !=
            0) {
        ret = 500;
        goto out;
    }
    r->raw_body = (const char *)key;
    r->raw_len = 16;
    r->raw_type = "application/octet-stream";
    /* Never kept by a shared cache, nor by the browser past its use. */
    r->cache_control = "private, no-store";
    ret = 200;
out:
    PQclear(res);
    return ret;
}
