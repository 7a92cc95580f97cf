#ifndef MEDIAGATE_LOG_H
#define MEDIAGATE_LOG_H
#include <stdbool.h>
#include <stddef.h>

/* Diagnostics go to stderr, one line each, written with a single write(2)
 * so that lines from different threads never interleave. */
void log_msg(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define log_info(...) log_msg("info", __VA_ARGS__)
#define log_warn(...) log_msg("warn", __VA_ARGS__)
#define log_error(...) log_msg("error", __VA_ARGS__)

/* MEDIAGATE_LOG_FORMAT: json makes every line a JSON object ({"ts",
 * "level", "msg" or the access fields, "request_id"}). Any thread may
 * switch it; lines already being written keep their format. */
void log_set_json(bool json);

/* The request this thread works on: its id goes into every line the
 * thread writes until it is set to NULL. id must outlive that. */
void log_set_request_id(const char *id);

/* One access-log line: method, path, status, duration in µs, body bytes.
 * Control characters and spaces in method and path are escaped. */
void log_access(const char *method, const char *path, int status,
                long long duration_us, size_t bytes);

#endif
