/* Outbound calls to AWS: STS AssumeRole for scoped S3 upload credentials. */
#include "providers/aws.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "providers/sigv4.h"

#define RESPONSE_MAX 65536

typedef struct body {
    char buf[RESPONSE_MAX + 1];
    size_t len;
    int overflow;
} body;

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
    body *b = arg;
    size_t len = sz * n;
    if (b->len + len > RESPONSE_MAX) {
        b->overflow = 1;
        return 0; /* abort: a bounded response size */
    }
    memcpy(b->buf + b->len, p, len);
    b->len += len;
    b->buf[b->len] = '\0';
    return len;
}

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

/* Percent-encodes s as SigV4 and form bodies require (RFC 3986). */
static char *uri_encode(CURL *c, const char *s)
{
    return curl_easy_escape(c, s, 0);
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
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char *policy_enc = NULL, *arn_enc = NULL, *form = NULL;
    body *b = calloc(1, sizeof *b);
    char policy[1024], host[256], path[512], iso[32], amz[17];
    if (!c || !b) {
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    snprintf(policy, sizeof policy,
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
             "\"Action\":\"s3:PutObject\",\"Resource\":\"arn:aws:s3:::%s/%s*\"}]}",
             cfg->s3_bucket, prefix);
    policy_enc = uri_encode(c, policy);
    arn_enc = uri_encode(c, cfg->sts_role_arn);
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
    hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
    hdrs = curl_slist_append(hdrs, h_date2);
    hdrs = curl_slist_append(hdrs, h_auth);
    hdrs = curl_slist_append(hdrs, "Expect:");

    curl_easy_setopt(c, CURLOPT_URL, cfg->sts_url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never a proxy from the environment */
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L); /* a request thread waits */
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK) {
        snprintf(err, errcap, "STS request failed: %s", b->overflow ? "response too large"
                                                                     : curl_easy_strerror(rc));
        goto out;
    }
    if (code != 200) {
        char msg[256] = "";
        xml_text(b->buf, "Message", msg, sizeof msg, true);
        snprintf(err, errcap, "STS answered %ld %s", code, msg);
        goto out;
    }
    if (xml_text(b->buf, "AccessKeyId", out->access_key_id, sizeof out->access_key_id, false) ||
        xml_text(b->buf, "SecretAccessKey", out->secret_access_key, sizeof out->secret_access_key, false) ||
        xml_text(b->buf, "SessionToken", out->session_token, sizeof out->session_token, false) ||
        xml_text(b->buf, "Expiration", out->expiration, sizeof out->expiration, false)) {
        snprintf(err, errcap, "STS response lacks credentials");
        goto out;
    }
    ret = 0;
out:
    curl_slist_free_all(hdrs);
    curl_free(policy_enc);
    curl_free(arn_enc);
    free(form);
    free(b);
    if (c)
        curl_easy_cleanup(c);
    return ret;
}
