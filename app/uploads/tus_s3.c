/* tus uploads on s3 storage (app/uploads/tus.h). Not built yet. */
#include "uploads/tus.h"

static store_status begin(const config *cfg, store *s, tus_upload *u)
{
    (void)cfg, (void)s, (void)u;
    return STORE_ERROR;
}

static store_status append(const config *cfg, store *s, tus_upload *u, int fd, long long len)
{
    (void)cfg, (void)s, (void)u, (void)fd, (void)len;
    return STORE_ERROR;
}

static store_status finish(const config *cfg, store *s, tus_upload *u, store_object *meta)
{
    (void)cfg, (void)s, (void)u, (void)meta;
    return STORE_ERROR;
}

static store_status discard(const config *cfg, store *s, const tus_upload *u)
{
    (void)cfg, (void)s, (void)u;
    return STORE_ERROR;
}

const tus_storage tus_storage_s3 = {
    .name = "s3", .begin = begin, .append = append, .finish = finish, .discard = discard};
