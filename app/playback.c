/* Playback from the bucket: signed playlist routes and their rewriting.
 * See playback.h. */
#include "playback.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "config.h"
#include "hash.h"
#include "providers/jw_delivery.h"
#include "providers/sigv4.h"
#include "storage/storage.h"

#define KEY_LABEL "mediagate playback v1"
#define JOB_CHARS PLAYBACK_JOB_CHARS
#define FILE_CHARS JOB_CHARS "./"

bool playback_public(const config *cfg, const char *acl)
{
    return !*cfg->media_signing_secret && acl_admits(acl, NULL, NULL);
}

bool playback_public_read(const config *cfg, const char *acl, const char *unsigned_rec)
{
    return unsigned_rec && strcmp(unsigned_rec, "t") == 0 && playback_public(cfg, acl);
}

int playback_key(const config *cfg, unsigned char key[32])
{
    const char *secret = cfg->media_signing_secret;
    if (!*secret)
        secret = cfg->storage_secret_access_key;
    if (!*secret)
        secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (!secret || !*secret)
        return -1;
    hmac_sha256(secret, strlen(secret), KEY_LABEL, strlen(KEY_LABEL), key);
    return 0;
}

void playback_sign(const unsigned char key[32], const char *job, long long exp,
                   char sig[PLAYBACK_SIG_LEN + 1])
{
    char msg[160];
    unsigned char mac[32];
    int n = snprintf(msg, sizeof msg, "%lld/%.100s", exp, job);
    hmac_sha256(key, 32, msg, n > 0 ? (size_t)n : 0, mac);
    to_hex(mac, PLAYBACK_SIG_LEN / 2, sig);
}

int playback_output(const config *cfg, const char *job, const char *acl, long long now, char *out,
                    size_t cap)
{
    char key[160], sig[PLAYBACK_SIG_LEN + 1];
    unsigned char k[32];
    size_t jl = strlen(job);
    int n;
    if (jl < 1 || jl > 100 || strspn(job, JOB_CHARS) != jl)
        return -1;
    if (playback_public(cfg, acl)) {
        snprintf(key, sizeof key, "media/%s/master.m3u8", job);
        if (store_public_url(cfg, key, out, cap) != 0 || !strrchr(out, '/'))
            return -1;
        strrchr(out, '/')[1] = '\0';
        return 0;
    }
    if (playback_key(cfg, k) != 0)
        return -1;
    long long exp = jw_expiry(now, cfg->media_url_lifetime);
    playback_sign(k, job, exp, sig);
    n = snprintf(out, cap, "%s/media/hls/%s/%lld/%s/", cfg->prefix, sig, exp, job);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

bool playback_valid(const unsigned char key[32], const char *job, long long exp, const char *sig,
                    long long now)
{
    char want[PLAYBACK_SIG_LEN + 1];
    playback_sign(key, job, exp, want);
    return strlen(sig) == PLAYBACK_SIG_LEN && CRYPTO_memcmp(want, sig, PLAYBACK_SIG_LEN) == 0 &&
           exp > now;
}

typedef struct follow_walk {
    store *s;
    bool public_read;
    long *done;
    store_status st;
} follow_walk;

static int follow_one(void *arg, const char *key, const store_object *o)
{
    follow_walk *w = arg;
    (void)o;
    if ((w->st = store_set_public(w->s, key, w->public_read)) != STORE_OK)
        return 1;
    (*w->done)++;
    return 0;
}

int playback_follow(store *s, const char *job, bool public_read, long *done)
{
    char prefix[160];
    follow_walk w = {s, public_read, done, STORE_OK};
    *done = 0;
    if (snprintf(prefix, sizeof prefix, "media/%s/", job) >= (int)sizeof prefix)
        return STORE_ERROR;
    store_status st = store_list(s, prefix, follow_one, &w);
    return st != STORE_OK ? st : w.st;
}

/* True when f[0..n) is a relative path of FILE_CHARS whose segments are
 * neither empty nor start with a dot. */
static bool relative_ok(const char *f, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!f[i] || !strchr(FILE_CHARS, f[i]))
            return false;
        if ((i == 0 || f[i - 1] == '/') && (f[i] == '/' || f[i] == '.'))
            return false;
    }
    return f[n - 1] != '/';
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t sl = strlen(suffix);
    return n >= sl && memcmp(s + n - sl, suffix, sl) == 0;
}

