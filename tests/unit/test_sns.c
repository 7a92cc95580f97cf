/* Amazon SNS signatures on AWS's real signed messages (SignatureVersion 1
 * and 2, with and without Subject; aws-sns-signature-vectors.json), checked
 * at the time they were signed, since the certificate has expired: then
 * tampered, version-swapped, unknown-version and expired cases, the URL
 * rule, and the parsers of SNS and Mux on the providers' payloads.
 * Fixtures: tests/fixtures/providers/. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "fixture.h"
#include "notify/notify.h"
#include "providers/sns.h"


/* "2022-07-28T21:23:58.317Z" as Unix seconds. */
static time_t iso(const char *s)
{
    struct tm tm = {0};
    if (!strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return timegm(&tm);
}


static json_object *copy(json_object *o)
{
    json_object *c = NULL;
    json_object_deep_copy(o, &c, NULL);
    return c;
}

static sig_result verify_at(json_object *msg, const char *pem, time_t t)
{
    char why[128] = "";
    sig_result s = sns_verify(msg, pem, strlen(pem), t, why, sizeof why);
    if (s != SIG_OK)
        CHECK(why[0]); /* every refusal says why */
    return s;
}

static void test_real_vectors(void)
{
    json_object *f = fixture("aws-sns-signature-vectors.json"), *msgs;
    if (!f || !CHECK(json_object_object_get_ex(f, "messages", &msgs)))
        return;
    const char *pem = str(f, "signing_cert_pem");
    CHECK_INT((long)json_object_array_length(msgs), 4);
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *c;
        time_t t = iso(str(m, "Timestamp"));
        CHECK_INT(verify_at(m, pem, t), SIG_OK);
        /* The certificate expired on 2022-08-17: now it does not verify. */
        CHECK_INT(verify_at(m, pem, time(NULL)), SIG_STALE);
        CHECK_INT(verify_at(m, pem, iso("2021-09-06T00:00:00")), SIG_STALE);

        c = copy(m);
        json_object_object_add(c, "Message", json_object_new_string("Hello world!"));
        CHECK_INT(verify_at(c, pem, t), SIG_MISMATCH);
        json_object_put(c);

        c = copy(m);
        json_object_object_add(c, "TopicArn", json_object_new_string("arn:aws:sns:us-east-2:295079676684:other"));
        CHECK_INT(verify_at(c, pem, t), SIG_MISMATCH);
        json_object_put(c);

        /* A Subject added or removed changes the string to sign. */
        c = copy(m);
        if (json_object_object_get_ex(c, "Subject", NULL))
            json_object_object_del(c, "Subject");
        else
            json_object_object_add(c, "Subject", json_object_new_string(""));
        CHECK_INT(verify_at(c, pem, t), SIG_MISMATCH);
        json_object_put(c);

        /* SHA1 for a SHA256 signature and back. */
        c = copy(m);
        bool v1 = strcmp(str(m, "SignatureVersion"), "1") == 0;
        json_object_object_add(c, "SignatureVersion", json_object_new_string(v1 ? "2" : "1"));
        CHECK_INT(verify_at(c, pem, t), SIG_MISMATCH);
        CHECK(sns_version_known(c));
        json_object_object_add(c, "SignatureVersion", json_object_new_string("3"));
        CHECK_INT(verify_at(c, pem, t), SIG_MALFORMED);
        CHECK(!sns_version_known(c));
        json_object_object_del(c, "SignatureVersion");
        CHECK_INT(verify_at(c, pem, t), SIG_MALFORMED);
        json_object_put(c);

        c = copy(m);
        json_object_object_add(c, "Signature", json_object_new_string("not base64!"));
        CHECK_INT(verify_at(c, pem, t), SIG_MALFORMED);
        json_object_object_add(c, "Signature", json_object_new_string("AAAA"));
        CHECK_INT(verify_at(c, pem, t), SIG_MISMATCH);
        json_object_object_del(c, "Signature");
        CHECK_INT(verify_at(c, pem, t), SIG_MISSING);
        json_object_put(c);

        /* Another certificate, or none that parses. */
        CHECK_INT(verify_at(m, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", t),
                   SIG_MALFORMED);
        CHECK_INT(verify_at(m, "", t), SIG_MALFORMED);
    }
    json_object_put(f);
}

/* AWS's worked example of a Notification's string to sign. */
static void test_string_to_sign(void)
{
    json_object *m = json_object_new_object();
    json_object_object_add(m, "Type", json_object_new_string("Notification"));
    json_object_object_add(m, "MessageId", json_object_new_string("4d4dc071-ddbf-465d-bba8-08f81c89da64"));
    json_object_object_add(m, "TopicArn", json_object_new_string("arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P"));
    json_object_object_add(m, "Subject", json_object_new_string("My subject"));
    json_object_object_add(m, "Message", json_object_new_string("My Test Message"));
    json_object_object_add(m, "Timestamp", json_object_new_string("2019-01-31T04:37:04.321Z"));
    size_t n = 0;
    char *s = sns_string_to_sign(m, &n);
    CHECK_STR(s, "Message\nMy Test Message\nMessageId\n4d4dc071-ddbf-465d-bba8-08f81c89da64\n"
                 "Subject\nMy subject\nTimestamp\n2019-01-31T04:37:04.321Z\nTopicArn\n"
                 "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P\nType\nNotification\n");
    CHECK_INT((long)n, s ? (long)strlen(s) : -1);
    free(s);
    json_object_put(m);

    /* The confirmations sign SubscribeURL and Token, and need them. */
    json_object *c = fixture("aws-sns-subscription-confirmation.json");
    s = sns_string_to_sign(c, &n);
    CHECK(s && strncmp(s, "Message\nYou have chosen to subscribe to the topic ", 50) == 0);
    CHECK(s && strstr(s, "\nSubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&"));
    CHECK(s && strstr(s, "\nToken\n2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768"));
    CHECK(s && strstr(s, "\nType\nSubscriptionConfirmation\n"));
    free(s);
    json_object_object_del(c, "Token");
    CHECK(sns_string_to_sign(c, &n) == NULL);
    json_object_object_add(c, "Type", json_object_new_string("Other"));
    CHECK(sns_string_to_sign(c, &n) == NULL);
    json_object_put(c);
}

static void test_urls(void)
{
    regex_t re;
    if (!CHECK(regcomp(&re, "^sns\\.[a-zA-Z0-9-]{3,}\\.amazonaws\\.com(\\.cn)?$", REG_EXTENDED) == 0))
        return;
    const char *pem = "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem";
    CHECK(sns_url_ok(pem, &re, true));
    CHECK(sns_url_ok("https://sns.cn-north-1.amazonaws.com.cn/x.pem", &re, true));
    CHECK(sns_url_ok("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=1", &re, false));
    CHECK(!sns_url_ok("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=1", &re, true));
    static const char *bad[] = {
        "http://sns.us-east-2.amazonaws.com/x.pem",
        "https://sns.us-east-2.amazonaws.com.evil.example/x.pem",
        "https://evil.example/sns.us-east-2.amazonaws.com/x.pem",
        "https://sqs.us-east-2.amazonaws.com/x.pem",
        "https://sns.us.amazonaws.com/x.pem",
        "https://sns.us-east-2.amazonaws.com@evil.example/x.pem",
        "https://user@sns.us-east-2.amazonaws.com/x.pem",
        "https://sns.us-east-2.amazonaws.com/x.pem.txt",
        "https://xsns.us-east-2.amazonaws.com/x.pem",
        "ftp://sns.us-east-2.amazonaws.com/x.pem",
        "sns.us-east-2.amazonaws.com/x.pem",
        "",
        /* SNS serves on https's own port only. */
        "https://sns.us-east-2.amazonaws.com:8443/x.pem",
        "https://sns.us-east-2.amazonaws.com:80/x.pem",
        "https://sns.us-east-2.amazonaws.com:22/x.pem",
        "https://sns.us-east-2.amazonaws.com:4430/x.pem",
        "https://sns.us-east-2.amazonaws.com:0/x.pem",
        "https://sns.us-east-2.amazonaws.com:65535/x.pem",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (!CHECK(!sns_url_ok(bad[i], &re, true)))
            fprintf(stderr, "  accepted %s\n", bad[i]);
    CHECK(sns_url_ok("https://sns.us-east-2.amazonaws.com:443/x.pem", &re, true));
    CHECK(!sns_url_ok("https://sns.us-west-2.amazonaws.com:8080/?Action=ConfirmSubscription&Token=1", &re,
                      false));
    CHECK_STR(sns_url_problem("https://sns.us-east-2.amazonaws.com:8443/x.pem", &re, true),
              "names a port other than 443");
    CHECK_STR(sns_url_problem("http://sns.us-east-2.amazonaws.com/x.pem", &re, true), "is not https");
    CHECK_STR(sns_url_problem("https://sns.us-east-2.amazonaws.com/x.txt", &re, true),
              "does not name a .pem certificate");
    CHECK_STR(sns_url_problem(pem, &re, true), NULL);
    CHECK(!sns_url_ok(pem, NULL, true));
    CHECK(!sns_url_ok(NULL, &re, true));
    regfree(&re);
}

/* Parses a fixture (or text) with backend name; returns the event. */
static json_object *parse_with(const char *name, const char *text, char *id)
{
    char err[256] = "";
    const notify_backend *b = notify_find(name);
    json_object *ev = b ? notify_parse(b, text, strlen(text), id, 256, err, sizeof err) : NULL;
    if (!ev)
        fprintf(stderr, "  %s: %s\n", name, err);
    return ev;
}

static void test_sns_parse(void)
{
    char id[256] = "";
    json_object *mc = fixture("aws-mediaconvert-complete.json"), *env = fixture("aws-sns-notification.json");
    if (!mc || !env)
        return;
    json_object_object_add(env, "Message", json_object_new_string(json_object_to_json_string(mc)));
    json_object *ev = parse_with("sns", json_object_to_json_string(env), id);
    CHECK_STR(id, "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324");
    CHECK_STR(str(ev, "job_backend"), "mediaconvert");
    CHECK_STR(str(ev, "status"), "COMPLETE");
    /* The same event the direct route makes, plus the SNS keys. */
    char mid[256] = "";
    json_object *direct = parse_with("mediaconvert", json_object_to_json_string(mc), mid);
    char key[300];
    snprintf(key, sizeof key, "mediaconvert:%s", mid);
    CHECK_STR(str(ev, "dedupe_key"), key);
    if (ev && direct) {
        json_object_object_del(ev, "job_backend");
        json_object_object_del(ev, "dedupe_key");
        CHECK(json_object_equal(ev, direct));
    }
    json_object_put(ev);
    json_object_put(direct);

    /* Not a MediaConvert event: refused with a reason. */
    char err[256] = "";
    json_object *eb = fixture("aws-sns-eventbridge-notification.json");
    const char *hello = json_object_to_json_string(eb);
    CHECK(notify_parse(notify_find("sns"), hello, strlen(hello), id, sizeof id, err, sizeof err) == NULL);
    CHECK(strstr(err, "MediaConvert") != NULL);
    json_object_put(eb);

    json_object *sub = fixture("aws-sns-subscription-confirmation.json");
    ev = parse_with("sns", json_object_to_json_string(sub), id);
    CHECK_STR(str(ev, "queue_kind"), "sns.confirm");
    json_object *p;
    CHECK(ev && json_object_object_get_ex(ev, "queue_payload", &p) &&
          strncmp(str(p, "subscribe_url"), "https://sns.us-west-2.amazonaws.com/?Action=Confirm", 51) == 0);
    json_object_put(ev);
    json_object_put(sub);
    json_object_put(mc);
    json_object_put(env);
}

static void test_mux_parse(void)
{
    char id[256] = "";
    json_object *f = fixture("mux-video.asset.ready-direct-upload.json"), *pl, *v;
    json_object *ev = f ? parse_with("mux", json_object_to_json_string(f), id) : NULL;
    CHECK_STR(id, "4813455b-8fe8-40cc-9150-9aa5e2de67ca");
    CHECK_STR(str(ev, "backend_job_id"), "z3K6DX4yhJJ2CAe7ZcXCuWpNd501wa9axPmtROO5I5tc");
    CHECK_STR(str(ev, "status"), "COMPLETE");
    CHECK_STR(str(ev, "input_file"), "gjjg48rGLX4hBM9NVLzfTs13r8nr02CkYWE02Byd8jgV00");
    CHECK_STR(str(ev, "event_time"), "2022-06-27T20:36:38.000000Z");
    CHECK_INT(ev && json_object_object_get_ex(ev, "duration_ms", &v) ? json_object_get_int(v) : -1, 2976);
    CHECK_INT(ev && json_object_object_get_ex(ev, "width_px", &v) ? json_object_get_int(v) : -1, 1920);
    CHECK_STR(str(ev, "output_path"), "https://stream.mux.com/");
    CHECK(ev && json_object_object_get_ex(ev, "playlists", &pl) &&
          strcmp(str(pl, ".m3u8"), "pZRRUL8HyLpvw8Cc01SZyKKgAzwT01lF02FUK5CFmw013HQ.m3u8") == 0);
    json_object_put(ev);

    /* data.created_at as an integer when the envelope has none. */
    json_object_object_del(f, "created_at");
    ev = parse_with("mux", json_object_to_json_string(f), id);
    CHECK_STR(str(ev, "event_time"), "2022-06-27T20:36:33.000Z");
    json_object_put(ev);
    /* A passthrough names the input. */
    json_object *data;
    json_object_object_get_ex(f, "data", &data);
    json_object_object_add(data, "passthrough", json_object_new_string("{\"input_file\":\"in/a.mp4\"}"));
    ev = parse_with("mux", json_object_to_json_string(f), id);
    CHECK_STR(str(ev, "input_file"), "in/a.mp4");
    json_object_put(ev);
    json_object_object_add(data, "passthrough", json_object_new_string("my-video-7"));
    ev = parse_with("mux", json_object_to_json_string(f), id);
    CHECK_STR(str(ev, "input_file"), "my-video-7");
    json_object_put(ev);
    json_object_put(f);

    f = fixture("mux-video.asset.ready.json");
    ev = f ? parse_with("mux", json_object_to_json_string(f), id) : NULL;
    CHECK_STR(str(ev, "event_time"), "2018-02-15T01:04:45.000Z");
    CHECK_INT(ev && json_object_object_get_ex(ev, "duration_ms", &v) ? json_object_get_int(v) : -1, 153362);
    CHECK_INT(ev && json_object_object_get_ex(ev, "height_px", &v) ? json_object_get_int(v) : -1, 544);
    CHECK(ev && !json_object_object_get_ex(ev, "playlists", NULL)); /* no playback id */
    json_object_put(ev);
    json_object_put(f);

    f = fixture("mux-video.upload.asset_created.json");
    ev = f ? parse_with("mux", json_object_to_json_string(f), id) : NULL;
    CHECK_STR(str(ev, "backend_job_id"), "z3K6DX4yhJJ2CAe7ZcXCuWpNd501wa9axPmtROO5I5tc");
    CHECK_STR(str(ev, "input_file"), "gjjg48rGLX4hBM9NVLzfTs13r8nr02CkYWE02Byd8jgV00");
    CHECK(ev && !json_object_object_get_ex(ev, "status", NULL));
    json_object_put(ev);
    json_object_put(f);

    ev = parse_with("mux", "{\"type\":\"video.asset.errored\",\"id\":\"e1\",\"data\":{\"id\":\"A1\","
                           "\"errors\":{\"type\":\"invalid_input\",\"messages\":[\"bad file\",\"x\"]}}}", id);
    CHECK_STR(str(ev, "status"), "ERROR");
    CHECK_STR(str(ev, "error_message"), "invalid_input: bad file; x");
    json_object_put(ev);
    ev = parse_with("mux", "{\"type\":\"video.live_stream.idle\",\"id\":\"e2\",\"data\":{}}", id);
    CHECK(ev && json_object_object_get_ex(ev, "no_job", NULL));
    json_object_put(ev);
    /* Static renditions: the outputs, filesize as Mux's decimal string. */
    ev = parse_with("mux", "{\"type\":\"video.asset.ready\",\"id\":\"e3\",\"data\":{\"id\":\"A2\","
                           "\"static_renditions\":{\"status\":\"ready\",\"files\":[{\"name\":\"low.mp4\","
                           "\"ext\":\"mp4\",\"width\":640,\"height\":360,\"bitrate\":800000,"
                           "\"filesize\":\"1234567\"},{\"name\":\"high.mp4\",\"width\":1280,"
                           "\"height\":720,\"filesize\":7654321}]}}}", id);
    json_object *outs, *o0;
    CHECK(ev && json_object_object_get_ex(ev, "outputs", &outs) && json_object_array_length(outs) == 2);
    o0 = ev && outs ? json_object_array_get_idx(outs, 0) : NULL;
    CHECK_INT(o0 && json_object_object_get_ex(o0, "size", &v) ? json_object_get_int64(v) : -1, 1234567);
    CHECK_STR(str(o0, "name"), "low.mp4");
    CHECK_INT(ev && json_object_object_get_ex(ev, "width_px", &v) ? json_object_get_int(v) : -1, 1280);
    json_object_put(ev);

    char err[256];
    const char *bad = "{\"type\":\"video.asset.ready\",\"data\":{\"id\":\"A\",\"created_at\":true}}";
    CHECK(notify_parse(notify_find("mux"), bad, strlen(bad), id, sizeof id, err, sizeof err) == NULL);
}

int main(void)
{
    test_real_vectors();
    test_string_to_sign();
    test_urls();
    test_sns_parse();
    test_mux_parse();
    return CHECK_DONE("sns");
}
