/* The operators' routes: GET /healthz (the process serves), GET /readyz
 * (the database answers and holds the schema this binary needs) and GET
 * /metrics (Prometheus text format). None is cached. Whether the schema is
 * current is app/schema.c's answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "handlers.h"
#include "metrics.h"
#include "schema.h"

int handle_healthz(request *r)
{
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "status", json_object_new_string("serving"));
    return 200;
}

int handle_readyz(request *r)
{
    char detail[200];
    switch (schema_state(r->db, detail, sizeof detail)) {
    case SCHEMA_CURRENT:
        break;
    case SCHEMA_OLDER:
        return reply_error(r, 503, "The database schema is older than this binary; run mediagate migrate.");
    default:
        return reply_error(r, 503, "The database is unavailable; retry later.");
    }
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "status", json_object_new_string("ready"));
    return 200;
}

/* Label values from the database (kind names, states): printed with
 * anything but [A-Za-z0-9._-] as '_', so no value can break the format. */
static void put_label(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *s) ? *s : '_', f);
}

/* The queue and the webhook deliveries, read at scrape time. Returns 0 or
 * a db_exec() status. */
static int write_db_metrics(request *r, FILE *f)
{
    PGresult *res = NULL;
    int ret = db_exec(r->db, STMT_METRICS_QUEUE, 0, NULL, &res);
    if (ret)
        goto out;
    fputs("# HELP mediagate_tasks Tasks in the queue by kind and state (done and dead: the outcomes).\n"
          "# TYPE mediagate_tasks gauge\n", f);
    for (int i = 0; i < PQntuples(res); i++) {
        fputs("mediagate_tasks{kind=\"", f);
        put_label(f, PQgetvalue(res, i, 0));
        fputs("\",state=\"", f);
        put_label(f, PQgetvalue(res, i, 1));
        fprintf(f, "\"} %s\n", PQgetvalue(res, i, 2));
    }
    fputs("# HELP mediagate_queue_depth Queued tasks that may run now, by kind.\n"
          "# TYPE mediagate_queue_depth gauge\n", f);
    for (int i = 0; i < PQntuples(res); i++) {
        if (strcmp(PQgetvalue(res, i, 1), "queued") != 0)
            continue;
        fputs("mediagate_queue_depth{kind=\"", f);
        put_label(f, PQgetvalue(res, i, 0));
        fprintf(f, "\"} %s\n", PQgetvalue(res, i, 3));
    }
    PQclear(res);
    res = NULL;
    ret = db_exec(r->db, STMT_METRICS_WEBHOOKS, 0, NULL, &res);
    if (ret)
        goto out;
    fputs("# HELP mediagate_webhook_deliveries Webhook deliveries by state (pending, delivered, failed).\n"
          "# TYPE mediagate_webhook_deliveries gauge\n", f);
    for (int i = 0; i < PQntuples(res); i++) {
        fputs("mediagate_webhook_deliveries{state=\"", f);
        put_label(f, PQgetvalue(res, i, 0));
        fprintf(f, "\"} %s\n", PQgetvalue(res, i, 1));
    }
out:
    PQclear(res);
    return ret;
}

int handle_metrics(request *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return reply_error(r, 500, "Out of memory.");
    metrics_write(f);
    int st = write_db_metrics(r, f);
    fprintf(f, "# HELP mediagate_db_up Whether the scrape could read the database (queue, webhooks).\n"
               "# TYPE mediagate_db_up gauge\nmediagate_db_up %d\n", st == 0);
    fclose(f);
    char *body = text ? arena_strndup(r->a, text, len) : NULL;
    free(text);
    if (!body)
        return reply_error(r, 500, "Out of memory.");
    r->raw_body = body;
    r->raw_len = len;
    r->raw_type = "text/plain; version=0.0.4; charset=utf-8";
    return 200;
}
