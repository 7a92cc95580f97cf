"""A stand-in for an account's AWS Elemental MediaConvert endpoint
(https://<id>.mediaconvert.<region>.amazonaws.com), for the calls mediagate
makes: CreateJob (POST /2017-08-29/jobs), GetJob (GET .../jobs/<id>),
CancelJob (DELETE .../jobs/<id>) and ListJobs (GET .../jobs). It checks
what the real API checks, with AWS's own code and model:

- SigV4, recomputed with botocore (Debian's python3-botocore, AWS's own
  signer) from the request as received: the access key, the scope
  <date>/<region>/mediaconvert/aws4_request, X-Amz-Date within 5 minutes,
  host and x-amz-date signed, the signature over the received method, path,
  query, signed headers and body (403 InvalidSignatureException, as AWS);
- the body and the query against AWS's API model of MediaConvert
  (botocore's data/mediaconvert/2017-08-29/service-2.json, loaded by
  botocore's own loader; the file AWS's SDKs are generated from): every member by its wire name (camelCase
  locationName), required members, types, ranges, enums and patterns,
  with botocore's ParamValidator and the model's enums and bounds (400
  BadRequestException), and what the model's documentation requires
  beyond them (an input, an output group, maxBitrate with QVBR);
- ClientRequestToken as the API documents it: "If you reuse a client
  request token within one minute of a successful request, the API returns
  the job details of the original request instead" (token_window_s, 60).

Answers are the model's shapes in the wire form: 201 {"job": Job} (arn,
id, createdAt in epoch seconds, queue, role, settings, status,
statusUpdateInterval, timing, userMetadata, ...), errors {"message": ...}
with x-amzn-ErrorType. script is a list of faults the next CreateJob calls
meet, in order: "throttle" (429 TooManyRequestsException), "http500"
(InternalServerErrorException), "refuse" (400 BadRequestException), "drop"
(the connection closes, no job),
"drop_after_create" (the job is made, then the connection closes before
the answer). Every request is kept in .calls; .jobs holds the jobs made."""

import http.server
import json
import random
import re
import socket
import string
import threading
import time
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.validate import ParamValidator

from mgstack import LoopbackServer

API = "/2017-08-29/jobs"
ACCOUNT = "111122223333"
_MODEL = None


def model():
    """AWS's API model of MediaConvert, as botocore ships it."""
    global _MODEL
    if _MODEL is None:
        loaded = Loader().load_service_model("mediaconvert", "service-2", "2017-08-29")
        _MODEL = ServiceModel(loaded, service_name="mediaconvert")
    return _MODEL


def wire_to_params(shape, value, path, errors):
    """The wire form (locationName keys) as botocore's parameters (member
    names), noting unknown members in errors."""
    if shape.type_name == "structure" and isinstance(value, dict):
        by_wire = {m.serialization.get("name", n): n for n, m in shape.members.items()}
        out = {}
        for k, v in value.items():
            if k not in by_wire:
                errors.append(f"{path}.{k}: not a member of {shape.name}")
                continue
            name = by_wire[k]
            out[name] = wire_to_params(shape.members[name], v, f"{path}.{k}", errors)
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [wire_to_params(shape.member, v, f"{path}[{i}]", errors)
                for i, v in enumerate(value)]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: wire_to_params(shape.value, v, f"{path}.{k}", errors) for k, v in value.items()}
    return value


def check_bounds(shape, value, path, errors):
    """What ParamValidator leaves out: enums, maxima, patterns."""
    if shape.type_name == "structure" and isinstance(value, dict):
        for k, v in value.items():
            if k in shape.members:
                check_bounds(shape.members[k], v, f"{path}.{k}", errors)
    elif shape.type_name == "list" and isinstance(value, list):
        for i, v in enumerate(value):
            check_bounds(shape.member, v, f"{path}[{i}]", errors)
    elif shape.type_name == "map" and isinstance(value, dict):
        for k, v in value.items():
            check_bounds(shape.value, v, f"{path}.{k}", errors)
    elif shape.type_name == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: '{value}' is not one of {shape.enum}")
        pattern = shape.metadata.get("pattern")
        if pattern:
            try:
                ok = re.search(pattern, value) is not None
            except re.error:
                ok = True  # a Java-only construct: not checked here
            if not ok:
                errors.append(f"{path}: '{value}' does not match {pattern}")
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            errors.append(f"{path}: longer than {shape.metadata['max']}")
    elif shape.type_name in ("integer", "long", "double") and isinstance(value, (int, float)):
        if "max" in shape.metadata and value > shape.metadata["max"]:
            errors.append(f"{path}: {value} is above {shape.metadata['max']}")


def validate(operation, wire):
    """Errors of a request's wire form against the operation's input shape."""
    shape = model().operation_model(operation).input_shape
    errors = []
    params = wire_to_params(shape, wire, "", errors)
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        errors.append(report.generate_report())
    check_bounds(shape, params, "", errors)
    return errors


