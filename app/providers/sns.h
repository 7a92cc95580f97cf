#ifndef MEDIAGATE_SNS_H
#define MEDIAGATE_SNS_H
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "providers/webhook_sig.h"

struct json_object;

/* Amazon SNS HTTP(S) delivery signatures
 * (docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html).
 * Pure functions: the caller passes the certificate's PEM and the time the
 * certificate must be valid at, so tests replay AWS's real signed messages
 * at the time they were signed. */

typedef enum sns_type {
    SNS_UNKNOWN,
    SNS_NOTIFICATION,
    SNS_SUBSCRIBE,   /* SubscriptionConfirmation */
    SNS_UNSUBSCRIBE, /* UnsubscribeConfirmation */
} sns_type;

/* The message type its "Type" value names; SNS_UNKNOWN for any other. */
sns_type sns_message_type(const char *type);

/* The documented string to sign of msg (a parsed SNS message): for each
 * key in order, "<Key>\n<Value>\n" with the JSON-decoded value. A
 * Notification signs Message, MessageId, Subject (when present),
 * Timestamp, TopicArn, Type; the two confirmations sign Message,
 * MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type. Returns a
 * malloc'd buffer (caller frees) with its length in *len, or NULL when the
 * type is unknown or a key is missing or not a string. */
char *sns_string_to_sign(struct json_object *msg, size_t *len);

/* Checks msg's Signature: SignatureVersion "1" is SHA1withRSA, "2"
 * SHA256withRSA (PKCS#1 v1.5), by the public key of the X.509 certificate
 * in pem (pem_len bytes), which must be valid at now. Returns SIG_OK;
 * SIG_MALFORMED (unknown version, a signature that is not base64, an
 * unreadable certificate), SIG_STALE (the certificate is not valid at now),
 * SIG_MISMATCH, or SIG_MISSING (a signed key is absent); why gets a
 * reason for the sender. */
sig_result sns_verify(struct json_object *msg, const char *pem, size_t pem_len, time_t now,
                      char *why, size_t whycap);

/* True when msg's SignatureVersion is "1" or "2". */
bool sns_version_known(struct json_object *msg);

/* NULL when url may be fetched as an SNS URL: https on port 443 (none
 * written, or 443, as AWS's own URLs), no user or password, a host that
 * host_re matches as a whole and, with pem, a path ending in ".pem"
 * (SigningCertURL). Otherwise what is wrong, to follow "the <name> " in a
 * refusal (static text). host_re NULL matches nothing. */
const char *sns_url_problem(const char *url, const regex_t *host_re, bool pem);

/* sns_url_problem() == NULL. */
bool sns_url_ok(const char *url, const regex_t *host_re, bool pem);

#endif
