/* ffprobe/ffmpeg command lines and their answers (see ffmpeg.h). */
#include "worker/ffmpeg.h"

#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"
#include "request.h"

/* The real video containers, as ffprobe names their demuxers. Playlists
 * (hls), lists (concat), image sequences and everything else are absent. */
static const char *const allowed[] = {
    "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", "flv", "mpegts", "mpeg", "asf", "ogg",
};
const char ffmpeg_upload_formats[] = "mov,matroska,avi,flv,mpegts,mpeg,asf,ogg";

const char *ffmpeg_allowed_demuxer(const char *format_name)
{
    static const char *const first[] = {"mov", "matroska", "avi", "flv", "mpegts", "mpeg", "asf", "ogg"};
    if (!format_name)
        return NULL;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strcmp(format_name, allowed[i]) == 0)
            return first[i];
    return NULL;
}

/* Appends one argument; formatted into b's storage when fmt has more. */
__attribute__((format(printf, 2, 3))) static int add(argv_buf *b, const char *fmt, ...)
{
    if (b->argc + 1 >= (int)(sizeof b->argv / sizeof b->argv[0]))
        return -1;
    va_list ap;
    va_start(ap, fmt);
    size_t left = sizeof b->buf - b->used;
    int n = vsnprintf(b->buf + b->used, left, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= left)
        return -1;
    b->argv[b->argc++] = b->buf + b->used;
    b->argv[b->argc] = NULL;
    b->used += (size_t)n + 1;
    return 0;
}

#define ADD(...)                          \
    do {                                  \
        if (add(b, __VA_ARGS__) != 0)     \
            return -1;                    \
    } while (0)

int ffmpeg_probe_argv(argv_buf *b, const char *input, const char *protocols, const char *formats,
                      const char *demuxer)
{
    b->argc = 0;
    b->used = 0;
    ADD("ffprobe");
    ADD("-v");
    ADD("error");
    ADD("-protocol_whitelist");
    ADD("%s", protocols);
    ADD("-format_whitelist");
    ADD("%s", formats);
    if (demuxer) {
        ADD("-f");
        ADD("%s", demuxer);
    }
    /* Only what is used: tags (of any length) are never printed. */
    ADD("-print_format");
    ADD("json");
    ADD("-show_entries");
    ADD("format=format_name,duration:stream=codec_type,width,height,avg_frame_rate,r_frame_rate,"
        "nb_frames,sample_aspect_ratio:stream_side_data=rotation");
    ADD("%s", input);
    return b->argc;
}

/* A frame rate as ffprobe writes it ("30000/1001"); 0 when there is none. */
static double rate_of(json_object *s, const char *key)
{
    long long num = 0, den = 0;
    if (sscanf(jstr_or(s, key, ""), "%lld/%lld", &num, &den) != 2 || num <= 0 || den <= 0)
        return 0;
    double r = (double)num / (double)den;
    return r < 1e6 ? r : 1e6;
}

