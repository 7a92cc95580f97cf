/* Amazon SNS message signatures over libcrypto. See sns.h. */
#include "providers/sns.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

sns_type sns_message_type(const char *type)
{
    if (!type)
        return SNS_UNKNOWN;
    if (strcmp(type, "Notification") == 0)
        return SNS_NOTIFICATION;
    if (strcmp(type, "SubscriptionConfirmation") == 0)
        return SNS_SUBSCRIBE;
    if (strcmp(type, "UnsubscribeConfirmation") == 0)
        return SNS_UNSUBSCRIBE;
    return SNS_UNKNOWN;
}

/* The string value of key in msg (its length in *len), or NULL. */
static const char *field(struct json_object *msg, const char *key, size_t *len)
{
    struct json_object *v;
    if (jobj(msg, key, json_type_string, &v) <= 0)
        return NULL;
    *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

char *sns_string_to_sign(struct json_object *msg, size_t *len)
{
    static const char *const notification[] = {"Message", "MessageId", "Subject", "Timestamp",
                                               "TopicArn", "Type", NULL};
    static const char *const confirmation[] = {"Message", "MessageId", "SubscribeURL",
                                               "Timestamp", "Token", "TopicArn", "Type", NULL};
    size_t tl;
    const char *type = field(msg, "Type", &tl);
    sns_type t = sns_message_type(type);
    if (t == SNS_UNKNOWN)
        return NULL;
    const char *const *keys = t == SNS_NOTIFICATION ? notification : confirmation;
    size_t total = 0, n, off = 0;
    for (size_t i = 0; keys[i]; i++) {
        const char *v = field(msg, keys[i], &n);
        if (!v && strcmp(keys[i], "Subject") == 0)
            continue; /* signed only when present */
        if (!v)
            return NULL;
        total += strlen(keys[i]) + n + 2;
    }
    char *out = malloc(total + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; keys[i]; i++) {
        const char *v = field(msg, keys[i], &n);
        if (!v)
            continue;
        size_t kl = strlen(keys[i]);
        memcpy(out + off, keys[i], kl);
        out[off + kl] = '\n';
        memcpy(out + off + kl + 1, v, n);
        out[off + kl + 1 + n] = '\n';
        off += kl + n + 2;
    }
    out[off] = '\0';
    *len = off;
    return out;
}

/* The digest of msg's SignatureVersion, or NULL for an unknown one. */
static const EVP_MD *version_md(struct json_object *msg)
{
    size_t n;
    const char *v = field(msg, "SignatureVersion", &n);
    if (v && strcmp(v, "1") == 0)
        return EVP_sha1();
    if (v && strcmp(v, "2") == 0)
        return EVP_sha256();
    return NULL;
}

bool sns_version_known(struct json_object *msg)
{
    return version_md(msg) != NULL;
}

#define WHY(...) snprintf(why, whycap, __VA_ARGS__)

sig_result sns_verify(struct json_object *msg, const char *pem, size_t pem_len, time_t now,
                      char *why, size_t whycap)
{
    sig_result ret = SIG_MALFORMED;
    BIO *bio = NULL;
    X509 *cert = NULL;
    EVP_MD_CTX *ctx = NULL;
    char *sts = NULL;
    unsigned char sig[1024];
    size_t n, stslen = 0;
    const char *b64 = field(msg, "Signature", &n);
    const EVP_MD *md = version_md(msg);
    if (!md) {
        WHY("unknown SignatureVersion");
        goto out;
    }
    long siglen = b64 ? sig_b64_decode(b64, n, false, sig, sizeof sig) : -1;
    if (siglen <= 0) {
        ret = b64 ? SIG_MALFORMED : SIG_MISSING;
        WHY("the Signature is %s", b64 ? "not base64" : "missing");
        goto out;
    }
    if (!(sts = sns_string_to_sign(msg, &stslen))) {
        ret = SIG_MISSING;
        WHY("a signed field is missing or not a string");
        goto out;
    }
    if (!pem || pem_len > 65536 || !(bio = BIO_new_mem_buf(pem, (int)pem_len)) ||
        !(cert = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        WHY("the signing certificate is unreadable");
        goto out;
    }
    time_t t = now;
    if (X509_cmp_time(X509_get0_notBefore(cert), &t) >= 0 ||
        X509_cmp_time(X509_get0_notAfter(cert), &t) <= 0) {
        ret = SIG_STALE;
        WHY("the signing certificate is not valid at this time");
        goto out;
    }
    EVP_PKEY *key = X509_get0_pubkey(cert);
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        WHY("the signing certificate holds no RSA key");
        goto out;
    }
    ret = SIG_MISMATCH;
    if (!(ctx = EVP_MD_CTX_new()) || EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) != 1 ||
        EVP_DigestVerify(ctx, sig, (size_t)siglen, (const unsigned char *)sts, stslen) != 1) {
        WHY("signature does not match");
        goto out;
    }
    ret = SIG_OK;
out:
    EVP_MD_CTX_free(ctx);
    X509_free(cert);
    BIO_free(bio);
    free(sts);
    return ret;
}

const char *sns_url_problem(const char *url, const regex_t *host_re, bool pem)
{
    const char *why = "is not a URL";
    char *scheme = NULL, *host = NULL, *path = NULL, *user = NULL, *pass = NULL, *port = NULL;
    CURLU *u = url && host_re ? curl_url() : NULL;
    regmatch_t m[1];
    if (!u || strlen(url) > 2048 || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        goto out;
    size_t pl = strlen(path);
    if (strcmp(scheme, "https") != 0)
        why = "is not https";
    else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
             curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK)
        why = "carries a user or password";
    /* SNS serves both on https's own port: none written, or 443. */
    else if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
             strcmp(port, "443") != 0)
        why = "names a port other than 443";
    else if (regexec(host_re, host, 1, m, 0) != 0 || m[0].rm_so != 0 || (size_t)m[0].rm_eo != strlen(host))
        why = "is on a host MEDIAGATE_SNS_CERT_HOST does not admit";
    else if (pem && (pl <= 4 || strcmp(path + pl - 4, ".pem") != 0))
        why = "does not name a .pem certificate";
    else
        why = NULL;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(path);
    curl_free(user);
    curl_free(pass);
    curl_free(port);
    curl_url_cleanup(u);
    return why;
}

bool sns_url_ok(const char *url, const regex_t *host_re, bool pem)
{
    return sns_url_problem(url, host_re, pem) == NULL;
}
