/* POST /media/jobs (API key), form-encoded like the stream routes, in two
 * forms:
 *   - registration (backend, backend_job_id, input_file): a job that an
 *     external backend runs already, so that its notifications find it
 *     (Zencoder and Tencent events for unknown jobs get 404 by design);
 *   - creation (input_url or file_id, with profile and acl optional): a
 *     new job that mediagate creates at the profile's encoder, its create
 *     task queued with the job in one statement;
 *   - upload by URL (url, handlers/upload_url.c): mediagate fetches the
 *     file into its own storage first, then encodes it as an upload. */
#include <curl/curl.h>
#include <string.h>
#include <strings.h>

#include "caller.h"
#include "db.h"
#include "handlers.h"
#include "hash.h"
#include "profiles.h"
#include "stream.h"
#include "upload_url.h"

#define INPUT_URL_MAX 4096
#define FILE_ID_MAX 64

/* True when url is an absolute https URL with a host, at most
 * INPUT_URL_MAX bytes; then *norm is it as curl normalizes it (the scheme
 * in lower case, so the worker and the providers read it as https) and
 * *shown the job's input_file: without user, password, query and fragment,
 * any of which may hold a credential. Both in r's arena. */
static bool https_url(request *r, const char *url, const char **norm, const char **shown)
{
    bool ok = false;
    char *scheme = NULL, *host = NULL, *full = NULL, *bare = NULL;
    CURLU *u = curl_url();
    if (u && strlen(url) <= INPUT_URL_MAX &&
        curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        strcasecmp(scheme, "https") == 0 &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && *host &&
        curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &bare, 0) == CURLUE_OK) {
        *norm = arena_strdup(r->a, full);
        *shown = arena_strdup(r->a, bare);
        ok = *norm && *shown;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(full);
    curl_free(bare);
    curl_url_cleanup(u);
    return ok;
}

/* True when s is a Tencent VOD FileId: 1 to FILE_ID_MAX of A-Z a-z 0-9 _ -. */
static bool file_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > FILE_ID_MAX)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* The 201 of a created job: its id, encoder, profile and input_file. */
static int reply_job_created(request *r, const char *id, const char *backend, const char *pname,
                             const char *input)
{
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "job_id", json_object_new_string(id));
    json_object_object_add(r->out, "backend", json_object_new_string(backend));
    json_object_object_add(r->out, "profile", json_object_new_string(pname));
    json_object_object_add(r->out, "input_file", json_object_new_string(input));
    r->cache_control = "no-store";
    return 201;
}

/* The creation form: input_url (https) or file_id (Tencent), profile, acl.
 * The job's input_file is the URL without its user, password, query and
 * fragment (which may hold a credential; the create task alone carries
 * them), or the FileId. */
