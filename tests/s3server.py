"""A real S3 server for tests: moto's server on 127.0.0.1, in a thread, with a server-side request log.

Use from a test module::

    from s3server import s3_server, s3  # noqa: F401  (pytest fixtures)

    def test_x(s3):
        s3.make_bucket("models")
        ...                              # talk to s3.endpoint_url through boto3 / the CLI
        assert s3.log.count("PUT") == 0  # requests the server really received

``s3_server`` (session) starts one server; ``s3`` (function) resets moto's state (POST /moto-api/reset),
clears the log and the hooks, sets fake credentials in the environment and yields an :class:`S3Env`.
Hooks (``s3.server.hooks``) let a test hold a request (to interrupt an upload mid-way for real) or answer
it itself (for S3 behaviours moto does not emulate, such as a wrong-region redirect).

Run as a script (``python tests/s3server.py --port 0``) it serves in the foreground and prints
``READY <endpoint>``; ``GET /_lmi/requests`` returns the log as JSON and ``POST /_lmi/requests/reset``
clears it (used by bench/).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import urllib.request
from dataclasses import dataclass, field
from typing import Callable, Optional
from urllib.parse import parse_qs, unquote

import pytest


# --------------------------------------------------------------------------- request log
@dataclass(frozen=True)
class Request:
    method: str
    path: str  # unquoted
    query: str
    op: str  # S3 operation name, e.g. "PutObject", "UploadPart", "ListObjectsV2"
    bytes: int  # Content-Length of the request body


def classify(method: str, path: str, query: str, headers: dict) -> str:
    """The S3 operation a path-style request is."""
    q = parse_qs(query, keep_blank_values=True)
    parts = path.lstrip("/").split("/", 1)
    bucket = parts[0]
    key = parts[1] if len(parts) > 1 else ""
    if not bucket:
        return "ListBuckets"
    if not key:
        if method == "PUT":
            return "PutBucketPolicy" if "policy" in q else "CreateBucket"
        if method == "GET":
            if "list-type" in q:
                return "ListObjectsV2"
            if "uploads" in q:
                return "ListMultipartUploads"
            if "location" in q:
                return "GetBucketLocation"
            return "ListObjects"
        if method == "HEAD":
            return "HeadBucket"
        if method == "DELETE":
            return "DeleteBucket"
        if method == "POST" and "delete" in q:
            return "DeleteObjects"
        return f"{method}Bucket"
    if method == "PUT":
        if "partNumber" in q and "uploadId" in q:
            return "UploadPart"
        if headers.get("HTTP_X_AMZ_COPY_SOURCE"):
            return "CopyObject"
        return "PutObject"
    if method == "POST":
        if "uploads" in q:
            return "CreateMultipartUpload"
        if "uploadId" in q:
            return "CompleteMultipartUpload"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in q else "DeleteObject"
    if method == "GET":
        return "ListParts" if "uploadId" in q else "GetObject"
    if method == "HEAD":
        return "HeadObject"
    return f"{method}Object"


class RequestLog:
    """Every S3 request the server received (moto's own /moto-api/ calls excluded). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Request] = []

    def add(self, req: Request) -> None:
        with self._lock:
            self._items.append(req)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._items)

    def count(self, what: Optional[str] = None) -> int:
        """Requests of an HTTP method ("PUT") or an operation ("UploadPart"); all when None."""
        return sum(1 for r in self.requests if what is None or r.method == what or r.op == what)

    def ops(self) -> list[str]:
        return [r.op for r in self.requests]

    def keys(self, op: str) -> list[str]:
        """Object keys (path after the bucket) of the requests of one operation."""
        return [r.path.lstrip("/").split("/", 1)[1] for r in self.requests if r.op == op and "/" in r.path.lstrip("/")]

    def to_json(self) -> list[dict]:
        return [r.__dict__ for r in self.requests]


# a hook: (environ, Request) -> None to pass on, or (status, headers, body) to answer instead
Hook = Callable[[dict, Request], Optional[tuple]]


