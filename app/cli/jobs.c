/* mediagate jobs list | show ID | acl ID | title ID | cancel ID: the encoding jobs,
 * as the status route answers from them. */
#include "cli/cli.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "cli/sql.h"
#include "config.h"
#include "encoders/encoder.h"
#include "hash.h"
#include "playback.h"
#include "jwplatform/api.h"
#include "storage/storage.h"

/* Says on stderr that there is no job id. */
static void no_job(const char *id)
{
    fprintf(stderr, "mediagate: no job '");
    cli_put_clean(stderr, id, " ", 0);
    fprintf(stderr, "'\n");
}

/* The newest 200 jobs, one line each, and a line for a job's error. */
static int list(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    if (argc != 0)
        return CLI_EUSAGE;
    if (!(res = cli_query(cfg, "jobs list", C_JOBS_LIST, 0, NULL)))
        goto out;
    char indent[40]; /* under "error" */
    snprintf(indent, sizeof indent, "%39s", "");
    printf("%-*s %-12s %-11s %4s %-19s %s\n", UUID_LEN, "id", "backend", "status", "%",
           "updated (UTC)", "input file");
    for (int i = 0; i < PQntuples(res); i++) {
        cli_put_clean(stdout, PQgetvalue(res, i, 0), "", UUID_LEN);
        printf(" %-12s %-11s %4s %-19s ", PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
               PQgetvalue(res, i, 3), PQgetvalue(res, i, 4));
        cli_put_clean(stdout, PQgetvalue(res, i, 5), "", 0);
        putchar('\n');
        if (*PQgetvalue(res, i, 8) == 't') {
            printf("%-36s   error %s: ", "", PQgetvalue(res, i, 6));
            cli_put_clean(stdout, PQgetvalue(res, i, 7), indent, 0);
            putchar('\n');
        }
    }
    printf("%d job%s\n", PQntuples(res), PQntuples(res) == 1 ? "" : "s");
    ret = 0;
out:
    PQclear(res);
    return ret;
}

/* Every column of job argv[0]; exit 1 when there is none. */
static int show(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    if (argc != 1)
        return CLI_EUSAGE;
    const char *vals[] = {argv[0]};
    if (!(res = cli_query(cfg, "jobs show", C_JOBS_SHOW, 1, vals)))
        goto out;
    if (PQntuples(res) != 1) {
        no_job(argv[0]);
        goto out;
    }
    cli_show_row(stdout, res);
    ret = 0;
out:
    PQclear(res);
    return ret;
}

/* What an ACL change reaches, and by when; what it cannot recall (a job
 * on the store: its objects follow, so only signed URLs play on). */
static void print_unrecallable(const config *cfg, bool on_store)
{
    long bound = (cfg->cache_max_age > 1 ? cfg->cache_max_age : 1) + 1;
    printf("Every new answer of /media/status and /media/job_id follows it within %ld s,\n"
           "nginx's micro-cache and browsers' copies included (MEDIAGATE_CACHE_MAX_AGE + 1 s,\n"
           "plus a read replica's lag). It cannot recall what callers already got: a page\n"
           "keeps showing what it fetched, and output URLs already handed out keep playing,\n",
           bound);
    if (on_store)
        printf("until their signature expires (at most %ld s, MEDIAGATE_MEDIA_URL_LIFETIME\n"
               "+ 180 s); unsigned ones stop at once (the store refuses them).\n",
               cfg->media_url_lifetime + 180);
    else if (*cfg->media_signing_secret)
        printf("until their signature expires (at most %ld s, MEDIAGATE_MEDIA_URL_LIFETIME\n"
               "+ 180 s); browsers keep media files they fetched for up to 3600 s.\n",
               cfg->media_url_lifetime + 180);
    else
        printf("for as long as the files exist (unsigned: set MEDIAGATE_MEDIA_SIGNING_SECRET);\n"
               "browsers keep media files they fetched for up to 86400 s.\n"
               "Unsigned, every file under /media-files/<job id>/ stays reachable by its URL,\n"
               "whoever asks: its captions, poster, storyboard, thumbnails, MP4s and\n"
               "playlists (AES-128 keeps only an encrypted job's segments useless without\n"
               "its key).\n");
    printf("To keep a job private from the start, set its ACL with acl= at upload\n"
           "(POST /uploads).\n");
    printf("Its HLS stays as its encode made it: an ACL set later encrypts nothing\n"
           "(AES-128 is decided at encode); an encrypted job's key follows the ACL at once.\n");
}

/* Makes every object of a job on the store public-read or private, as
 * its ACL now says and the signing record (unsigned_rec) allows
 * (app/playback.h), so that the store itself follows an ACL change.
 * Returns 0, or 1 with the reason on stderr. */
