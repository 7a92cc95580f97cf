/* The local encoder's outputs beside the ladder (see extras.h). */
#include "worker/extras.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define JPEG_CAP (64u << 20) /* a 10 x 10 sheet of 640 px tiles is a few MiB */
#define GREY_FRAME (EXTRAS_GREY_SIDE * EXTRAS_GREY_SIDE)
/* A grey candidate is black when fewer than 2 % of its pixels are above
 * about an eighth of full scale (blackdetect's picture threshold: 98 %). */
#define BLACK_PIXEL 32
#define BLACK_SHARE 0.02

void extras_plan_make(const profile *p, int w, int h, double duration_s, bool audio, int top_w,
                      int top_h, int audio_kbps, extras_plan *x)
{
    profile d;
    if (!p) {
        profile_defaults(&d);
        p = &d;
    }
    memset(x, 0, sizeof *x);
    x->poster = p->poster;
    /* Default: a little in (2 s, or a third of a short video); never past the end. */
    double t = p->poster_time >= 0 ? p->poster_time : duration_s > 0 ? fmin(2, duration_s / 3) : 2;
    if (duration_s > 0 && t > duration_s - 0.5)
        t = duration_s > 0.5 ? duration_s - 0.5 : 0;
    x->poster_t = t;
    x->poster_n = EXTRAS_POSTER_MAX;
    /* Five candidates a second apart; the others spread over the rest of a
     * long video (a black title card longer than five seconds). */
    double rest = duration_s - t - 4;
    x->poster_step = rest > EXTRAS_POSTER_MAX - 4 ? (int)(rest / (EXTRAS_POSTER_MAX - 4)) : 1;
    x->poster_w = top_w;
    x->poster_h = top_h;

    x->storyboard = p->storyboard;
    double iv = p->sb_interval > 0 ? p->sb_interval
                : duration_s > 0   ? fmax(1, ceil(duration_s / EXTRAS_SB_MAX_TILES))
                                   : 10;
    if (duration_s > 0 && duration_s / iv > EXTRAS_SB_MAX_TILES) /* the sheet stays bounded */
        iv = ceil(duration_s * 1000 / EXTRAS_SB_MAX_TILES) / 1000;
    iv = round(iv * 1000) / 1000;
    int tiles = duration_s > 0 ? (int)ceil(duration_s / iv - 1e-9) : EXTRAS_SB_MAX_TILES;
    tiles = tiles < 1 ? 1 : tiles > EXTRAS_SB_MAX_TILES ? EXTRAS_SB_MAX_TILES : tiles;
    x->sb_interval = iv;
    x->sb_tiles = tiles;
    x->sb_cols = tiles < EXTRAS_SB_COLUMNS ? tiles : EXTRAS_SB_COLUMNS;
    x->sb_rows = (tiles + x->sb_cols - 1) / x->sb_cols;
    /* Tiles sb_width wide; a tall source's no more than twice as high (the
     * width shrinks), so no aspect makes the sheet too large for a JPEG. */
    double aspect = w > 0 && h > 0 ? (double)h / w : 9.0 / 16;
    x->sb_w = p->sb_width;
    if (aspect > 2)
        x->sb_w = (int)lround(2.0 * p->sb_width / aspect / 2) * 2;
    if (x->sb_w < 2)
        x->sb_w = 2;
    x->sb_h = (int)lround(x->sb_w * aspect / 2) * 2;
    if (x->sb_h < 2)
        x->sb_h = 2;
    if (x->sb_h > 2 * p->sb_width) /* a 2-pixel-wide tile is squeezed */
        x->sb_h = 2 * p->sb_width;

    x->audio_only = p->audio_only && audio;
    x->audio_only_kbps = audio_kbps > 0 ? audio_kbps : 128;
}

/* A new string: prefix, then v's. */
static json_object *prefixed(json_object *v, const char *prefix)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s", prefix, json_object_get_string(v));
    return json_object_new_string(buf);
}

