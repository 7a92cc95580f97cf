/* Captions: WebVTT and SRT checked and normalized, and their HLS
 * subtitles rendition (captions.h). */
#include "captions.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

/* A growing output text; oom once an append failed. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Hands the text over (*out, *outlen): 0, or -1 when an append failed. */
static int finish(sbuf *b, char **out, size_t *outlen)
{
    if (b->oom || !b->p) {
        free(b->p);
        return -1;
    }
    *out = b->p;
    *outlen = b->n;
    return 0;
}

/* The input as lines: LF, CRLF and CR end one. */
typedef struct lines {
    const char *buf;
    size_t len, pos;
    long no; /* the number of the line last read, 1-based */
} lines;

/* The next line into *s, *n (without its end). False at the end. */
static bool next_line(lines *l, const char **s, size_t *n)
{
    if (l->pos >= l->len)
        return false;
    size_t i = l->pos;
    while (i < l->len && l->buf[i] != '\n' && l->buf[i] != '\r')
        i++;
    *s = l->buf + l->pos;
    *n = i - l->pos;
    if (i < l->len && l->buf[i] == '\r' && i + 1 < l->len && l->buf[i + 1] == '\n')
        i++;
    l->pos = i < l->len ? i + 1 : i;
    l->no++;
    return true;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

static bool has_arrow(const char *s, size_t n)
{
    for (size_t i = 0; i + 3 <= n; i++)
        if (memcmp(s + i, "-->", 3) == 0)
            return true;
    return false;
}

static int fail(char *why, size_t cap, long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t cap, long line, const char *fmt, ...)
{
    va_list ap;
    int k = line > 0 ? snprintf(why, cap, "line %ld: ", line) : 0;
    if (k < 0 || (size_t)k >= cap)
        k = 0;
    va_start(ap, fmt);
    vsnprintf(why + k, cap - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

/* Every line is UTF-8 without NUL or control characters but tab. */
static int check_text(const char *buf, size_t len, char *why, size_t cap)
{
    lines l = {buf, len, 0, 0};
    const char *s;
    size_t n;
    while (next_line(&l, &s, &n)) {
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == 0)
                return fail(why, cap, l.no, "a NUL byte: not a text file");
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return fail(why, cap, l.no, "a control character (0x%02x): not a text file", c);
        }
        if (utf8_length(s, n) < 0)
            return fail(why, cap, l.no, "not UTF-8 text");
    }
    return 0;
}

/* Reads 1 to 9 digits at s[*i]; their count (0: none). */
static int digits(const char *s, size_t n, size_t *i, long long *v)
{
    int k = 0;
    *v = 0;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9' && k < 10) {
        *v = *v * 10 + (s[*i] - '0');
        (*i)++;
        k++;
    }
    return k > 9 ? 0 : k;
}

/* A timestamp at s[*i]: WebVTT's "[hh:]mm:ss.ttt" (hours at least two
 * digits), or with srt SRT's "hh:mm:ss,ttt" (a dot taken too). */
static bool timestamp(const char *s, size_t n, size_t *i, bool srt, long long *ms)
{
    long long a, b, c, f;
    int ka = digits(s, n, i, &a);
    if (ka == 0 || *i >= n || s[*i] != ':')
        return false;
    (*i)++;
    if (digits(s, n, i, &b) != 2 || b > 59)
        return false;
    long long h = 0, m = a, sec = b;
    if (*i < n && s[*i] == ':') {
        (*i)++;
        if (digits(s, n, i, &c) != 2 || c > 59 || a > 9999999 || (!srt && ka < 2))
            return false;
        h = a;
        m = b;
        sec = c;
    } else if (srt || a > 59 || ka != 2) {
        return false;
    }
    if (*i >= n || !(s[*i] == '.' || (srt && s[*i] == ',')))
        return false;
    (*i)++;
    if (digits(s, n, i, &f) != 3)
        return false;
    *ms = ((h * 60 + m) * 60 + sec) * 1000 + f;
    return true;
}

