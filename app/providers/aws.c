/* Outbound calls to AWS: STS AssumeRole for scoped S3 upload credentials. */
#include "providers/aws.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http_client.h"
#include "providers/sigv4.h"

#define RESPONSE_MAX 65536

int xml_text(const char *xml, const char *tag, char *out, size_t cap, bool keep_spaces)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *s = strstr(xml, open), *e;
    if (!s)
        return -1;
    s += strlen(open);
    e = strstr(s, close);
    if (!e)
        return -1;
    size_t n = 0;
    for (const char *p = s; p < e; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t' || (*p == ' ' && !keep_spaces))
            continue;
        if (*p == '&' || *p == '<')
            return -1; /* entities never occur in these fields */
        if (n + 1 >= cap)
            return -1;
        out[n++] = *p;
    }
    out[n] = '\0';
    return n ? 0 : -1;
}

void aws_times(time_t t, char iso[32], char amz[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(iso, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    strftime(amz, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* Percent-encodes s as SigV4 and form bodies require (RFC 3986); the
 * caller curl_free()s it. */
static char *uri_encode(const char *s)
{
    return curl_easy_escape(NULL, s, 0);
}

static int aws_assume_role_once(const config *cfg, const char *prefix, const char *session,
                                aws_creds *out, char *err, size_t errcap);

/* Request threads inside an STS call right now. At most a quarter of
 * them (at least one) may wait on it, so a hung STS can never take every
 * thread from the read routes. */
static atomic_int sts_in_flight;

int aws_assume_role(const config *cfg, const char *prefix, const char *session, aws_creds *out,
                    char *err, size_t errcap)
{
    int cap = cfg->threads / 4 > 1 ? (int)(cfg->threads / 4) : 1;
    if (atomic_fetch_add(&sts_in_flight, 1) >= cap) {
        atomic_fetch_sub(&sts_in_flight, 1);
        snprintf(err, errcap, "%d STS calls in flight already", cap);
        return AWS_BUSY;
    }
    int ret = aws_assume_role_once(cfg, prefix, session, out, err, errcap);
    atomic_fetch_sub(&sts_in_flight, 1);
    return ret;
}

static int aws_assume_role_once(const config *cfg, const char *prefix, const char *session,
                                aws_creds *out, char *err, size_t errcap)
{
    int ret = -1;
    http_client hc = {0};
    char *policy_enc = NULL, *arn_enc = NULL, *form = NULL;
    char *body = malloc(RESPONSE_MAX + 1);
    char policy[1024], host[256], path[512], iso[32], amz[17];
    if (http_client_init(&hc, false) != 0 || !body) {
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    hc.ca_file = cfg->outbound_ca_file;
    snprintf(policy, sizeof policy,
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
             "\"Action\":\"s3:PutObject\",\"Resource\":\"arn:aws:s3:::%s/%s*\"}]}",
             cfg->s3_bucket, prefix);
    policy_enc = uri_encode(policy);
    arn_enc = uri_encode(cfg->sts_role_arn);
    long duration = cfg->upload_ttl < 900 ? 900 : cfg->upload_ttl > 43200 ? 43200 : cfg->upload_ttl;
    size_t flen = strlen(policy_enc) + strlen(arn_enc) + strlen(session) + 256;
    form = malloc(flen);
    if (!policy_enc || !arn_enc || !form) {
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    snprintf(form, flen,
             "Action=AssumeRole&DurationSeconds=%ld&Policy=%s&RoleArn=%s&RoleSessionName=%s"
             "&Version=2011-06-15",
             duration, policy_enc, arn_enc, session);

    /* Host and path of the endpoint, for the canonical request. */
    const char *u = strstr(cfg->sts_url, "://");
    u = u ? u + 3 : cfg->sts_url;
    const char *slash = strchr(u, '/');
    snprintf(host, sizeof host, "%.*s", (int)(slash ? slash - u : (long)strlen(u)), u);
    snprintf(path, sizeof path, "%s", slash ? slash : "/");

    aws_times(time(NULL), iso, amz);
    char h_host[300], h_date[64], h_type[] = "Content-Type:application/x-www-form-urlencoded; charset=utf-8";
    snprintf(h_host, sizeof h_host, "Host:%s", host);
    snprintf(h_date, sizeof h_date, "X-Amz-Date:%s", amz);
    const char *signed_headers[] = {h_type, h_host, h_date};
    sigv4_request sr = {"POST", path, "", signed_headers, 3, form, strlen(form),
                        cfg->aws_access_key_id, cfg->aws_secret_access_key, cfg->sts_region,
                        "sts", amz};
    char authz[1024], h_auth[1100];
    if (sigv4_sign(&sr, NULL, 0, NULL, 0, authz, sizeof authz) != 0) {
        snprintf(err, errcap, "cannot sign the STS request");
        goto out;
    }
    snprintf(h_auth, sizeof h_auth, "Authorization: %s", authz);
    char h_date2[64];
    snprintf(h_date2, sizeof h_date2, "X-Amz-Date: %s", amz);
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8",
                          h_date2, h_auth};
    /* 1 s to connect, 3 s in all: a request thread waits. */
    http_request req = {"POST", cfg->sts_url, hdrs, 3, form, strlen(form), 1000, 3000, false};
    http_response resp = {.body = body, .body_cap = RESPONSE_MAX + 1};
    if (http_client_do(&hc, &req, &resp) != HTTP_ANSWERED) {
        snprintf(err, errcap, "STS request failed: %s", resp.err);
        goto out;
    }
    if (resp.status != 200) {
        char msg[256] = "";
        xml_text(body, "Message", msg, sizeof msg, true);
        snprintf(err, errcap, "STS answered %ld %s", resp.status, msg);
        goto out;
    }
    if (xml_text(body, "AccessKeyId", out->access_key_id, sizeof out->access_key_id, false) ||
        xml_text(body, "SecretAccessKey", out->secret_access_key, sizeof out->secret_access_key, false) ||
        xml_text(body, "SessionToken", out->session_token, sizeof out->session_token, false) ||
        xml_text(body, "Expiration", out->expiration, sizeof out->expiration, false)) {
        snprintf(err, errcap, "STS response lacks credentials");
        goto out;
    }
    ret = 0;
out:
    curl_free(policy_enc);
    curl_free(arn_enc);
    free(form);
    free(body);
    http_client_free(&hc);
    return ret;
}
