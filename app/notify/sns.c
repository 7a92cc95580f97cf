/* Amazon SNS HTTP(S) subscriptions: MediaConvert job events that an
 * EventBridge rule publishes to an SNS topic.
 *
 * SNS signs every message with RSA (SignatureVersion 1: SHA1, 2: SHA256)
 * and names the certificate by SigningCertURL. The verifier (verify_sns in
 * verify.c) accepts only topics in MEDIAGATE_SNS_TOPIC_ARNS and a
 * certificate URL on an https host that MEDIAGATE_SNS_CERT_HOST matches,
 * fetched through the outbound client and cached by URL; nothing is
 * written for a message that fails. The parser then turns a Notification
 * whose Message is an EventBridge "MediaConvert Job State Change" event into
 * the event /notifications/mediaconvert makes of it (the job is a
 * mediaconvert job), deduplicated on MessageId and on the inner event. A
 * SubscriptionConfirmation queues sns.confirm (app/worker/sns.c), which GETs
 * the SubscribeURL; an UnsubscribeConfirmation is logged and stored. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "http_client.h"
#include "log.h"
#include "notify/notify.h"
#include "providers/sns.h"

#define CERT_MAX 16384  /* an SNS certificate is about 2 KiB */
#define CERT_SLOTS 16   /* SNS signs with one certificate per region at a time */

/* Certificates by URL, for every request thread; a slot is replaced
 * round-robin when all are taken. Only PEM that parsed as a certificate
 * is kept. */
static struct {
    char *url, *pem;
    size_t len;
} certs[CERT_SLOTS];
static size_t cert_next;
static pthread_mutex_t certs_mu = PTHREAD_MUTEX_INITIALIZER;

/* A malloc'd copy of the cached PEM of url (length in *len), or NULL. */
static char *cert_cached(const char *url, size_t *len)
{
    char *pem = NULL;
    pthread_mutex_lock(&certs_mu);
    for (size_t i = 0; i < CERT_SLOTS; i++)
        if (certs[i].url && strcmp(certs[i].url, url) == 0 && (pem = malloc(certs[i].len + 1))) {
            memcpy(pem, certs[i].pem, certs[i].len + 1);
            *len = certs[i].len;
            break;
        }
    pthread_mutex_unlock(&certs_mu);
    return pem;
}

static void cert_keep(const char *url, const char *pem, size_t len)
{
    char *u = strdup(url), *p = malloc(len + 1);
    if (!u || !p) {
        free(u);
        free(p);
        return;
    }
    memcpy(p, pem, len);
    p[len] = '\0';
    pthread_mutex_lock(&certs_mu);
    size_t i = cert_next++ % CERT_SLOTS;
    free(certs[i].url);
    free(certs[i].pem);
    certs[i].url = u;
    certs[i].pem = p;
    certs[i].len = len;
    pthread_mutex_unlock(&certs_mu);
}

/* The PEM at url (malloc'd, length in *len): from the cache, else fetched
 * (then *fresh is set, and the caller keeps it once it verified).
 * Returns 0; 401 when the server answers something other than 200 (then
 * it is no SNS certificate URL); 503 when it does not answer. */
static int cert_get(const config *cfg, const char *url, char **pem, size_t *len, bool *fresh,
                    char *why, size_t whycap)
{
    int ret = 503;
    http_client hc = {0};
    char *body = NULL;
    if ((*pem = cert_cached(url, len)))
        return 0;
    if (!(body = malloc(CERT_MAX + 1)) || http_client_init(&hc, false) != 0) {
        snprintf(why, whycap, "Out of memory while fetching the signing certificate");
        goto out;
    }
    hc.ca_file = cfg->outbound_ca_file;
    http_request req = {"GET", url, NULL, 0, NULL, 0, 2000, 5000, false};
    http_response resp = {.body = body, .body_cap = CERT_MAX + 1};
    http_outcome oc = http_client_do(&hc, &req, &resp);
    if (oc == HTTP_NO_ANSWER) {
        log_warn("sns: signing certificate not fetched: %s", resp.err);
        snprintf(why, whycap, "The signing certificate could not be fetched; retry later");
        goto out;
    }
    if (oc != HTTP_ANSWERED || resp.status != 200) {
        ret = 401;
        snprintf(why, whycap, "Notification refused: the SigningCertURL gave no certificate");
        goto out;
    }
    *pem = body;
    *len = resp.body_len;
    *fresh = true;
    body = NULL;
    ret = 0;
out:
    http_client_free(&hc);
    free(body);
    return ret;
}

/* True when arn is one of the space- or comma-separated ARNs in list. */
static bool topic_accepted(const char *list, const char *arn)
{
    size_t al = strlen(arn);
    for (const char *p = list ? list : ""; *p;) {
        size_t n = strcspn(p, " ,");
        if (n == al && al && memcmp(p, arn, n) == 0)
            return true;
        p += n;
        p += strspn(p, " ,");
    }
    return false;
}

