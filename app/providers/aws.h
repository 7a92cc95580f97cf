#ifndef MEDIAGATE_AWS_H
#define MEDIAGATE_AWS_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct config;

typedef struct aws_creds {
    char access_key_id[128];
    char secret_access_key[128];
    char session_token[4096];
    char expiration[64];
} aws_creds;

#define AWS_BUSY (-2)

/* Calls STS AssumeRole (MEDIAGATE_STS_URL) for credentials allowed only
 * s3:PutObject under bucket/prefix, signed with SigV4 and sent through
 * http_client (1 s to connect, 3 s in all, 64 KiB of response at most). At
 * most MEDIAGATE_THREADS / 4 (at least 1) request threads wait on STS at
 * once. Returns 0, AWS_BUSY when that many are waiting already, or -1 with
 * a reason in err. */
int aws_assume_role(const struct config *cfg, const char *prefix, const char *session,
                    aws_creds *out, char *err, size_t errcap);

/* Extracts the text of the first <tag> in xml into out, with all
 * whitespace removed (tokens are wrapped over lines) unless keep_spaces.
 * Returns 0, or -1 when absent, empty or too long. */
int xml_text(const char *xml, const char *tag, char *out, size_t cap, bool keep_spaces);

/* Formats t as an ISO-8601 UTC time and as SigV4's YYYYMMDDTHHMMSSZ. */
void aws_times(time_t t, char iso[32], char amz[17]);

#endif