static void put_time(sbuf *b, long long ms)
{
    char t[40];
    snprintf(t, sizeof t, "%02lld:%02lld:%02lld.%03lld", ms / 3600000, ms / 60000 % 60,
             ms / 1000 % 60, ms % 1000);
    puts_(b, t);
}

static const char *const settings[] = {"vertical", "line", "position", "size", "align", "region"};

static bool space(char c)
{
    return c == ' ' || c == '\t';
}

/* A timing line s[0..n) ("start --> end[ settings]") written to b. */
static int timing(sbuf *b, const char *s, size_t n, bool srt, long no, char *why, size_t cap)
{
    size_t i = 0;
    long long start, end;
    const char *want = srt ? "hh:mm:ss,ttt --> hh:mm:ss,ttt" : "hh:mm:ss.ttt --> hh:mm:ss.ttt";
    while (srt && i < n && space(s[i]))
        i++;
    if (!timestamp(s, n, &i, srt, &start))
        return fail(why, cap, no, "a malformed start time (want %s)", want);
    size_t sp = i;
    while (i < n && space(s[i]))
        i++;
    if (i == sp || i + 3 > n || memcmp(s + i, "-->", 3) != 0)
        return fail(why, cap, no, "a malformed cue timing (want %s)", want);
    i += 3;
    sp = i;
    while (i < n && space(s[i]))
        i++;
    if (i == sp || !timestamp(s, n, &i, srt, &end))
        return fail(why, cap, no, "a malformed end time (want %s)", want);
    if (i < n && !space(s[i]))
        return fail(why, cap, no, "a malformed end time (want %s)", want);
    if (end < start)
        return fail(why, cap, no, "the cue ends before it starts");
    if (end > CAPTIONS_MAX_MS)
        return fail(why, cap, no, "the cue ends past 48 hours");
    put_time(b, start);
    puts_(b, " --> ");
    put_time(b, end);
    /* SRT's coordinates (X1:...) are dropped; WebVTT's known settings kept. */
    while (!srt && i < n) {
        while (i < n && space(s[i]))
            i++;
        size_t t = i;
        while (i < n && !space(s[i]))
            i++;
        if (t == i)
            break;
        const char *colon = memchr(s + t, ':', i - t);
        if (!colon || colon == s + t || colon + 1 == s + i || has_arrow(s + t, i - t))
            return fail(why, cap, no, "a malformed cue setting (want name:value)");
        size_t kn = (size_t)(colon - (s + t));
        for (size_t k = 0; k < sizeof settings / sizeof settings[0]; k++)
            if (strlen(settings[k]) == kn && memcmp(settings[k], s + t, kn) == 0) {
                puts_(b, " ");
                put(b, s + t, i - t);
            }
    }
    puts_(b, "\n");
    return 0;
}

/* A cue's text lines, up to a blank line, written to b. */
static int cue_text(sbuf *b, lines *l, char *why, size_t cap)
{
    const char *s;
    size_t n;
    while (next_line(l, &s, &n) && !blank(s, n)) {
        if (has_arrow(s, n))
            return fail(why, cap, l->no,
                        "\"-->\" inside a cue's text (a blank line missing "
                        "before the next cue?)");
        put(b, s, n);
        puts_(b, "\n");
    }
    puts_(b, "\n");
    return 0;
}

/* True when s[0..n) is word, alone or followed by a space or tab. */
static bool keyword(const char *s, size_t n, const char *word)
{
    size_t k = strlen(word);
    return n >= k && memcmp(s, word, k) == 0 && (n == k || space(s[k]));
}

/* The next non-blank line, or false at the end. */
static bool next_block(lines *l, const char **s, size_t *n)
{
    while (next_line(l, s, n))
        if (!blank(*s, *n))
            return true;
    return false;
}

