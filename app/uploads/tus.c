/* The tus storage rows (app/uploads/tus.h). */
#include "uploads/tus.h"

const tus_storage *tus_storage_for(const config *cfg)
{
    return store_is_s3(cfg) ? &tus_storage_s3 : &tus_storage_local;
}
