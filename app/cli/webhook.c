/* mediagate webhook add URL [--events e1,e2] | list | remove ID |
 * deliveries [ID] | redeliver DELIVERY: the customer's webhook endpoints
 * (sql/012_webhooks.sql) and what was sent to them. */
#include "cli/cli.h"

#include <curl/curl.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "cli/sql.h"
#include "http_client.h"

/* The events an endpoint may subscribe to (the triggers of sql/012;
 * job.deleted: sql/functions/mediagate_job_delete.sql). */
static const char *const events[] = {
    "job.progressing", "job.complete", "job.errored",    "job.canceled", "job.deleted",
    "stream.live",     "stream.idle",  "stream.stopped",
};
#define NEVENTS (sizeof events / sizeof events[0])

/* Random bytes in a secret: Standard Webhooks allows 24 to 64. */
#define SECRET_BYTES 32
#define URL_MAX 2048

/* Checks that url is an absolute http(s) URL with a host. Returns NULL, or
 * why not. */
static const char *url_problem(const char *url)
{
    static char why[128];
    const char *ret = NULL;
    char *scheme = NULL, *host = NULL;
    CURLU *u = curl_url();
    if (!u)
        return "out of memory";
    if (strlen(url) > URL_MAX) {
        snprintf(why, sizeof why, "it is longer than %d bytes", URL_MAX);
        ret = why;
        goto out;
    }
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (rc != CURLUE_OK) {
        snprintf(why, sizeof why, "it is not a URL (%s)", curl_url_strerror(rc));
        ret = why;
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        ret = "its scheme must be http or https";
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
        ret = "it has no host";
out:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ret;
}

/* url's host, without the brackets of an IPv6 literal, in a string the
 * caller frees with curl_free(); NULL when it has none. */
static char *url_host(const char *url)
{
    char *host = NULL;
    CURLU *u = curl_url();
    if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] == '[') {
        size_t n = strcspn(host + 1, "%]"); /* no zone id */
        memmove(host, host + 1, n);
        host[n] = '\0';
    }
    curl_url_cleanup(u);
    return host;
}

/* Resolves url's host now and judges each address as the worker's
 * outbound client will (http_address_refusal, with this configuration's
 * MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK). Returns 0 when a delivery could
 * reach one; otherwise says why on stderr and returns 2 (a name that does
 * not exist, or only addresses the client refuses) or 1 (the resolver
 * could not answer now). */
static int check_host(const config *cfg, const char *url)
{
    int ret = 1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char *host = url_host(url);
    char addr[NI_MAXHOST] = "";
    const char *why = NULL;
    if (!host) {
        fprintf(stderr, "mediagate: webhook add: the endpoint URL has no host\n");
        return 2;
    }
    int rc = getaddrinfo(host, NULL, &hints, &ai);
    if (rc == EAI_NONAME || rc == EAI_NODATA) {
        fprintf(stderr,
                "mediagate: webhook add: the endpoint's host '%s' does not resolve (%s): no "
                "delivery could reach it. Check the URL, or add it anyway with --no-check.\n",
                host, gai_strerror(rc));
        ret = 2;
        goto out;
    }
    if (rc != 0) {
        fprintf(stderr,
                "mediagate: webhook add: the endpoint's host '%s' could not be resolved now "
                "(%s). Try again, or add it anyway with --no-check.\n",
                host, gai_strerror(rc));
        goto out;
    }
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        const char *w = http_address_refusal(a->ai_addr, a->ai_addrlen, cfg->outbound_allow_loopback);
        if (!w) {
            ret = 0;
            goto out;
        }
        if (!why) {
            why = w;
            getnameinfo(a->ai_addr, a->ai_addrlen, addr, sizeof addr, NULL, 0, NI_NUMERICHOST);
        }
    }
    fprintf(stderr,
            "mediagate: webhook add: the endpoint's host '%s' resolves only to addresses "
            "deliveries may not reach (%s, %s): the worker refuses non-public addresses.\n",
            host, addr, why ? why : "none");
    if (why && strcmp(why, "loopback") == 0)
        fprintf(stderr, "mediagate: for tests and development on one machine, "
                        "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK=on (in the worker's settings too) lets "
                        "deliveries reach 127.0.0.1 and ::1.\n");
    else
        fprintf(stderr, "mediagate: no setting admits it (MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK "
                        "admits loopback only).\n");
    fprintf(stderr, "mediagate: add it anyway with --no-check.\n");
    ret = 2;
out:
    if (ai)
        freeaddrinfo(ai);
    curl_free(host);
    return ret;
}

/* Turns "e1,e2" into the text[] literal "{e1,e2}" in out (cap bytes),
 * each a known event, each once. Returns false, saying why, when not. */
