"""A small fake Hugging Face Hub for tests: the REAL ``huggingface_hub`` client talks to it over HTTP.

Stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (random port). It serves what huggingface_hub 2.x needs
(verified against the installed client's source):

* ``GET /api/models/{repo}`` and ``GET /api/models/{repo}/revision/{rev}`` -> model info JSON
  (``id``, ``sha``, ``siblings``; with ``?blobs=true`` the siblings carry ``size``/``blobId``/``lfs``)
* ``GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=true`` -> list of ``{"type": "file"|"directory",
  "path", "size", "oid", "lfs"}`` entries
* ``HEAD`` / ``GET /{repo}/resolve/{rev}/{path}`` with ``X-Repo-Commit``, ``ETag``, ``Content-Length``
  (and ``X-Linked-Etag``/``X-Linked-Size`` for LFS-like files)
* errors as the Hub sends them: ``404`` + ``X-Error-Code: RepoNotFound`` / ``RevisionNotFound`` /
  ``EntryNotFound``; ``401`` + ``RepoNotFound`` for a private repo without a valid token; ``401``/``403`` +
  ``X-Error-Code: GatedRepo`` for a gated repo without / with an unauthorised token.

Every request is recorded (method, path, authorization present) so tests can assert, for instance,
that no weight file was ever fetched. Use::

    with FakeHub(standard_repos()) as hub:
        snapshot_download("baichuan-inc/Baichuan-13B-Chat", endpoint=hub.endpoint, ...)
        assert not hub.fetched("pytorch_model-00001-of-00003.bin")

Other tests may import :class:`FakeHub`, :class:`FakeRepo` and the repo builders below.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterable
from urllib.parse import parse_qs, unquote, urlsplit

GOOD_TOKEN = "hf_test_good_token_0123456789"
OTHER_TOKEN = "hf_test_other_token_9876543210"  # a valid user without access to gated repos


@dataclass
class FakeRepo:
    repo_id: str
    files: dict[str, bytes]
    gated: bool = False  # files need GOOD_TOKEN (401 GatedRepo without a token, 403 GatedRepo with another);
    # like the real Hub, the model info and the file tree of a gated repo stay public
    forbidden: bool = False  # files answer a plain 403 (no X-Error-Code), e.g. a token with too few scopes
    private: bool = False  # needs GOOD_TOKEN (401 RepoNotFound otherwise, like the real Hub)
    lfs: tuple[str, ...] = ()  # files served as LFS (X-Linked-Etag = sha256, tree entry with "lfs")
    sha: str = ""

    def __post_init__(self) -> None:
        if not self.sha:
            h = hashlib.sha1(self.repo_id.encode())
            for name in sorted(self.files):
                h.update(name.encode() + b"\0" + self.files[name])
            self.sha = h.hexdigest()

    def blob_id(self, name: str) -> str:
        data = self.files[name]
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    def is_lfs(self, name: str) -> bool:
        return name in self.lfs

    def etag(self, name: str) -> str:
        if self.is_lfs(name):
            return hashlib.sha256(self.files[name]).hexdigest()
        return self.blob_id(name)


@dataclass
class Request:
    method: str
    path: str  # unquoted URL path, no query
    query: str
    authorized: bool  # an Authorization header was sent
    token_ok: bool  # ...and it was GOOD_TOKEN


class FakeHub:
    """Start with ``with FakeHub(repos) as hub`` (or ``start()``/``stop()``); ``hub.endpoint`` is the URL."""

    def __init__(self, repos: Iterable[FakeRepo] = ()) -> None:
        self.repos: dict[str, FakeRepo] = {r.repo_id: r for r in repos}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # file name -> Event: a GET of that file sends half its bytes, then waits for the event (a download
        # in flight that a test can kill mid-file); set the event to let it finish
        self.hold: dict[str, threading.Event] = {}

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> "FakeHub":
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "FakeHub not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- assertions helpers -----------------------------------------------------------------------------
    def add(self, repo: FakeRepo) -> FakeRepo:
        self.repos[repo.repo_id] = repo
        return repo

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def log(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def resolved_files(self, method: str | None = None) -> list[str]:
        """Paths asked for through ``/resolve/`` (HEAD or GET), in order."""
        out = []
        for r in self.log():
            if "/resolve/" in r.path and (method is None or r.method == method):
                out.append(r.path.split("/resolve/", 1)[1].split("/", 1)[1])
        return out

    def fetched(self, name: str) -> bool:
        """True if ``name`` was ever requested through /resolve/ (HEAD or GET)."""
        return name in self.resolved_files()

    def _record(self, req: Request) -> None:
        with self._lock:
            self.requests.append(req)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: avoid 40 ms stalls

    def log_message(self, format, *args):  # keep test output quiet
        pass

    # -- plumbing ---------------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, *, head: bool = False,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head and body:
            held = self.fake.hold.get(self.path.rsplit("/", 1)[-1]) if "/resolve/" in self.path else None
            if held is not None:
                half = len(body) // 2
                self.wfile.write(body[:half])
                self.wfile.flush()
                held.wait(60)
                body = body[half:]
            self.wfile.write(body)

    def _error(self, status: int, code: str | None, message: str, *, head: bool = False) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, json.dumps({"error": message}).encode(), headers, head=head)

    def _auth(self) -> tuple[bool, bool]:
        value = self.headers.get("Authorization") or ""
        sent = bool(value)
        return sent, value == f"Bearer {GOOD_TOKEN}"

    def _access(self, repo: FakeRepo | None, repo_id: str, head: bool, files: bool = False) -> bool:
        """Send the error the Hub would send; return True if access is granted."""
        sent, ok = self._auth()
        if repo is None:
            # the real Hub answers 401 to anonymous callers for a missing repo; 404 when authenticated
            self._error(404 if sent else 401, "RepoNotFound", "Repository not found", head=head)
            return False
        if repo.private and not ok:
            msg = "Invalid credentials in Authorization header" if sent else "Repository not found"
            self._error(401, "RepoNotFound", msg, head=head)
            return False
        if files and repo.forbidden:
            self._error(403, None, "Forbidden: this token has no read access to the repository", head=head)
            return False
        if files and repo.gated and not ok:
            if not sent:
                self._error(401, "GatedRepo", f"Access to model {repo_id} is restricted. You must have access "
                            "to it and be authenticated to access it. Please log in.", head=head)
            else:
                self._error(403, "GatedRepo", f"Access to model {repo_id} is restricted and you are not in the "
                            "authorized list. Visit https://huggingface.co/" + repo_id + " to ask for access.",
                            head=head)
            return False
        return True

    def _find_repo(self, parts: list[str]) -> tuple[str, FakeRepo | None, list[str]]:
        """Repo ids are ``ns/name`` (or a bare ``name``); return (repo_id, repo, rest)."""
        if len(parts) >= 2 and f"{parts[0]}/{parts[1]}" in self.fake.repos:
            return f"{parts[0]}/{parts[1]}", self.fake.repos[f"{parts[0]}/{parts[1]}"], parts[2:]
        if parts and parts[0] in self.fake.repos:
            return parts[0], self.fake.repos[parts[0]], parts[1:]
        if len(parts) >= 2:
            return f"{parts[0]}/{parts[1]}", None, parts[2:]
        return "/".join(parts), None, []

    @staticmethod
    def _rev_ok(repo: FakeRepo, rev: str) -> bool:
        return rev in ("main", repo.sha)

    # -- verbs ------------------------------------------------------------------------------------------
    def do_HEAD(self):
        self._dispatch(head=True)

    def do_GET(self):
        self._dispatch(head=False)

    def _dispatch(self, head: bool) -> None:
        split = urlsplit(self.path)
        path = unquote(split.path)
        sent, ok = self._auth()
        self.fake._record(Request(self.command, path, split.query, sent, ok))
        # the raw (still quoted) segments, so a file name with "/" encoded stays one segment where needed
        raw_parts = [unquote(p) for p in split.path.strip("/").split("/")]
        try:
            if raw_parts[:2] == ["api", "models"]:
                self._api(raw_parts[2:], parse_qs(split.query), head)
            elif "resolve" in raw_parts:
                self._resolve(raw_parts, head)
            else:
                self._error(404, None, "Not found", head=head)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _api(self, parts: list[str], query: dict, head: bool) -> None:
        repo_id, repo, rest = self._find_repo(parts)
        if not self._access(repo, repo_id, head):
            return
        assert repo is not None
        if not rest or rest[0] == "revision":
            rev = unquote(rest[1]) if len(rest) > 1 else "main"
            if not self._rev_ok(repo, rev):
                self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head=head)
                return
            blobs = query.get("blobs", ["false"])[0].lower() == "true"
            siblings = []
            for name in sorted(repo.files):
                s: dict = {"rfilename": name}
                if blobs:
                    s.update(size=len(repo.files[name]), blobId=repo.blob_id(name))
                    if repo.is_lfs(name):
                        s["lfs"] = {"size": len(repo.files[name]), "sha256": repo.etag(name), "pointerSize": 134}
                siblings.append(s)
            info = {"_id": repo.sha[:24], "id": repo.repo_id, "modelId": repo.repo_id, "sha": repo.sha,
                    "private": repo.private, "gated": "manual" if repo.gated else False, "disabled": False,
                    "tags": [], "siblings": siblings}
            self._send(200, json.dumps(info).encode(), head=head)
            return
        if rest[0] == "tree" and len(rest) >= 2:
            rev = rest[1]
            if not self._rev_ok(repo, rev):
                self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head=head)
                return
            prefix = "/".join(rest[2:])
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            self._send(200, json.dumps(self._tree(repo, prefix, recursive)).encode(), head=head)
            return
        self._error(404, None, "Not found", head=head)

    @staticmethod
    def _tree(repo: FakeRepo, prefix: str, recursive: bool) -> list[dict]:
        base = prefix.rstrip("/") + "/" if prefix else ""
        entries: list[dict] = []
        dirs: set[str] = set()
        for name in sorted(repo.files):
            if not name.startswith(base):
                continue
            rel = name[len(base):]
            # a hostile name like "../evil.json" is listed as-is, the way a broken server might
            segs = rel.split("/") if not rel.startswith(("../", "/")) else [rel]
            for i in range(1, len(segs)):
                if segs[i - 1]:
                    dirs.add(base + "/".join(segs[:i]))
            if len(segs) > 1 and not recursive:
                continue
            e = {"type": "file", "oid": repo.blob_id(name), "size": len(repo.files[name]), "path": name}
            if repo.is_lfs(name):
                e["lfs"] = {"oid": repo.etag(name), "size": len(repo.files[name]), "pointerSize": 134}
            entries.append(e)
        for d in sorted(dirs):
            if recursive or "/" not in d[len(base):]:
                entries.append({"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0,
                                "path": d})
        return entries

    def _resolve(self, parts: list[str], head: bool) -> None:
        i = parts.index("resolve")
        repo_id, repo, _ = self._find_repo(parts[:i])
        if not self._access(repo, repo_id, head, files=True):
            return
        assert repo is not None
        if len(parts) < i + 3:
            self._error(404, "EntryNotFound", "Entry not found", head=head)
            return
        rev, name = parts[i + 1], "/".join(parts[i + 2:])
        if not self._rev_ok(repo, rev):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head=head)
            return
        if name not in repo.files:
            self._error(404, "EntryNotFound", f"{name} does not exist on \"{rev}\"", head=head)
            return
        data = repo.files[name]
        headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{repo.etag(name)}"', "Accept-Ranges": "bytes"}
        if repo.is_lfs(name):
            headers["X-Linked-Etag"] = f'"{repo.etag(name)}"'
            headers["X-Linked-Size"] = str(len(data))
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and not head:
            start = int(rng[6:].split("-", 1)[0] or 0)
            body = data[start:]
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            self._send(206, body, headers, content_type="application/octet-stream")
            return
        self._send(200, data, headers, head=head, content_type="application/octet-stream")


# -- tiny repos shaped like the real ones -------------------------------------------------------------

def _j(obj) -> bytes:
    return (json.dumps(obj, indent=2) + "\n").encode()


WEIGHT_SUFFIXES = (".bin", ".safetensors", ".pt", ".gguf", ".h5", ".msgpack", ".pth", ".ckpt")


def baichuan_repo(repo_id: str = "baichuan-inc/Baichuan-13B-Chat", **kw) -> FakeRepo:
    """Custom code (auto_map) like baichuan-inc/Baichuan-13B-Chat; weights that must never be fetched."""
    files = {
        "config.json": _j({
            "_from_model_config": True, "architectures": ["BaichuanForCausalLM"],
            "auto_map": {"AutoConfig": "configuration_baichuan.BaichuanConfig",
                         "AutoModelForCausalLM": "modeling_baichuan.BaichuanForCausalLM"},
            "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 5120,
            "initializer_range": 0.02, "intermediate_size": 13696, "model_max_length": 4096,
            "model_type": "baichuan", "num_attention_heads": 40, "num_hidden_layers": 40, "pad_token_id": 0,
            "rms_norm_eps": 1e-06, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
            "transformers_version": "4.29.2", "use_cache": True, "vocab_size": 64000}),
        "configuration_baichuan.py": b"from transformers.configuration_utils import PretrainedConfig\n\n"
                                     b"class BaichuanConfig(PretrainedConfig):\n    model_type = 'baichuan'\n",
        "modeling_baichuan.py": b"# modeling code: not needed for the tokenizer\nimport torch\n",
        "tokenization_baichuan.py": b"from transformers.tokenization_utils import PreTrainedTokenizer\n\n"
                                    b"class BaichuanTokenizer(PreTrainedTokenizer):\n    pass\n",
        "tokenizer_config.json": _j({
            "auto_map": {"AutoTokenizer": ["tokenization_baichuan.BaichuanTokenizer", None]},
            "add_bos_token": False, "add_eos_token": False, "clean_up_tokenization_spaces": False,
            "model_max_length": 4096, "sp_model_kwargs": {}, "tokenizer_class": "BaichuanTokenizer",
            "bos_token": {"__type": "AddedToken", "content": "<s>"}}),
        "tokenizer.model": b"\x0a\x0b fake sentencepiece model " * 40,
        "special_tokens_map.json": _j({"bos_token": {"content": "<s>"}, "eos_token": {"content": "</s>"},
                                       "pad_token": {"content": "<unk>"}, "unk_token": {"content": "<unk>"}}),
        "generation_config.json": _j({"assistant_token_id": 196, "bos_token_id": 1, "do_sample": True,
                                      "eos_token_id": 2, "max_new_tokens": 2048, "pad_token_id": 0,
                                      "repetition_penalty": 1.1, "temperature": 0.3, "top_k": 5, "top_p": 0.85,
                                      "transformers_version": "4.29.2", "user_token_id": 195}),
        "pytorch_model.bin.index.json": _j({"metadata": {"total_size": 26529802240}, "weight_map": {
            f"model.layers.{i}.mlp.down_proj.weight": f"pytorch_model-0000{1 + i // 14}-of-00003.bin"
            for i in range(40)}}),
        "requirements.txt": b"accelerate\ncolorama\ncpm_kernels\nsentencepiece\nstreamlit\ntransformers_stream_generator\n",
        "README.md": b"# Baichuan-13B-Chat (fake)\n",
        "LICENSE": b"fake license\n",
        "pytorch_model-00001-of-00003.bin": b"W" * 4096,
        "pytorch_model-00002-of-00003.bin": b"W" * 4096,
        "pytorch_model-00003-of-00003.bin": b"W" * 2048,
        "handler.py": b"# an unrelated .py the tokenizer does not name\n",
    }
    return FakeRepo(repo_id, files, lfs=tuple(n for n in files if n.endswith(".bin")), **kw)


def qwen_repo(repo_id: str = "Qwen/Qwen-7B-Chat", **kw) -> FakeRepo:
    """A tiktoken tokenizer with custom code that imports a helper module relatively."""
    files = {
        "config.json": _j({"architectures": ["QWenLMHeadModel"], "auto_map": {
            "AutoConfig": "configuration_qwen.QWenConfig", "AutoModelForCausalLM": "modeling_qwen.QWenLMHeadModel"},
            "model_type": "qwen", "hidden_size": 4096, "num_hidden_layers": 32, "vocab_size": 151936}),
        "configuration_qwen.py": b"from transformers import PretrainedConfig\nclass QWenConfig(PretrainedConfig):\n    pass\n",
        "modeling_qwen.py": b"import torch\n",
        "tokenization_qwen.py": b"import tiktoken\nfrom .qwen_generation_utils import make_context\n"
                                b"class QWenTokenizer: pass\n",
        "qwen_generation_utils.py": b"def make_context(*a):\n    return a\n",
        "cpp_kernels.py": b"# not needed\n",
        "qwen.tiktoken": b"IQ== 0\nIg== 1\nIw== 2\n" * 50,
        "tokenizer_config.json": _j({"model_max_length": 8192, "tokenizer_class": "QWenTokenizer",
                                     "auto_map": {"AutoTokenizer": ["tokenization_qwen.QWenTokenizer", None]}}),
        "generation_config.json": _j({"chat_format": "chatml", "eos_token_id": 151643, "max_new_tokens": 512}),
        "model.safetensors.index.json": _j({"metadata": {"total_size": 15442649088}, "weight_map": {
            "transformer.wte.weight": "model-00001-of-00002.safetensors"}}),
        "model-00001-of-00002.safetensors": b"S" * 3000,
        "model-00002-of-00002.safetensors": b"S" * 3000,
        "assets/logo.jpg": b"\xff\xd8fake jpeg",
    }
    return FakeRepo(repo_id, files, lfs=tuple(n for n in files if n.endswith(".safetensors")), **kw)


def llama_repo(repo_id: str = "meta-llama/Llama-2-7b-hf", **kw) -> FakeRepo:
    """Plain tokenizer.model + tokenizer.json, no custom code; weights in several formats."""
    files = {
        "config.json": _j({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
                           "num_hidden_layers": 32, "vocab_size": 32000, "torch_dtype": "float16"}),
        "generation_config.json": _j({"bos_token_id": 1, "eos_token_id": 2}),
        "tokenizer.model": b"\x0a\x0c fake llama sentencepiece " * 30,
        "tokenizer.json": _j({"version": "1.0", "model": {"type": "BPE"}}),
        "tokenizer_config.json": _j({"tokenizer_class": "LlamaTokenizer", "add_bos_token": True}),
        "special_tokens_map.json": _j({"bos_token": "<s>", "eos_token": "</s>"}),
        "model.safetensors.index.json": _j({"weight_map": {"lm_head.weight": "model-00001-of-00002.safetensors"}}),
        "model-00001-of-00002.safetensors": b"L" * 5000,
        "model-00002-of-00002.safetensors": b"L" * 5000,
        "pytorch_model-00001-of-00002.bin": b"P" * 5000,
        "consolidated.00.pth": b"C" * 5000,
        "original/params.json": _j({"dim": 4096}),
        "original/consolidated.00.pth": b"C" * 100,
        "USE_POLICY.md": b"policy\n",
    }
    return FakeRepo(repo_id, files, lfs=tuple(n for n in files if n.endswith((".safetensors", ".bin", ".pth"))),
                    **kw)


def hostile_repo(repo_id: str = "evil/hostile") -> FakeRepo:
    files = {
        "tokenizer_config.json": _j({"tokenizer_class": "LlamaTokenizer"}),
        "tokenizer.model": b"fake",
        "../evil.json": _j({"pwned": True}),
        "/etc/evil.json": _j({"pwned": True}),
        "sub/../../evil2.json": _j({"pwned": True}),
    }
    return FakeRepo(repo_id, files)


def standard_repos() -> list[FakeRepo]:
    return [
        baichuan_repo(),
        qwen_repo(),
        llama_repo(),
        llama_repo("meta-llama/Llama-2-7b-chat-gated", gated=True),
        llama_repo("acme/private-llama", private=True),
        llama_repo("acme/forbidden-llama", forbidden=True),
        hostile_repo(),
    ]


class SilentServer:
    """A loopback TCP server that accepts every connection and never answers a byte (a hung proxy, a
    black-holed mirror): what every network client of the wizard must give up on in bounded time.

    ``accepted`` counts connections (retries are visible there)."""

    def __init__(self) -> None:
        import socket

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._conns: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.accepted = 0
        host, port = self._sock.getsockname()
        self.url = f"http://{host}:{port}"

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.accepted += 1
            self._conns.append(conn)  # held open, never read from or written to

    def __enter__(self) -> "SilentServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        for c in self._conns:
            c.close()
        self._sock.close()
