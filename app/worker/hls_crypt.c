/* HLS AES-128 of the local encoder's outputs (app/worker/hls_crypt.h). */
#include "worker/hls_crypt.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "db.h"
#include "hash.h"
#include "log.h"
#include "playback.h"
#include "worker/ffmpeg.h"
#include "worker/wsql.h"

#define CHUNK (64u << 10)
#define KEY_TAG "#EXT-X-KEY:"

int hls_crypt_wanted(task_ctx *ctx, const profile *p, bool *want, task_result *res)
{
    profile d;
    PGresult *r = NULL;
    const char *v[] = {ctx->job_id};
    *want = false;
    if (!p) {
        profile_defaults(&d);
        p = &d;
    }
    if (p->encryption != PROFILE_ENC_AUTO) {
        *want = p->encryption == PROFILE_ENC_AES128;
        return 0;
    }
    if (!ctx->db || !ctx->job_id || db_exec(ctx->db, W_JOB_PLAYBACK, 1, v, &r) != 0) {
        task_fail(res, TASK_RETRY, 3, "the database is unavailable");
        return -1;
    }
    /* The job's ACL as /media/status reads it (app/acl.h): one that does
     * not admit anonymous callers keeps its segments from them too. */
    *want = PQntuples(r) == 1 &&
            !acl_admits(PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0), NULL, NULL);
    PQclear(r);
    return 0;
}

/* AES-128-CBC with PKCS#7 padding of the file in into the new file out
 * (enc: 1 encrypts, 0 decrypts). Returns 0, or -1 with errno set (ENOSPC or
 * EDQUOT: the disk is full; EBADMSG: not decryptable with this key); out is
 * removed on failure. */
static int crypt_file(int enc, const unsigned char key[16], const unsigned char iv[16],
                      const char *in, const char *out)
{
    FILE *fi = fopen(in, "rb"), *fo = NULL;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    unsigned char *ib = malloc(CHUNK), *ob = malloc(CHUNK + 16);
    int ret = -1, err = ENOMEM, n;
    size_t got;
    if (!fi) {
        err = errno;
        goto out;
    }
    if (!c || !ib || !ob)
        goto out;
    if (!(fo = fopen(out, "wb"))) {
        err = errno;
        goto out;
    }
    err = EBADMSG;
    if (EVP_CipherInit_ex(c, EVP_aes_128_cbc(), NULL, key, iv, enc) != 1)
        goto out;
    while ((got = fread(ib, 1, CHUNK, fi)) > 0) {
        if (EVP_CipherUpdate(c, ob, &n, ib, (int)got) != 1)
            goto out;
        if (n > 0 && fwrite(ob, 1, (size_t)n, fo) != (size_t)n) {
            err = errno;
            goto out;
        }
    }
    if (ferror(fi)) {
        err = EIO;
        goto out;
    }
    if (EVP_CipherFinal_ex(c, ob, &n) != 1) /* a wrong key: the padding does not check */
        goto out;
    if (n > 0 && fwrite(ob, 1, (size_t)n, fo) != (size_t)n) {
        err = errno;
        goto out;
    }
    FILE *f = fo;
    fo = NULL;
    if (fclose(f) != 0) {
        err = errno;
        unlink(out);
        goto out;
    }
    ret = 0;
out:
    if (fi)
        fclose(fi);
    if (fo) {
        fclose(fo);
        unlink(out);
    }
    EVP_CIPHER_CTX_free(c);
    free(ib);
    free(ob);
    if (ret != 0)
        errno = err;
    return ret;
}

int hls_crypt_decrypt_file(const unsigned char key[16], const unsigned char iv[16],
                           const char *in, const char *out)
{
    return crypt_file(0, key, iv, in, out);
}

/* Whether errno says the disk is full. */
static bool no_space(void)
{
    return errno == ENOSPC || errno == EDQUOT;
}

/* Writes len bytes of buf to path through a temporary file beside it,
 * renamed over it. Returns 0, or -1 with errno set. */
static int replace_file(const char *path, const char *buf, size_t len)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    bool ok = fwrite(buf, 1, len, f) == len;
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        err = ok ? errno : err;
        unlink(tmp);
        errno = err;
        return -1;
    }
    return 0;
}

/* A segment name of the encoder's: plain characters, no dot first, no path. */
static bool segment_name_ok(const char *s, size_t n)
{
    return n > 0 && n < 128 && s[0] != '.' &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") >= n;
}

/* Encrypts the segments of the media playlist vdir/index.m3u8 (each
 * through a temporary file renamed over it), then rewrites the playlist
 * with an #EXT-X-KEY naming key_uri and a fresh IV before each segment.
 * Returns 0, HLS_CRYPT_NOSPACE, or -1 with why set. */