static bool parse_events(const char *list, char *out, size_t cap)
{
    bool seen[NEVENTS] = {false};
    size_t len = 1;
    snprintf(out, cap, "{");
    for (const char *p = list;;) {
        size_t n = strcspn(p, ",");
        size_t i = 0;
        while (i < NEVENTS && (strlen(events[i]) != n || strncmp(events[i], p, n) != 0))
            i++;
        if (i == NEVENTS) {
            fprintf(stderr, "mediagate: webhook add: unknown event '%.*s'; the events are:", (int)n,
                    p);
            for (size_t j = 0; j < NEVENTS; j++)
                fprintf(stderr, " %s", events[j]);
            fputc('\n', stderr);
            return false;
        }
        if (!seen[i]) {
            seen[i] = true;
            len += (size_t)snprintf(out + len, cap - len, "%s%s", len > 1 ? "," : "", events[i]);
        }
        if (!p[n])
            break;
        p += n + 1;
    }
    snprintf(out + len, cap - len, "}");
    return true;
}

/* Registers endpoint argv[0] (with --events, only for those) and prints its
 * secret on stdout, once; the message about it on stderr. */
static int add(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    const char *url = NULL, *evlist = NULL;
    bool no_check = false;
    char evs[256];
    unsigned char raw[SECRET_BYTES];
    char secret[6 + 4 * ((SECRET_BYTES + 2) / 3) + 1];
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--no-check") == 0)
            no_check = true;
        else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc && !evlist)
            evlist = argv[++i];
        else if (strncmp(argv[i], "--events=", 9) == 0 && !evlist)
            evlist = argv[i] + 9;
        else if (argv[i][0] != '-' && !url)
            url = argv[i];
        else
            return CLI_EUSAGE;
    }
    if (!url)
        return CLI_EUSAGE;
    const char *why = url_problem(url);
    if (why) {
        fprintf(stderr, "mediagate: webhook add: the endpoint URL is refused: %s\n", why);
        return 2;
    }
    if (evlist && !parse_events(evlist, evs, sizeof evs))
        return 2;
    if (!no_check && (ret = check_host(cfg, url)) != 0)
        return ret;
    ret = 1;
    if (RAND_bytes(raw, sizeof raw) != 1) {
        fprintf(stderr, "mediagate: webhook add: no random bytes\n");
        return 1;
    }
    memcpy(secret, "whsec_", 6);
    EVP_EncodeBlock((unsigned char *)secret + 6, raw, sizeof raw);
    OPENSSL_cleanse(raw, sizeof raw);
    const char *vals[] = {url, secret, evlist ? evs : NULL};
    res = cli_query(cfg, "webhook add", C_WEBHOOK_ADD, 3, vals);
    if (!res)
        goto out;
    fprintf(stderr,
            "webhook endpoint %s added for %.*s. Its signing secret is shown "
            "only now:\n",
            PQgetvalue(res, 0, 0), evlist ? (int)strlen(evs) - 2 : 11,
            evlist ? evs + 1 : "every event");
    printf("%s\n", secret);
    ret = 0;
out:
    OPENSSL_cleanse(secret, sizeof secret);
    PQclear(res);
    return ret;
}

/* Every endpoint: id, state (why disabled), deliveries by state, events,
 * URL. Never the secret. */
static int list(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    if (argc != 0)
        return CLI_EUSAGE;
    res = cli_query(cfg, "webhook list", C_WEBHOOK_LIST, 0, NULL);
    if (!res)
        goto out;
    printf("%-6s %-8s %7s %9s %6s  %-24s %s\n", "id", "state", "pending", "delivered", "failed",
           "events", "url");
    for (int i = 0; i < PQntuples(res); i++) {
        printf("%-6s %-8s %7s %9s %6s  ", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
               PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4));
        cli_put_clean(stdout, PQgetvalue(res, i, 5), "", 24);
        putchar(' ');
        cli_put_clean(stdout, PQgetvalue(res, i, 6), "", 0);
        putchar('\n');
        if (*PQgetvalue(res, i, 7)) {
            printf("%-6s disabled: ", "");
            cli_put_clean(stdout, PQgetvalue(res, i, 7), "", 0);
            putchar('\n');
        }
    }
    printf("%d endpoint%s\n", PQntuples(res), PQntuples(res) == 1 ? "" : "s");
    ret = 0;
out:
    PQclear(res);
    return ret;
}

/* Deletes endpoint argv[0] with its deliveries. Exit 1 when there is none. */
static int remove_endpoint(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    char id[24];
    PGresult *res = NULL;
    if (argc != 1 || !cli_parse_bigint("endpoint", argv[0], id))
        return CLI_EUSAGE;
    const char *vals[] = {id};
    res = cli_query(cfg, "webhook remove", C_WEBHOOK_REMOVE, 1, vals);
    if (!res)
        goto out;
    if (strcmp(PQcmdTuples(res), "1") != 0) {
        fprintf(stderr, "mediagate: no webhook endpoint %s\n", id);
        goto out;
    }
    printf("webhook endpoint %s removed, with its deliveries\n", id);
    ret = 0;
out:
    PQclear(res);
    return ret;
}

