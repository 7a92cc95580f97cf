"""A stand-in for Tencent Cloud's VOD API 3.0 (vod.tencentcloudapi.com), for
ProcessMedia only. It checks what the real API checks before it acts, and
answers in the documented envelope (tests/fixtures/providers/
tencent-vod-ProcessMedia.json, tencentcloud-api3-error.json), errors
inside Response.Error with HTTP 200:

- the TC3-HMAC-SHA256 Authorization (recomputed here, independently of the
  C signer): algorithm, Credential=<SecretId>/<date>/vod/tc3_request with
  the date of X-TC-Timestamp, SignedHeaders=content-type;host, the
  signature over the received body and Host;
- X-TC-Timestamp within 5 minutes (AuthFailure.SignatureExpire);
- X-TC-Action ProcessMedia (InvalidAction) and X-TC-Version 2018-07-17;
- the body: FileId, MediaProcessTask.TranscodeTaskSet[].Definition
  integers, SessionId of at most 50 characters, SubAppId an integer.

A SessionId seen before gets InvalidParameterValue.SessionId, as Tencent's
3-day dedupe does. script[file_id] is a list of answers to give first, in
order ("InternalError", "RequestLimitExceeded", a final code such as
"InvalidParameterValue.FileId", "http503", "hang"); then it starts the
task. Every request is kept in .calls."""

import hashlib
import hmac
import http.server
import json
import threading
import time
import uuid

ACTION, VERSION, SERVICE = "ProcessMedia", "2018-07-17", "vod"
MESSAGES = {
    "InternalError": "An internal error occurred.",
    "RequestLimitExceeded": "The request frequency exceeds the limit.",
    "InvalidParameterValue.FileId": "The FileId does not exist",
    "InvalidParameterValue.SessionId": "The deduplication ID already exists. The request is removed due to duplication.",
    "AuthFailure.SignatureFailure": "The provided credentials could not be validated. Please check your signature is correct.",
    "AuthFailure.SignatureExpire": "The signature has expired.",
    "AuthFailure.SecretIdNotFound": "The SecretId is not found.",
    "InvalidAction": "The action does not exist.",
    "MissingParameter": "A required parameter is missing.",
    "InvalidParameter": "A parameter is wrong.",
}


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_signature(secret_key, date, timestamp, canonical_request):
    scope = f"{date}/{SERVICE}/tc3_request"
    sts = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope,
                     hashlib.sha256(canonical_request.encode()).hexdigest()])
    k = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), SERVICE), "tc3_request")
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


class TencentStandin:
    def __init__(self, secret_id, secret_key, port=0):
        self.secret_id, self.secret_key = secret_id, secret_key
        self.script = {}
        self.sessions = {}
        self.calls = []
        self.lock = threading.Lock()
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                status, answer = standin.handle(self.command, self.path, self.headers, body)
                if answer is None:
                    return  # "hang": the client times out
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def error(code, request_id):
        return {"Response": {"Error": {"Code": code, "Message": MESSAGES.get(code, code)},
                             "RequestId": request_id}}

    def check_auth(self, headers, body):
        """None, or the error code the real API answers."""
        auth = headers.get("Authorization", "")
        try:
            ts = int(headers.get("X-TC-Timestamp", ""))
        except ValueError:
            return "MissingParameter"
        if abs(time.time() - ts) > 300:
            return "AuthFailure.SignatureExpire"
        prefix = "TC3-HMAC-SHA256 "
        if not auth.startswith(prefix):
            return "AuthFailure.InvalidAuthorization"
        parts = dict(p.strip().split("=", 1) for p in auth[len(prefix):].split(",") if "=" in p)
        date = time.strftime("%Y-%m-%d", time.gmtime(ts))
        cred = parts.get("Credential", "")
        if cred.split("/")[0] != self.secret_id:
            return "AuthFailure.SecretIdNotFound"
        if cred != f"{self.secret_id}/{date}/{SERVICE}/tc3_request":
            return "AuthFailure.SignatureFailure"
        if parts.get("SignedHeaders") != "content-type;host":
            return "AuthFailure.SignatureFailure"
        creq = "\n".join(["POST", "/", "",
                          f"content-type:{headers.get('Content-Type', '').strip().lower()}",
                          f"host:{headers.get('Host', '').strip().lower()}", "",
                          "content-type;host", hashlib.sha256(body).hexdigest()])
        want = tc3_signature(self.secret_key, date, ts, creq)
        if not hmac.compare_digest(parts.get("Signature", ""), want):
            return "AuthFailure.SignatureFailure"
        return None

    @staticmethod
    def check_body(b):
        if not isinstance(b, dict) or not isinstance(b.get("FileId"), str) or not b["FileId"]:
            return "MissingParameter"
        task = b.get("MediaProcessTask")
        if not isinstance(task, dict) or not isinstance(task.get("TranscodeTaskSet"), list) \
                or not task["TranscodeTaskSet"]:
            return "InvalidParameter"
        for t in task["TranscodeTaskSet"]:
            if not isinstance(t, dict) or type(t.get("Definition")) is not int:
                return "InvalidParameterValue.Definition"
        sid = b.get("SessionId")
        if sid is not None and (not isinstance(sid, str) or len(sid) > 50):
            return "InvalidParameterValue.SessionIdTooLong"
        if "SubAppId" in b and type(b["SubAppId"]) is not int:
            return "InvalidParameterValue.SubAppId"
        return None

    def handle(self, method, path, headers, raw):
        rid = str(uuid.uuid4())
        call = {"path": path, "headers": dict(headers), "body": raw.decode(errors="replace"),
                "answer": None}
        with self.lock:
            self.calls.append(call)
            code = self.check_auth(headers, raw)
            if not code and headers.get("X-TC-Action") != ACTION:
                code = "InvalidAction"
            if not code and headers.get("X-TC-Version") != VERSION:
                code = "InvalidParameter"
            body = None
            if not code:
                try:
                    body = json.loads(raw)
                except ValueError:
                    code = "InvalidParameter"
            if not code:
                code = self.check_body(body)
            if code:
                call["answer"] = code
                return 200, self.error(code, rid)
            fid, sid = body["FileId"], body.get("SessionId")
            queue = self.script.get(fid, [])
            if queue:
                step = queue.pop(0)
                call["answer"] = step
                if step == "hang":
                    time.sleep(30)
                    return 200, None
                if step.startswith("http"):
                    return int(step[4:]), {"message": "Service Unavailable"}
                return 200, self.error(step, rid)
            if sid and sid in self.sessions:
                call["answer"] = "InvalidParameterValue.SessionId"
                return 200, self.error("InvalidParameterValue.SessionId", rid)
            task_id = f"125xxx65-procedurev2-{hashlib.md5(fid.encode()).hexdigest()}"
            if sid:
                self.sessions[sid] = task_id
            call["answer"] = task_id
            return 200, {"Response": {"RequestId": rid, "TaskId": task_id}}

    def started(self):
        """The calls that started a task."""
        with self.lock:
            return [c for c in self.calls if c["answer"] and c["answer"].startswith("125xxx65-")]
