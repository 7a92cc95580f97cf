/* The queue core: slots claim tasks under fenced leases, run their kind,
 * and record the outcome with its job update in one transaction. It knows
 * nothing of what a kind does (app/worker/kinds.c). */
#include <errno.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "proc.h"
#include "request.h"
#include "http_client.h"
#include "worker/kinds.h"
#include "worker/worker.h"
#include "worker/wsql.h"

static atomic_int stopping;

double worker_backoff(int attempt, double base, double cap, double jitter01)
{
    if (attempt < 1)
        attempt = 1;
    double d = ldexp(base, attempt > 30 ? 30 : attempt - 1); /* base * 2^(n-1) */
    if (d > cap || !isfinite(d))
        d = cap;
    return d * (0.5 + 0.5 * jitter01);
}

/* One task slot: a thread with its own connection. */
typedef struct slot {
    const config *cfg;
    int n;
    pthread_t tid;
    db db;
    http_client http;           /* the slot's outbound client, reused */
    char wid[80];
    char kinds[512];            /* the served kinds as a text[] literal, background ones aside */
    char later[512];            /* the served background kinds: claimed when no other is ready */
    atomic_int cancel;          /* stopping, or the current task was lost */
    /* The task in hand. */
    long long id;
    int token;
    bool lost;
    double last_beat, last_write, db_down_since;
    int pending_pct;            /* progress not yet written, or -1 */
    unsigned seed;
} slot;

static void nap(double s)
{
    for (double t = 0; t < s && !atomic_load(&stopping); t += 0.05)
        usleep(50000);
}

/* ctx->beat: renews the lease every lease/3 s and writes progress at most
 * once a second. A database that is down is not a lost lease: the child
 * goes on and the next beat tries again. Returns false once the attempt
 * is no longer this slot's. */
static bool beat(task_ctx *ctx, int progress)
{
    slot *s = ctx->queue;
    if (s->lost)
        return false;
    if (progress >= 0 && progress > s->pending_pct)
        s->pending_pct = progress;
    double now = proc_now(), every = s->cfg->lease_seconds / 3.0;
    bool due = progress == TASK_BEAT_CHECK || now - s->last_beat >= every ||
               (s->pending_pct >= 0 && now - s->last_write >= 1.0);
    if (!due || (progress != TASK_BEAT_CHECK && s->db_down_since > 0 && now - s->last_write < 1.0))
        return true;
    char id[24], tok[16], lease[24], pct[8];
    snprintf(id, sizeof id, "%lld", s->id);
    snprintf(tok, sizeof tok, "%d", s->token);
    snprintf(lease, sizeof lease, "%ld", s->cfg->lease_seconds);
    snprintf(pct, sizeof pct, "%d", s->pending_pct);
    const char *v[] = {id, tok, s->wid, lease, s->pending_pct >= 0 ? pct : NULL};
    PGresult *r = NULL;
    s->last_write = now;
    int st = db_exec(&s->db, W_BEAT, 5, v, &r);
    if (st != 0) {
        if (s->db_down_since == 0) {
            s->db_down_since = now;
            log_warn("task %lld: heartbeat failed (%d); going on, retrying", s->id, st);
        }
        return true;
    }
    if (s->db_down_since > 0)
        log_info("task %lld: heartbeat back after %.1f s", s->id, now - s->db_down_since);
    s->db_down_since = 0;
    s->last_beat = now;
    bool held = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!held) {
        s->lost = true;
        atomic_store(&s->cancel, 1);
        log_warn("task %lld: lost its lease (attempt %d); stopping", s->id, s->token);
        return false;
    }
    s->pending_pct = -1;
    return true;
}

static const char *const outcome_names[] = {"done", "retry", "failed", "handback", "snooze"};
/* (a snooze is recorded by W_SNOOZE, the others by mediagate_task_finish) */

/* Records the outcome of the attempt in hand, applying res's job event in
 * the same transaction. A database that is down is retried with backoff
 * until the result is recorded or the lease turns out lost; a stopping
 * worker gives up after MEDIAGATE_SHUTDOWN_TIMEOUT (the attempt then runs
 * again after its lease). */
