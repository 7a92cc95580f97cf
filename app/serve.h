#ifndef MEDIAGATE_SERVE_H
#define MEDIAGATE_SERVE_H

struct config;

/* Runs the threaded FastCGI server until SIGTERM or SIGINT, then drains
 * in-flight requests. Returns the process exit status. */
int serve_run(const struct config *cfg);

#endif