/* o's string member key (when there is one) with prefix before it. */
static void prefix_member(json_object *o, const char *key, const char *prefix)
{
    json_object *v;
    if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        json_object_object_add(o, key, prefixed(v, prefix));
}

void extras_prefix(json_object *extras, const char *prefix)
{
    json_object *o, *a;
    if (json_object_object_get_ex(extras, "poster", &o))
        prefix_member(o, "file", prefix);
    if (json_object_object_get_ex(extras, "audio_only", &o))
        prefix_member(o, "playlist", prefix);
    if (json_object_object_get_ex(extras, "storyboard", &o)) {
        prefix_member(o, "vtt", prefix);
        if (json_object_object_get_ex(o, "images", &a))
            for (size_t i = 0; i < json_object_array_length(a); i++)
                json_object_array_put_idx(a, i, prefixed(json_object_array_get_idx(a, i), prefix));
    }
    if (json_object_object_get_ex(extras, "mp4", &a))
        for (size_t i = 0; i < json_object_array_length(a); i++)
            prefix_member(json_object_array_get_idx(a, i), "file", prefix);
}

json_object *extras_seconds(double s)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.3f", round(s * 1000) / 1000);
    char *end = buf + strlen(buf);
    while (end[-1] == '0') /* "2.500" is 2.5, "3.000" is 3 */
        *--end = '\0';
    if (end[-1] == '.')
        *--end = '\0';
    return json_object_new_double_s(atof(buf), buf);
}

void extras_missing(json_object *extras, const char *output, const char *reason)
{
    json_object *m;
    if (!json_object_object_get_ex(extras, "missing", &m)) {
        m = json_object_new_array();
        json_object_object_add(extras, "missing", m);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "output", json_object_new_string(output));
    json_object_object_add(o, "reason", json_object_new_string(reason));
    json_object_array_add(m, o);
}

static unsigned be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

int extras_jpeg_parse(const unsigned char *buf, size_t len, int *w, int *h)
{
    if (len < 4 || buf[0] != 0xFF || buf[1] != 0xD8 || buf[len - 2] != 0xFF || buf[len - 1] != 0xD9)
        return -1;
    size_t pos = 2;
    while (pos + 4 <= len) {
        if (buf[pos] != 0xFF)
            return -1;
        while (pos < len && buf[pos] == 0xFF) /* fill bytes */
            pos++;
        if (pos + 3 > len)
            return -1;
        unsigned m = buf[pos++];
        if (m == 0xD9 || m == 0xDA) /* EOI or the scan before any frame header */
            return -1;
        if ((m >= 0xD0 && m <= 0xD7) || m == 0x01)
            continue;
        unsigned seg = be16(buf + pos);
        if (seg < 2 || pos + seg > len)
            return -1;
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (seg < 7)
                return -1;
            *h = (int)be16(buf + pos + 3);
            *w = (int)be16(buf + pos + 5);
            return *w > 0 && *h > 0 ? 0 : -1;
        }
        pos += seg;
    }
    return -1;
}

/* Reads the regular file path (at most cap bytes): malloc'd, *len set; NULL
 * when missing, empty or too long. */
static unsigned char *read_all(const char *path, size_t cap, size_t *len)
{
    size_t n = 0;
    char *b = hls_read_file(path, cap, &n);
    if (b && n == 0) {
        free(b);
        b = NULL;
    }
    *len = n;
    return (unsigned char *)b;
}

int extras_jpeg_size(const char *path, int *w, int *h)
{
    size_t len;
    unsigned char *b = read_all(path, JPEG_CAP, &len);
    int ret = b ? extras_jpeg_parse(b, len, w, h) : -1;
    free(b);
    return ret;
}

/* Reads n bytes at off of fd into p: 0, or -1 when short. */
static int read_at(int fd, unsigned char *p, size_t n, unsigned long long off)
{
    return pread(fd, p, n, (off_t)off) == (ssize_t)n ? 0 : -1;
}