class CountingApp:
    """WSGI middleware in front of moto: logs each request, runs hooks, serves /_lmi/requests."""

    def __init__(self, app, log: RequestLog, hooks: list):
        self.app, self.log, self.hooks = app, log, hooks

    def __call__(self, environ, start_response):
        path = unquote(environ.get("PATH_INFO", ""))
        query = environ.get("QUERY_STRING", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/_lmi/requests"):
            if method == "POST":
                self.log.clear()
                body = b"{}"
            else:
                body = json.dumps(self.log.to_json()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)
        req = Request(method, path, query, classify(method, path, query, environ),
                      int(environ.get("CONTENT_LENGTH") or 0))
        self.log.add(req)
        for hook in list(self.hooks):
            answer = hook(environ, req)
            if answer is not None:
                status, headers, body = answer
                # drain the request body so the client sees the answer, not a reset connection
                stream = environ.get("wsgi.input")
                remaining = req.bytes
                try:
                    while stream is not None and remaining > 0:
                        chunk = stream.read(min(remaining, 1 << 20))
                        if not chunk:
                            break
                        remaining -= len(chunk)
                except OSError:  # the client is gone
                    pass
                start_response(status, list(headers) + [("Content-Length", str(len(body)))])
                return [body]
        try:
            return self.app(environ, start_response)  # moto has done the work (object stored) on return
        finally:
            for hook in list(self.hooks):
                after = getattr(hook, "after", None)
                if after is not None:
                    after(req)


# --------------------------------------------------------------------------- server
class CountingMotoServer:
    """moto's ThreadedMotoServer, with the counting middleware in front. Always binds 127.0.0.1."""

    def __init__(self, port: int = 0):
        self.port = port
        self.log = RequestLog()
        self.hooks: list[Hook] = []
        self._server = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "CountingMotoServer":
        from moto.moto_server.threaded_moto_server import MotoRequestHandler
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args, **kwargs):  # no access log on stderr
                pass

        app = CountingApp(DomainDispatcherApplication(create_backend_app), self.log, self.hooks)
        self._server = make_server("127.0.0.1", self.port, app, True, request_handler=QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        req = urllib.request.Request(self.endpoint_url + "/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
        self.hooks.clear()
        self.log.clear()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


class Gate:
    """A hook that holds matching requests until released. Use it to interrupt an upload for real at a
    known point: the first ``hold_after`` distinct matching requests go through to moto, every later one
    is held. With ``answer`` (e.g. ``DROPPED``) the held requests never reach moto after the release: the
    client that sent them is gone.

    ``gate.reached`` is set when a request is held *and* moto has answered every request let through, so
    a test that kills the client on ``reached`` finds exactly those ``hold_after`` requests done. (Counting
    arrivals alone is a race: with 10 transfer threads the held request can arrive while moto is still
    storing one let through before it, and the kill then loses that one.) A request is identified by
    method, path and query: a client's retry of a request let through goes through again and is not
    counted as a new one."""

    def __init__(self, match: Callable[[Request], bool], hold_after: int = 0, answer: Optional[tuple] = None,
                 timeout: float = 60.0):
        self.match = match
        self.answer = answer  # after release, answer held requests with this instead of passing them on
        self.hold_after = hold_after  # let this many distinct matching requests through first
        self.timeout = timeout
        self.reached = threading.Event()
        self.released = threading.Event()
        self.seen = 0  # matching requests received (retries included)
        self.passed: set[tuple] = set()  # identities let through
        self.done: set[tuple] = set()  # identities let through that moto has answered
        self.held = 0
        self._cond = threading.Condition()

    @staticmethod
    def _ident(req: Request) -> tuple:
        return (req.method, req.path, req.query)

    def __call__(self, environ, req: Request):
        if not self.match(req):
            return None
        ident = self._ident(req)
        with self._cond:
            self.seen += 1
            if ident in self.passed or len(self.passed) < self.hold_after:
                self.passed.add(ident)
                return None
            self.held += 1
            # wait (bounded) until moto has answered everything let through
            self._cond.wait_for(lambda: self.passed <= self.done, timeout=self.timeout)
        self.reached.set()
        self.released.wait(self.timeout)
        return self.answer

    def after(self, req: Request) -> None:
        """Called by :class:`CountingApp` once moto has answered a request that the hooks let through."""
        if not self.match(req):
            return
        with self._cond:
            ident = self._ident(req)
            if ident in self.passed:
                self.done.add(ident)
                self._cond.notify_all()

    def release(self) -> None:
        self.released.set()


DROPPED = ("500 Internal Server Error", [("Content-Type", "application/xml")],
           b"<Error><Code>InternalError</Code><Message>client gone</Message></Error>")

FAKE_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class S3Env:
    server: CountingMotoServer
    endpoint_url: str
    client: object  # boto3 S3 client (fake credentials)
    log: RequestLog
    env: dict = field(default_factory=dict)  # environment for a subprocess talking to this server

    def make_bucket(self, name: str = "models") -> str:
        self.client.create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str, prefix: str = "") -> dict[str, tuple[int, str]]:
        """key → (size, ETag) of everything under ``prefix`` (read through boto3; clears nothing)."""
        out = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []) or []:
                out[o["Key"]] = (o["Size"], o["ETag"].strip('"'))
        return out


@contextlib.contextmanager
def auth_enforced():
    """Make moto check IAM credentials and policies (it accepts anything by default)."""
    from moto import settings

    old = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        yield
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = old


@pytest.fixture(scope="session")
def s3_server():
    server = CountingMotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch, tmp_path_factory):
    import boto3

    s3_server.reset()
    cfg_dir = tmp_path_factory.mktemp("awscfg")
    env = dict(FAKE_ENV, AWS_SHARED_CREDENTIALS_FILE=str(cfg_dir / "no-credentials"),
               AWS_CONFIG_FILE=str(cfg_dir / "no-config"), AWS_EC2_METADATA_DISABLED="true",
               LMI_WIZARD_STATE_DIR=str(cfg_dir / "upload-state"))  # resume records: per test
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "LMI_WIZARD_NET_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    client = boto3.session.Session().client("s3", endpoint_url=s3_server.endpoint_url, region_name="us-east-1")
    yield S3Env(s3_server, s3_server.endpoint_url, client, s3_server.log, env)
    for hook in list(s3_server.hooks):
        if isinstance(hook, Gate):
            hook.release()
    s3_server.hooks.clear()


def main(argv=None) -> int:  # pragma: no cover — used by bench/
    import argparse
    import signal

    ap = argparse.ArgumentParser(description="moto S3 server on 127.0.0.1 with a request log")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    server = CountingMotoServer(args.port).start()
    print(f"READY {server.endpoint_url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