static int crypt_variant(const char *vdir, const unsigned char key[16], const char *key_uri,
                         char *why, size_t cap)
{
    char path[PATH_MAX], seg[PATH_MAX], tmp[PATH_MAX], ivhex[33];
    unsigned char iv[16];
    size_t len = 0, lines = 1, o = 0;
    bool pending = false;
    int ret = -1;
    char *buf = NULL, *out = NULL;
    if (snprintf(path, sizeof path, "%s/index.m3u8", vdir) >= (int)sizeof path ||
        !(buf = hls_read_file(path, HLS_PLAYLIST_CAP, &len))) {
        snprintf(why, cap, "%s is unreadable", path);
        goto out;
    }
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    size_t key_line = strlen(KEY_TAG "METHOD=AES-128,URI=\"\",IV=0x\n") + strlen(key_uri) + 32;
    if (!(out = malloc(len + lines * key_line + 2))) {
        snprintf(why, cap, "out of memory");
        goto out;
    }
    const char *line;
    size_t ln;
    for (size_t i = 0; playback_next_line(buf, len, &i, &line, &ln);) {
        if (ln >= strlen(KEY_TAG) && memcmp(line, KEY_TAG, strlen(KEY_TAG)) == 0) {
            snprintf(why, cap, "%s is encrypted already", path);
            goto out;
        }
        if (ln >= 8 && memcmp(line, "#EXTINF:", 8) == 0) {
            /* The next segment's key, with an IV of its own. */
            if (RAND_bytes(iv, sizeof iv) != 1) {
                snprintf(why, cap, "no randomness for an IV");
                goto out;
            }
            to_hex(iv, sizeof iv, ivhex);
            o += (size_t)sprintf(out + o, KEY_TAG "METHOD=AES-128,URI=\"%s\",IV=0x%s\n", key_uri,
                                 ivhex);
            pending = true;
        } else if (ln && line[0] != '#') {
            if (!pending || !segment_name_ok(line, ln) ||
                snprintf(seg, sizeof seg, "%s/%.*s", vdir, (int)ln, line) >= (int)sizeof seg ||
                snprintf(tmp, sizeof tmp, "%s/.%.*s.aes", vdir, (int)ln, line) >= (int)sizeof tmp) {
                snprintf(why, cap, "%s names a segment it should not", path);
                goto out;
            }
            if (crypt_file(1, key, iv, seg, tmp) != 0 || rename(tmp, seg) != 0) {
                ret = no_space() ? HLS_CRYPT_NOSPACE : -1;
                snprintf(why, cap, "cannot encrypt %s: %s", seg, strerror(errno));
                unlink(tmp);
                goto out;
            }
            pending = false;
        }
        memcpy(out + o, line, ln);
        o += ln;
        out[o++] = '\n';
    }
    if (replace_file(path, out, o) != 0) {
        ret = no_space() ? HLS_CRYPT_NOSPACE : -1;
        snprintf(why, cap, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    ret = 0;
out:
    OPENSSL_cleanse(iv, sizeof iv);
    free(buf);
    free(out);
    return ret;
}

int hls_crypt_outputs(task_ctx *ctx, const char *dir, int nvariants, struct json_object *extras,
                      task_result *res)
{
    unsigned char key[16];
    char uri[1024], nstr[16], tid[24], vdir[PATH_MAX];
    char why[PATH_MAX + 200] = "a path is too long";
    PGresult *r = NULL;
    int ret = -1;
    if (RAND_bytes(key, sizeof key) != 1) {
        task_fail(res, TASK_RETRY, 3, "no randomness for the HLS key");
        goto out;
    }
    if (playback_key_uri(ctx->cfg, ctx->job_id, ctx->attempt, uri, sizeof uri) != 0) {
        task_fail(res, TASK_FAILED, 3, "the HLS key's URI does not fit");
        goto out;
    }
    /* The key is stored before anything it encrypts can be published. */
    snprintf(nstr, sizeof nstr, "%d", ctx->attempt);
    snprintf(tid, sizeof tid, "%lld", ctx->id);
    const char *v[] = {ctx->job_id, nstr, (const char *)key, tid};
    const int lens[] = {0, 0, (int)sizeof key, 0}, fmts[] = {0, 0, 1, 0};
    if (!ctx->db || db_exec_params(ctx->db, W_KEY_PUT, 4, v, lens, fmts, &r) != 0) {
        task_fail(res, TASK_RETRY, 3, "the database is unavailable");
        goto out;
    }
    if (PQntuples(r) != 1) { /* the attempt no longer holds the task */
        res->outcome = TASK_HANDBACK;
        goto out;
    }
    for (int i = 0; i < nvariants; i++) {
        int rc = snprintf(vdir, sizeof vdir, "%s/v%d", dir, i) < (int)sizeof vdir
                     ? crypt_variant(vdir, key, uri, why, sizeof why)
                     : -1;
        if (rc == HLS_CRYPT_NOSPACE) {
            ret = rc;
            goto out;
        }
        if (rc != 0) {
            log_warn("task %lld: %s", ctx->id, why);
            task_fail(res, TASK_RETRY, 10, "the outputs could not be encrypted");
            goto out;
        }
    }
    json_object *e = json_object_new_object();
    json_object_object_add(e, "method", json_object_new_string("AES-128"));
    json_object_object_add(e, "key_uri", json_object_new_string(uri));
    json_object_object_add(extras, "encryption", e);
    ret = 0;
out:
    OPENSSL_cleanse(key, sizeof key);
    PQclear(r);
    return ret;
}

/* The value of attribute name (e.g. "URI=") in the attribute list a[0..n):
 * its start and length (quotes removed), or NULL. */
static const char *attr(const char *a, size_t n, const char *name, size_t *vl)
{
    size_t nl = strlen(name);
    for (size_t k = 0; k + nl <= n; k++) {
        if ((k == 0 || a[k - 1] == ',') && memcmp(a + k, name, nl) == 0) {
            const char *v = a + k + nl, *end = a + n;
            if (v < end && *v == '"') {
                const char *q = memchr(v + 1, '"', (size_t)(end - v - 1));
                if (!q)
                    return NULL;
                *vl = (size_t)(q - v - 1);
                return v + 1;
            }
            const char *c = memchr(v, ',', (size_t)(end - v));
            *vl = (size_t)((c ? c : end) - v);
            return v;
        }
    }
    return NULL;
}

int hls_crypt_unhex(const char *h, size_t hl, unsigned char *out, size_t n)
{
    if (hl != 2 * n)
        return -1;
    for (size_t i = 0; i < hl; i++) {
        char c = h[i];
        int v = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0)
            return -1;
        out[i / 2] = (unsigned char)(i % 2 ? (out[i / 2] << 4) | v : v);
    }
    return 0;
}

int hls_crypt_key_line(const char *line, size_t ln, hls_key *k)
{
    size_t tl = strlen(KEY_TAG), vl, ul = 0, xl = 0;
    memset(k, 0, sizeof *k);
    if (ln <= tl || memcmp(line, KEY_TAG, tl) != 0)
        return -1;
    const char *a = line + tl;
    size_t al = ln - tl;
    const char *m = attr(a, al, "METHOD=", &vl);
    k->aes = m && vl == 7 && memcmp(m, "AES-128", 7) == 0;
    if (!k->aes)
        return m && vl == 4 && memcmp(m, "NONE", 4) == 0 ? 0 : -1; /* SAMPLE-AES: not ours */
    const char *u = attr(a, al, "URI=", &ul), *s, *x = attr(a, al, "IV=", &xl);
    if (!u || !(s = memrchr(u, '/', ul)) || s + 1 == u + ul || s[1] == '0' || u + ul - s - 1 > 9)
        return -1;
    for (const char *d = s + 1; d < u + ul; d++) {
        if (*d < '0' || *d > '9')
            return -1;
        k->n = k->n * 10 + (*d - '0');
    }
    k->has_iv = x != NULL;
    if (x && (xl != 34 || (memcmp(x, "0x", 2) != 0 && memcmp(x, "0X", 2) != 0) ||
              hls_crypt_unhex(x + 2, 32, k->iv, sizeof k->iv) != 0))
        return -1;
    return 0;
}

void hls_crypt_segment_iv(const hls_key *k, long long seq, unsigned char iv[16])
{
    if (k->has_iv) {
        memcpy(iv, k->iv, 16);
        return;
    }
    memset(iv, 0, 16); /* the media sequence number, big-endian */
    for (int b = 0; b < 8; b++)
        iv[15 - b] = (unsigned char)((unsigned long long)seq >> (8 * b));
}

int hls_crypt_segment_key(const char *pl, size_t len, const char *name, int *n,
                          unsigned char iv[16])
{
    hls_key k = {0};
    long long seq = 0;
    const char *line;
    size_t ln;
    for (size_t i = 0; playback_next_line(pl, len, &i, &line, &ln);) {
        if (ln > 22 && memcmp(line, "#EXT-X-MEDIA-SEQUENCE:", 22) == 0) {
            seq = 0;
            for (size_t d = 22; d < ln && line[d] >= '0' && line[d] <= '9' && seq < 1000000000000LL;
                 d++)
                seq = seq * 10 + (line[d] - '0');
        } else if (ln > strlen(KEY_TAG) && memcmp(line, KEY_TAG, strlen(KEY_TAG)) == 0) {
            if (hls_crypt_key_line(line, ln, &k) != 0)
                return -1;
        } else if (ln && line[0] != '#') {
            if (ln == strlen(name) && memcmp(line, name, ln) == 0) {
                if (!k.aes)
                    return 0;
                hls_crypt_segment_iv(&k, seq, iv);
                *n = k.n;
                return 1;
            }
            seq++;
        }
    }
    return -1;
}