static void finish(slot *s, const task_kind *k, task_result *res)
{
    task_outcome oc = res->outcome;
    if (oc == TASK_RETRY && s->token >= k->max_attempts)
        oc = TASK_FAILED; /* the last attempt: its error is final */
    double delay = res->retry_after > 0 ? res->retry_after
                                        : worker_backoff(s->token, k->backoff_base, k->backoff_cap,
                                                         (double)rand_r(&s->seed) / RAND_MAX);
    json_object *ev = (oc == TASK_DONE || oc == TASK_FAILED) ? res->job_event : NULL;
    char id[24], tok[16], dl[32];
    snprintf(id, sizeof id, "%lld", s->id);
    snprintf(tok, sizeof tok, "%d", s->token);
    snprintf(dl, sizeof dl, "%.3f", delay);
    const char *v[] = {id, tok, s->wid, outcome_names[oc], dl, res->message[0] ? res->message : NULL,
                       ev ? json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN) : NULL};
    const char *snooze[] = {id, tok, s->wid, dl, v[5]};
    double wait = 0.2, give_up = 0;
    bool fallback = false;
    for (int tries = 1;; tries++) {
        PGresult *r = NULL;
        int st = oc == TASK_SNOOZE ? db_exec(&s->db, W_SNOOZE, 5, snooze, &r)
                                   : db_exec(&s->db, W_FINISH, 7, v, &r);
        if (st == 0) {
            bool held = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
            PQclear(r);
            if (!held)
                log_warn("task %lld: lost its lease before finishing (attempt %d); result dropped",
                         s->id, s->token);
            else if (oc == TASK_DONE)
                log_info("task %lld: done", s->id);
            else if (oc == TASK_RETRY)
                log_warn("task %lld: retry in %.1fs: %s", s->id, delay, res->message);
            else if (oc == TASK_FAILED)
                log_warn("task %lld: failed (attempt %d): %s", s->id, s->token, res->message);
            else if (oc == TASK_SNOOZE)
                log_warn("task %lld: waits %.1fs, the attempt not counted: %s", s->id, delay,
                         res->message);
            else
                log_info("task %lld: handed back", s->id);
            if (tries > 1 && held)
                log_info("task %lld: outcome recorded after %d tries", s->id, tries);
            return;
        }
        if (st != 503) {
            /* The result itself cannot be recorded (a constraint refused the
             * job update): the task is retried later rather than lost. */
            log_error("task %lld: recording '%s' failed (%d); retrying the task later", s->id,
                      outcome_names[oc], st);
            if (fallback)
                return; /* the lease runs out and the task runs again */
            fallback = true;
            oc = TASK_RETRY;
            v[3] = outcome_names[TASK_RETRY];
            v[5] = "the result could not be recorded";
            v[6] = NULL;
            continue;
        }
        if (atomic_load(&stopping)) {
            if (give_up == 0)
                give_up = proc_now() + (double)s->cfg->shutdown_timeout;
            if (proc_now() > give_up) {
                log_warn("task %lld: stopping before the outcome could be recorded; it runs again "
                         "after its lease",
                         s->id);
                return;
            }
        }
        if (tries == 1)
            log_warn("task %lld: cannot record '%s' yet (database unavailable); retrying", s->id,
                     outcome_names[oc]);
        for (double t = 0; t < wait; t += 0.05)
            usleep(50000); /* not nap(): a stopping worker still tries */
        wait = wait * 2 > 5 ? 5 : wait * 2;
    }
}

