#ifndef MEDIAGATE_URLSIGN_H
#define MEDIAGATE_URLSIGN_H
#include <stddef.h>

/* Signed URLs for the local encoder's outputs, checked by nginx's
 * secure_link module (nginx/mediagate-media-signed.conf):
 *   <MEDIAGATE_MEDIA_URL>/s/<sig>/<exp>/<job id>/<file>
 * sig = base64url (no padding) of MD5("<exp>/<job id> <secret>"), which is
 * nginx's `secure_link $mg_sig,$mg_exp; secure_link_md5 "$mg_exp/$mg_job
 * <secret>"`. The signature covers the job's directory, so a playlist's
 * relative segment URLs resolve inside it and stay signed. */

/* Writes sig (22 characters and a NUL). */
void urlsign_job(const char *secret, const char *job, long long exp, char sig[23]);

/* The signed form of a local job's output_path (media_url/<job>/...) into
 * out: 0, or -1 when path is not under media_url/<job>/ or out is small. */
int urlsign_output(const char *media_url, const char *job, const char *path, const char *secret,
                   long long exp, char *out, size_t cap);

#endif
