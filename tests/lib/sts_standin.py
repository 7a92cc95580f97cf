#!/usr/bin/env python3
"""A local stand-in for AWS STS AssumeRole, for tests only.

It checks what STS checks before answering: a SigV4 Authorization header
whose signature matches (recomputed here with the test secret), X-Amz-Date
within 15 minutes, Action=AssumeRole, Version=2011-06-15, RoleArn,
RoleSessionName (2-64 of [\\w+=,.@-]), DurationSeconds 900-43200, and a Policy
that is valid JSON. It answers with AWS's documented response
(tests/fixtures/providers/aws-sts-assumerole-response.xml), or with an
ErrorResponse like STS's. Each request it accepted is appended to LOG as JSON.

usage: sts_standin.py PORTFILE LOG ACCESS_KEY SECRET FIXTURE
"""
import datetime
import hashlib
import hmac
import json
import re
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

portfile, log, access_key, secret, fixture = sys.argv[1:6]


def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def expected_signature(method, path, headers, signed, body, amz_date, scope):
    canon_headers = ''.join('%s:%s\n' % (h, ' '.join(headers[h].split())) for h in signed)
    creq = '\n'.join([method, path, '', canon_headers, ';'.join(signed),
                      hashlib.sha256(body).hexdigest()])
    sts = '\n'.join(['AWS4-HMAC-SHA256', amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    date, region, service, _ = scope.split('/')
    k = sign(('AWS4' + secret).encode(), date)
    k = sign(k, region)
    k = sign(k, service)
    k = sign(k, 'aws4_request')
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


class Handler(BaseHTTPRequestHandler):
    def error(self, status, code, message):
        body = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
                '<Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>'
                '<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>'
                % (code, message)).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'text/xml')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
        headers = {k.lower(): v for k, v in self.headers.items()}
        m = re.match(r'AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8}/[^/]+/sts/aws4_request), '
                     r'SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$',
                     headers.get('authorization', ''))
        if not m:
            return self.error(403, 'IncompleteSignature', 'Authorization header is malformed')
        key, scope, signed, sig = m.groups()
        signed = signed.split(';')
        if key != access_key:
            return self.error(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.')
        if 'host' not in signed or 'x-amz-date' not in signed or any(h not in headers for h in signed):
            return self.error(403, 'IncompleteSignature', 'Host and X-Amz-Date must be signed')
        amz_date = headers['x-amz-date']
        t = datetime.datetime.strptime(amz_date, '%Y%m%dT%H%M%SZ').replace(tzinfo=datetime.timezone.utc)
        if abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) > 900:
            return self.error(403, 'SignatureDoesNotMatch', 'Signature expired')
        if scope.split('/')[0] != amz_date[:8]:
            return self.error(403, 'SignatureDoesNotMatch', 'Credential date does not match X-Amz-Date')
        if not hmac.compare_digest(sig, expected_signature('POST', self.path, headers, signed, body, amz_date, scope)):
            return self.error(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.')
        form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        if form.get('Action') != 'AssumeRole' or form.get('Version') != '2011-06-15':
            return self.error(400, 'InvalidAction', 'Could not find operation')
        for field in ('RoleArn', 'RoleSessionName'):
            if not form.get(field):
                return self.error(400, 'MissingParameter', 'The request must contain the parameter %s' % field)
        if not re.fullmatch(r'[\w+=,.@-]{2,64}', form['RoleSessionName']):
            return self.error(400, 'ValidationError', 'RoleSessionName is invalid')
        if not 900 <= int(form.get('DurationSeconds', '3600')) <= 43200:
            return self.error(400, 'ValidationError', 'DurationSeconds out of range')
        try:
            policy = json.loads(form.get('Policy', '{}'))
        except ValueError:
            return self.error(400, 'MalformedPolicyDocument', 'Policy is not JSON')
        with open(log, 'a') as f:
            f.write(json.dumps({'form': form, 'policy': policy, 'scope': scope}) + '\n')
        data = open(fixture, 'rb').read()
        self.send_response(200)
        self.send_header('Content-Type', 'text/xml')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = HTTPServer(('127.0.0.1', 0), Handler)
with open(portfile, 'w') as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
