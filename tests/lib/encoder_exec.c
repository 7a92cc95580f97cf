/* encoder_exec OP ENCODER JOB [ATTEMPT]: runs one call of an encoder row
 * (app/encoders/encoder.h) with the settings of the MEDIAGATE_* environment,
 * and prints one JSON object with what it returned. OP is check, create,
 * poll or cancel; JOB is the job as JSON: {"id", "backend_job_id",
 * "input_file", "input_url", "file_id", "acl", "status", "profile" (the
 * profile's JSON form, with "name"), "notify_url", "destination", "age_s",
 * "quiet_s"}; ATTEMPT is the create task's attempt (default 1). The encoder
 * suites (tests/pytest/test_*_encoder.py) drive a row's calls at its
 * provider's stand-in with it. Exits 0 when the call ran, 2 on bad usage,
 * configuration or job. */
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "encoders/encoder.h"
#include "http_client.h"
#include "json.h"
#include "request.h"

static const char *env(const char *name)
{
    return getenv(name);
}

static bool beat(task_ctx *ctx, int progress)
{
    (void)ctx;
    (void)progress;
    return true;
}

static const char *const outcomes[] = {"done", "retry", "failed", "handback", "snooze"};

int main(int argc, char **argv)
{
    config cfg = {0};
    cfg_errors errs = {0};
    profile p = {0};
    http_client hc = {0};
    atomic_int cancel_flag = 0;
    json_object *job = NULL, *spec, *out = json_object_new_object();
    const char *perr;
    char err[1024] = "";
    int ret = 2;
    const encoder *e = argc >= 4 ? encoder_find(argv[2]) : NULL;
    if (!e) {
        fputs("usage: encoder_exec check|create|poll|cancel ENCODER JOB [ATTEMPT]\n", stderr);
        goto out;
    }
    if (config_load(&cfg, NULL, env, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "encoder_exec: %s\n", errs.msg[i]);
        goto out;
    }
    job = parse_json(argv[3], strlen(argv[3]), &perr);
    if (!job || jobj(job, "profile", json_type_object, &spec) != 1 ||
        profile_parse(jstr_or(spec, "name", "p"), spec, &p, err, sizeof err) != 0) {
        fprintf(stderr, "encoder_exec: a bad job or profile: %s\n", err);
        goto out;
    }
    json_object *x;
    encode_job j = {.id = jstr_or(job, "id", NULL),
                    .backend_job_id = jstr_or(job, "backend_job_id", NULL),
                    .backend_task_id = jstr_or(job, "backend_task_id", NULL),
                    .input_file = jstr_or(job, "input_file", NULL),
                    .input_url = jstr_or(job, "input_url", NULL),
                    .file_id = jstr_or(job, "file_id", NULL),
                    .acl = jstr_or(job, "acl", NULL),
                    .status = jstr_or(job, "status", "SUBMITTED"),
                    .profile = &p,
                    .notify_url = jstr_or(job, "notify_url", NULL),
                    .destination = jstr_or(job, "destination", NULL),
                    .age_s = json_object_object_get_ex(job, "age_s", &x) ? json_object_get_double(x)
                                                                        : 0,
                    .quiet_s = json_object_object_get_ex(job, "quiet_s", &x)
                                   ? json_object_get_double(x)
                                   : 0};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (http_client_init(&hc, true) != 0)
        goto out;
    task_ctx ctx = {.cfg = &cfg, .id = 1, .attempt = argc > 4 ? atoi(argv[4]) : 1,
                    .kind = e->create_kind, .payload = job, .job_id = j.id, .http = &hc,
                    .beat = beat, .cancel = &cancel_flag};
    if (strcmp(argv[1], "check") == 0 && e->check) {
        int rc = e->check(&cfg, &p, err, sizeof err);
        json_object_object_add(out, "rc", json_object_new_int(rc));
    } else if (strcmp(argv[1], "create") == 0 && e->create) {
        task_result res = {0};
        e->create(&ctx, &j, &res);
        json_object_object_add(out, "outcome", json_object_new_string(outcomes[res.outcome]));
        json_object_object_add(out, "code", json_object_new_int(res.code));
        json_object_object_add(out, "message", json_object_new_string(res.message));
        json_object_object_add(out, "retry_after", json_object_new_double(res.retry_after));
        json_object_object_add(out, "job_event", res.job_event);
    } else if (strcmp(argv[1], "poll") == 0 && e->poll) {
        json_object *ev = NULL;
        char *body = NULL, id[512] = "";
        size_t len = 0;
        int rc = e->poll(&ctx, &j, &ev, &body, &len, id, sizeof id, err, sizeof err);
        json_object_object_add(out, "rc", json_object_new_int(rc));
        json_object_object_add(out, "event", ev);
        json_object_object_add(out, "event_id", json_object_new_string(id));
        json_object_object_add(out, "body", body ? json_object_new_string_len(body, (int)len)
                                                 : NULL);
        free(body);
    } else if (strcmp(argv[1], "cancel") == 0 && e->cancel) {
        int rc = e->cancel(&ctx, &j, err, sizeof err);
        json_object_object_add(out, "rc", json_object_new_int(rc));
    } else {
        fprintf(stderr, "encoder_exec: %s has no %s\n", e->name, argv[1]);
        goto out;
    }
    json_object_object_add(out, "err", json_object_new_string(err));
    puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
    ret = 0;
out:
    http_client_free(&hc);
    cfg_errors_free(&errs);
    config_free(&cfg);
    json_object_put(job);
    json_object_put(out);
    return ret;
}