/* The verifier's check (verify_sns): topics is MEDIAGATE_SNS_TOPIC_ARNS. */
int sns_check(const request *r, const notify_backend *b, const char *topics, char *why,
              size_t whycap)
{
    int ret = 401;
    const config *cfg = r->cfg;
    const char *perr, *type = NULL, *topic = NULL, *cert_url = NULL, *sub_url = NULL, *id = "";
    json_object *msg = parse_json(r->body ? r->body : "", r->body_len, &perr);
    char *pem = NULL;
    size_t pem_len = 0;
    if (!msg || !json_object_is_type(msg, json_type_object) || jstr(msg, "Type", &type) != 1) {
        snprintf(why, whycap, "Notification refused: not an SNS message");
        goto out;
    }
    const char *hdr = request_param(r, "HTTP_X_AMZ_SNS_MESSAGE_TYPE");
    sns_type t = sns_message_type(type);
    if (t == SNS_UNKNOWN || (hdr && strcmp(hdr, type) != 0)) {
        snprintf(why, whycap, "Notification refused: unknown SNS message type");
        goto out;
    }
    jstr(msg, "MessageId", &id);
    if (jstr(msg, "TopicArn", &topic) != 1 || !topic_accepted(topics, topic)) {
        ret = 403;
        snprintf(why, whycap, "Notification refused: the topic is not in MEDIAGATE_SNS_TOPIC_ARNS");
        goto out;
    }
    const regex_t *re = cfg && cfg->sns_host_re_ok ? &cfg->sns_host_re : NULL;
    const char *bad = jstr(msg, "SigningCertURL", &cert_url) != 1 ? "is missing"
                                                                   : sns_url_problem(cert_url, re, true);
    if (bad) {
        snprintf(why, whycap, "Notification refused: the SigningCertURL %s, so it is not an SNS "
                              "certificate URL (https on port 443 of an SNS host)", bad);
        goto out;
    }
    bad = t != SNS_SUBSCRIBE ? NULL
          : jstr(msg, "SubscribeURL", &sub_url) != 1 ? "is missing"
                                                     : sns_url_problem(sub_url, re, false);
    if (bad) {
        snprintf(why, whycap, "Notification refused: the SubscribeURL %s, so it is not an SNS URL "
                              "(https on port 443 of an SNS host)", bad);
        goto out;
    }
    /* The version first: an unknown one costs no fetch. */
    if (!sns_version_known(msg)) {
        snprintf(why, whycap, "Notification refused: unknown SignatureVersion");
        goto out;
    }
    bool fresh = false;
    if ((ret = cert_get(cfg, cert_url, &pem, &pem_len, &fresh, why, whycap)) != 0)
        goto out;
    ret = 401;
    char reason[128];
    if (sns_verify(msg, pem, pem_len, time(NULL), reason, sizeof reason) != SIG_OK) {
        snprintf(why, whycap, "Notification refused: %s", reason);
        goto out;
    }
    if (fresh)
        cert_keep(cert_url, pem, pem_len);
    if (t == SNS_UNSUBSCRIBE)
        log_info("sns: UnsubscribeConfirmation for %.256s (MessageId %.64s)", topic, id);
    ret = 0;
out:
    free(pem);
    json_object_put(msg);
    return ret;
}

/* A Notification: its Message must be an EventBridge MediaConvert event. */
static int notification(json_object *root, json_object *ev, char *id, size_t idcap, char *err,
                        size_t errcap)
{
    const char *text, *perr;
    char inner_id[256] = "";
    json_object *inner = NULL;
    if (jstr(root, "Message", &text) != 1)
        FAIL("Message is missing or not a string");
    inner = parse_json(text, strlen(text), &perr);
    if (!inner || !json_object_is_type(inner, json_type_object))
        FAIL("Message is not a JSON object (an EventBridge event)");
    const char *dt;
    if (jstr(inner, "detail-type", &dt) != 1 || strcmp(dt, "MediaConvert Job State Change") != 0)
        FAIL("Message is not a MediaConvert Job State Change event");
    if (mediaconvert_parse(inner, ev, inner_id, sizeof inner_id, err, errcap) != 0)
        goto fail;
    /* Applied as /notifications/mediaconvert applies it: its job, its
     * resource, and deduplicated on the inner event too. */
    json_object_object_add(ev, "job_backend", json_object_new_string("mediaconvert"));
    json_object_object_add(ev, "resource", inner);
    inner = NULL;
    if (inner_id[0]) {
        char key[300];
        snprintf(key, sizeof key, "mediaconvert:%s", inner_id);
        json_object_object_add(ev, "dedupe_key", json_object_new_string(key));
    }
    (void)id;
    (void)idcap;
    return 0;
fail:
    json_object_put(inner);
    return -1;
}

int sns_parse(json_object *root, json_object *ev, char *id, size_t idcap, char *err,
              size_t errcap)
{
    const char *type = NULL, *s, *topic = "";
    if (jstr(root, "MessageId", &s) == 1 && *s && strlen(s) < idcap)
        snprintf(id, idcap, "%s", s); /* SNS keeps it across its retries */
    if (jstr(root, "Type", &type) != 1)
        FAIL("Type is missing or not a string");
    jstr(root, "TopicArn", &topic);
    switch (sns_message_type(type)) {
    case SNS_NOTIFICATION:
        return notification(root, ev, id, idcap, err, errcap);
    case SNS_SUBSCRIBE: {
        if (jstr(root, "SubscribeURL", &s) != 1 || !*s)
            FAIL("SubscribeURL is missing or not a string");
        json_object *p = json_object_new_object();
        json_object_object_add(p, "subscribe_url", json_object_new_string(s));
        json_object_object_add(p, "topic_arn", json_object_new_string(topic));
        json_object_object_add(ev, "no_job", json_object_new_boolean(1));
        json_object_object_add(ev, "queue_kind", json_object_new_string("sns.confirm"));
        json_object_object_add(ev, "queue_payload", p);
        return 0;
    }
    case SNS_UNSUBSCRIBE:
        json_object_object_add(ev, "no_job", json_object_new_boolean(1));
        return 0;
    case SNS_UNKNOWN:
        break;
    }
    FAIL("Type '%.40s' is not an SNS message type", type);
fail:
    return -1;
}