int ffmpeg_parse_probe(const char *json, size_t len, probe_info *pi, char *msg, size_t cap)
{
    const char *perr;
    json_object *info = parse_json(json, len, &perr), *streams, *fmt;
    const char *v;
    int64_t n;
    memset(pi, 0, sizeof *pi);
    if (jobj(info, "streams", json_type_array, &streams) > 0)
        for (size_t i = 0; i < json_object_array_length(streams); i++) {
            json_object *s = json_object_array_get_idx(streams, i);
            const char *type = jstr_or(s, "codec_type", "");
            if (!strcmp(type, "video") && !pi->width) {
                if (jint(s, "width", INT_MIN, INT_MAX, &n) > 0)
                    pi->width = (int)n;
                if (jint(s, "height", INT_MIN, INT_MAX, &n) > 0)
                    pi->height = (int)n;
                pi->fps = rate_of(s, "avg_frame_rate");
                if (pi->fps == 0)
                    pi->fps = rate_of(s, "r_frame_rate");
                /* ffmpeg turns a picture its display matrix rotates */
                json_object *sd;
                if (jobj(s, "side_data_list", json_type_array, &sd) > 0)
                    for (size_t k = 0; k < json_object_array_length(sd); k++) {
                        json_object *d = json_object_array_get_idx(sd, k);
                        if (jint(d, "rotation", -3600, 3600, &n) > 0 &&
                            (n % 180 + 180) % 180 == 90) {
                            int t = pi->width;
                            pi->width = pi->height;
                            pi->height = t;
                        }
                    }
                long long sarn = 0, sard = 0;
                if (sscanf(jstr_or(s, "sample_aspect_ratio", ""), "%lld:%lld", &sarn, &sard) == 2 &&
                    sarn > 0 && sard > 0 && sarn <= 1000 * sard && sard <= 1000 * sarn)
                    pi->sar = (double)sarn / (double)sard;
                if (jstr(s, "nb_frames", &v) > 0) {
                    long long f = atoll(v);
                    pi->frames = f > 0 && f < (1LL << 40) ? f : 0;
                }
            }
            pi->audio |= !strcmp(type, "audio");
        }
    if (jobj(info, "format", json_type_object, &fmt) > 0) {
        if (jstr(fmt, "duration", &v) > 0) {
            double d = atof(v);
            pi->duration = d > 0 && d < 1e7 ? d : 0;
        }
        if (jstr(fmt, "format_name", &v) > 0)
            snprintf(pi->format, sizeof pi->format, "%s", v);
    }
    json_object_put(info);
    if (!(pi->sar > 0))
        pi->sar = 1;
    if (pi->width <= 0 || pi->height <= 0) {
        snprintf(msg, cap, "the input has no video stream");
        return 2;
    }
    return 0;
}

int ffmpeg_ladder(const char *renditions, int src_h, int heights[8])
{
    int n = 0;
    char hl[256];
    snprintf(hl, sizeof hl, "%s", renditions ? renditions : "");
    for (char *save = NULL, *t = strtok_r(hl, ", ", &save); t && n < 8; t = strtok_r(NULL, ", ", &save)) {
        int x = atoi(t);
        if (x >= 2 && x <= src_h)
            heights[n++] = x & ~1;
    }
    if (n == 0)
        heights[n++] = src_h >= 2 ? src_h & ~1 : 2;
    return n;
}

/* A rendition's size at a source of src_w x src_h, into *w (0: follows)
 * and *h (even). */
static void step_size(const rendition *r, int src_w, int src_h, int *w, int *h)
{
    *w = r->width;
    *h = r->height;
    if (!*h)
        *h = (int)((long long)src_h * r->width / (src_w > 0 ? src_w : 1)) & ~1;
    if (!r->height)
        *w = 0; /* only the width named: the height keeps the aspect */
}

int ffmpeg_profile_ladder(const profile *p, int src_w, int src_h, ladder_step steps[8])
{
    int n = 0;
    for (int i = 0; i < p->nrend && n < 8; i++) {
        const rendition *r = &p->rend[i];
        int w, h;
        step_size(r, src_w, src_h, &w, &h);
        if (h < 2 || h > src_h || (r->width && r->width > src_w))
            continue;
        steps[n++] = (ladder_step){
            .width = w, .height = h, .video_kbps = r->video_kbps, .audio_kbps = r->audio_kbps};
    }
    if (n == 0) {
        const rendition *r = &p->rend[p->nrend - 1];
        steps[n++] = (ladder_step){.height = src_h >= 2 ? src_h & ~1 : 2,
                                   .video_kbps = r->video_kbps,
                                   .audio_kbps = r->audio_kbps};
    }
    for (int i = 0; i < n; i++) {
        if (!steps[i].video_kbps)
            steps[i].video_kbps = steps[i].height * 4;
        if (!steps[i].audio_kbps)
            steps[i].audio_kbps = 128;
    }
    return n;
}

/* Whether rendition i of plan p carries the source's audio. */
static bool step_audio(const encode_plan *p, int i)
{
    return p->audio && (!p->steps || p->steps[i].audio_kbps >= 0);
}

