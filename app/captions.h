#ifndef MEDIAGATE_CAPTIONS_H
#define MEDIAGATE_CAPTIONS_H
#include <stdbool.h>
#include <stddef.h>

/* Captions of a job: a WebVTT or SRT file checked and turned into
 * normalized WebVTT (PUT /media/captions/), and what HLS players need of
 * it: a subtitles media playlist, the file with its X-TIMESTAMP-MAP, the
 * master playlist naming the SUBTITLES group (app/worker/captions.c).
 * Every function here is pure: no I/O, no globals. */

#define CAPTIONS_MAX_BYTES (1 << 20)         /* a file larger is refused */
#define CAPTIONS_MAX_CUES 20000              /* cues in one file */
#define CAPTIONS_MAX_MS (48LL * 3600 * 1000) /* no cue ends past 48 hours */
#define CAPTIONS_MAX_LANGUAGES 20            /* languages of one job */
#define CAPTIONS_GROUP "subs"                /* the master's SUBTITLES group */

typedef enum captions_format {
    CAPTIONS_DETECT, /* whichever the file is */
    CAPTIONS_VTT,    /* text/vtt: WebVTT only */
    CAPTIONS_SRT,    /* application/x-subrip: SRT only */
} captions_format;

/* Checks buf[0..len) as WebVTT (the WEBVTT signature, a UTF-8 BOM allowed)
 * or SRT (numbered blocks, "hh:mm:ss,ttt --> hh:mm:ss,ttt"), as fmt asks:
 * valid UTF-8 (or UTF-16 after its byte order mark, converted with glibc's
 * iconv) without NUL or other control characters, at least one cue, at most
 * CAPTIONS_MAX_BYTES and CAPTIONS_MAX_CUES, each cue's start <= end <=
 * CAPTIONS_MAX_MS, known cue settings only. Line ends may be LF, CRLF or CR.
 * Returns 0 with the normalized WebVTT ("WEBVTT", a blank line, then each
 * block: STYLE and REGION blocks, cues as "[id\n]hh:mm:ss.ttt -->
 * hh:mm:ss.ttt[ settings]\ntext", NOTE blocks dropped; LF line ends) in a
 * malloc'd, NUL-terminated *out (the caller frees it) and its length in
 * *outlen; or -1 with one line in why that names the input's line. */
int captions_to_vtt(const char *buf, size_t len, captions_format fmt, char **out, size_t *outlen,
                    char *why, size_t whycap);

/* True when tag is a language tag the captions table takes: 2 or 3
 * letters, then up to three "-" subtags of 1 to 8 letters or digits. */
bool captions_language_ok(const char *tag);

/* Rewrites tag (captions_language_ok) in place in the case BCP 47 calls
 * canonical, so that tags differing only in case are one: the language
 * lower case, a script title case (Latn), a region upper case (BR, 419),
 * everything else, and everything after a singleton (x-, u-), lower case:
 * EN-us is en-US, ZH-HANT-tw is zh-Hant-TW. The captions table holds
 * canonical tags only. */
void captions_language_canon(char *tag);

/* True when label may name a track in a playlist: 1 to 100 characters of
 * UTF-8 with no control character and no double quote. */
bool captions_label_ok(const char *label);

/* The first presentation time of an MPEG-TS segment buf[0..len) (90 kHz):
 * the least PTS of the first PES packet of each elementary stream.
 * Returns 0 with *pts set, or -1 when buf holds no such packet (not
 * MPEG-TS, or encrypted). */
int captions_ts_first_pts(const unsigned char *buf, size_t len, long long *pts);

/* The WebVTT file an HLS subtitles rendition serves: vtt (normalized, as
 * captions_to_vtt wrote it) with "X-TIMESTAMP-MAP=MPEGTS:<mpegts>,LOCAL:
 * 00:00:00.000" as its header, so its cue times are media times of the
 * segments whose first PTS is mpegts. Returns a malloc'd text (*outlen its
 * length), or NULL when vtt does not start with "WEBVTT\n" or out of
 * memory. */
char *captions_vtt_for_hls(const char *vtt, size_t len, long long mpegts, size_t *outlen);

/* The subtitles media playlist of language (one segment, "<language>.vtt",
 * lasting duration_ms) into out. Returns its length, or -1 when cap is too
 * small. */
int captions_media_playlist(const char *language, long long duration_ms, char *out, size_t cap);

/* One track of the master playlist's subtitles group. */
typedef struct captions_track {
    const char *language, *label;
} captions_track;

/* Rewrites the master playlist buf[0..len): every line is kept but the
 * #EXT-X-MEDIA lines of TYPE=SUBTITLES in group CAPTIONS_GROUP and the
 * SUBTITLES attribute of each #EXT-X-STREAM-INF; then, with n > 0 tracks,
 * one #EXT-X-MEDIA line per track (URI "captions/<language>.m3u8") goes
 * before the first #EXT-X-STREAM-INF and each #EXT-X-STREAM-INF gets
 * SUBTITLES="subs". Idempotent: rewriting its own output with the same
 * tracks gives the same text. Returns 0 with a malloc'd, NUL-terminated text
 * in *out (*outlen its length), or -1 when buf is not a master playlist
 * (#EXTM3U first, a #EXT-X-STREAM-INF, its quotes closed) or out of memory. */
int captions_master_rewrite(const char *buf, size_t len, const captions_track *t, int n, char **out,
                            size_t *outlen);

/* The URI of the variant the master playlist buf[0..len) lists first,
 * copied into uri. Returns 0, or -1 when there is none or it does not fit. */
int captions_master_first_variant(const char *buf, size_t len, char *uri, size_t cap);

/* The first segment of the media playlist buf[0..len): its URI into uri
 * (cap bytes). When an #EXT-X-KEY of METHOD=AES-128 comes before it,
 * *n is the number its key URI ends with (".../<n>", the attempt the key
 * route names) and iv its IV (IV=0x..., else the media sequence number);
 * else *n is 0. Returns 0, or -1 when there is no segment, it does not fit,
 * or the key line is malformed (another method, no number, a bad IV). */
int captions_first_segment(const char *buf, size_t len, char *uri, size_t cap, int *n,
                           unsigned char iv[16]);

#endif
