#ifndef MEDIAGATE_WORKER_RECORDINGS_H
#define MEDIAGATE_WORKER_RECORDINGS_H
#include <stdbool.h>
#include <stddef.h>

struct config;

/* Inputs of one encode, in order, each with the demuxer it must be read
 * with (NULL: an upload, probed against the allowlist). */
typedef struct rec_file {
    char *path;            /* a file path, or "concatf:<list>" */
    const char *demuxer;   /* "flv", "mpegts" or NULL */
    long long mtime_ns;
} rec_file;

typedef struct rec_files {
    rec_file *v;
    size_t n, cap;
} rec_files;

void files_free(rec_files *f);
/* Adds a copy of path. Returns 0, -1 out of memory. */
int files_add(rec_files *f, const char *path, const char *demuxer, long long mtime_ns);

/* The inputs of a stopped stream's VOD job, in broadcast order: nginx-rtmp's
 * recordings (<MEDIAGATE_RECORDINGS_DIR>/<id>*, FLV) and, with segments,
 * the MPEG-TS segments the broadcaster PUT (<MEDIAGATE_LIVE_DIR>/<id>/, its .ts files)
 * as one concatf: input whose list is written to seglist (a temporary file
 * for the caller to remove). Returns 0 with out filled, or an error code
 * (1: nothing recorded or a bad id, 3: the files cannot be read) with msg
 * set to a text without server paths. */
int stream_inputs(const struct config *cfg, const char *sid, bool segments, rec_files *out,
                  char *seglist, size_t seglist_cap, char *msg, size_t msgcap);

/* With s3 storage, the stream.archive kind (on the ingest host, whose
 * disk holds them) copies a stopped stream's recordings into the store, in
 * broadcast order, as recordings/<stream id>/0001.flv, 0002.ts, ...: each
 * RTMP recording one FLV object, the PUT segments joined into one MPEG-TS
 * object, so that key order is broadcast order. Then it queues the VOD
 * job's encode, whose payload names those keys ("keys"). */

#endif