int playback_parse(const char *path, size_t len, char sig[PLAYBACK_SIG_LEN + 1], long long *exp,
                   char job[101], char file[512])
{
    const char *p = path, *end = path + len, *slash;
    /* <sig>/ */
    if (len < PLAYBACK_SIG_LEN + 1 || p[PLAYBACK_SIG_LEN] != '/' ||
        strspn(p, "0123456789abcdef") < PLAYBACK_SIG_LEN)
        return -1;
    memcpy(sig, p, PLAYBACK_SIG_LEN);
    sig[PLAYBACK_SIG_LEN] = '\0';
    p += PLAYBACK_SIG_LEN + 1;
    /* <exp>/: 1 to 12 digits */
    long long e = 0;
    size_t d = 0;
    while (p + d < end && p[d] >= '0' && p[d] <= '9' && d < 13)
        e = e * 10 + (p[d++] - '0');
    if (d == 0 || d > 12 || p + d >= end || p[d] != '/')
        return -1;
    p += d + 1;
    /* <job>/ */
    slash = memchr(p, '/', (size_t)(end - p));
    if (!slash || slash == p || slash - p > 100)
        return -1;
    for (const char *q = p; q < slash; q++)
        if (!*q || !strchr(JOB_CHARS, *q))
            return -1;
    size_t jl = (size_t)(slash - p), fl = (size_t)(end - slash - 1);
    if (!relative_ok(slash + 1, fl) || fl >= 512)
        return -1;
    memcpy(job, p, jl);
    job[jl] = '\0';
    memcpy(file, slash + 1, fl);
    file[fl] = '\0';
    *exp = e;
    return 0;
}

playback_kind playback_file_kind(const char *file)
{
    size_t n = strlen(file);
    return ends_with(file, n, ".m3u8")  ? PLAYBACK_PLAYLIST
           : ends_with(file, n, ".vtt") ? PLAYBACK_VTT
                                        : PLAYBACK_OBJECT;
}

bool playback_next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *ln)
{
    if (*pos >= len)
        return false;
    const char *l = buf + *pos, *nl = memchr(l, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - l) : len - *pos;
    *pos += n + (nl ? 1 : 0);
    if (n && l[n - 1] == '\r')
        n--;
    *line = l;
    *ln = n;
    return true;
}

const char *playback_key_base(const config *cfg)
{
    return *cfg->public_url ? cfg->public_url : cfg->prefix;
}

/* The length of base without its trailing '/'s. */
static size_t base_len(const char *base)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    return n;
}

int playback_key_uri(const config *cfg, const char *job, int n, char *out, size_t cap)
{
    const char *base = playback_key_base(cfg);
    int k = snprintf(out, cap, "%.*s/media/key/%s/%d", (int)base_len(base), base, job, n);
    return k > 0 && (size_t)k < cap ? 0 : -1;
}

/* The key route's attempt in u[0..n) when u names dir's job's key,
 * "<base>/media/key/<job>/<1 to 9 digits, no leading zero>", dir being
 * "media/<job>/...", under whatever base it was written with (the settings
 * of the encode: MEDIAGATE_PUBLIC_URL's origin and path, or MEDIAGATE_PREFIX
 * alone): base is "" or a path-absolute or http(s) URL prefix of plain URL
 * characters, no query, no fragment. Sets *digits and *dl to the attempt's
 * digits and returns true; false for anything else. */
static bool own_key_uri(const char *u, size_t n, const char *dir, const char **digits, size_t *dl)
{
    const char *job = dir + 6, *end = strchr(job, '/');
    if (strncmp(dir, "media/", 6) != 0 || !end || end == job)
        return false;
    size_t jl = (size_t)(end - job), d = n;
    while (d > 0 && u[d - 1] >= '0' && u[d - 1] <= '9')
        d--;
    size_t nd = n - d, tail = 11 + jl + 1; /* "/media/key/" job "/" */
    if (nd < 1 || nd > 9 || u[d] == '0' || d < tail)
        return false;
    size_t bl = d - tail;
    if (memcmp(u + bl, "/media/key/", 11) != 0 || memcmp(u + bl + 11, job, jl) != 0 ||
        u[d - 1] != '/')
        return false;
    /* The base: nothing, a path, or an http(s) origin and path. */
    size_t skip = 0;
    if (bl >= 8 && memcmp(u, "https://", 8) == 0)
        skip = 8;
    else if (bl >= 7 && memcmp(u, "http://", 7) == 0)
        skip = 7;
    else if (bl > 0 && u[0] != '/')
        return false;
    for (size_t i = skip; i < bl; i++)
        if (!u[i] || !strchr(FILE_CHARS "~:@%+", u[i]))
            return false;
    *digits = u + d;
    *dl = nd;
    return true;
}

typedef struct obuf {
    char *p;
    size_t len, cap;
    bool failed;
} obuf;