/* Starts b with ffmpeg's quiet, non-interactive options, progress on stdout. */
static int ffmpeg_start(argv_buf *b)
{
    static const char *const head[] = {"ffmpeg",   "-nostdin", "-y",     "-hide_banner", "-loglevel",
                                       "error",    "-progress", "pipe:1", "-nostats"};
    b->argc = 0;
    b->used = 0;
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        ADD("%s", head[i]);
    return 0;
}

int ffmpeg_encode_argv(argv_buf *b, const encode_plan *p)
{
    if (p->n < 1 || p->n > 8 || ffmpeg_start(b) != 0)
        return -1;
    ADD("-protocol_whitelist");
    ADD("%s", p->protocols);
    ADD("-format_whitelist");
    ADD("%s", p->formats);
    ADD("-f");
    ADD("%s", p->demuxer);
    if (p->concat) {
        ADD("-safe");
        ADD("0");
    }
    ADD("-i");
    ADD("%s", p->input);

    /* One decode feeds every output: the ladder's scales, the poster's
     * candidates and the storyboard's tiles are branches of one split. */
    const extras_plan *x = p->extras;
    bool poster = x && x->poster, sb = x && x->storyboard, aonly = x && x->audio_only && p->audio;
    char filter[2048];
    size_t fl = (size_t)snprintf(filter, sizeof filter, "[0:v]split=%d", p->n + poster + sb);
    for (int i = 0; i < p->n; i++)
        fl += (size_t)snprintf(filter + fl, sizeof filter - fl, "[s%d]", i);
    fl += (size_t)snprintf(filter + fl, sizeof filter - fl, "%s%s", poster ? "[xp]" : "",
                           sb ? "[xs]" : "");
    for (int i = 0; i < p->n; i++)
        if (p->steps && p->steps[i].width)
            fl += (size_t)snprintf(filter + fl, sizeof filter - fl, ";[s%d]scale=%d:%d[o%d]", i,
                                   p->steps[i].width, p->heights[i], i);
        else
            fl += (size_t)snprintf(filter + fl, sizeof filter - fl, ";[s%d]scale=-2:%d[o%d]", i,
                                   p->heights[i], i);
    /* The poster: the frames shown at poster_t and each second after it
     * (fps from poster_t), the later ones poster_step s apart, full size
     * (the display aspect, square pixels) and as a small grey copy that
     * tells black frames apart; the storyboard: one tile every interval (in
     * ms: a whole rate; a last partial interval keeps its frame, and a
     * video shorter than the interval has one tile), one sheet. Each image
     * output starts with the source's first frame (at its final size, then
     * dropped by app/worker/extras.c): ffmpeg
     * reports no progress until every output has had a frame, and the
     * sheet comes only at the end. Their timestamps stay small, since
     * ffmpeg's progress (out_time, the encoded duration the ladder is
     * checked against) is their end too. */
    if (poster)
        fl += (size_t)snprintf(filter + fl, sizeof filter - fl,
                               ";[xp]split=2[pa][pb];[pa]trim=end_frame=1,scale=%d:%d,setsar=1[p0];"
                               "[pb]fps=1:start_time=%.3f:eof_action=pass,"
                               "select='lt(selected_n\\,%d)*if(lt(selected_n\\,5)\\,1\\,"
                               "gte(t-prev_selected_t\\,%d))',"
                               "scale=%d:%d,setsar=1[p1];[p0][p1]concat=n=2:v=1:a=0,"
                               "setpts=N/(25*TB),split=2[pj][pq];[pq]scale=%d:%d,format=gray[pg]",
                               x->poster_w, x->poster_h, x->poster_t, x->poster_n,
                               x->poster_step > 1 ? x->poster_step : 1, x->poster_w, x->poster_h,
                               EXTRAS_GREY_SIDE, EXTRAS_GREY_SIDE);
    if (sb)
        fl += (size_t)snprintf(filter + fl, sizeof filter - fl,
                               ";[xs]split=2[sa][sc];[sa]trim=end_frame=1,scale=%d:%d,setsar=1[q0];"
                               "[sc]fps=1000/%lld:eof_action=pass,scale=%d:%d,tile=%dx%d,"
                               "setsar=1[q1];"
                               "[q0][q1]concat=n=2:v=1:a=0,setpts=N/(25*TB)[sb]",
                               x->sb_cols * x->sb_w, x->sb_rows * x->sb_h,
                               llround(x->sb_interval * 1000), x->sb_w, x->sb_h, x->sb_cols,
                               x->sb_rows);
    if (fl >= sizeof filter)
        return -1;
    ADD("-filter_complex");
    ADD("%s", filter);
    for (int i = 0; i < p->n; i++) {
        ADD("-map");
        ADD("[o%d]", i);
        if (step_audio(p, i)) {
            ADD("-map");
            ADD("0:a:0");
        }
    }
    if (aonly) {
        ADD("-map");
        ADD("0:a:0");
    }
    ADD("-c:v");
    ADD("libx264");
    ADD("-preset");
    ADD("veryfast");
    ADD("-threads");
    ADD("%d", p->threads > 0 ? p->threads : 2);
    ADD("-g");
    ADD("48");
    ADD("-sc_threshold");
    ADD("0");
    for (int i = 0; i < p->n; i++) {
        ADD("-b:v:%d", i);
        ADD("%dk", p->steps ? p->steps[i].video_kbps : p->heights[i] * 4);
    }
    int naudio = aonly;
    for (int i = 0; i < p->n; i++)
        naudio += step_audio(p, i);
    if (naudio) {
        ADD("-c:a");
        ADD("aac");
    }
    if (naudio && !p->steps) {
        ADD("-b:a");
        ADD("128k");
    }
    int a = 0;
    for (int i = 0; p->steps && i < p->n; i++)
        if (step_audio(p, i)) {
            ADD("-b:a:%d", a++);
            ADD("%dk", p->steps[i].audio_kbps);
        }
    if (aonly && p->steps) {
        ADD("-b:a:%d", a);
        ADD("%dk", x->audio_only_kbps);
    }
    if (p->max_seconds > 0) {
        ADD("-t");
        ADD("%.3f", p->max_seconds);
    }
    ADD("-f");
    ADD("hls");
    ADD("-hls_time");
    ADD("4");
    ADD("-hls_playlist_type");
    ADD("vod");
    ADD("-hls_segment_filename");
    ADD("%s/v%%v/seg%%03d.ts", p->out_dir);
    ADD("-master_pl_name");
    ADD("master.m3u8");
    char map[256];
    size_t ml = 0;
    a = 0;
    for (int i = 0; i < p->n; i++) {
        bool au = step_audio(p, i);
        ml += (size_t)snprintf(map + ml, sizeof map - ml, au ? "%sv:%d,a:%d" : "%sv:%d",
                               i ? " " : "", i, a);
        a += au;
    }
    if (aonly) /* the audio-only variant: v<n>/ */
        ml += (size_t)snprintf(map + ml, sizeof map - ml, " a:%d", a);
    if (ml >= sizeof map)
        return -1;
    ADD("-var_stream_map");
    ADD("%s", map);
    ADD("%s/v%%v/index.m3u8", p->out_dir);
    /* Image outputs take the frames as they come (no frame rate to keep),
     * each encoded on one thread: a few frames need no more, and ffmpeg's
     * "auto" would start one a core (address space the memory limit counts). */
    if (poster) {
        ADD("-map");
        ADD("[pj]");
        ADD("-fps_mode");
        ADD("passthrough");
        ADD("-c:v");
        ADD("mjpeg");
        ADD("-threads");
        ADD("1");
        ADD("-q:v");
        ADD("2");
        ADD("-f");
        ADD("image2");
        ADD("%s/%s", p->out_dir, EXTRAS_POSTER_CAND);
        ADD("-map");
        ADD("[pg]");
        ADD("-fps_mode");
        ADD("passthrough");
        ADD("-threads");
        ADD("1");
        ADD("-f");
        ADD("rawvideo");
        ADD("%s/%s", p->out_dir, EXTRAS_POSTER_GREY);
    }
    if (sb) {
        ADD("-map");
        ADD("[sb]");
        ADD("-fps_mode");
        ADD("passthrough");
        ADD("-c:v");
        ADD("mjpeg");
        ADD("-threads");
        ADD("1");
        ADD("-q:v");
        ADD("4");
        ADD("-frames:v");
        ADD("2");
        if (p->max_seconds > 0) {
            ADD("-t");
            ADD("%.3f", p->max_seconds);
        }
        ADD("-f");
        ADD("image2");
        ADD("%s/%s", p->out_dir, EXTRAS_SB_SHEETS);
    }
    return b->argc;
}

