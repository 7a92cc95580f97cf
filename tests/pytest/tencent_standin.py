"""A stand-in for Tencent Cloud's VOD API 3.0 (vod.tencentcloudapi.com), for
ProcessMedia, PullUpload, DescribeTaskDetail and DescribeTasks. It checks what the real API checks before it acts, and
answers in the documented envelope (tests/fixtures/providers/
tencent-vod-ProcessMedia.json, tencentcloud-api3-error.json), errors
inside Response.Error with HTTP 200:

- the TC3-HMAC-SHA256 Authorization (recomputed here, independently of the
  C signer): algorithm, Credential=<SecretId>/<date>/vod/tc3_request with
  the date of X-TC-Timestamp, SignedHeaders=content-type;host, the
  signature over the received body and Host;
- X-TC-Timestamp within 5 minutes (AuthFailure.SignatureExpire);
- X-TC-Action one of those (InvalidAction) and X-TC-Version 2018-07-17;
- the body: ProcessMedia's FileId, MediaProcessTask.TranscodeTaskSet[].
  Definition integers; PullUpload's MediaUrl (http or https), SourceContext
  of at most 250 characters; DescribeTaskDetail's TaskId; for all,
  SessionId of at most 50 characters, SessionContext of at most 1000,
  SubAppId an integer.

PullUpload fetches MediaUrl as Tencent does (a GET; what it got is in
.pulls[task_id]) and gives the file a FileId; its PullUploadTask then says
FINISH (ErrCode 0, or 70000 "pull failed" when the GET did not answer
200). DescribeTaskDetail answers the documented TaskType/Status/
ProcedureTask or PullUploadTask; a ProcessMedia task is PROCESSING until
.finish(task_id) makes it FINISH, its outputs built from the preset
templates it was given (procedure_event gives the same body to post as a
ProcedureStateChanged). DescribeTasks lists the tasks (newest first) as
TaskSimpleInfo (TaskId, Status, FileId, TaskType, CreateTime,
BeginProcessTime, FinishTime, SessionId, SessionContext), filtered by its
FileId and Status, Limit 1 to 100 (default 10), with an empty ScrollToken.

client_upload(signature) is a browser's upload with Tencent's upload SDK
(ApplyUpload, the file to COS, CommitUpload): it checks the client upload
signature as VOD does ("Signature for Upload from Client": base64 of
HMAC-SHA1(SecretKey, original) followed by original, the query of
secretId, currentTimeStamp, expireTime, random and the optional
parameters; the SecretId this stand-in knows, not expired, at most 7 days
valid, a oneTimeValid signature used once) and answers the NewFileUpload
event Tencent then sends (the documented one, with a new FileId and the
signature's sourceContext and classId), or an error code.

A SessionId seen before gets InvalidParameterValue.SessionId, as Tencent's
3-day dedupe does. lose_answer[file_id] = n: the next n starts happen but answer 503.
script[file_id] is a list of answers to give first, in
order ("InternalError", "RequestLimitExceeded", a final code such as
"InvalidParameterValue.FileId", "http503", "hang"); then it starts the
task. Every request is kept in .calls."""

import base64
import hashlib
import hmac
import http.server
import json
import threading
import copy
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import parse_qs

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
# The documented bodies the answers and events are made from.
DOC = {name: json.loads((FIX / f"tencent-vod-{name}.json").read_text())
       for name in ("PullComplete", "NewFileUpload", "ProcedureStateChanged")}
