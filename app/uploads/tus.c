/* The tus storage rows (app/uploads/tus.h). */
#include "uploads/tus.h"

#include <stdio.h>
#include <stdlib.h>

const tus_storage *tus_storage_for(const config *cfg)
{
    return store_is_s3(cfg) ? &tus_storage_s3 : &tus_storage_local;
}

void tus_upload_from_row(tus_upload *u, const PGresult *res, int i)
{
    snprintf(u->id, sizeof u->id, "%s", PQgetvalue(res, i, 0));
    snprintf(u->name, sizeof u->name, "%s", PQgetvalue(res, i, 1));
    snprintf(u->key, sizeof u->key, "uploads/%s/%s", u->id, u->name);
    u->length = atoll(PQgetvalue(res, i, 2));
    u->offset = atoll(PQgetvalue(res, i, 3));
    snprintf(u->multipart_id, sizeof u->multipart_id, "%s", PQgetvalue(res, i, 4));
    u->parts = atoi(PQgetvalue(res, i, 5));
    snprintf(u->tail_key, sizeof u->tail_key, "%s", PQgetvalue(res, i, 6));
    u->tail_bytes = atoll(PQgetvalue(res, i, 7));
}