static int follow_in_store(const config *cfg, const char *job, const char *acl,
                           const char *unsigned_rec)
{
    int ret = 1;
    long done = 0;
    bool public_read = playback_public_read(cfg, acl, unsigned_rec);
    store *s = store_open(cfg);
    if (!s) {
        fprintf(stderr, "mediagate: out of memory\n");
        return 1;
    }
    store_status st = playback_follow(s, job, public_read, &done);
    if (st == STORE_OK) {
        printf("Its %ld objects in the store are now %s.\n", done,
               public_read ? "public-read (playable unsigned)"
                           : "private (playable only through signed URLs)");
        ret = 0;
    } else
        fprintf(stderr, "mediagate: the ACL is set, but the store's objects do not follow it yet "
                        "(%ld changed; %s: %s); a worker's media.acl task will, or run the "
                        "command again\n", done, store_status_name(st), store_err(s));
    store_close(s);
    return ret;
}

/* What becomes of a change to a JW Platform video's job. */
static void print_jw_write(const config *cfg)
{
    if (cfg->jwplatform_sync_items)
        printf("JW Platform: a jwplatform.update task writes it to the video (custom.sms_acl,\n"
               "title), retried until the platform takes it.\n");
    else
        printf("JW Platform: kept here only (MEDIAGATE_JWPLATFORM_SYNC_ITEMS is off); the ACL "
               "set here stays the job's,\nwhatever the platform's video says, until it is "
               "changed here again.\n");
}

/* Refuses a change to job id that the JW Platform write-back could not
 * send: for a JW video's job, value (a title, or the sms_acl "acl:…:")
 * too long once percent-encoded. Returns 0 when the change may be made,
 * 2 with the reason on stderr, or 1 when there is no such job or the
 * database failed. */
static int jw_sendable(const config *cfg, const char *what, const char *id, const char *value)
{
    int ret = 1;
    PGresult *res = NULL;
    const char *v[] = {id};
    if (!(res = cli_query(cfg, what, C_JOB_BACKEND, 1, v)))
        goto out;
    if (PQntuples(res) != 1) {
        no_job(id);
        goto out;
    }
    ret = 0;
    if (*PQgetvalue(res, 0, 0) == 't' && !jw_value_fits(value)) {
        fprintf(stderr,
                "mediagate: the title or the ACL is too long for JW Platform (%d bytes each, "
                "percent-encoded)\n",
                JW_VALUE_ENCODED_MAX);
        ret = 2;
    }
out:
    PQclear(res);
    return ret;
}

/* Sets job argv[0]'s title to argv[1] (jw_title_ok: 1 to 1000 bytes, no control
 * characters); a JW Platform video's is written back. Exit 1 when there
 * is no such job. */
static int title(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    if (argc != 2)
        return CLI_EUSAGE;
    if (!jw_title_ok(argv[1])) {
        fprintf(stderr, "mediagate: a title is 1 to 1000 bytes without control characters\n");
        return 2;
    }
    if ((ret = jw_sendable(cfg, "jobs title", argv[0], argv[1])) != 0)
        return ret;
    ret = 1;
    const char *vals[] = {argv[0], argv[1], cfg->jwplatform_sync_items ? "t" : "f"};
    if (!(res = cli_query(cfg, "jobs title", C_JOBS_TITLE, 3, vals)))
        goto out;
    if (PQntuples(res) != 1) {
        no_job(argv[0]);
        goto out;
    }
    printf("job %s: title set\n", argv[0]);
    if (*PQgetvalue(res, 0, 1) == 't')
        print_jw_write(cfg);
    ret = 0;
out:
    PQclear(res);
    return ret;
}

/* Sets job argv[0]'s ACL to argv[1] (app/acl.h), or clears it with
 * --world; a job on the store's objects follow. Exit 1 when there is no
 * such job, or the store did not follow. */
static int acl(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    char norm[1024], err[200], sms_acl[1100];
    if (argc != 2)
        return CLI_EUSAGE;
    bool world = strcmp(argv[1], "--world") == 0;
    if (!world && acl_normalize(argv[1], norm, sizeof norm, err, sizeof err) != 0) {
        fprintf(stderr, "mediagate: %s\n", err);
        return 2;
    }
    snprintf(sms_acl, sizeof sms_acl, "acl:%s:", world ? "WORLD" : norm);
    if ((ret = jw_sendable(cfg, "jobs acl", argv[0], sms_acl)) != 0)
        return ret;
    ret = 1;
    const char *vals[] = {argv[0], world ? NULL : norm, cfg->jwplatform_sync_items ? "t" : "f"};
    if (!(res = cli_query(cfg, "jobs acl", C_JOBS_ACL, 3, vals)))
        goto out;
    if (PQntuples(res) != 1) {
        no_job(argv[0]);
        goto out;
    }
    bool on_store = !PQgetisnull(res, 0, 1) && strcmp(PQgetvalue(res, 0, 1), "s3") == 0;
    printf("job %s: %s\n", argv[0], world ? "WORLD (no ACL)" : norm);
    if (!world)
        print_unrecallable(cfg, on_store);
    if (*PQgetvalue(res, 0, 3) == 't')
        print_jw_write(cfg);
    ret = on_store ? follow_in_store(cfg, argv[0], world ? NULL : norm, PQgetvalue(res, 0, 2)) : 0;
out:
    PQclear(res);
    return ret;
}

static const char *create_kind(const encoder *e)
{
    return e->create_kind;
}