static int too_many(char *why, size_t cap, long no)
{
    return fail(why, cap, no, "more than %d cues", CAPTIONS_MAX_CUES);
}

static int parse_vtt(sbuf *b, lines *l, char *why, size_t cap)
{
    const char *s;
    size_t n;
    int cues = 0;
    if (!next_line(l, &s, &n) || !keyword(s, n, "WEBVTT"))
        return fail(why, cap, 1, "a WebVTT file starts with WEBVTT");
    while (next_line(l, &s, &n) && !blank(s, n))
        if (has_arrow(s, n))
            return fail(why, cap, l->no, "a blank line must end the header before the first cue");
    puts_(b, "WEBVTT\n\n");
    while (next_block(l, &s, &n)) {
        if (keyword(s, n, "NOTE")) {
            while (next_line(l, &s, &n) && !blank(s, n))
                ;
            continue;
        }
        if (keyword(s, n, "STYLE") || keyword(s, n, "REGION")) {
            bool keep = cues == 0; /* after a cue, players ignore them */
            do {
                if (has_arrow(s, n))
                    return fail(why, cap, l->no, "\"-->\" inside a STYLE or REGION block");
                if (keep) {
                    put(b, s, n);
                    puts_(b, "\n");
                }
            } while (next_line(l, &s, &n) && !blank(s, n));
            if (keep)
                puts_(b, "\n");
            continue;
        }
        if (++cues > CAPTIONS_MAX_CUES)
            return too_many(why, cap, l->no);
        if (!has_arrow(s, n)) { /* a cue identifier, then the timing line */
            put(b, s, n);
            puts_(b, "\n");
            if (!next_line(l, &s, &n) || blank(s, n) || !has_arrow(s, n))
                return fail(why, cap, l->no,
                            "a cue timing line (hh:mm:ss.ttt --> hh:mm:ss.ttt) "
                            "must follow a cue identifier");
        }
        if (timing(b, s, n, false, l->no, why, cap) != 0 || cue_text(b, l, why, cap) != 0)
            return -1;
    }
    if (cues == 0)
        return fail(why, cap, 0,
                    "the WebVTT file has no cues (to remove a language's captions, DELETE it)");
    return 0;
}

static int parse_srt(sbuf *b, lines *l, char *why, size_t cap)
{
    const char *s;
    size_t n;
    int cues = 0;
    puts_(b, "WEBVTT\n\n");
    while (next_block(l, &s, &n)) {
        size_t i = 0;
        long long num;
        while (i < n && space(s[i]))
            i++;
        if (digits(s, n, &i, &num) == 0 || !blank(s + i, n - i))
            return fail(why, cap, l->no, "an SRT cue number was expected");
        if (++cues > CAPTIONS_MAX_CUES)
            return too_many(why, cap, l->no);
        if (!next_line(l, &s, &n))
            return fail(why, cap, l->no + 1, "the cue's timing line is missing");
        if (timing(b, s, n, true, l->no, why, cap) != 0 || cue_text(b, l, why, cap) != 0)
            return -1;
    }
    if (cues == 0)
        return fail(why, cap, 0, "the SRT file has no cues");
    return 0;
}

/* Whether the text (after its BOM) looks like SRT: a number, then a timing. */
static bool looks_srt(const char *buf, size_t len)
{
    lines l = {buf, len, 0, 0};
    const char *s;
    size_t n, i = 0;
    long long num;
    if (!next_block(&l, &s, &n))
        return false;
    while (i < n && space(s[i]))
        i++;
    return digits(s, n, &i, &num) > 0 && blank(s + i, n - i) && next_line(&l, &s, &n) &&
           has_arrow(s, n);
}

/* buf[0..len), UTF-16 after its byte order mark (FF FE little-endian,
 * FE FF big-endian), as UTF-8 in a malloc'd *u8 (*u8len its length).
 * Returns 0, or -1 with why set. */