/* The newest 200 deliveries (of endpoint argv[0] when given), with each
 * one's last error on its own line. */
static int deliveries(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    char id[24];
    PGresult *res = NULL;
    if (argc > 1 || (argc == 1 && !cli_parse_bigint("endpoint", argv[0], id)))
        return CLI_EUSAGE;
    const char *vals[] = {argc == 1 ? id : NULL};
    res = cli_query(cfg, "webhook deliveries", C_WEBHOOK_DELIVERIES, 1, vals);
    if (!res)
        goto out;
    printf("%-8s %-8s %-16s %-9s %-8s %-6s %-19s %s\n", "id", "endpoint", "event", "state",
           "attempts", "status", "created (UTC)", "webhook-id");
    for (int i = 0; i < PQntuples(res); i++) {
        printf("%-8s %-8s %-16s %-9s %-8s %-6s %-19s %s\n", PQgetvalue(res, i, 0),
               PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
               PQgetvalue(res, i, 4), PQgetvalue(res, i, 5), PQgetvalue(res, i, 6),
               PQgetvalue(res, i, 7));
        if (*PQgetvalue(res, i, 8)) {
            printf("%-8s   error: ", "");
            cli_put_clean(stdout, PQgetvalue(res, i, 8), "", 0);
            if (*PQgetvalue(res, i, 9))
                printf(" (next attempt %s)", PQgetvalue(res, i, 9));
            putchar('\n');
        }
    }
    printf("%d deliver%s\n", PQntuples(res), PQntuples(res) == 1 ? "y" : "ies");
    ret = 0;
out:
    PQclear(res);
    return ret;
}

/* Sends delivery argv[0] again, same webhook-id and body. Exit 0 only when
 * it was queued. */
static int redeliver(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    char id[24];
    PGresult *res = NULL;
    if (argc != 1 || !cli_parse_bigint("delivery", argv[0], id))
        return CLI_EUSAGE;
    const char *vals[] = {id};
    res = cli_query(cfg, "webhook redeliver", C_WEBHOOK_REDELIVER, 1, vals);
    if (!res)
        goto out;
    const char *r = PQgetvalue(res, 0, 0);
    if (strcmp(r, "queued") == 0) {
        printf("delivery %s queued again (same webhook-id and body)\n", id);
        ret = 0;
    } else if (strcmp(r, "queued_already") == 0)
        fprintf(stderr, "mediagate: delivery %s is queued already\n", id);
    else if (strcmp(r, "endpoint_disabled") == 0)
        fprintf(stderr, "mediagate: the endpoint of delivery %s is disabled\n", id);
    else
        fprintf(stderr, "mediagate: no delivery %s\n", id);
out:
    PQclear(res);
    return ret;
}

const cli_command cli_webhook_commands[] = {
    {.name = "add", .needs_config = true, .fn = add, .args = "URL [OPTIONS]",
     .usage = "register an endpoint; prints its secret once\n"
              "URL is the customer's app's, http:// or https://. Its host is resolved\n"
              "now: a name that does not exist, or one whose every address the worker\n"
              "would refuse (loopback unless MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK=on,\n"
              "private, link-local, ...), exits 2 saying so; a resolver that cannot\n"
              "answer now exits 1.\n"
              "Options:\n"
              "  --events E1,E2  subscribe it to those events only; without it, it gets\n"
              "                  every event: job.progressing, job.complete, job.errored,\n"
              "                  job.canceled, job.deleted, stream.live, stream.idle,\n"
              "                  stream.stopped\n"
              "  --no-check      add it without resolving its host\n"
              "The secret (whsec_ + base64 of 32 random bytes) signs each delivery\n"
              "(Standard Webhooks) and is shown only now.\n"},
    {.name = "list", .needs_config = true, .fn = list, .args = "",
     .usage = "every endpoint: state, deliveries by state, events, URL\n"
              "A disabled endpoint (it answered 410 Gone) says why and when.\n"},
    {.name = "remove", .needs_config = true, .fn = remove_endpoint, .args = "ID",
     .usage = "delete endpoint ID and its deliveries\n"
              "Exits 1 when there is no such endpoint.\n"},
    {.name = "deliveries", .needs_config = true, .fn = deliveries, .args = "[ID]",
     .usage = "the newest 200 deliveries (of endpoint ID)\n"
              "Columns: id, endpoint, event, state (pending, delivered, failed),\n"
              "attempts recorded, the last HTTP status, when it was made, its\n"
              "webhook-id; the last error and the next attempt follow on their own line.\n"},
    {.name = "redeliver", .needs_config = true, .fn = redeliver, .args = "ID",
     .usage = "send delivery ID again (same webhook-id, same body)\n"
              "Exits 1 when it is queued already, its endpoint is disabled, or there\n"
              "is no such delivery.\n"},
    {.name = NULL},
};