static void append(obuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap : 4096);
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Appends the URI u[0..n) as it is to be served: a playlist's unchanged,
 * another object's as fn's URL for dir + u. Returns 0, or -1 with why. */
static int put_uri(obuf *b, const char *dir, const char *u, size_t n, playback_url_fn fn, void *arg,
                   char *why, size_t whycap)
{
    char key[1100], url[4096];
    int k = snprintf(key, sizeof key, "%s%.*s", dir, (int)n, u);
    if (!relative_ok(u, n) || k < 0 || (size_t)k >= sizeof key || !store_key_ok(key)) {
        snprintf(why, whycap, "the playlist names '%.*s', not a file of its job",
                 (int)(n > 80 ? 80 : n), u);
        return -1;
    }
    if (ends_with(u, n, ".m3u8")) {
        append(b, u, n);
        return 0;
    }
    if (fn(arg, key, url, sizeof url) != 0) {
        snprintf(why, whycap, "no URL for %.200s", key);
        return -1;
    }
    append(b, url, strlen(url));
    return 0;
}

int playback_rewrite(const char *buf, size_t len, const char *dir, const char *key_base,
                     playback_url_fn fn, void *arg, char **out, size_t *outlen, char *why,
                     size_t whycap)
{
    obuf b = {0};
    int ret = -1;
    *out = NULL;
    *outlen = 0;
    if (len < 7 || memcmp(buf, "#EXTM3U", 7) != 0) {
        snprintf(why, whycap, "not an HLS playlist (no #EXTM3U)");
        goto out;
    }
    const char *line;
    size_t ln;
    for (size_t i = 0; playback_next_line(buf, len, &i, &line, &ln);) {
        if (memchr(line, '\0', ln)) {
            snprintf(why, whycap, "the playlist holds a NUL byte");
            goto out;
        }
        size_t lead = strspn(line, " \t");
        if (lead >= ln) { /* blank */
            append(&b, "\n", 1);
            continue;
        }
        if (line[0] != '#') { /* a URI line */
            size_t ul = ln - lead;
            while (ul && (line[lead + ul - 1] == ' ' || line[lead + ul - 1] == '\t'))
                ul--;
            if (put_uri(&b, dir, line + lead, ul, fn, arg, why, whycap) != 0)
                goto out;
            append(&b, "\n", 1);
            continue;
        }
        /* A tag: its URI="..." attribute, if any (EXT-X-MAP, EXT-X-MEDIA,
         * EXT-X-I-FRAME-STREAM-INF, EXT-X-KEY). */
        /* At most one, quoted, right after the tag's ':' or a ',': any other
         * URI= (a second one, one after a space, one unquoted) is refused,
         * as a player might take it and it would pass unrewritten. */
        const char *at = NULL;
        for (size_t k = 0; k + 4 <= ln; k++) {
            if (memcmp(line + k, "URI=", 4) != 0)
                continue;
            if (at || k == 0 || (line[k - 1] != ':' && line[k - 1] != ',') || k + 5 > ln ||
                line[k + 4] != '"') {
                snprintf(why, whycap, "the playlist has a URI attribute it may not have");
                goto out;
            }
            at = line + k + 5;
        }
        const char *close = at ? memchr(at, '"', ln - (size_t)(at - line)) : NULL;
        if (!at || !close) {
            append(&b, line, ln);
            append(&b, "\n", 1);
            continue;
        }
        append(&b, line, (size_t)(at - line));
        /* The job's own key route: the player asks mediagate for the key, as
         * the caller it is, at the key route of today's settings (a playlist
         * encoded before MEDIAGATE_PUBLIC_URL or MEDIAGATE_PREFIX changed
         * names the old one). */
        const char *dg;
        size_t dl;
        if (key_base && ln > 11 && memcmp(line, "#EXT-X-KEY:", 11) == 0 &&
            own_key_uri(at, (size_t)(close - at), dir, &dg, &dl)) {
            const char *job = dir + 6;
            append(&b, key_base, base_len(key_base));
            append(&b, "/media/key/", 11);
            append(&b, job, (size_t)(strchr(job, '/') - job));
            append(&b, "/", 1);
            append(&b, dg, dl);
        } else if (put_uri(&b, dir, at, (size_t)(close - at), fn, arg, why, whycap) != 0)
            goto out;
        append(&b, close, ln - (size_t)(close - line));
        append(&b, "\n", 1);
    }
    if (b.failed) {
        snprintf(why, whycap, "out of memory");
        goto out;
    }
    *out = b.p;
    *outlen = b.len;
    b.p = NULL;
    ret = 0;
out:
    free(b.p);
    return ret;
}