static int from_utf16(const char *buf, size_t len, char **u8, size_t *u8len, char *why, size_t cap)
{
    const char *from = (unsigned char)buf[0] == 0xff ? "UTF-16LE" : "UTF-16BE";
    size_t left = len - 2, room = (len - 2) / 2 * 3 + 1; /* a unit is at most 3 bytes of UTF-8 */
    char *in = (char *)buf + 2, *o;
    int ret = -1;
    iconv_t cd = iconv_open("UTF-8", from);
    *u8 = NULL;
    if (cd == (iconv_t)-1)
        return fail(why, cap, 0, "a UTF-16 file (save it as UTF-8)");
    if (!(*u8 = o = malloc(room))) {
        fail(why, cap, 0, "out of memory");
        goto out;
    }
    if (iconv(cd, &in, &left, &o, &room) == (size_t)-1 ||
        iconv(cd, NULL, NULL, &o, &room) == (size_t)-1) {
        fail(why, cap, 0, "%s",
             errno == EINVAL ? "a UTF-16 file that ends inside a character"
                             : "a UTF-16 file that is not valid UTF-16");
        goto out;
    }
    *u8len = (size_t)(o - *u8);
    ret = 0;
out:
    if (ret) {
        free(*u8);
        *u8 = NULL;
    }
    iconv_close(cd);
    return ret;
}

int captions_to_vtt(const char *buf, size_t len, captions_format fmt, char **out, size_t *outlen,
                    char *why, size_t whycap)
{
    sbuf b = {0};
    *out = NULL;
    if (len == 0)
        return fail(why, whycap, 0, "the captions file is empty");
    if (len > CAPTIONS_MAX_BYTES)
        return fail(why, whycap, 0, "the captions file is larger than %d bytes",
                    CAPTIONS_MAX_BYTES);
    if (len >= 2 && (memcmp(buf, "\xff\xfe", 2) == 0 || memcmp(buf, "\xfe\xff", 2) == 0)) {
        char *u8;
        size_t u8len = 0;
        if (from_utf16(buf, len, &u8, &u8len, why, whycap) != 0)
            return -1;
        int r = u8len == 0 ? fail(why, whycap, 0, "the captions file is empty")
                           : captions_to_vtt(u8, u8len, fmt, out, outlen, why, whycap);
        free(u8);
        return r;
    }
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        buf += 3;
        len -= 3;
    }
    if (check_text(buf, len, why, whycap) != 0)
        return -1;
    lines l = {buf, len, 0, 0};
    bool vtt = len >= 6 && memcmp(buf, "WEBVTT", 6) == 0;
    int r;
    if (fmt == CAPTIONS_VTT || (fmt == CAPTIONS_DETECT && vtt))
        r = parse_vtt(&b, &l, why, whycap);
    else if (fmt == CAPTIONS_SRT || looks_srt(buf, len))
        r = parse_srt(&b, &l, why, whycap);
    else
        r = fail(why, whycap, 1,
                 "neither WebVTT (which starts with WEBVTT) nor SRT (which "
                 "starts with a cue number, then its timing line)");
    if (r != 0) {
        free(b.p);
        return -1;
    }
    if (finish(&b, out, outlen) != 0)
        return fail(why, whycap, 0, "out of memory");
    return 0;
}

bool captions_language_ok(const char *tag)
{
    size_t i = 0, k = 0;
    while ((tag[i] >= 'a' && tag[i] <= 'z') || (tag[i] >= 'A' && tag[i] <= 'Z'))
        i++;
    if (i < 2 || i > 3)
        return false;
    for (int sub = 0; tag[i]; sub++) {
        if (sub == 3 || tag[i] != '-')
            return false;
        i++;
        for (k = 0; (tag[i] >= 'a' && tag[i] <= 'z') || (tag[i] >= 'A' && tag[i] <= 'Z') ||
                    (tag[i] >= '0' && tag[i] <= '9');
             k++)
            i++;
        if (k < 1 || k > 8)
            return false;
    }
    return true;
}