/* Runs one claimed task (row r of the claim). */
static void run_task(slot *s, PGresult *r)
{
    const char *perr;
    s->id = atoll(PQgetvalue(r, 0, 0));
    s->token = atoi(PQgetvalue(r, 0, 3));
    s->lost = false;
    s->pending_pct = -1;
    s->last_beat = s->last_write = proc_now();
    s->db_down_since = 0;
    atomic_store(&s->cancel, atomic_load(&stopping));
    const task_kind *k = task_kind_find(PQgetvalue(r, 0, 1));
    json_object *payload = parse_json(PQgetvalue(r, 0, 2), (size_t)PQgetlength(r, 0, 2), &perr);
    task_result res = {0};
    task_ctx ctx = {.cfg = s->cfg, .id = s->id, .attempt = s->token, .payload = payload,
                    .db = &s->db, .http = &s->http, .beat = beat, .cancel = &s->cancel,
                    .queue = s};
    if (!k) { /* the claim names only our kinds */
        log_error("task %lld: kind %s is not served here", s->id, PQgetvalue(r, 0, 1));
        json_object_put(payload);
        return;
    }
    ctx.kind = k->name;
    ctx.job_id = jstr_or(payload, "job_id", NULL);
    ctx.deadline = proc_now() + task_kind_timeout(k, s->cfg);
    /* The request that queued it (sql/016), in this slot's log lines. */
    json_object *rid = NULL;
    if (jobj(payload, "request_id", json_type_string, &rid) > 0 &&
        json_object_get_string_len(rid) <= 64 &&
        strspn(json_object_get_string(rid), "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789-_.") == (size_t)json_object_get_string_len(rid))
        log_set_request_id(json_object_get_string(rid));
    log_info("task %lld: %s (attempt %d) by %s%s%s", s->id, k->name, s->token, s->wid,
             ctx.job_id ? " for job " : "", ctx.job_id ? ctx.job_id : "");
    if (!payload || !json_object_is_type(payload, json_type_object))
        task_fail(&res, TASK_FAILED, 1, "malformed task payload");
    else
        k->run(&ctx, &res);
    if (s->lost)
        log_warn("task %lld: attempt %d dropped: another worker holds the task", s->id, s->token);
    else
        finish(s, k, &res);
    log_set_request_id(NULL);
    json_object_put(res.job_event);
    json_object_put(payload);
}

static void *slot_main(void *arg)
{
    slot *s = arg;
    char lease[24], cap[24];
    bool synced = false;
    double next_reap = 0, wait = 0.5;
    snprintf(lease, sizeof lease, "%ld", s->cfg->lease_seconds);
    snprintf(cap, sizeof cap, "%ld", s->cfg->encode_owner_cap);
    while (!atomic_load(&stopping)) {
        PGresult *r = NULL;
        if (!synced) {
            if (worker_sync_kinds(&s->db, s->cfg) != 0) {
                nap(wait);
                wait = wait * 2 > 5 ? 5 : wait * 2;
                continue;
            }
            synced = true;
        }
        if (proc_now() >= next_reap) {
            next_reap = proc_now() + 5;
            if (db_exec(&s->db, W_REAP, 0, NULL, &r) == 0)
                for (int i = 0; i < PQntuples(r); i++) {
                    const task_kind *k = task_kind_find(PQgetvalue(r, i, 0));
                    const char *job = PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1);
                    log_warn("a %s task%s%s is dead: its worker stopped during every attempt",
                             PQgetvalue(r, i, 0), job ? " of job " : "", job ? job : "");
                    if (k && k->dead)
                        k->dead(s->cfg, job);
                }
            PQclear(r);
            r = NULL;
        }
        const char *v[] = {s->wid, lease, s->kinds, cap};
        int st = db_exec(&s->db, W_CLAIM, 4, v, &r);
        if (st == 0 && PQntuples(r) == 0 && strcmp(s->later, "{}") != 0) {
            PQclear(r);
            r = NULL;
            v[2] = s->later;
            st = db_exec(&s->db, W_CLAIM, 4, v, &r);
        }
        if (st != 0) {
            nap(wait);
            wait = wait * 2 > 5 ? 5 : wait * 2;
            continue;
        }
        wait = 0.5;
        if (PQntuples(r) == 0) {
            PQclear(r);
            nap(0.25);
            continue;
        }
        run_task(s, r);
        PQclear(r);
    }
    db_close(&s->db);
    http_client_free(&s->http);
    return NULL;
}

int worker_sync_kinds(db *d, const config *cfg)
{
    for (size_t i = 0; i < task_kinds_count; i++) {
        if (!task_kind_served(&task_kinds[i], cfg))
            continue;
        char max[16], to[16];
        PGresult *r = NULL;
        snprintf(max, sizeof max, "%d", task_kinds[i].max_attempts);
        snprintf(to, sizeof to, "%d", task_kinds[i].timeout_s);
        const char *v[] = {task_kinds[i].name, max, to};
        int st = db_exec(d, W_KIND_SYNC, 3, v, &r);
        PQclear(r);
        r = NULL;
        if (st == 0 && task_kinds[i].periodic)
            st = db_exec(d, W_PERIODIC, 1, v, &r);
        PQclear(r);
        if (st != 0)
            return st;
    }
    return 0;
}

