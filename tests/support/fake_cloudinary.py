"""A small real Cloudinary stand-in on 127.0.0.1: the documented upload, destroy, tags and admin calls.

It checks what the real service checks that matters here: the upload API's signature
(sorted `k=v` params joined by `&`, api_secret appended, SHA-1 hex; `file`, `api_key`,
`resource_type` and `cloud_name` left out), the timestamp's age, and the admin API's basic
auth. Wrong ones get 401, as from Cloudinary. Chunked uploads (`Content-Range` +
`X-Unique-Upload-Id`) are assembled and stored when the last byte arrives.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

UPLOAD_PATH = re.compile(r"^/v1_1/(?P<cloud>[^/]+)/(?P<rt>image|video|raw|auto)/(?P<action>upload|destroy|tags)$")
TAG_PATH = re.compile(r"^/v1_1/(?P<cloud>[^/]+)/resources/(?P<rt>image|video|raw)/tags/(?P<tag>[^/?]+)$")
RESOURCE_PATH = re.compile(r"^/v1_1/(?P<cloud>[^/]+)/resources/(?P<rt>image|video|raw)/upload/(?P<pid>.+)$")
CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
UNSIGNED = {"file", "api_key", "resource_type", "cloud_name", "signature"}
MAX_TIMESTAMP_AGE = 3600  # Cloudinary refuses signatures older than an hour


def string_to_sign(params: dict[str, str]) -> str:
    pairs = [f"{key}={value}".replace("&", "%26") for key, value in params.items()
             if key not in UNSIGNED and value != ""]
    return "&".join(sorted(pairs))


def sign(params: dict[str, str], api_secret: str) -> str:
    return hashlib.sha1((string_to_sign(params) + api_secret).encode()).hexdigest()


@dataclass
class Resource:
    public_id: str
    resource_type: str
    format: str
    data: bytes
    tags: set[str] = field(default_factory=set)


@dataclass
class PartialUpload:
    parts: dict[int, bytes] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


class FakeCloudinary:
    """Start with `with FakeCloudinary(cloud, key, secret) as fake:`; point the SDK at fake.url."""

    def __init__(self, cloud_name: str = "demo-cloud", api_key: str = "1234567890",
                 api_secret: str = "fake-secret"):
        self.cloud_name = cloud_name
        self.api_key = api_key
        self.api_secret = api_secret
        self.resources: dict[str, Resource] = {}
        self.partial: dict[str, PartialUpload] = {}
        self.requests: list[dict] = []  # method, path, status, headers, answer of every request
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def cloudinary_url(self, api_secret: str | None = None) -> str:
        return (f"cloudinary://{self.api_key}:{api_secret or self.api_secret}@{self.cloud_name}"
                f"?upload_prefix={self.url}")

    def __enter__(self) -> FakeCloudinary:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                fake.handle(self, "POST")

            def do_DELETE(self):
                fake.handle(self, "DELETE")

            def do_GET(self):
                fake.handle(self, "GET")

        return Handler

    # -- plumbing ------------------------------------------------------------------------

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        path = request.path.split("?", 1)[0]
        try:
            status, answer = self.route(method, path, request.headers, body)
        except Exception as exc:  # a bug here must be visible in the test, not a hang
            status, answer = 500, {"error": {"message": f"fake server error: {exc!r}"}}
        with self.lock:
            self.requests.append({"method": method, "path": path, "status": status,
                                  "headers": dict(request.headers), "answer": answer})
        data = json.dumps(answer).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def route(self, method, path, headers, body):
        match = UPLOAD_PATH.match(path)
        if match and method == "POST":
            if match["cloud"] != self.cloud_name:
                return 404, {"error": {"message": "unknown cloud"}}
            params, file_data = parse_form(headers.get("Content-Type", ""), body)
            problem = self.check_signature(params)
            if problem:
                return 401, {"error": {"message": problem}}
            action = getattr(self, "api_" + match["action"])
            return action(match["rt"], params, file_data, headers)
        for pattern, action in ((TAG_PATH, self.admin_delete_by_tag), (RESOURCE_PATH, self.admin_resource)):
            match = pattern.match(path)
            if match:
                if not self.basic_auth_ok(headers.get("Authorization", "")):
                    return 401, {"error": {"message": "Invalid credentials"}}
                return action(method, match)
        return 404, {"error": {"message": f"no route {method} {path}"}}

    def check_signature(self, params: dict[str, str]) -> str | None:
        if params.get("api_key") != self.api_key:
            return "Unknown API key"
        try:
            age = time.time() - int(params.get("timestamp", ""))
        except ValueError:
            return "Missing required parameter - timestamp"
        if abs(age) > MAX_TIMESTAMP_AGE:
            return "Stale request"
        expected = sign(params, self.api_secret)
        if not hmac.compare_digest(expected, params.get("signature", "")):
            return f"Invalid Signature {params.get('signature', '')}. String to sign - '{string_to_sign(params)}'."
        return None

    def basic_auth_ok(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except ValueError:
            return False
        return hmac.compare_digest(decoded, f"{self.api_key}:{self.api_secret}")

    # -- upload API ----------------------------------------------------------------------

    def api_upload(self, resource_type, params, file_data, headers):
        if file_data is None:
            return 400, {"error": {"message": "Missing required parameter - file"}}
        content_range = headers.get("Content-Range")
        if content_range:
            match = CONTENT_RANGE.match(content_range)
            upload_id = headers.get("X-Unique-Upload-Id", "")
            if not match or not upload_id:
                return 400, {"error": {"message": "bad chunked upload headers"}}
            start, end, total = (int(g) for g in match.groups())
            if end - start + 1 != len(file_data):
                return 400, {"error": {"message": "chunk size does not match Content-Range"}}
            with self.lock:
                partial = self.partial.setdefault(upload_id, PartialUpload(params=dict(params)))
                partial.parts[start] = file_data
                received = sum(len(part) for part in partial.parts.values())
                if received < total:
                    return 200, {"done": False, "bytes": received,
                                 "public_id": full_public_id(partial.params)}
                del self.partial[upload_id]
            data = b"".join(partial.parts[offset] for offset in sorted(partial.parts))
            return self.store(resource_type, partial.params, data)
        return self.store(resource_type, params, file_data)

    def store(self, resource_type, params, data):
        public_id = full_public_id(params)
        with self.lock:
            if public_id in self.resources and params.get("overwrite") == "false":
                existing = self.resources[public_id]
                return 200, describe(existing, existing=True)
            resource = Resource(public_id, resource_type, sniff_format(data), data,
                                set(filter(None, params.get("tags", "").split(","))))
            self.resources[public_id] = resource
        return 200, describe(resource)

    def api_destroy(self, resource_type, params, file_data, headers):
        with self.lock:
            resource = self.resources.get(params.get("public_id", ""))
            if resource is None or resource.resource_type != resource_type:
                return 200, {"result": "not found"}
            del self.resources[resource.public_id]
        return 200, {"result": "ok"}

    def api_tags(self, resource_type, params, file_data, headers):
        tag, command = params.get("tag", ""), params.get("command", "")
        ids = [i for i in params.get("public_ids", "").split(",") if i]
        if command != "add" or not tag:
            return 400, {"error": {"message": "only the add command is implemented"}}
        with self.lock:
            done = [i for i in ids if i in self.resources]
            for public_id in done:
                self.resources[public_id].tags.update(tag.split(","))
        return 200, {"public_ids": done}

    # -- admin API -----------------------------------------------------------------------

    def admin_delete_by_tag(self, method, match):
        if method != "DELETE":
            return 405, {"error": {"message": "method not allowed"}}
        tag = unquote(match["tag"])
        with self.lock:
            doomed = [r.public_id for r in self.resources.values()
                      if tag in r.tags and r.resource_type == match["rt"]]
            for public_id in doomed:
                del self.resources[public_id]
        return 200, {"deleted": {public_id: "deleted" for public_id in doomed}, "partial": False}

    def admin_resource(self, method, match):
        with self.lock:
            resource = self.resources.get(unquote(match["pid"]))
        if method != "GET" or resource is None or resource.resource_type != match["rt"]:
            return 404, {"error": {"message": "Resource not found"}}
        return 200, describe(resource)


def full_public_id(params: dict[str, str]) -> str:
    public_id = params.get("public_id") or hashlib.sha1(repr(params).encode()).hexdigest()[:20]
    folder = params.get("folder", "").strip("/")
    if folder and not public_id.startswith(folder + "/"):
        return f"{folder}/{public_id}"
    return public_id


def sniff_format(data: bytes) -> str:
    if data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "mp3"
    if data[:4] == b"RIFF":
        return "wav"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"fLaC":
        return "flac"
    return "bin"


def describe(resource: Resource, existing: bool = False) -> dict:
    answer = {"public_id": resource.public_id, "resource_type": resource.resource_type,
              "format": resource.format, "bytes": len(resource.data), "type": "upload",
              "etag": hashlib.md5(resource.data).hexdigest(), "tags": sorted(resource.tags),
              "secure_url": f"https://res.cloudinary.com/x/{resource.resource_type}/upload/"
                            f"{resource.public_id}.{resource.format}"}
    if existing:
        answer["existing"] = True
    return answer


def parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], bytes | None]:
    """Fields of a multipart (or urlencoded) form; `k[]` repeated fields joined by commas."""
    params: dict[str, list[str]] = {}
    file_data = None
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if name == "file":
                file_data = payload
            elif name:
                params.setdefault(name, []).append(payload.decode())
    elif content_type.startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qsl

        for name, value in parse_qsl(body.decode(), keep_blank_values=True):
            params.setdefault(name, []).append(value)
    flat = {}
    for name, values in params.items():
        flat[name[:-2] if name.endswith("[]") else name] = ",".join(values)
    return flat, file_data
