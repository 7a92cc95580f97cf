#ifndef MEDIAGATE_WORKER_FFMPEG_H
#define MEDIAGATE_WORKER_FFMPEG_H
#include <stdbool.h>
#include <stddef.h>

#include "profile.h"

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
    int width, height;     /* the first video stream's, as displayed: turned when its display
                            * matrix rotates it by 90 or 270 degrees (ffmpeg turns it so) */
    double sar;            /* its pixels' aspect (sample_aspect_ratio), 1 when unknown */
    bool audio;
    double duration;       /* seconds, 0 when unknown */
    double fps;            /* the video's average (else base) frame rate, 0 when unknown */
    long long frames;      /* the video's frame count when the container says, else 0 */
} probe_info;

/* What one encode may cost, checked before it starts (the
 * MEDIAGATE_ENCODE_MAX_* settings). */
typedef struct encode_budget {
    long max_pixels;       /* width x height of a frame */
    long max_duration;     /* seconds of input */
    long max_megapixels;   /* pixels x frames, in millions */
} encode_budget;

/* Frames ffmpeg decodes from input pi: the count the container gives or
 * duration x frame rate (60 fps when it is unknown), whichever is more. */
double ffmpeg_frames(const probe_info *pi);

/* Whether inputs of frame size w x h (the largest), duration_s seconds and
 * megapixels (pixels x frames, summed) fit budget b. Returns 0, or 9 with
 * msg (safe for clients) naming the limit. */
int ffmpeg_budget_check(const encode_budget *b, int w, int h, double duration_s, double megapixels,
                        char *msg, size_t cap);

/* The seconds of output an encode of w x h frames at fps may write within
 * budget b (its -t): the duration limit, or less where pixels x frames
 * reaches the megapixel limit first. Bounds an input that lies about its
 * duration. */
double ffmpeg_budget_seconds(const encode_budget *b, int w, int h, double fps);

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

/* One rendition of a ladder from a profile, as the encode makes it. */
typedef struct ladder_step {
    int width; /* 0: follows the height and the source's aspect */
    int height;
    int video_kbps;
    int audio_kbps; /* -1: no audio */
} ladder_step;

/* The ladder of profile p for a source of src_w x src_h: its renditions no
 * larger than the source (no upscale), tallest first, each with an even
 * height (from its width and the source's aspect when it names only the
 * width) and its bitrates (0, the encoder's choice: 4 kbps a line of
 * video, 128 kbps of audio); when none fits, the source's own size with the
 * smallest rendition's bitrates. Returns the count, 1 to 8. */
int ffmpeg_profile_ladder(const profile *p, int src_w, int src_h, ladder_step steps[8]);

/* What one encode makes beside its ladder, from the same decode (filled by
 * extras_plan_make, app/worker/extras.h). */
typedef struct extras_plan {
    bool poster;
    double poster_t;       /* seconds: the first candidate frame */
    int poster_n;          /* candidates (1..EXTRAS_POSTER_MAX): the first five a second
                            * apart from poster_t, the others poster_step s apart after them */
    int poster_step;       /* seconds (1 or more): spreads a long video's later candidates */
    int poster_w, poster_h; /* the poster's size (the top rendition's height, the display aspect) */
    bool storyboard;
    double sb_interval;    /* seconds between tiles */
    int sb_tiles;          /* tiles the sheet holds (sb_cols x sb_rows, at most 100) */
    int sb_w, sb_h, sb_cols, sb_rows;
    bool audio_only;       /* an audio-only variant, the last of the master */
    int audio_only_kbps;
} extras_plan;

/* The candidate poster frames' files under an encode's directory (JPEG,
 * numbered from 1) and their 32x32 grey copies (raw, one after another),
 * removed once the poster is chosen; the storyboard's sheets (1, then 2:
 * the sheet). The first of each is the source's first frame, written only
 * so that ffmpeg reports progress from the start (ffmpeg.c). */
#define EXTRAS_POSTER_CAND "poster-cand-%02d.jpg"
#define EXTRAS_POSTER_GREY "poster-cand.grey"
#define EXTRAS_SB_SHEETS "storyboard-sheet-%d.jpg"
#define EXTRAS_GREY_SIDE 32

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
    const ladder_step *steps; /* a profile's ladder (sizes and bitrates), or NULL: heights at
                               * 4 kbps a line, audio at 128 kbps */
    const char *out_dir;    /* segments and playlists go under it */
    int threads;
    double max_seconds;     /* -t: output past it is not written; 0: none */
    const extras_plan *extras; /* the poster, storyboard and audio-only variant; NULL: none */
} encode_plan;

/* The ffmpeg command of plan p, progress on stdout (-progress pipe:1).
 * Returns argc, or -1 when it does not fit. */
int ffmpeg_encode_argv(argv_buf *b, const encode_plan *p);

/* The ffmpeg command that copies (no encode) each of the n verified
 * variants dir/v<i>/index.m3u8 into an MP4 with its moov first,
 * dir/mp4/<names[i]>.mp4, progress on stdout; the hls demuxer reads only
 * files, and only playlists and MPEG-TS. Returns argc, or -1 when it does
 * not fit. */
int ffmpeg_mp4_argv(argv_buf *b, const char *dir, int n, const char *const names[]);

/* A reason from ffmpeg's last stderr line that is safe to show clients:
 * the text after the last ": " (ffmpeg prefixes the input's name), and
 * nothing at all when a path could remain. Writes "" when there is none. */
void ffmpeg_reason(const char *line, char *out, size_t cap);

/* The progress of an encode at ffmpeg's -progress out_time_us (output
 * written so far, in microseconds) of an input of duration_s seconds, in
 * percent: 0 to 99, never 100 while encoding (a job reaches 100 only when
 * its outputs were checked and it is COMPLETE); -1 when duration_s is not
 * above 0 or out_us is negative (nothing to report). */
int ffmpeg_progress_pct(long long out_us, double duration_s);

/* One media playlist as read back from the output (buf, len: untrusted
 * bytes): #EXTM3U first, each #EXTINF (over 0, at most 3600 s) followed by
 * a plain segment name (A-Z a-z 0-9 . _ -, no dot first), at least one
 * segment, #EXT-X-ENDLIST last. seg(arg, name) is called for each segment
 * and returns non-zero to refuse it (missing, empty). Returns 0 with
 * *total_s and *segments set, or -1 with msg (client-safe) set. */
int hls_check_media(const char *buf, size_t len, int (*seg)(void *arg, const char *name), void *arg,
                    double *total_s, int *segments, char *msg, size_t cap);

/* The master playlist (buf, len): #EXTM3U first and exactly n variants,
 * each an #EXT-X-STREAM-INF followed by v<i>/index.m3u8, i = 0 .. n-1 in
 * order; with audio_last, the last is the audio-only one (its
 * #EXT-X-STREAM-INF has CODECS="mp4a.40.2" and no RESOLUTION). Returns 0,
 * or -1 with msg set. */
int hls_check_master(const char *buf, size_t len, int n, bool audio_last, char *msg, size_t cap);

#define HLS_PLAYLIST_CAP (4u << 20) /* one of our playlists: 4 MiB is days of 4 s segments */

/* Reads the regular file path (at most cap bytes) into a malloc'd,
 * NUL-terminated buffer. Returns it with *len set, or NULL (missing, not
 * regular, too long). */
char *hls_read_file(const char *path, size_t cap, size_t *len);

#endif
