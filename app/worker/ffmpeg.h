#ifndef MEDIAGATE_WORKER_FFMPEG_H
#define MEDIAGATE_WORKER_FFMPEG_H
#include <stdbool.h>
#include <stddef.h>

/* ffprobe and ffmpeg command lines, built by pure functions, and what is
 * read back from them. Untrusted media never chooses a protocol or a
 * meta-format: every command names its protocols and demuxers. */

/* Demuxers an upload may be read with (ffmpeg's names), comma-separated,
 * for -format_whitelist. */
extern const char ffmpeg_upload_formats[];

/* An argv with its own storage. */
typedef struct argv_buf {
    char *argv[200];
    int argc;
    char buf[8192];
    size_t used;
} argv_buf;

/* What ffprobe said about one input. */
typedef struct probe_info {
    char format[96];       /* ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
    int width, height;     /* the first video stream's */
    bool audio;
    double duration;       /* seconds, 0 when unknown */
} probe_info;

/* The demuxer to force for a probed format_name when it is on the upload
 * allowlist (its first name: "mov" for "mov,mp4,…"), else NULL. */
const char *ffmpeg_allowed_demuxer(const char *format_name);

/* ffprobe of input (a URL such as "file:/x.mp4"), reading with only the
 * given protocols and demuxers, forcing demuxer when not NULL. Returns
 * argc, or -1 when it does not fit. */
int ffmpeg_probe_argv(argv_buf *b, const char *input, const char *protocols,
                      const char *formats, const char *demuxer);

/* Parses ffprobe's JSON. Returns 0, or 2 (no video stream) with msg set. */
int ffmpeg_parse_probe(const char *json, size_t len, probe_info *pi, char *msg, size_t cap);

/* The ladder: the configured heights ("720,480,360") not above src_h, even,
 * at most 8; the source's own height when none fits. Returns the count. */
int ffmpeg_ladder(const char *renditions, int src_h, int heights[8]);

/* One encode into an HLS ladder. */
typedef struct encode_plan {
    const char *input;      /* URL or list path for -i */
    const char *demuxer;    /* forced with -f */
    const char *protocols;  /* -protocol_whitelist */
    const char *formats;    /* -format_whitelist (nested opens of concat) */
    bool concat;            /* input is our own ffconcat list (-safe 0) */
    const int *heights;
    int n;
    bool audio;
    const char *out_dir;    /* segments and playlists go under it */
    int threads;
} encode_plan;

/* The ffmpeg command of plan p, progress on stdout (-progress pipe:1).
 * Returns argc, or -1 when it does not fit. */
int ffmpeg_encode_argv(argv_buf *b, const encode_plan *p);

/* A reason from ffmpeg's last stderr line that is safe to show clients:
 * the text after the last ": " (ffmpeg prefixes the input's name), and
 * nothing at all when a path could remain. Writes "" when there is none. */
void ffmpeg_reason(const char *line, char *out, size_t cap);

#endif