static int create_job(request *r, const char *url, const char *file_id)
{
    int ret, st;
    PGresult *res = NULL;
    json_object *payload = NULL, *input = NULL;
    char aclbuf[1024];
    const char *shown = file_id;
    if (url && file_id)
        return reply_error(r, 400, "Give input_url or file_id, not both.");
    if (url && !https_url(r, url, &url, &shown))
        return reply_error(r, 400, "input_url must be an https URL with a host, at most 4096 "
                                   "bytes.");
    if (file_id && !file_id_ok(file_id))
        return reply_error(r, 400, "file_id must be 1 to 64 of A-Z a-z 0-9 _ -.");
    const char *pname = stream_param(r, "profile", &st);
    if (st)
        return st;
    const char *acl;
    if ((ret = stream_acl_param(r, aclbuf, sizeof aclbuf, &acl)) != 0)
        return ret;
    const char *snap;
    const encoder *row;
    if ((ret = profile_pick(r, pname, &snap, &row)) != 0)
        return ret;
    if (strcmp(row->name, "local") == 0)
        return reply_error(r, 400, "The profile runs on the local encoder, which encodes uploads "
                                   "only (POST /uploads).");
    if (file_id && strcmp(row->name, "tencent") != 0)
        return reply_error(r, 400, "file_id names a Tencent VOD file: give a profile that runs on "
                                   "the tencent encoder.");
    char id[UUID_BUF];
    uuid_new(id);
    json_object *prof = json_tokener_parse(snap);
    const char *name = json_object_get_string(json_object_object_get(prof, "name"));
    if (!prof || !name) {
        json_object_put(prof);
        return reply_error(r, 500, "Out of memory.");
    }
    name = arena_strdup(r->a, name);
    payload = json_object_new_object();
    input = json_object_new_object();
    json_object_object_add(input, url ? "url" : "file_id",
                           json_object_new_string(url ? url : file_id));
    json_object_object_add(payload, "job_id", json_object_new_string(id));
    json_object_object_add(payload, "profile", prof);
    json_object_object_add(payload, "input", input);
    const char *ptext = json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
    const char *vals[] = {id, row->name, shown, name, acl, row->create_kind, ptext,
                          r->caller->owner};
    if ((ret = db_exec(r->db, STMT_JOB_CREATE, 8, vals, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    if (PQntuples(res) == 0) {
        /* Another job holds the FileId (its backend id, or its create is
         * pending): a second job would take its events or its id. Not the
         * other job's id: FileIds are not secret. */
        ret = reply_error(r, 409, "Another job is processing that file_id already.");
        goto out;
    }
    ret = reply_job_created(r, id, row->name, name, shown);
out:
    json_object_put(payload);
    PQclear(res);
    return ret;
}

/* The backends whose notifications look a job up by their own id. */
static const char *const external[] = {"zencoder", "tencent", "mediaconvert"};

int handle_media_jobs(request *r)
{
    int ret, st;
    const char *owner;
    PGresult *res = NULL;
    if (!(owner = r->caller->owner)) /* the route is AUTH_CALLER */
        return reply_error(r, 500, "The route has no caller.");
    const char *url = stream_param(r, "input_url", &st);
    if (st)
        return st;
    const char *file_id = stream_param(r, "file_id", &st);
    if (st)
        return st;
    if ((ret = upload_url_job(r, url, file_id)) != 0) /* url=: mediagate fetches it */
        return ret;
    if (url || file_id)
        return create_job(r, url, file_id);
    static const char *const names[] = {"backend", "backend_job_id", "input_file"};
    const char *v[3];
    for (int i = 0; i < 3; i++) {
        v[i] = stream_param(r, names[i], &st);
        if (st)
            return st;
        if (!v[i] || !*v[i]) {
            char msg[64];
            snprintf(msg, sizeof msg, "Not found parameter %s.", names[i]);
            return reply_error(r, 400, msg);
        }
    }
    bool known = false;
    for (size_t i = 0; i < sizeof external / sizeof external[0]; i++)
        known |= strcmp(v[0], external[i]) == 0;
    if (!known)
        return reply_error(r, 400, "backend must be zencoder, tencent or mediaconvert.");
    long idl = utf8_length(v[1], strlen(v[1])), inl = utf8_length(v[2], strlen(v[2]));
    if (idl < 0 || idl > 200)
        return reply_error(r, 400, "backend_job_id must be 1 to 200 characters of UTF-8.");
    if (inl < 0 || strlen(v[2]) > 8192)
        return reply_error(r, 400, "input_file must be at most 8192 bytes of UTF-8.");
    char id[UUID_BUF];
    uuid_new(id);
    const char *vals[] = {id, v[0], v[1], v[2], owner};
    ret = db_exec(r->db, STMT_JOB_REGISTER, 5, vals, &res);
    if (ret) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    if (PQgetisnull(res, 0, 0) || strcmp(PQgetvalue(res, 0, 0), id) != 0) {
        /* Not the other job's id: any API key could collect the ids of
         * every job by the backend's (often sequential) ids. */
        ret = reply_error(r, 409, "That backend job id is registered already.");
        goto out;
    }
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "job_id", json_object_new_string(id));
    json_object_object_add(r->out, "backend", json_object_new_string(v[0]));
    json_object_object_add(r->out, "backend_job_id", json_object_new_string(v[1]));
    json_object_object_add(r->out, "input_file", json_object_new_string(v[2]));
    r->cache_control = "no-store";
    ret = 201;
out:
    PQclear(res);
    return ret;
}