def documented_rules(body):
    """What the API documents beyond the model's types."""
    errors = []
    s = body.get("settings", {})
    if not s.get("inputs"):
        errors.append("/settings/inputs: should have at least 1 items")
    if not s.get("outputGroups"):
        errors.append("/settings/outputGroups: should have at least 1 items")
    for g in s.get("outputGroups", []):
        ogs = g.get("outputGroupSettings", {})
        kind = {"HLS_GROUP_SETTINGS": "hlsGroupSettings",
                "FILE_GROUP_SETTINGS": "fileGroupSettings"}.get(ogs.get("type"))
        if kind and not ogs.get(kind, {}).get("destination"):
            errors.append(f"/outputGroupSettings/{kind}: destination is required")
        if not g.get("outputs"):
            errors.append("/outputGroups/outputs: should have at least 1 items")
        for o in g.get("outputs", []):
            cs = o.get("videoDescription", {}).get("codecSettings", {})
            for k in ("h264Settings", "h265Settings"):
                v = cs.get(k)
                if v and v.get("rateControlMode") == "QVBR" and "maxBitrate" not in v:
                    errors.append(f"/{k}: maxBitrate is required with QVBR")
            if len(g.get("outputs")) > 1 and not o.get("nameModifier"):
                errors.append("/outputs: nameModifier is required when a group has several")
    return errors


