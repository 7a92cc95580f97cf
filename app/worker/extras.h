#ifndef MEDIAGATE_WORKER_EXTRAS_H
#define MEDIAGATE_WORKER_EXTRAS_H
#include <stdbool.h>
#include <stddef.h>

#include "profile.h"
#include "worker/ffmpeg.h"

struct json_object;

/* What the local encoder makes beside its ladder (docs/encoder.md): a
 * poster, a storyboard (sprite sheet + WebVTT of #xywh cues), an
 * audio-only variant and MP4 copies of the variants. The poster's
 * candidates and the storyboard's sheet come from the ladder's own ffmpeg
 * run (ffmpeg_encode_argv with an extras_plan); what it wrote is read back
 * here before anything is listed. */

#define EXTRAS_POSTER_MAX 10   /* candidate frames: one a second after the poster's time */
#define EXTRAS_SB_MAX_TILES 100 /* one sheet of at most 10 x 10 tiles */
#define EXTRAS_SB_COLUMNS 10

/* The plan of profile p (the defaults when NULL) for a source displayed
 * w x h (its display aspect) lasting duration_s (0: unknown), with audio or
 * not, whose poster is top_w x top_h (the top rendition's height at the
 * display aspect) and whose audio-only variant would carry audio_kbps. */
void extras_plan_make(const profile *p, int w, int h, double duration_s, bool audio, int top_w,
                      int top_h, int audio_kbps, extras_plan *x);

/* After the encode into dir (verified; duration_s encoded): chooses the
 * poster among the candidates (the first that is not black, else the
 * first), removes the others, checks the poster's and the sheet's JPEG
 * sizes, and writes dir/storyboard.vtt, its cues covering [0, duration_s]
 * with no gap. Adds "poster" and "storyboard" to extras, or an entry of
 * extras' "missing" array for each that was asked and not made, logged
 * (warn) with who (e.g. "task 12") and the precise cause. */
void extras_finish(const char *dir, const extras_plan *x, double duration_s,
                   struct json_object *extras, const char *who);

/* A seconds value rounded to the millisecond, as JSON ("1.44", not
 * 1.4399999999999999). */
struct json_object *extras_seconds(double s);

/* Rewrites dir/master.m3u8 without its last variant, v<n>/index.m3u8 (the
 * audio-only one), through a temporary file. Returns 0, or -1. */
int extras_drop_variant(const char *dir, int n);

/* Puts prefix (the attempt's "a<n>/" in an object store) before every file
 * name extras lists, as they are relative to output_path. */
void extras_prefix(struct json_object *extras, const char *prefix);

/* Adds {"output": output, "reason": reason} to extras' "missing" array. */
void extras_missing(struct json_object *extras, const char *output, const char *reason);

/* The size of the JPEG file path (its first frame header). Returns 0 with
 * *w and *h, or -1 (missing, empty, not a whole JPEG). */
int extras_jpeg_size(const char *path, int *w, int *h);

/* Whether buf (len bytes) is a baseline/progressive JPEG: SOI, a frame
 * header, EOI last. Returns 0 with *w and *h, or -1. */
int extras_jpeg_parse(const unsigned char *buf, size_t len, int *w, int *h);

/* Checks the MP4 file path: top-level boxes that add up to the file, ftyp
 * first, one moov before the mdat (faststart), and the duration its mvhd
 * gives. Returns 0 with *duration_s, or -1 with why (client-safe) set. */
int extras_mp4_check(const char *path, double *duration_s, char *why, size_t cap);

#endif