static const char *cancels(const encoder *e)
{
    return e->cancel ? e->name : NULL;
}

/* Job argv[0] becomes CANCELED, its work that never started stops, and at
 * an encoder that can cancel, an encoder.cancel task cancels it there.
 * Exit 0 only when it was canceled. */
static int cancel(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    char kinds[512], remote[256];
    if (argc != 1)
        return CLI_EUSAGE;
    encoder_array(kinds, sizeof kinds, create_kind);
    encoder_array(remote, sizeof remote, cancels);
    const char *vals[] = {argv[0], kinds, remote};
    if (!(res = cli_query(cfg, "jobs cancel", C_JOBS_CANCEL, 3, vals)))
        goto out;
    const char *r = PQgetvalue(res, 0, 0);
    if (strcmp(r, "no_such_job") == 0 || strcmp(r, "finished") == 0) {
        fprintf(stderr, "mediagate: %s job '", *r == 'n' ? "no" : "nothing to cancel: a final");
        cli_put_clean(stderr, argv[0], " ", 0);
        fprintf(stderr, "'\n");
        goto out;
    }
    if (strcmp(r, "platform_managed") == 0) {
        fprintf(stderr, "mediagate: JW Platform videos are managed on the platform: delete the "
                        "video there (its job follows); nothing changed\n");
        goto out;
    }
    bool jw = strcmp(PQgetvalue(res, 0, 1), "jwplatform") == 0;
    printf("job %s: CANCELED\n", argv[0]);
    if (strcmp(r, "canceling") == 0)
        printf("Its encoder (%s) cancels it too: an encoder.cancel task does, after a create in "
               "flight ends\n(mediagate tasks list shows it).\n",
               PQgetvalue(res, 0, 1));
    else if (strcmp(r, "canceling_upload") == 0 && jw)
        printf("Its JW Platform video %s is deleted too, with its upload link (an upload.expire "
               "task,\nretried); the job stays CANCELED.\n",
               PQgetvalue(res, 0, 2));
    else if (strcmp(r, "canceling_upload") == 0)
        printf("Its direct upload is canceled at %s too (an upload.expire task, retried; an asset "
               "made of it\nall the same is deleted there).\n",
               PQgetvalue(res, 0, 1));
    ret = 0;
out:
    PQclear(res);
    return ret;
}

const cli_command cli_jobs_commands[] = {
    {.name = "list", .needs_config = true, .fn = list, .args = "",
     .usage = "the newest 200 jobs, one line each\n"
              "Columns: id, backend, status, progress (%), updated (UTC), input file. A\n"
              "job's error code and message follow on their own line.\n"},
    {.name = "show", .needs_config = true, .fn = show, .args = "ID",
     .usage = "every column of job ID, JSON columns pretty-printed\n"
              "Exits 1 when there is no such job.\n"},
    {.name = "acl", .needs_config = true, .fn = acl, .args = "ID ENTRIES|--world",
     .usage = "who may see job ID in /media/status and /media/job_id\n"
              "ENTRIES: comma-separated WORLD, CAM (any signed-in caller), USER_<id>,\n"
              "GROUP_<id>, INST_<id>; --world removes the ACL (anyone). Every new answer\n"
              "follows it within MEDIAGATE_CACHE_MAX_AGE + 1 s (nginx's micro-cache\n"
              "included); what callers already got (output URLs, media files in their\n"
              "browsers) it cannot recall, as it prints. Set the ACL at upload instead.\n"
              "A JW Platform video's job refuses (exit 2) an ACL longer than the\n"
              "write-back sends (1500 bytes percent-encoded), before changing anything.\n"},
    {.name = "title", .needs_config = true, .fn = title, .args = "ID TEXT",
     .usage = "set job ID's title (1 to 1000 bytes)\n"
              "No control characters (C0, DEL, C1, U+2028, U+2029). A JW Platform\n"
              "video's job (jwplatform:<key>) has it written to the video\n"
              "by a jwplatform.update task (MEDIAGATE_JWPLATFORM_SYNC_ITEMS), as an ACL\n"
              "change is; a title longer than the write-back sends (1500 bytes\n"
              "percent-encoded) is refused (exit 2), before changing anything. Exits 1\n"
              "when there is no such job.\n"},
    {.name = "cancel", .needs_config = true, .fn = cancel, .args = "ID",
     .usage = "cancel job ID, at its encoder too\n"
              "The job is CANCELED at once and its work not yet started stops (a queued\n"
              "create, a local encode). A job created at a cloud encoder (or being\n"
              "created) is canceled there by an encoder.cancel task, after a create in\n"
              "flight ends. A Mux direct upload still waiting for its file is canceled\n"
              "at Mux, and an asset Mux makes of it all the same is deleted there. A JW\n"
              "Platform upload's video is deleted there (its link with it), and the job\n"
              "stays CANCELED; a JW Platform video not made by an upload here is\n"
              "managed on the platform: refused, nothing changed.\n"
              "Exits 1 when there is no such job, it was final already or it is such\n"
              "a video.\n"},
    {.name = NULL},
};
