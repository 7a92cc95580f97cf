/* The tencent upload target (app/uploads/target.h): the browser uploads
 * to Tencent VOD itself, with the signature of Tencent's client upload
 * ("Signature for Upload from Client"; vod-js-sdk-v6's getSignature):
 *   original  = secretId=…&currentTimeStamp=…&expireTime=…&random=…
 *               [&classId=…][&oneTimeValid=1][&vodSubAppId=…][&procedure=…]
 *               &sourceContext=<the job id>   (values URL-encoded)
 *   signature = base64(HMAC-SHA1(SecretKey, original) || original)
 * Tencent echoes sourceContext in the NewFileUpload callback
 * (MediaBasicInfo.SourceInfo.SourceContext): app/notify/tencent.c ties the
 * file to this job, whose profile's ProcessMedia is queued then
 * (mediagate_apply_job_event), as for a file mediagate's PullUpload
 * brought. The job and its uploads row are made first, in one transaction;
 * the slot's expiry (the signature's, plus UPLOAD_PLATFORM_GRACE_S)
 * cancels the job if no NewFileUpload named it by then. */
#include "uploads/target.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "hash.h"
#include "request.h"

/* The signature's original text: at most a few hundred bytes. */
#define ORIGINAL_MAX 1024

/* Appends "&name=" and v, URL-encoded (all but A-Z a-z 0-9 - _ . ~ as
 * %XX), to buf (*n bytes used of cap). Returns 0, or -1 when it does not
 * fit. */
static int add_param(char *buf, size_t cap, size_t *n, const char *name, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    int w = snprintf(buf + *n, cap - *n, "%s%s=", *n ? "&" : "", name);
    if (w < 0 || (size_t)w >= cap - *n)
        return -1;
    *n += (size_t)w;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        if (*n + (plain ? 1 : 3) >= cap)
            return -1;
        if (plain) {
            buf[(*n)++] = (char)*p;
        } else {
            buf[(*n)++] = '%';
            buf[(*n)++] = hex[*p >> 4];
            buf[(*n)++] = hex[*p & 15];
        }
    }
    buf[*n] = '\0';
    return 0;
}

/* add_param for a number. */
static int add_number(char *buf, size_t cap, size_t *n, const char *name, long long v)
{
    char num[24];
    snprintf(num, sizeof num, "%lld", v);
    return add_param(buf, cap, n, name, num);
}

/* The client upload signature for job, valid from now to expires, into
 * out (base64, NUL-terminated, cap bytes). Returns 0, or -1 (no
 * randomness, too long). */
static int sign(const config *cfg, const char *job, time_t now, time_t expires, char *out,
                size_t cap)
{
    char original[ORIGINAL_MAX];
    unsigned char raw[EVP_MAX_MD_SIZE + ORIGINAL_MAX];
    unsigned int mdlen = 0;
    uint32_t rnd;
    size_t n = 0;
    int ret = -1;
    if (RAND_bytes((unsigned char *)&rnd, sizeof rnd) != 1)
        return -1;
    if (add_param(original, sizeof original, &n, "secretId", cfg->tencent_secret_id) ||
        add_number(original, sizeof original, &n, "currentTimeStamp", (long long)now) ||
        add_number(original, sizeof original, &n, "expireTime", (long long)expires) ||
        add_number(original, sizeof original, &n, "random", rnd) ||
        (cfg->tencent_upload_class_id > 0 &&
         add_number(original, sizeof original, &n, "classId", cfg->tencent_upload_class_id)) ||
        (cfg->tencent_upload_one_time &&
         add_param(original, sizeof original, &n, "oneTimeValid", "1")) ||
        (cfg->tencent_subappid > 0 &&
         add_number(original, sizeof original, &n, "vodSubAppId", cfg->tencent_subappid)) ||
        (*cfg->tencent_upload_procedure &&
         add_param(original, sizeof original, &n, "procedure", cfg->tencent_upload_procedure)) ||
        add_param(original, sizeof original, &n, "sourceContext", job))
        goto out;
    const char *key = cfg->tencent_secret_key;
    if (!HMAC(EVP_sha1(), key, (int)strlen(key), (const unsigned char *)original, n, raw, &mdlen))
        goto out;
    memcpy(raw + mdlen, original, n);
    size_t len = mdlen + n;
    if (4 * ((len + 2) / 3) + 1 > cap)
        goto out;
    EVP_EncodeBlock((unsigned char *)out, raw, (int)len);
    ret = 0;
out:
    OPENSSL_cleanse(raw, sizeof raw);
    return ret;
}

int upload_target_tencent_create(request *r, const upload_slot *s)
{
    int ret;
    char id[UUID_BUF], job[UUID_BUF], sig[4 * (ORIGINAL_MAX + 64) / 3 + 8];
    char expires_at[32];
    const config *c = r->cfg;
    uuid_new(id);
    uuid_new(job);
    time_t now = time(NULL), expires = now + c->tencent_upload_lifetime;
    if (sign(c, job, now, expires, sig, sizeof sig) != 0)
        return reply_error(r, 500, "The upload signature could not be made.");
    if ((ret = upload_target_record(r, s, "tencent", id, job, now, c->tencent_upload_lifetime,
                                    expires_at)) != 0)
        goto out;
    json_object *u = json_object_new_object();
    json_object_object_add(u, "id", json_object_new_string(id));
    json_object_object_add(u, "target", json_object_new_string("tencent"));
    json_object_object_add(u, "signature", json_object_new_string(sig));
    json_object_object_add(u, "expires_at", json_object_new_string(expires_at));
    json_object_object_add(u, "source_context", json_object_new_string(job));
    if (c->tencent_subappid > 0)
        json_object_object_add(u, "vod_sub_app_id", json_object_new_int64(c->tencent_subappid));
    ret = upload_target_created(r, job, u);
out:
    OPENSSL_cleanse(sig, sizeof sig);
    return ret;
}