/* A box header at off (within end): its type, header and whole size. */
static int box_at(int fd, unsigned long long off, unsigned long long end, char type[5],
                  unsigned *hdr, unsigned long long *size)
{
    unsigned char b[16];
    if (off + 8 > end || read_at(fd, b, 8, off) != 0)
        return -1;
    memcpy(type, b + 4, 4);
    type[4] = '\0';
    *hdr = 8;
    *size = be32(b);
    if (*size == 1) {
        if (off + 16 > end || read_at(fd, b + 8, 8, off + 8) != 0)
            return -1;
        *size = be64(b + 8);
        *hdr = 16;
    } else if (*size == 0) {
        *size = end - off;
    }
    return *size >= *hdr && *size <= end - off ? 0 : -1;
}

/* The duration the mvhd among the moov's children [off, end) gives. */
static int mvhd_duration(int fd, unsigned long long off, unsigned long long end, double *d)
{
    for (int i = 0; i < 4096 && off < end; i++) {
        char type[5];
        unsigned hdr;
        unsigned long long size;
        unsigned char b[32];
        if (box_at(fd, off, end, type, &hdr, &size) != 0)
            return -1;
        if (strcmp(type, "mvhd") == 0) {
            if (size < hdr + 32 || read_at(fd, b, 32, off + hdr) != 0)
                return -1;
            /* version 0: 32-bit times; 1: 64-bit */
            uint32_t scale = b[0] == 1 ? be32(b + 20) : be32(b + 12);
            uint64_t dur = b[0] == 1 ? be64(b + 24) : be32(b + 16);
            if (scale == 0)
                return -1;
            *d = (double)dur / scale;
            return 0;
        }
        off += size;
    }
    return -1;
}

int extras_mp4_check(const char *path, double *duration_s, char *why, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), ret = -1;
    struct stat st;
    const char *bad = "is missing or empty";
    bool moov = false, mdat = false;
    double d = -1;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        goto out;
    unsigned long long end = (unsigned long long)st.st_size, off = 0;
    bad = "is cut short or not an MP4";
    for (int i = 0; off < end; i++) {
        char type[5];
        unsigned hdr;
        unsigned long long size;
        if (i > 4096 || box_at(fd, off, end, type, &hdr, &size) != 0 ||
            (i == 0 && strcmp(type, "ftyp") != 0))
            goto out;
        if (strcmp(type, "moov") == 0) {
            if (mdat) {
                bad = "has its moov after its mdat (not faststart)";
                goto out;
            }
            if (moov || mvhd_duration(fd, off + hdr, off + size, &d) != 0)
                goto out;
            moov = true;
        }
        mdat |= strcmp(type, "mdat") == 0;
        off += size;
    }
    if (!moov || !mdat) {
        bad = moov ? "has no media data" : "has no moov";
        goto out;
    }
    *duration_s = d;
    ret = 0;
out:
    if (ret != 0)
        snprintf(why, cap, "%s", bad);
    if (fd >= 0)
        close(fd);
    return ret;
}

/* Whether grey frame f (GREY_FRAME bytes) is black. */
static bool black(const unsigned char *f)
{
    int lit = 0;
    for (int i = 0; i < GREY_FRAME; i++)
        lit += f[i] > BLACK_PIXEL;
    return lit < BLACK_SHARE * GREY_FRAME;
}

/* A missing output, its precise cause logged. */
static void missing(json_object *extras, const char *who, const char *output, const char *reason,
                    const char *cause)
{
    log_warn("%s: %s not made: %s", who, output, cause);
    extras_missing(extras, output, reason);
}

/* The time of poster candidate i (from 0) of plan x. */
static double candidate_time(const extras_plan *x, int i)
{
    int step = x->poster_step > 1 ? x->poster_step : 1;
    return x->poster_t + (i < 5 ? i : 4 + (double)(i - 4) * step);
}

/* The poster: the first candidate that is not black (else the first) as
 * dir/poster.jpg; the candidates go. */