void captions_language_canon(char *tag)
{
    bool first = true, singleton = false;
    for (char *p = tag; *p;) {
        size_t n = strcspn(p, "-"), i;
        bool alpha = true, digit = true;
        for (i = 0; i < n; i++) {
            alpha = alpha && ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z'));
            digit = digit && p[i] >= '0' && p[i] <= '9';
        }
        singleton = singleton || (!first && n == 1);
        bool region = !first && !singleton && ((n == 2 && alpha) || (n == 3 && digit));
        bool script = !first && !singleton && n == 4 && alpha;
        for (i = 0; i < n; i++)
            if (region || (script && i == 0))
                p[i] = (p[i] >= 'a' && p[i] <= 'z') ? (char)(p[i] - 32) : p[i];
            else
                p[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] + 32) : p[i];
        first = false;
        p += n;
        if (*p)
            p++;
    }
}

bool captions_label_ok(const char *label)
{
    size_t n = strlen(label);
    long chars = utf8_length(label, n);
    if (chars < 1 || chars > 100)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)label[i] < 0x20 || label[i] == 0x7f || label[i] == '"')
            return false;
    return true;
}

/* The PTS of the PES packet starting at p[0..n), or -1. */
static long long pes_pts(const unsigned char *p, size_t n)
{
    if (n < 14 || p[0] != 0 || p[1] != 0 || p[2] != 1 || (p[6] & 0xc0) != 0x80 || !(p[7] & 0x80))
        return -1;
    const unsigned char *t = p + 9;
    return ((long long)(t[0] & 0x0e) << 29) | ((long long)t[1] << 22) |
           ((long long)(t[2] & 0xfe) << 14) | ((long long)t[3] << 7) | (t[4] >> 1);
}

int captions_ts_first_pts(const unsigned char *buf, size_t len, long long *pts)
{
    enum { PIDS = 16 };
    int seen[PIDS], nseen = 0;
    long long best = -1;
    for (size_t off = 0; off + 188 <= len; off += 188) {
        const unsigned char *p = buf + off;
        if (p[0] != 0x47)
            return -1;
        int pid = ((p[1] & 0x1f) << 8) | p[2];
        if (!(p[1] & 0x40) || !(p[3] & 0x10)) /* no payload start, or no payload */
            continue;
        size_t h = 4;
        if (p[3] & 0x20)
            h += 1 + (size_t)p[4];
        if (h >= 188)
            continue;
        bool dup = false;
        for (int i = 0; i < nseen; i++)
            dup |= seen[i] == pid;
        if (dup)
            continue;
        long long v = pes_pts(p + h, 188 - h);
        if (v < 0)
            continue;
        if (nseen < PIDS)
            seen[nseen++] = pid;
        if (best < 0 || v < best)
            best = v;
    }
    if (best < 0)
        return -1;
    *pts = best;
    return 0;
}

char *captions_vtt_for_hls(const char *vtt, size_t len, long long mpegts, size_t *outlen)
{
    sbuf b = {0};
    char *out = NULL;
    char map[96];
    if (len < 7 || memcmp(vtt, "WEBVTT\n", 7) != 0)
        return NULL;
    snprintf(map, sizeof map, "X-TIMESTAMP-MAP=MPEGTS:%lld,LOCAL:00:00:00.000\n", mpegts);
    puts_(&b, "WEBVTT\n");
    puts_(&b, map);
    put(&b, vtt + 7, len - 7);
    if (finish(&b, &out, outlen) != 0)
        return NULL;
    return out;
}