/* The served kinds of one lane (background or not) as a text[] literal
 * into out: a slot claims a background task only when no other is ready,
 * so a background kind never delays the others (a running one still holds
 * its slot). */
static void kinds_literal(const config *cfg, bool background, char *out, size_t cap)
{
    snprintf(out, cap, "{");
    for (size_t i = 0; i < task_kinds_count; i++) {
        size_t l = strlen(out);
        if (task_kind_served(&task_kinds[i], cfg) && task_kinds[i].background == background)
            snprintf(out + l, cap - l, "%s\"%s\"", l > 1 ? "," : "", task_kinds[i].name);
    }
    strncat(out, "}", cap - strlen(out) - 1);
}

int worker_run(const config *cfg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    slot *slots = calloc((size_t)cfg->worker_concurrency, sizeof *slots);
    if (!slots)
        return 1;
    char host[64] = "host", kinds[512], later[512];
    gethostname(host, sizeof host - 1);
    kinds_literal(cfg, false, kinds, sizeof kinds);
    kinds_literal(cfg, true, later, sizeof later);
    for (long i = 0; i < cfg->worker_concurrency; i++) {
        slot *s = &slots[i];
        s->cfg = cfg;
        s->n = (int)i;
        s->seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(i * 7919);
        snprintf(s->wid, sizeof s->wid, "%.40s:%d:%ld", host, (int)getpid(), i);
        snprintf(s->kinds, sizeof s->kinds, "%s", kinds);
        snprintf(s->later, sizeof s->later, "%s", later);
        wsql_init(&s->db, cfg);
        if (http_client_init(&s->http, cfg->outbound_allow_loopback) != 0)
            log_warn("slot %ld: no outbound HTTP client; outgoing calls will fail", i);
        s->http.ca_file = cfg->outbound_ca_file;
        pthread_create(&s->tid, NULL, slot_main, s);
    }
    pthread_t watcher;
    watch_arg wa = {cfg, &stopping};
    bool watching = *cfg->uploads_dir && pthread_create(&watcher, NULL, watch_main, &wa) == 0;
    log_info("worker running %ld task slot(s), lease %lds, kinds %s, background %s%s%s",
             cfg->worker_concurrency, cfg->lease_seconds, kinds, later, watching ? ", watching " : "",
             watching ? cfg->uploads_dir : "");
    int sig;
    sigwait(&set, &sig);
    log_info("signal %d: handing back running tasks and stopping", sig);
    atomic_store(&stopping, 1);
    for (long i = 0; i < cfg->worker_concurrency; i++)
        atomic_store(&slots[i].cancel, 1);
    for (long i = 0; i < cfg->worker_concurrency; i++)
        pthread_join(slots[i].tid, NULL);
    if (watching)
        pthread_join(watcher, NULL);
    free(slots);
    log_info("worker stopped");
    return 0;
}

int worker_submit_job(db *d, const char *path, const char *input_file, const char *key, char id[UUID_BUF])
{
    PGresult *r = NULL;
    uuid_new(id);
    json_object *p = json_object_new_object();
    json_object_object_add(p, "job_id", json_object_new_string(id));
    json_object_object_add(p, "input", json_object_new_string(path));
    const char *v[] = {id, input_file, json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN),
                       key ? key : id};
    int st = db_exec(d, W_SUBMIT, 4, v, &r), ret = -1;
    if (st == 0)
        ret = atoi(PQcmdTuples(r)) == 1 ? 1 : 0;
    else
        log_warn("submit %s failed (%d)", path, st);
    PQclear(r);
    json_object_put(p);
    return ret;
}

int worker_submit(const config *cfg, const char *file)
{
    char path[PATH_MAX], id[UUID_BUF];
    if (!realpath(file, path)) {
        fprintf(stderr, "mediagate: %s: %s\n", file, strerror(errno));
        return 1;
    }
    db d;
    wsql_init(&d, cfg);
    int r = worker_submit_job(&d, path, path, NULL, id);
    if (r == 1)
        printf("%s\n", id);
    else
        fprintf(stderr, "mediagate: cannot submit %s: the database is unavailable\n", file);
    db_close(&d);
    return r == 1 ? 0 : 1;
}