static void finish_poster(const char *dir, const extras_plan *x, json_object *extras,
                          const char *who)
{
    char p[PATH_MAX], q[PATH_MAX + 16], why[160] = "", cause[PATH_MAX + 160] = "";
    size_t len = 0;
    int pick = 0, w = 0, h = 0;
    snprintf(p, sizeof p, "%s/" EXTRAS_POSTER_GREY, dir);
    /* (the first frame of each is the source's first: not a candidate) */
    unsigned char *grey = read_all(p, (size_t)(x->poster_n + 1) * GREY_FRAME, &len);
    int frames = (int)(len / GREY_FRAME) - 1;
    unlink(p);
    if (!grey || frames <= 0) {
        snprintf(why, sizeof why, "the video has no frame at %.1f s to take it from", x->poster_t);
        snprintf(cause, sizeof cause, "no candidate frame came out (%zu grey bytes)", len);
    } else {
        while (pick < frames && black(grey + (size_t)(pick + 1) * GREY_FRAME))
            pick++;
        if (pick == frames) /* all black: the frame at the time */
            pick = 0;
        snprintf(p, sizeof p, "%s/" EXTRAS_POSTER_CAND, dir, pick + 2);
        snprintf(q, sizeof q, "%s/poster.jpg", dir);
        if (extras_jpeg_size(p, &w, &h) != 0)
            snprintf(cause, sizeof cause, "%s is absent or not a whole JPEG", p);
        else if (w != x->poster_w || h != x->poster_h)
            snprintf(cause, sizeof cause, "%s is %dx%d, planned %dx%d", p, w, h, x->poster_w,
                     x->poster_h);
        else if (rename(p, q) != 0)
            snprintf(cause, sizeof cause, "rename %s: %s", p, strerror(errno));
        if (cause[0])
            snprintf(why, sizeof why, "the poster image could not be written");
    }
    free(grey);
    for (int i = 1; i <= EXTRAS_POSTER_MAX + 1; i++) {
        snprintf(p, sizeof p, "%s/" EXTRAS_POSTER_CAND, dir, i);
        unlink(p);
    }
    if (why[0]) {
        missing(extras, who, "poster", why, cause);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "file", json_object_new_string("poster.jpg"));
    json_object_object_add(o, "width", json_object_new_int(w));
    json_object_object_add(o, "height", json_object_new_int(h));
    json_object_object_add(o, "time_s", extras_seconds(candidate_time(x, pick)));
    json_object_object_add(extras, "poster", o);
}

/* A WebVTT time of ms milliseconds. */
static void vtt_time(char *out, size_t cap, long long ms)
{
    snprintf(out, cap, "%02lld:%02lld:%02lld.%03lld", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60,
             ms % 1000);
}

/* Writes path: one cue a tile, [k x interval, (k+1) x interval), the last
 * up to dur_ms. Returns 0, or -1. */
