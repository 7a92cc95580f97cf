#ifndef MEDIAGATE_ENCODERS_MUX_H
#define MEDIAGATE_ENCODERS_MUX_H
#include <json-c/json.h>

#include "profile.h"

/* The asset settings the mux encoder gives a job of profile p with ACL
 * acl (NULL: WORLD) and id job_id (app/encoders/mux.c): playback policy
 * public when the ACL admits anyone, else signed; passthrough = job_id;
 * max_resolution_tier and MP4 static renditions from the profile. Also a
 * direct upload's new_asset_settings (app/uploads/mux.c). A new reference. */
json_object *mux_asset_settings(const profile *p, const char *acl, const char *job_id);

#endif