ACTIONS = ("ProcessMedia", "PullUpload", "DescribeTaskDetail", "DescribeTasks")
VERSION, SERVICE = "2018-07-17", "vod"
# Tencent's preset transcoding templates: id -> (container, width, height, video bps).
PRESETS = {}
for _i, (_w, _h, _b) in enumerate([(640, 360, 400000), (960, 540, 1000000),
                                    (1280, 720, 1800000), (1920, 1080, 3500000)]):
    PRESETS[100210 + 10 * _i] = ("hls", _w, _h, _b)
    PRESETS[100010 + 10 * _i] = ("mp4", _w, _h, _b)
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
    "ResourceNotFound.TaskNotExist": "The task does not exist.",
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
        self.tasks = {}   # TaskId -> what DescribeTaskDetail knows
        self.unreachable = False  # True: every pull fails (ErrCode 70000)
        self.lose_answer = {}  # FileId (MediaUrl) -> how many starts answer 503 (the start happens)
        self.pulls = {}   # TaskId -> the pull's GET: {"status", "bytes"}
        self.signatures_used = set()  # oneTimeValid client upload signatures
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
    def check_common(b):
        if not isinstance(b, dict):
            return "InvalidParameter"
        sid = b.get("SessionId")
        if sid is not None and (not isinstance(sid, str) or len(sid) > 50):
            return "InvalidParameterValue.SessionIdTooLong"
        ctx = b.get("SessionContext")
        if ctx is not None and (not isinstance(ctx, str) or len(ctx) > 1000):
            return "InvalidParameterValue.SessionContext"
        if "SubAppId" in b and type(b["SubAppId"]) is not int:
            return "InvalidParameterValue.SubAppId"
        return None

    @staticmethod
    def check_pull(b):
        url = b.get("MediaUrl")
        if not isinstance(url, str) or not url:
            return "MissingParameter"
        if not url.startswith(("http://", "https://")):
            return "InvalidParameterValue.MediaUrl"
        sc = b.get("SourceContext")
        if sc is not None and (not isinstance(sc, str) or len(sc) > 250):
            return "InvalidParameterValue.SourceContext"
        if "MediaType" in b and not isinstance(b["MediaType"], str):
            return "InvalidParameterValue.MediaType"
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
            action = headers.get("X-TC-Action")
            call["action"] = action
            if not code and action not in ACTIONS:
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
                code = self.check_common(body)
            if not code and action == "DescribeTaskDetail":
                return self.describe(body, rid, call)
            if not code and action == "DescribeTasks":
                return self.list_tasks(body, rid, call)
            if not code:
                code = self.check_pull(body) if action == "PullUpload" else self.check_body(body)
            if code:
                call["answer"] = code
                return 200, self.error(code, rid)
            fid, sid = body.get("FileId") or body.get("MediaUrl"), body.get("SessionId")
            queue = self.script.get(fid, []) or self.script.get(body.get("SessionContext"), [])
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
            kind = "pull" if action == "PullUpload" else "procedurev2"
            task_id = f"125xxx65-{kind}-{hashlib.md5((sid or fid).encode()).hexdigest()}"
            if sid:
                self.sessions[sid] = task_id
            call["answer"] = task_id
            self.tasks[task_id] = {"type": action, "body": body, "status": "PROCESSING",
                                   "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            lost = False
            if self.lose_answer.get(fid):
                self.lose_answer[fid] -= 1
                lost = True
            if action == "PullUpload":
                threading.Thread(target=self.pull, args=(task_id, body["MediaUrl"]),
                                 daemon=True).start()
            if lost:
                return 503, {"message": "Service Unavailable"}
            return 200, {"Response": {"RequestId": rid, "TaskId": task_id}}

    def pull(self, task_id, url):
        """Fetches url as Tencent's pull does; the file gets a FileId."""
        got = {"status": None, "bytes": 0}
        if self.unreachable:
            url = "http://127.0.0.1:9/"  # as if the source could not be reached
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                got = {"status": r.status, "bytes": len(r.read())}
        except urllib.error.HTTPError as e:
            got = {"status": e.code, "bytes": 0}
        except OSError:
            pass
        with self.lock:
            self.pulls[task_id] = got
            t = self.tasks[task_id]
            t["status"] = "FINISH"
            t["file_id"] = str(5285890784000000000 + int(task_id[-8:], 16) % 1000000) \
                if got["status"] == 200 else ""

    def pull_task(self, task_id):
        """The PullUploadTask of a pull: the documented PullCompleteEvent
        (tencent-vod-PullComplete.json) with this pull's values."""
        t = self.tasks[task_id]
        b, ok = t["body"], bool(t.get("file_id"))
        url = f"https://1400000000.vod2.myqcloud.com/xxx/{t.get('file_id')}/src.mp4"
        pt = copy.deepcopy(DOC["PullComplete"]["PullCompleteEvent"])
        pt["MediaBasicInfo"]["SourceInfo"]["SourceContext"] = b.get("SourceContext", "")
        pt["MediaBasicInfo"]["MediaUrl"] = url
        pt.update(TaskId=task_id, Status=t["status"],
                  ErrCode=0 if ok or t["status"] != "FINISH" else 70000,
                  Message="SUCCESS" if ok else ("" if t["status"] != "FINISH" else "pull failed"),
                  FileId=t.get("file_id", ""), FileUrl=url,
                  SessionContext=b.get("SessionContext", ""), SessionId=b.get("SessionId", ""),
                  Progress=100 if ok else 0)
        return pt

    def pull_complete(self, task_id):
        """The PullComplete Tencent sends when a pull ends."""
        return {"EventType": "PullComplete", "PullCompleteEvent": self.pull_task(task_id)}

    def new_file_upload(self, task_id):
        """The NewFileUpload Tencent sends once a pull brought the file:
        the documented one with the pull's file and SourceContext."""
        pt = self.pull_task(task_id)
        ev = copy.deepcopy(DOC["NewFileUpload"])
        ev["FileUploadEvent"].update(FileId=pt["FileId"], MediaBasicInfo=pt["MediaBasicInfo"])
        return ev

    def client_upload(self, signature, now=None):
        """A browser's upload with the client upload signature: ("", the
        NewFileUpload event) or (an error code, None)."""
        now = int(time.time()) if now is None else now
        try:
            raw = base64.b64decode(signature, validate=True)
            original = raw[20:].decode()
        except (ValueError, UnicodeDecodeError):
            return "InvalidParameter.Signature", None
        want = hmac.new(self.secret_key.encode(), raw[20:], hashlib.sha1).digest()
        if not hmac.compare_digest(raw[:20], want):
            return "AuthFailure.SignatureFailure", None
        q = {k: v[0] for k, v in parse_qs(original, strict_parsing=True).items()}
        if q.get("secretId") != self.secret_id:
            return "AuthFailure.SecretIdNotFound", None
        try:
            t0, t1, _ = int(q["currentTimeStamp"]), int(q["expireTime"]), int(q["random"])
        except (KeyError, ValueError):
            return "MissingParameter", None
        if t1 <= now or t0 > now + 300 or t1 - t0 > 7 * 86400:
            return "AuthFailure.SignatureExpire", None
        if len(q.get("sourceContext", "").encode()) > 250:
            return "InvalidParameterValue.SourceContext", None
        with self.lock:
            if q.get("oneTimeValid") == "1":
                if signature in self.signatures_used:
                    return "AuthFailure.SignatureFailure", None
                self.signatures_used.add(signature)
        ev = copy.deepcopy(DOC["NewFileUpload"])
        fid = str(5285890800000000000 + uuid.uuid4().int % 10**12)
        info = ev["FileUploadEvent"]["MediaBasicInfo"]
        info["SourceInfo"]["SourceContext"] = q.get("sourceContext", "")
        info["ClassId"] = int(q.get("classId", "0"))
        info["Vid"] = fid
        ev["FileUploadEvent"]["FileId"] = fid
        return "", ev

    def finish(self, task_id):
        with self.lock:
            self.tasks[task_id]["status"] = "FINISH"

    def procedure_task(self, task_id):
        """The ProcedureTask of a ProcessMedia task: the documented
        ProcedureStateChangeEvent with one Transcode result per template
        it was given."""
        t = self.tasks[task_id]
        b, done = t["body"], t["status"] == "FINISH"
        results = []
        for d in b["MediaProcessTask"]["TranscodeTaskSet"]:
            fmt, w, h, bps = PRESETS.get(d["Definition"], ("mp4", 0, 0, 0))
            task = {"Status": "SUCCESS" if done else "PROCESSING", "ErrCode": 0,
                    "Message": "SUCCESS", "Input": {"Definition": d["Definition"]}}
            if done:
                ext = "m3u8" if fmt == "hls" else "mp4"
                task["Output"] = {"Url": f"https://1400000000.vod2.myqcloud.com/xxx/{b['FileId']}/"
                                         f"v.f{d['Definition']}.{ext}",
                                  "Size": 1000 * h, "Container": fmt, "Height": h, "Width": w,
                                  "Bitrate": bps, "Duration": 2.0, "Definition": d["Definition"]}
            results.append({"Type": "Transcode", "TranscodeTask": task})
        pt = copy.deepcopy(DOC["ProcedureStateChanged"]["ProcedureStateChangeEvent"])
        pt.update(TaskId=task_id, Status=t["status"], ErrCode=0, Message="", FileId=b["FileId"],
                  MediaProcessResultSet=results, SessionContext=b.get("SessionContext", ""),
                  SessionId=b.get("SessionId", ""))
        return pt

    def procedure_event(self, task_id):
        """The ProcedureStateChanged Tencent sends for a ProcessMedia task."""
        return {"EventType": "ProcedureStateChanged",
                "ProcedureStateChangeEvent": self.procedure_task(task_id)}

    def describe(self, body, rid, call):
        """DescribeTaskDetail (the lock is held)."""
        tid = body.get("TaskId")
        if not isinstance(tid, str) or not tid:
            call["answer"] = "MissingParameter"
            return 200, self.error("MissingParameter", rid)
        t = self.tasks.get(tid)
        if not t:
            call["answer"] = "ResourceNotFound.TaskNotExist"
            return 200, self.error("ResourceNotFound.TaskNotExist", rid)
        call["answer"] = "described"
        r = {"RequestId": rid, "Status": t["status"], "CreateTime": "2026-01-01T00:00:00Z"}
        if t["type"] == "PullUpload":
            r.update(TaskType="PullUpload", PullUploadTask=self.pull_task(tid))
        else:
            r.update(TaskType="Procedure", ProcedureTask=self.procedure_task(tid))
        return 200, {"Response": r}

    def list_tasks(self, body, rid, call):
        """DescribeTasks (the lock is held)."""
        fid, status, limit = body.get("FileId"), body.get("Status"), body.get("Limit", 10)
        if fid is not None and not isinstance(fid, str):
            code = "InvalidParameterValue.FileId"
        elif status is not None and status not in ("WAITING", "PROCESSING", "FINISH"):
            code = "InvalidParameterValue.Status"
        elif type(limit) is not int or not 1 <= limit <= 100:
            code = "InvalidParameterValue.Limit"
        else:
            code = None
        if code:
            call["answer"] = code
            return 200, self.error(code, rid)
        found = []
        for tid, t in reversed(list(self.tasks.items())):
            b = t["body"]
            tfid = b.get("FileId") if t["type"] == "ProcessMedia" else t.get("file_id", "")
            if (fid and tfid != fid) or (status and t["status"] != status):
                continue
            found.append({"TaskId": tid, "Status": t["status"], "FileId": tfid or "",
                          "TaskType": "Procedure" if t["type"] == "ProcessMedia" else "PullUpload",
                          "CreateTime": t["created"], "BeginProcessTime": t["created"],
                          "FinishTime": t["created"] if t["status"] == "FINISH" else "",
                          "SessionId": b.get("SessionId", ""),
                          "SessionContext": b.get("SessionContext", "")})
        call["answer"] = "listed"
        return 200, {"Response": {"RequestId": rid, "TaskSet": found[:limit], "ScrollToken": ""}}

    def started(self):
        """The calls that started a task."""
        with self.lock:
            return [c for c in self.calls if c["answer"] and c["answer"].startswith("125xxx65-")]

    def started_by(self, action):
        return [c for c in self.started() if c.get("action") == action]