class MediaConvertStandin:
    def __init__(self, access_key, secret_key, region="us-east-1", port=0):
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.script = []
        self.jobs = {}              # id -> Job (wire form)
        self.tokens = {}            # clientRequestToken -> (time, job id)
        self.token_window_s = 60
        self.calls = []
        self.lock = threading.Lock()
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                status, answer, etype = standin.handle(self.command, self.path, self.headers, body)
                if answer is None:  # a dropped connection
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("x-amzn-RequestId", f"{random.getrandbits(64):016x}")
                if etype:
                    self.send_header("x-amzn-ErrorType", f"{etype}:")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

        self.server = LoopbackServer(Handler, port)
        self.port = self.server.port
        self.url = self.server.url

    def close(self):
        self.server.close()

    @staticmethod
    def error(status, etype, message):
        return status, {"message": message}, etype

    def check_auth(self, method, path, headers, body):
        """None, or the error answer AWS gives."""
        auth = headers.get("Authorization", "")
        amz = headers.get("X-Amz-Date", "")
        m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/,]+)/(\d{8})/([^/,]+)/([^/,]+)/"
                         r"aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})",
                         auth)
        if not m:
            return self.error(403, "MissingAuthenticationTokenException",
                              "Missing Authentication Token")
        key, date, region, service, signed, sig = m.groups()
        if key != self.access_key:
            return self.error(403, "UnrecognizedClientException",
                              "The security token included in the request is invalid.")
        try:
            t = time.mktime(time.strptime(amz, "%Y%m%dT%H%M%SZ")) - time.timezone
        except ValueError:
            return self.error(403, "IncompleteSignatureException", "X-Amz-Date is missing")
        if abs(time.time() - t) > 300:
            return self.error(403, "InvalidSignatureException", "Signature expired")
        if date != amz[:8] or region != self.region or service != "mediaconvert":
            return self.error(403, "InvalidSignatureException",
                              f"Credential should be scoped to a valid region and service "
                              f"({self.region}/mediaconvert)")
        names = signed.split(";")
        if "host" not in names or "x-amz-date" not in names:
            return self.error(403, "InvalidSignatureException",
                              "host and x-amz-date must be signed")
        # botocore signs every header it is given: give it the signed ones.
        hdrs = {}
        for name in names:
            values = headers.get_all(name)
            if not values:
                return self.error(403, "InvalidSignatureException", f"signed {name} is absent")
            hdrs[name] = ",".join(v.strip() for v in values)
        req = AWSRequest(method=method, url=f"http://{hdrs['host']}{path}", data=body,
                         headers=hdrs)
        req.context["timestamp"] = amz
        signer = SigV4Auth(Credentials(self.access_key, self.secret_key), "mediaconvert",
                           self.region)
        creq = signer.canonical_request(req)
        want = signer.signature(signer.string_to_sign(req, creq), req)
        if signer.signed_headers(signer.headers_to_sign(req)) != signed or want != sig:
            return self.error(403, "InvalidSignatureException",
                              "The request signature we calculated does not match the signature "
                              "you provided.")
        return None

    def new_job(self, body):
        now = int(time.time())
        jid = f"{int(time.time() * 1000)}-{''.join(random.choices(string.ascii_lowercase + string.digits, k=6))}"
        queue = body.get("queue") or f"arn:aws:mediaconvert:{self.region}:{ACCOUNT}:queues/Default"
        job = {"accelerationSettings": {"mode": "DISABLED"},
               "accelerationStatus": "NOT_APPLICABLE",
               "arn": f"arn:aws:mediaconvert:{self.region}:{ACCOUNT}:jobs/{jid}",
               "clientRequestToken": body.get("clientRequestToken"),
               "createdAt": now, "id": jid, "messages": {"info": [], "warning": []},
               "priority": body.get("priority", 0), "queue": queue, "role": body["role"],
               "settings": body["settings"], "status": "SUBMITTED",
               "statusUpdateInterval": body.get("statusUpdateInterval", "SECONDS_60"),
               "timing": {"submitTime": now}, "userMetadata": body.get("userMetadata", {})}
        if job["clientRequestToken"] is None:
            del job["clientRequestToken"]
        self.jobs[jid] = job
        return job

    def handle(self, method, target, headers, raw):
        u = urllib.parse.urlsplit(target)
        call = {"method": method, "path": u.path, "query": u.query, "headers": dict(headers),
                "body": raw.decode(errors="replace"), "answer": None}
        with self.lock:
            self.calls.append(call)
            ans = self.check_auth(method, target, headers, raw)
            if ans is None:
                ans = self.route(method, u.path, urllib.parse.parse_qs(u.query), raw, call)
            call["answer"] = ans[0] if ans[1] is not None else "dropped"
            call["error_type"] = ans[2]
            return ans

    def route(self, method, path, query, raw, call):
        if path == API and method == "POST":
            return self.create(raw, call)
        if path == API and method == "GET":
            return self.list(query)
        m = re.fullmatch(API + r"/([A-Za-z0-9-]+)", path)
        if m and method in ("GET", "DELETE"):
            job = self.jobs.get(m.group(1))
            if not job:
                return self.error(404, "NotFoundException", "The specified job was not found")
            if method == "GET":
                return 200, {"job": job}, None
            if job["status"] not in ("SUBMITTED", "PROGRESSING"):
                return self.error(409, "ConflictException",
                                  f"The job is {job['status']}; it cannot be canceled")
            self.set_status(job["id"], "CANCELED")
            return 202, {}, None
        return self.error(404, "NotFoundException", "No such resource")

    def create(self, raw, call):
        try:
            body = json.loads(raw)
        except ValueError:
            return self.error(400, "BadRequestException", "The request body is not JSON")
        if not isinstance(body, dict):
            return self.error(400, "BadRequestException", "The request body is not an object")
        errors = validate("CreateJob", body) or documented_rules(body)
        if errors:
            call["invalid"] = errors
            return self.error(400, "BadRequestException", "; ".join(errors)[:2000])
        token = body.get("clientRequestToken")
        if token in self.tokens and time.time() - self.tokens[token][0] < self.token_window_s:
            call["deduped"] = True
            return 201, {"job": self.jobs[self.tokens[token][1]]}, None
        fault = self.script.pop(0) if self.script else None
        call["fault"] = fault
        if fault == "throttle":
            return self.error(429, "TooManyRequestsException", "Too Many Requests")
        if fault == "http500":
            return self.error(500, "InternalServerErrorException", "Internal Server Error")
        if fault == "drop":
            return 0, None, None
        if fault == "refuse":
            return self.error(400, "BadRequestException",
                              "/settings/inputs/0/fileInput: the input could not be read")
        job = self.new_job(body)
        call["job_id"] = job["id"]
        if token is not None:
            self.tokens[token] = (time.time(), job["id"])
        if fault == "drop_after_create":
            return 0, None, None
        return 201, {"job": job}, None

    def list(self, query):
        wire = {k: v[-1] for k, v in query.items()}
        if "maxResults" in wire:
            try:
                wire["maxResults"] = int(wire["maxResults"])
            except ValueError:
                return self.error(400, "BadRequestException", "maxResults is not an integer")
        errors = validate("ListJobs", wire)
        if errors:
            return self.error(400, "BadRequestException", "; ".join(errors))
        # Without a queue, every queue's jobs.
        jobs = [j for j in self.jobs.values()
                if ("queue" not in wire or j["queue"] == wire["queue"])
                and ("status" not in wire or j["status"] == wire["status"])]
        jobs.sort(key=lambda j: (j["createdAt"], j["id"]), reverse=wire.get("order") != "ASCENDING")
        start = int(wire.get("nextToken") or 0)
        n = wire.get("maxResults", 20)
        page = {"jobs": jobs[start:start + n]}
        if start + n < len(jobs):
            page["nextToken"] = str(start + n)
        return 200, page, None

    def set_status(self, jid, status, percent=None, error=None, outputs=None):
        """Moves a job on, as MediaConvert would (what GetJob then answers)."""
        now = int(time.time())
        job = self.jobs[jid]
        job["status"] = status
        if status == "PROGRESSING":
            job["timing"].setdefault("startTime", now)
            job["currentPhase"] = "TRANSCODING"
            if percent is not None:
                job["jobPercentComplete"] = percent
        elif status in ("COMPLETE", "ERROR", "CANCELED"):
            job["timing"].setdefault("startTime", now)
            job["timing"]["finishTime"] = now
            job.pop("jobPercentComplete", None)
            job.pop("currentPhase", None)
        if status == "ERROR":
            job["errorCode"], job["errorMessage"] = error
        if status == "COMPLETE":
            job["outputGroupDetails"] = outputs or [
                {"outputDetails": [{"durationInMs": 4000,
                                    "videoDetails": {"widthInPx": 320, "heightInPx": 240}}]}]
        return job

    def created(self):
        """The CreateJob calls that made a job."""
        with self.lock:
            return [c for c in self.calls if c.get("job_id")]
