/* mediagate storage migrate [--dry-run]: copies a local installation's
 * published outputs (MEDIAGATE_MEDIA_DIR/<job id>/) into the S3 bucket
 * (media/<job id>/) and repoints each job (jobs.storage, output_path).
 *
 * Resumable and safe to run twice: a job is repointed only after every one
 * of its files is in the bucket, in one statement that names its old state;
 * an object already in the bucket (one listing of the job's prefix) with the
 * local file's size is not copied again (a PUT is atomic, so an object that
 * is there is whole). A run killed
 * halfway leaves its jobs local, and the next run copies only what is
 * missing. One run at a time (a session advisory lock). */
#include "cli/cli.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/sql.h"
#include "config.h"
#include "playback.h"
#include "storage/storage.h"
#include "worker/publish.h"

/* What a run did (or, dry, would do). */
typedef struct tally {
    int jobs_moved, jobs_failed;
    int copied, present;
    long long copied_bytes;
} tally;

/* What a listing of a job's prefix gathers: the objects already there. */
typedef struct present {
    out_files fs;
    size_t skip; /* the prefix's length */
    bool failed;
} present;

static int present_add(void *arg, const char *key, const store_object *o)
{
    present *p = arg;
    if (strlen(key) > p->skip && publish_files_add(&p->fs, key + p->skip, o->size, 0) != 0)
        p->failed = true;
    return p->failed;
}

/* The size of the object rel in p (sorted by name), or -1 when absent. */
static long long present_size(const present *p, const char *rel)
{
    out_file k = {.rel = (char *)rel};
    const out_file *f = p->fs.n ? bsearch(&k, p->fs.v, p->fs.n, sizeof k, publish_by_name) : NULL;
    return f ? f->size : -1;
}

/* True for a failure that every other job would meet too. */
static bool store_refuses(store_status st)
{
    return st == STORE_DENIED || st == STORE_NO_BUCKET;
}

/* Copies job's files into the bucket (dry: only looks). Returns 0 when all
 * of them are there, or after printing why not -1, or -2 when the store
 * refuses the settings (every job would fail so). */
static int copy_job(const config *cfg, store *s, const char *job, bool public_read, bool dry,
                    tally *t)
{
    char dir[4096], key[1100], why[600] = "";
    out_files fs = {0};
    present there = {0};
    int ret = -1;
    if (snprintf(dir, sizeof dir, "%s/%s", cfg->media_dir, job) >= (int)sizeof dir) {
        snprintf(why, sizeof why, "its directory's name is too long");
        goto out;
    }
    if (publish_list(dir, false, &fs, why, sizeof why) != 0)
        goto out;
    /* In upload order: the master playlist last, the variant playlists
     * before it. */
    if (fs.n)
        qsort(fs.v, fs.n, sizeof *fs.v, publish_by_rank);
    if (fs.n == 0) {
        snprintf(why, sizeof why, "it has no files in MEDIAGATE_MEDIA_DIR");
        goto out;
    }
    /* One listing of the job's prefix says what an earlier run put there. */
    snprintf(key, sizeof key, "media/%s/", job);
    there.skip = strlen(key);
    store_status st = store_list(s, key, present_add, &there);
    if (st != STORE_OK || there.failed) {
        snprintf(why, sizeof why, "%s", there.failed ? "out of memory" : store_err(s));
        ret = store_refuses(st) ? -2 : -1;
        goto out;
    }
    if (there.fs.n)
        qsort(there.fs.v, there.fs.n, sizeof *there.fs.v, publish_by_name);
    for (size_t i = 0; i < fs.n; i++) {
        const out_file *f = &fs.v[i];
        if (snprintf(key, sizeof key, "media/%s/%s", job, f->rel) >= (int)sizeof key ||
            !store_key_ok(key)) {
            snprintf(why, sizeof why, "%s cannot be named in the bucket", f->rel);
            goto out;
        }
        if (present_size(&there, f->rel) == f->size) {
            t->present++;
            continue;
        }
        t->copied++;
        t->copied_bytes += f->size;
        if (dry)
            continue;
        char path[sizeof dir + 1100];
        store_put_opts po;
        snprintf(path, sizeof path, "%s/%s", dir, f->rel);
        /* As the encoder publishes it (a file of no kind it makes goes
         * untyped, long-lived). */
        publish_put_opts(f->rel, public_read, &po);
        if ((st = store_put_file(s, key, path, &po, NULL)) != STORE_OK) {
            snprintf(why, sizeof why, "%s", store_err(s));
            ret = store_refuses(st) ? -2 : -1;
            goto out;
        }
    }
    ret = 0;
out:
    if (ret != 0) {
        fprintf(stderr, "mediagate: job ");
        cli_put_clean(stderr, job, NULL, 0);
        fprintf(stderr, " stays local: ");
        cli_put_clean(stderr, why, NULL, 0);
        fputc('\n', stderr);
    }
    publish_files_free(&fs);
    publish_files_free(&there.fs);
    return ret;
}