int captions_media_playlist(const char *language, long long duration_ms, char *out, size_t cap)
{
    if (duration_ms < 1)
        duration_ms = 1;
    int n = snprintf(out, cap,
                     "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%lld\n"
                     "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                     "#EXTINF:%lld.%03lld,\n%s.vtt\n#EXT-X-ENDLIST\n",
                     (duration_ms + 999) / 1000, duration_ms / 1000, duration_ms % 1000, language);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

static bool prefix(const char *s, size_t n, const char *p)
{
    size_t k = strlen(p);
    return n >= k && memcmp(s, p, k) == 0;
}

/* Writes the attribute list s[0..n) (after the tag's ':'), split at commas
 * outside quotes, without SUBTITLES="subs" (with any: without any SUBTITLES).
 * Returns false when a quote is left open (a malformed list). */
static bool put_attrs(sbuf *b, const char *s, size_t n, bool any)
{
    const char *ours = "SUBTITLES=\"" CAPTIONS_GROUP "\"";
    size_t start = 0;
    bool q = false, first = true;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] == '"')
            q = !q;
        if (i < n && (q || s[i] != ','))
            continue;
        const char *a = s + start;
        size_t an = i - start;
        bool sub = prefix(a, an, "SUBTITLES=");
        if (!sub || !(any || (an == strlen(ours) && memcmp(a, ours, an) == 0))) {
            if (!first)
                puts_(b, ",");
            put(b, a, an);
            first = false;
        }
        start = i + 1;
    }
    return !q;
}

/* True when the #EXT-X-MEDIA line s[0..n) is one of the captions' group. */
static bool our_media(const char *s, size_t n)
{
    const char *type = "TYPE=SUBTITLES", *group = "GROUP-ID=\"" CAPTIONS_GROUP "\"";
    bool t = false, g = false;
    size_t i = strlen("#EXT-X-MEDIA:"), start = i;
    bool q = false;
    for (; i <= n; i++) {
        if (i < n && s[i] == '"')
            q = !q;
        if (i < n && (q || s[i] != ','))
            continue;
        t |= i - start == strlen(type) && memcmp(s + start, type, i - start) == 0;
        g |= i - start == strlen(group) && memcmp(s + start, group, i - start) == 0;
        start = i + 1;
    }
    return t && g;
}

static void put_media(sbuf *b, const captions_track *t, int n)
{
    for (int k = 0; k < n; k++) {
        puts_(b, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"" CAPTIONS_GROUP "\",NAME=\"");
        puts_(b, t[k].label);
        puts_(b, "\",LANGUAGE=\"");
        puts_(b, t[k].language);
        puts_(b, "\",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI=\"captions/");
        puts_(b, t[k].language);
        puts_(b, ".m3u8\"\n");
    }
}

int captions_master_rewrite(const char *buf, size_t len, const captions_track *t, int n, char **out,
                            size_t *outlen)
{
    sbuf b = {0};
    lines l = {buf, len, 0, 0};
    const char *s;
    size_t sn;
    bool added = false;
    *out = NULL;
    if (!next_line(&l, &s, &sn) || !prefix(s, sn, "#EXTM3U"))
        return -1;
    put(&b, s, sn);
    puts_(&b, "\n");
    while (next_line(&l, &s, &sn)) {
        if (prefix(s, sn, "#EXT-X-MEDIA:") && our_media(s, sn))
            continue;
        if (prefix(s, sn, "#EXT-X-STREAM-INF:")) {
            if (!added)
                put_media(&b, t, n);
            added = true;
            size_t k = strlen("#EXT-X-STREAM-INF:");
            put(&b, s, k);
            if (!put_attrs(&b, s + k, sn - k, n > 0)) {
                free(b.p);
                return -1;
            }
            if (n > 0)
                puts_(&b, ",SUBTITLES=\"" CAPTIONS_GROUP "\"");
            puts_(&b, "\n");
            continue;
        }
        put(&b, s, sn);
        puts_(&b, "\n");
    }
    if (!added) {
        free(b.p);
        return -1;
    }
    return finish(&b, out, outlen);
}

