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
 *    "packaging": ["hls"]}          (or ["hls", "mp4"])
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
} profile;

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
