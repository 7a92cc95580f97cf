#ifndef MEDIAGATE_ADMIN_H
#define MEDIAGATE_ADMIN_H

struct config;

/* mediagate notifications list [--all] | show ID | replay ID.
 * Returns the process exit status. */
int admin_notifications(const struct config *cfg, int argc, char **argv);
/* mediagate apikey create NAME | list | revoke ID. */
int admin_apikey(const struct config *cfg, int argc, char **argv);

#endif