int ffmpeg_mp4_argv(argv_buf *b, const char *dir, int n, const char *const names[])
{
    if (n < 1 || n > 8 || ffmpeg_start(b) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        ADD("-protocol_whitelist");
        ADD("file");
        ADD("-format_whitelist");
        ADD("hls,mpegts");
        ADD("-f");
        ADD("hls");
        ADD("-i");
        ADD("file:%s/v%d/index.m3u8", dir, i);
    }
    for (int i = 0; i < n; i++) {
        ADD("-map");
        ADD("%d", i);
        ADD("-c");
        ADD("copy");
        ADD("-movflags");
        ADD("+faststart");
        ADD("-f");
        ADD("mp4");
        ADD("file:%s/mp4/%s.mp4", dir, names[i]);
    }
    return b->argc;
}

void ffmpeg_reason(const char *line, char *out, size_t cap)
{
    const char *r = line ? line : "";
    for (const char *p = r; (p = strstr(p, ": ")); p += 2)
        r = p + 2;
    while (*r == ' ')
        r++;
    if (strchr(r, '/') || strstr(r, "file:")) {
        out[0] = '\0';
        return;
    }
    snprintf(out, cap, "%.200s", r);
    /* no control characters into a client's answer */
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

int ffmpeg_progress_pct(long long out_us, double duration_s)
{
    if (!(duration_s > 0) || out_us < 0)
        return -1;
    double pct = (double)out_us / 1e4 / duration_s;
    return pct >= 99 ? 99 : (int)pct;
}

double ffmpeg_frames(const probe_info *pi)
{
    double by_time = pi->duration * (pi->fps > 0 ? pi->fps : 60);
    return (double)pi->frames > by_time ? (double)pi->frames : by_time;
}

int ffmpeg_budget_check(const encode_budget *b, int w, int h, double duration_s, double megapixels,
                        char *msg, size_t cap)
{
    long long px = (long long)w * h;
    if (px > b->max_pixels) {
        snprintf(msg, cap, "the input's frames are %dx%d (%lld pixels): more than the %ld pixels "
                           "a frame may have", w, h, px, b->max_pixels);
        return 9;
    }
    if (duration_s > (double)b->max_duration) {
        snprintf(msg, cap, "the input lasts %.0f s: longer than the %ld s an input may last",
                 duration_s, b->max_duration);
        return 9;
    }
    if (megapixels > (double)b->max_megapixels) {
        snprintf(msg, cap, "decoding the input costs %.0f million pixels (pixels x frames): more "
                           "than the %ld million an input may cost", megapixels, b->max_megapixels);
        return 9;
    }
    return 0;
}

double ffmpeg_budget_seconds(const encode_budget *b, int w, int h, double fps)
{
    double t = (double)b->max_duration, px = (double)w * h * (fps > 0 ? fps : 60);
    if (px > 0 && (double)b->max_megapixels * 1e6 / px < t)
        t = (double)b->max_megapixels * 1e6 / px;
    return t;
}

/* The next line of buf[*pos, len) into line (cut at cap - 1 bytes),
 * without its "\n" or "\r\n". Returns false at the end. */
static bool next_line(const char *buf, size_t len, size_t *pos, char *line, size_t cap)
{
    if (*pos >= len)
        return false;
    const char *p = buf + *pos, *nl = memchr(p, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - p) : len - *pos;
    *pos += n + (nl ? 1 : 0);
    if (n > 0 && p[n - 1] == '\r')
        n--;
    snprintf(line, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    return true;
}

/* Whether buf (len bytes, no NUL) starts with the line #EXTM3U; *pos
 * moves past it. */
static bool m3u_start(const char *buf, size_t len, size_t *pos)
{
    char line[16];
    return !memchr(buf, '\0', len) && next_line(buf, len, pos, line, sizeof line) &&
           strcmp(line, "#EXTM3U") == 0;
}

/* A segment name of ours: plain characters, no dot first, no path. */
static bool plain_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < 128 && s[0] != '.' &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

int hls_check_media(const char *buf, size_t len, int (*seg)(void *arg, const char *name), void *arg,
                    double *total_s, int *segments, char *msg, size_t cap)
{
    char line[256];
    size_t pos = 0;
    double pending = -1, total = 0;
    int n = 0;
    bool ended = false;
    if (!m3u_start(buf, len, &pos)) {
        snprintf(msg, cap, "%s", len ? "is not a playlist" : "is empty");
        return -1;
    }
    while (next_line(buf, len, &pos, line, sizeof line)) {
        if (ended && line[0]) {
            snprintf(msg, cap, "goes on after its end");
            return -1;
        }
        if (strncmp(line, "#EXTINF:", 8) == 0) {
            char *end;
            double d = strtod(line + 8, &end);
            if (end == line + 8 || (*end && *end != ',') || !(d > 0 && d <= 3600) || pending >= 0) {
                snprintf(msg, cap, "has a bad segment duration");
                return -1;
            }
            pending = d;
        } else if (strcmp(line, "#EXT-X-ENDLIST") == 0) {
            ended = true;
        } else if (line[0] && line[0] != '#') {
            if (pending < 0 || !plain_name(line)) {
                snprintf(msg, cap, "names a segment it should not");
                return -1;
            }
            if (seg && seg(arg, line) != 0) {
                snprintf(msg, cap, "names a segment that is missing, empty or cut short");
                return -1;
            }
            total += pending;
            pending = -1;
            n++;
        }
    }
    if (!ended || pending >= 0 || n == 0) {
        snprintf(msg, cap, "%s", n == 0 ? "has no segments" : "is cut short");
        return -1;
    }
    *total_s = total;
    *segments = n;
    return 0;
}

int hls_check_master(const char *buf, size_t len, int n, bool audio_last, char *msg, size_t cap)
{
    char line[512], want[32];
    size_t pos = 0;
    int seen = 0;
    bool inf = false, audio_inf = false;
    if (!m3u_start(buf, len, &pos)) {
        snprintf(msg, cap, "the master playlist %s", len ? "is not a playlist" : "is empty");
        return -1;
    }
    while (next_line(buf, len, &pos, line, sizeof line)) {
        if (strncmp(line, "#EXT-X-STREAM-INF:", 18) == 0) {
            inf = true;
            audio_inf = strstr(line, "CODECS=\"mp4a.40.2\"") && !strstr(line, "RESOLUTION=");
        } else if (line[0] && line[0] != '#') {
            snprintf(want, sizeof want, "v%d/index.m3u8", seen);
            if (!inf || seen >= n || strcmp(line, want) != 0) {
                snprintf(msg, cap, "the master playlist names a rendition it should not");
                return -1;
            }
            if (audio_last && seen == n - 1 && !audio_inf) {
                snprintf(msg, cap, "the master playlist's audio-only rendition has no CODECS "
                                   "\"mp4a.40.2\" or has a RESOLUTION");
                return -1;
            }
            inf = false;
            seen++;
        }
    }
    if (seen != n || inf) {
        snprintf(msg, cap, "the master playlist names %d of the %d renditions", seen, n);
        return -1;
    }
    return 0;
}

char *hls_read_file(const char *path, size_t cap, size_t *len)
{
    struct stat st;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > cap ||
        !(buf = malloc((size_t)st.st_size + 1)))
        goto out;
    *len = fread(buf, 1, (size_t)st.st_size, f);
    if (*len != (size_t)st.st_size || ferror(f)) {
        free(buf);
        buf = NULL;
    } else {
        buf[*len] = '\0';
    }
out:
    if (f)
        fclose(f);
    return buf;
}
