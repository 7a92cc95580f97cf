"""A stand-in for Amazon SNS's two HTTPS endpoints a subscriber calls, on
port 443 as SNS's own (mediagate fetches no other port), of a loopback
address of its own (127.a.b.c, so that suites running side by side do not
meet; .host, .host_re for MEDIAGATE_SNS_CERT_HOST), with a CA of its own
(so the outbound client's TLS check is the real one, trusting
MEDIAGATE_OUTBOUND_CA_FILE):

- GET /SimpleNotificationService-<name>.pem: a signing certificate, as
  SigningCertURL names it; each name has its own RSA key, valid now;
- GET /?Action=ConfirmSubscription&TopicArn=..&Token=..: SNS's answer to a
  SubscribeURL, the XML ConfirmSubscriptionResponse with the subscription's
  ARN; a token it did not issue gets SNS's 400 error document.

sign(msg, cert) signs a message as SNS does (SignatureVersion 1: SHA1withRSA,
2: SHA256withRSA over the documented string to sign), computed here
independently of the C verifier. Every request is kept in .calls."""

import base64
import datetime
import http.server
import errno
import ipaddress
import random
import re
import ssl
import threading
import urllib.parse
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

NOTIFICATION_KEYS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
CONFIRMATION_KEYS = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]


def string_to_sign(msg):
    keys = NOTIFICATION_KEYS if msg["Type"] == "Notification" else CONFIRMATION_KEYS
    return "".join(f"{k}\n{msg[k]}\n" for k in keys if k in msg).encode()


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert(subject_key, cn, issuer_key, issuer_cn, ca=False, ip=None, days=(1, 30)):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(issuer_cn))
         .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=days[0]))
         .not_valid_after(now + datetime.timedelta(days=days[1]))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ip:
        b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                            critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


class SnsStandin:
    def __init__(self, workdir, port=443):
        self.dir = Path(workdir)
        self.calls = []
        self.tokens = {}          # token -> topic ARN, as SNS issued them
        self.confirmed = []       # tokens confirmed
        self.fail_confirms = 0    # answer that many confirmations 503 first
        self.ca_key = _key()
        self.ca = _cert(self.ca_key, "mediagate test CA", self.ca_key, "mediagate test CA", ca=True)
        self.ca_file = self.dir / "sns-ca.pem"
        self.ca_file.write_bytes(_pem(self.ca))

        self.signers = {}         # cert name -> (key, PEM)
        self.add_signer("good")
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                standin.calls.append(self.path)
                u = urllib.parse.urlsplit(self.path)
                name = u.path[len("/SimpleNotificationService-"):-len(".pem")] \
                    if u.path.startswith("/SimpleNotificationService-") and u.path.endswith(".pem") else None
                if name is not None and name in standin.signers:
                    return self.answer(200, standin.signers[name][1], "application/x-x509-ca-cert")
                q = urllib.parse.parse_qs(u.query)
                if u.path == "/" and q.get("Action") == ["ConfirmSubscription"]:
                    return standin.confirm(self, q)
                self.answer(404, b"<Error><Code>NotFound</Code></Error>", "text/xml")

            def answer(self, status, body, ctype):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        for attempt in range(20):
            self.host = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
            try:
                self.server = http.server.ThreadingHTTPServer((self.host, port), Handler)
                break
            except OSError as e:
                if e.errno != errno.EADDRINUSE or attempt == 19:
                    raise
        self.host_re = "^" + re.escape(self.host) + "$"
        tls_key = _key()
        tls_cert = _cert(tls_key, self.host, self.ca_key, "mediagate test CA", ip=self.host)
        (self.dir / "sns-tls.pem").write_bytes(_pem(tls_cert) + tls_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.dir / "sns-tls.pem")
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.base = f"https://{self.host}" if self.port == 443 else f"https://{self.host}:{self.port}"
        # The same endpoints on another port of the same address, which SNS
        # never uses: other_base.
        self.other = http.server.ThreadingHTTPServer((self.host, 0), Handler)
        self.other.socket = ctx.wrap_socket(self.other.socket, server_side=True)
        self.other_base = f"https://{self.host}:{self.other.server_address[1]}"
        for srv in (self.server, self.other):
            threading.Thread(target=srv.serve_forever, daemon=True).start()

    def add_signer(self, name, days=(1, 30)):
        """A signing certificate at cert_url(name), valid from days[0] ago
        to days[1] ahead (negative: expired)."""
        key = _key()
        cert = _cert(key, "sns.amazonaws.com", self.ca_key, "mediagate test CA", days=days)
        self.signers[name] = (key, _pem(cert))

    def cert_url(self, name="good"):
        return f"{self.base}/SimpleNotificationService-{name}.pem"

    def cert_fetches(self, name="good"):
        return sum(1 for c in self.calls if c.startswith(f"/SimpleNotificationService-{name}.pem"))

    def subscribe_url(self, topic, token):
        self.tokens[token] = topic
        return (f"{self.base}/?Action=ConfirmSubscription&TopicArn={urllib.parse.quote(topic)}"
                f"&Token={token}")

    def sign(self, msg, cert="good", version="1"):
        """msg with SignatureVersion, Signature and SigningCertURL set."""
        key = self.signers[cert][0]
        msg = {**msg, "SignatureVersion": version, "SigningCertURL": self.cert_url(cert)}
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        sig = key.sign(string_to_sign(msg), padding.PKCS1v15(), digest)
        msg["Signature"] = base64.b64encode(sig).decode()
        return msg

    def confirm(self, h, q):
        token = (q.get("Token") or [""])[0]
        if self.fail_confirms > 0:
            self.fail_confirms -= 1
            return h.answer(503, b"<ErrorResponse><Error><Code>ServiceUnavailable</Code></Error></ErrorResponse>",
                            "text/xml")
        if token not in self.tokens or q.get("TopicArn") != [self.tokens[token]]:
            return h.answer(400, b"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter</Code>"
                                 b"<Message>Invalid token</Message></Error></ErrorResponse>", "text/xml")
        self.confirmed.append(token)
        arn = f"{self.tokens[token]}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"
        body = (f'<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
                f"<ConfirmSubscriptionResult><SubscriptionArn>{arn}</SubscriptionArn>"
                f"</ConfirmSubscriptionResult><ResponseMetadata><RequestId>7a6f8d1c</RequestId>"
                f"</ResponseMetadata></ConfirmSubscriptionResponse>").encode()
        h.answer(200, body, "text/xml")

    def close(self):
        for srv in (self.server, self.other):
            srv.shutdown()
            srv.server_close()