static int write_vtt(const char *path, const extras_plan *x, long long dur_ms)
{
    long long iv = llround(x->sb_interval * 1000);
    long long cues = (dur_ms + iv - 1) / iv;
    if (cues > x->sb_tiles)
        cues = x->sb_tiles;
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("WEBVTT\n", f);
    for (long long k = 0; k < cues; k++) {
        char a[32], b[32];
        vtt_time(a, sizeof a, k * iv);
        vtt_time(b, sizeof b, k == cues - 1 ? dur_ms : (k + 1) * iv);
        fprintf(f, "\n%s --> %s\nstoryboard.jpg#xywh=%d,%d,%d,%d\n", a, b,
                (int)(k % x->sb_cols) * x->sb_w, (int)(k / x->sb_cols) * x->sb_h, x->sb_w, x->sb_h);
    }
    int bad = ferror(f);
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* The storyboard: the sheet read back, then its WebVTT. */
static void finish_storyboard(const char *dir, const extras_plan *x, double duration_s,
                              json_object *extras, const char *who)
{
    char p[PATH_MAX], v[PATH_MAX], s1[PATH_MAX], s2[PATH_MAX], cause[PATH_MAX + 160] = "";
    int w = 0, h = 0;
    long long dur_ms = llround(duration_s * 1000);
    snprintf(p, sizeof p, "%s/storyboard.jpg", dir);
    snprintf(v, sizeof v, "%s/storyboard.vtt", dir);
    snprintf(s1, sizeof s1, "%s/" EXTRAS_SB_SHEETS, dir, 1);
    snprintf(s2, sizeof s2, "%s/" EXTRAS_SB_SHEETS, dir, 2);
    unlink(s1); /* the source's first frame */
    const char *why = "the storyboard's sprite sheet could not be written";
    if (extras_jpeg_size(s2, &w, &h) != 0)
        snprintf(cause, sizeof cause, "%s is absent or not a whole JPEG (no tile came out?)", s2);
    else if (w != x->sb_cols * x->sb_w || h != x->sb_rows * x->sb_h)
        snprintf(cause, sizeof cause, "%s is %dx%d, planned %dx%d", s2, w, h, x->sb_cols * x->sb_w,
                 x->sb_rows * x->sb_h);
    else if (rename(s2, p) != 0)
        snprintf(cause, sizeof cause, "rename %s: %s", s2, strerror(errno));
    else if (dur_ms <= 0 || write_vtt(v, x, dur_ms) != 0) {
        why = "the storyboard's WebVTT could not be written";
        snprintf(cause, sizeof cause, "%s (%lld ms): %s", v, dur_ms,
                 dur_ms <= 0 ? "no duration" : strerror(errno));
    }
    if (cause[0]) {
        unlink(s2);
        unlink(p);
        unlink(v);
        missing(extras, who, "storyboard", why, cause);
        return;
    }
    json_object *o = json_object_new_object(), *imgs = json_object_new_array();
    json_object_array_add(imgs, json_object_new_string("storyboard.jpg"));
    json_object_object_add(o, "vtt", json_object_new_string("storyboard.vtt"));
    json_object_object_add(o, "images", imgs);
    json_object_object_add(o, "tile_width", json_object_new_int(x->sb_w));
    json_object_object_add(o, "tile_height", json_object_new_int(x->sb_h));
    json_object_object_add(o, "columns", json_object_new_int(x->sb_cols));
    json_object_object_add(o, "rows", json_object_new_int(x->sb_rows));
    json_object_object_add(o, "interval_s", extras_seconds(x->sb_interval));
    json_object_object_add(extras, "storyboard", o);
}

void extras_finish(const char *dir, const extras_plan *x, double duration_s, json_object *extras,
                   const char *who)
{
    if (x->poster)
        finish_poster(dir, x, extras, who);
    if (x->storyboard)
        finish_storyboard(dir, x, duration_s, extras, who);
}

int extras_drop_variant(const char *dir, int n)
{
    char p[PATH_MAX], t[PATH_MAX + 8], uri[32];
    size_t len = 0;
    int ret = -1;
    FILE *f = NULL;
    snprintf(p, sizeof p, "%s/master.m3u8", dir);
    snprintf(t, sizeof t, "%s.drop", p);
    snprintf(uri, sizeof uri, "\nv%d/index.m3u8", n);
    char *buf = hls_read_file(p, HLS_PLAYLIST_CAP, &len);
    char *at = buf ? strstr(buf, uri) : NULL;
    if (!at)
        goto out;
    /* from the start of its #EXT-X-STREAM-INF line to the end of its URI */
    char *from = at;
    while (from > buf && from[-1] != '\n')
        from--;
    if (strncmp(from, "#EXT-X-STREAM-INF:", 18) != 0)
        goto out;
    char *end = strchr(at + 1, '\n');
    end = end ? end + 1 : buf + len;
    if (!(f = fopen(t, "w")))
        goto out;
    fwrite(buf, 1, (size_t)(from - buf), f);
    fwrite(end, 1, (size_t)(buf + len - end), f);
    int bad = ferror(f);
    bad |= fclose(f);
    f = NULL;
    if (!bad && rename(t, p) == 0)
        ret = 0;
out:
    if (f)
        fclose(f);
    if (ret != 0)
        unlink(t);
    free(buf);
    return ret;
}
