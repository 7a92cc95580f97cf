#ifndef MEDIAGATE_PROFILE_H
#define MEDIAGATE_PROFILE_H
#include <stdbool.h>
#include <stddef.h>

struct json_object;

/* An encode profile: what to make of an input, and on which encoder. A
 * profile is data (the profiles table, `mediagate profiles`); its JSON
 * form, as stored in profiles.spec and carried by create tasks, is
 *   {"encoder": "local",
 *    "renditions": [{"height": 720, "video_kbps": 2800, "codec": "h264",
 *                    "audio_kbps": 128}, ...],
 *    "packaging": ["hls"],          (or ["hls", "mp4"])
 *    "poster": {"time": 2.0},       (or false; {} or absent: on, time chosen)
 *    "storyboard": {"interval": 5, "width": 160},  (or false; absent: on)
 *    "audio_only": true,            (an audio-only HLS rendition; default true)
 *    "encryption": "auto"}          ("aes-128", "none"; auto: AES-128 when the
 *                                    job's ACL does not admit anonymous callers)
 * A rendition names height or width (the other follows the source's
 * aspect) or both; codec is "h264" (the default) or "h265"; video_kbps
 * and audio_kbps are optional (0: the encoder's choice; audio_kbps -1:
 * no audio). Renditions are ordered tallest first. */

#define PROFILE_NAME_MAX 63
#define PROFILE_MAX_RENDITIONS 8

typedef struct rendition {
    int width, height;      /* pixels; 0: follows the other */
    int video_kbps;         /* 0: the encoder's choice */
    char codec[8];          /* "h264" or "h265" */
    int audio_kbps;         /* 0: the encoder's choice; -1: no audio */
} rendition;

typedef struct profile {
    char name[PROFILE_NAME_MAX + 1];
    char encoder[24];       /* a row of app/encoders/encoders.c */
    int nrend;
    rendition rend[PROFILE_MAX_RENDITIONS];
    bool hls, mp4;          /* packaging */
    /* What the local encoder makes beside the ladder (other encoders ignore
     * these). profile_defaults sets them; a spec changes them. */
    bool poster;            /* a poster image (poster.jpg) */
    double poster_time;     /* seconds into the video; < 0: chosen (a little in) */
    bool storyboard;        /* a sprite sheet and WebVTT of #xywh cues */
    double sb_interval;     /* seconds between tiles; 0: chosen from the duration */
    int sb_width;           /* a tile's width in pixels */
    bool audio_only;        /* an audio-only rendition in the HLS master */
    int encryption;         /* PROFILE_ENC_* */
} profile;

enum { PROFILE_ENC_AUTO = 0, PROFILE_ENC_AES128, PROFILE_ENC_NONE };

/* The extras' defaults (poster at a chosen time, storyboard every chosen
 * interval with 160 px tiles, audio-only on, encryption auto) into p;
 * profile_parse starts from them, and an encode without a profile uses
 * them as they are. */
void profile_defaults(profile *p);

/* Reads spec (the JSON form above) into p, named name. Checks what holds
 * for every encoder (known encoder, 1 to PROFILE_MAX_RENDITIONS renditions,
 * sizes 16..8192 and even, bitrates 0..100000 kbps, known codec and
 * packaging, at least one packaging). Returns 0, or -1 with a reason fit
 * for a client in err. */
int profile_parse(const char *name, const struct json_object *spec, profile *p, char *err,
                  size_t errcap);

/* The JSON form of p (a new reference), with "name" added. */
struct json_object *profile_json(const profile *p);

/* True when name is a valid profile name: ^[a-z0-9][a-z0-9._-]{0,62}$. */
bool profile_name_ok(const char *name);

#endif