int captions_master_first_variant(const char *buf, size_t len, char *uri, size_t cap)
{
    lines l = {buf, len, 0, 0};
    const char *s;
    size_t n;
    bool next = false;
    while (next_line(&l, &s, &n)) {
        if (prefix(s, n, "#EXT-X-STREAM-INF:")) {
            next = true;
        } else if (next && n > 0 && s[0] != '#') {
            if (n >= cap)
                return -1;
            memcpy(uri, s, n);
            uri[n] = '\0';
            return 0;
        }
    }
    return -1;
}

/* The quoted or plain value of attribute name in the list s[0..n) into
 * *v, *vn (quotes removed). False when absent. */
static bool attr(const char *s, size_t n, const char *name, const char **v, size_t *vn)
{
    size_t start = 0, k = strlen(name);
    bool q = false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] == '"')
            q = !q;
        if (i < n && (q || s[i] != ','))
            continue;
        if (i - start > k && memcmp(s + start, name, k) == 0 && s[start + k] == '=') {
            *v = s + start + k + 1;
            *vn = i - start - k - 1;
            if (*vn >= 2 && (*v)[0] == '"' && (*v)[*vn - 1] == '"') {
                (*v)++;
                *vn -= 2;
            }
            return true;
        }
        start = i + 1;
    }
    return false;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The key line s[0..n) (after its tag) into *num and iv. Returns 0 (*num 0
 * for METHOD=NONE) or -1. */
static int key_line(const char *s, size_t n, long long seq, int *num, unsigned char iv[16])
{
    const char *v;
    size_t vn;
    *num = 0;
    if (!attr(s, n, "METHOD", &v, &vn))
        return -1;
    if (vn == 4 && memcmp(v, "NONE", 4) == 0)
        return 0;
    if (!(vn == 7 && memcmp(v, "AES-128", 7) == 0) || !attr(s, n, "URI", &v, &vn))
        return -1;
    size_t d = vn;
    while (d > 0 && v[d - 1] >= '0' && v[d - 1] <= '9')
        d--;
    if (d == vn || vn - d > 9 || d == 0 || v[d - 1] != '/')
        return -1;
    for (*num = 0; d < vn; d++)
        *num = *num * 10 + (v[d] - '0');
    memset(iv, 0, 16);
    if (!attr(s, n, "IV", &v, &vn)) {
        for (int i = 0; i < 8; i++)
            iv[15 - i] = (unsigned char)(seq >> (8 * i));
        return *num > 0 ? 0 : -1;
    }
    if (vn != 34 || v[0] != '0' || (v[1] != 'x' && v[1] != 'X'))
        return -1;
    for (int i = 0; i < 16; i++) {
        int hi = hexval(v[2 + 2 * i]), lo = hexval(v[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return -1;
        iv[i] = (unsigned char)(hi << 4 | lo);
    }
    return *num > 0 ? 0 : -1;
}

int captions_first_segment(const char *buf, size_t len, char *uri, size_t cap, int *n,
                           unsigned char iv[16])
{
    lines l = {buf, len, 0, 0};
    const char *s;
    size_t sn;
    long long seq = 0;
    *n = 0;
    while (next_line(&l, &s, &sn)) {
        if (prefix(s, sn, "#EXT-X-MEDIA-SEQUENCE:")) {
            size_t i = strlen("#EXT-X-MEDIA-SEQUENCE:");
            (void)digits(s, sn, &i, &seq);
        } else if (prefix(s, sn, "#EXT-X-KEY:")) {
            size_t k = strlen("#EXT-X-KEY:");
            if (key_line(s + k, sn - k, seq, n, iv) != 0)
                return -1;
        } else if (sn > 0 && s[0] != '#') {
            if (sn >= cap)
                return -1;
            memcpy(uri, s, sn);
            uri[sn] = '\0';
            return 0;
        }
    }
    return -1;
}