static int migrate(const config *cfg, int argc, char **argv)
{
    bool dry = argc == 1 && strcmp(argv[0], "--dry-run") == 0;
    int ret = 1;
    db d;
    PGresult *jobs = NULL, *r = NULL;
    store *s = NULL;
    tally t = {0};
    if (argc > 1 || (argc == 1 && !dry))
        return CLI_EUSAGE;
    if (!store_is_s3(cfg)) {
        fprintf(stderr, "mediagate: MEDIAGATE_STORAGE is local: set it to s3, with the bucket's "
                        "settings, to migrate into the bucket\n");
        return 2;
    }
    cli_db_init(&d, cfg);
    d.session = true; /* the lock below */
    if (!(s = store_open(cfg))) {
        fprintf(stderr, "mediagate: out of memory\n");
        goto out;
    }
    if (cli_exec(&d, "storage migrate", C_STORAGE_LOCK, 0, NULL, &r) != 0)
        goto out;
    if (*PQgetvalue(r, 0, 0) != 't') {
        fprintf(stderr, "mediagate: another 'storage migrate' runs; this one does nothing\n");
        ret = 3;
        goto out;
    }
    if (cli_exec(&d, "storage migrate", C_STORAGE_LOCAL_JOBS, 0, NULL, &jobs) != 0)
        goto out;
    for (int i = 0; i < PQntuples(jobs); i++) {
        const char *job = PQgetvalue(jobs, i, 0);
        /* Readable unsigned only when playback hands out unsigned URLs,
         * as recorded for every host and by this one's settings. */
        const char *acl = PQgetisnull(jobs, i, 1) ? NULL : PQgetvalue(jobs, i, 1);
        bool public_read = playback_public_read(cfg, acl, PQgetvalue(jobs, i, 2));
        char base[1100], url[2048];
        if (snprintf(base, sizeof base, "media/%s/", job) >= (int)sizeof base ||
            !store_key_ok(base) || store_public_url(cfg, base, url, sizeof url) != 0) {
            fprintf(stderr, "mediagate: job ");
            cli_put_clean(stderr, job, NULL, 0);
            fprintf(stderr, " stays local: its id cannot be named in the bucket\n");
            t.jobs_failed++;
            continue;
        }
        int copied = copy_job(cfg, s, job, public_read, dry, &t);
        if (copied == -2) {
            fprintf(stderr, "mediagate: the store refuses the settings (MEDIAGATE_STORAGE_*): "
                            "no other job is tried\n");
            t.jobs_failed = PQntuples(jobs) - t.jobs_moved;
            break;
        }
        if (copied != 0) {
            t.jobs_failed++;
            continue;
        }
        if (!dry) {
            const char *vals[] = {job, url};
            PQclear(r);
            r = NULL;
            if (cli_exec(&d, "storage migrate", C_STORAGE_REPOINT, 2, vals, &r) != 0)
                goto out;
            if (PQntuples(r) != 1) { /* changed meanwhile: left as it is now */
                t.jobs_failed++;
                continue;
            }
        }
        t.jobs_moved++;
        fputs(dry ? "would move " : "moved ", stdout);
        cli_put_clean(stdout, job, NULL, 0);
        putchar('\n');
    }
    printf("%sjobs: %d %s, %d staying local; files: %d %s (%lld bytes), %d already in the "
           "bucket\n",
           dry ? "dry run: " : "", t.jobs_moved, dry ? "to move" : "moved", t.jobs_failed, t.copied,
           dry ? "to copy" : "copied", t.copied_bytes, t.present);
    ret = t.jobs_failed ? 1 : 0;
out:
    PQclear(r);
    PQclear(jobs);
    store_close(s);
    db_close(&d);
    return ret;
}

const cli_command cli_storage_commands[] = {
    {.name = "migrate", .needs_config = true, .fn = migrate, .args = "[--dry-run]",
     .usage = "copy local outputs into the bucket, repoint their jobs\n"
              "With MEDIAGATE_STORAGE=s3: for each completed local job, copies the files\n"
              "of MEDIAGATE_MEDIA_DIR/<job id>/ to the bucket's media/<job id>/ (the master\n"
              "playlist last), then sets the job's storage to s3 and its output_path under\n"
              "the bucket's public URL. A job is repointed only after all its files are\n"
              "in; a file already in the bucket with the same size is not copied again,\n"
              "so a run that was stopped resumes and a second run changes nothing. The\n"
              "local files are kept. Prints each job moved and a summary; exits 1 when\n"
              "a job stays local (it says why), 3 when another run holds the lock.\n"
              "  --dry-run   copy nothing, change nothing: say what a run would do\n"},
    {.name = NULL},
};
