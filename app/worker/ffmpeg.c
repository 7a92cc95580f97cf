/* ffprobe/ffmpeg command lines and their answers (see ffmpeg.h). */
#include "worker/ffmpeg.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    ADD("format=format_name,duration:stream=codec_type,width,height");
    ADD("%s", input);
    return b->argc;
}

int ffmpeg_parse_probe(const char *json, size_t len, probe_info *pi, char *msg, size_t cap)
{
    const char *perr;
    json_object *info = parse_json(json, len, &perr), *streams, *fmt, *v;
    memset(pi, 0, sizeof *pi);
    if (info && json_object_object_get_ex(info, "streams", &streams) &&
        json_object_is_type(streams, json_type_array))
        for (size_t i = 0; i < json_object_array_length(streams); i++) {
            json_object *s = json_object_array_get_idx(streams, i), *t;
            const char *type = json_object_object_get_ex(s, "codec_type", &t) &&
                                       json_object_is_type(t, json_type_string)
                                   ? json_object_get_string(t)
                                   : "";
            if (!strcmp(type, "video") && !pi->width) {
                if (json_object_object_get_ex(s, "width", &t) && json_object_is_type(t, json_type_int))
                    pi->width = json_object_get_int(t);
                if (json_object_object_get_ex(s, "height", &t) && json_object_is_type(t, json_type_int))
                    pi->height = json_object_get_int(t);
            }
            pi->audio |= !strcmp(type, "audio");
        }
    if (info && json_object_object_get_ex(info, "format", &fmt)) {
        if (json_object_object_get_ex(fmt, "duration", &v) && json_object_is_type(v, json_type_string)) {
            double d = atof(json_object_get_string(v));
            pi->duration = d > 0 && d < 1e7 ? d : 0;
        }
        if (json_object_object_get_ex(fmt, "format_name", &v) && json_object_is_type(v, json_type_string))
            snprintf(pi->format, sizeof pi->format, "%s", json_object_get_string(v));
    }
    json_object_put(info);
    if (pi->width <= 0 || pi->height <= 0 || pi->width > 16384 || pi->height > 16384) {
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

int ffmpeg_encode_argv(argv_buf *b, const encode_plan *p)
{
    b->argc = 0;
    b->used = 0;
    if (p->n < 1 || p->n > 8)
        return -1;
    ADD("ffmpeg");
    ADD("-nostdin");
    ADD("-y");
    ADD("-hide_banner");
    ADD("-loglevel");
    ADD("error");
    ADD("-progress");
    ADD("pipe:1");
    ADD("-nostats");
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

    char filter[1024];
    size_t fl = (size_t)snprintf(filter, sizeof filter, "[0:v]split=%d", p->n);
    for (int i = 0; i < p->n; i++)
        fl += (size_t)snprintf(filter + fl, sizeof filter - fl, "[s%d]", i);
    for (int i = 0; i < p->n; i++)
        fl += (size_t)snprintf(filter + fl, sizeof filter - fl, ";[s%d]scale=-2:%d[o%d]", i,
                               p->heights[i], i);
    if (fl >= sizeof filter)
        return -1;
    ADD("-filter_complex");
    ADD("%s", filter);
    for (int i = 0; i < p->n; i++) {
        ADD("-map");
        ADD("[o%d]", i);
        if (p->audio) {
            ADD("-map");
            ADD("0:a:0");
        }
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
        ADD("%dk", p->heights[i] * 4);
    }
    if (p->audio) {
        ADD("-c:a");
        ADD("aac");
        ADD("-b:a");
        ADD("128k");
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
    for (int i = 0; i < p->n; i++)
        ml += (size_t)snprintf(map + ml, sizeof map - ml, p->audio ? "%sv:%d,a:%d" : "%sv:%d",
                               i ? " " : "", i, i);
    if (ml >= sizeof map)
        return -1;
    ADD("-var_stream_map");
    ADD("%s", map);
    ADD("%s/v%%v/index.m3u8", p->out_dir);
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
