"""A small Hugging Face hub on 127.0.0.1 for tests: the parts of the protocol huggingface_hub 2.4 uses.

- ``GET /api/models/{repo}/revision/{rev}[?blobs=True]``: the repo's commit and files (size, blobId, lfs
  sha256/size), as `HfApi.model_info(files_metadata=True)` and `snapshot_download` read it.
- ``HEAD|GET /{repo}/resolve/{rev}/{file}``: small files answer 200 with ``ETag`` (git blob sha1) and
  ``X-Repo-Commit``; LFS files (weights) answer 302 to a second server (the "CDN", another origin, so
  huggingface_hub does not follow it on HEAD and reads ``X-Linked-Etag`` (sha256), ``X-Linked-Size``,
  ``X-Repo-Commit`` and ``Location`` from the redirect itself, as with the real hub).
- ``GET /cdn/{sha256}`` on the CDN: the bytes, with ``Range: bytes=N-`` answered 206 + ``Content-Range``.
- Errors as the hub sends them: ``X-Error-Code: RepoNotFound`` / ``RevisionNotFound`` with 404.

No xet: the server never sends the ``X-Xet-*`` headers, so huggingface_hub (hf_xet 1.8 installed) takes
the plain HTTP path; the tests also set ``HF_HUB_DISABLE_XET=1``.

Test knobs: ``throttle`` (seconds per 64 KB sent by the CDN), ``fail_status`` (every request answers that
status), ``corrupt`` (file names whose bytes are served with one byte flipped), ``declared_size`` (file
name -> size the listing claims). It records every request, the Range headers and the bytes each response
sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    files: dict[str, bytes]
    commit: str = ""

    def __post_init__(self) -> None:
        if not self.commit:
            digest = hashlib.sha1("".join(sorted(self.files)).encode() + b"".join(self.files.values()))
            self.commit = digest.hexdigest()


@dataclass
class HubState:
    repos: dict[str, Repo] = field(default_factory=dict)
    throttle: float = 0.0
    fail_status: int | None = None
    corrupt: set[str] = field(default_factory=set)
    declared_size: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    served: dict[str, int] = field(default_factory=dict)  # file name -> bytes sent by the CDN
    transfers: list[list] = field(default_factory=list)  # [file name, Range header or None, bytes sent]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def blob(self, sha: str) -> tuple[str, bytes] | None:
        for repo in self.repos.values():
            for name, data in repo.files.items():
                if hashlib.sha256(data).hexdigest() == sha:
                    return name, data
        return None


def _is_lfs(name: str) -> bool:
    return name.endswith(LFS_SUFFIXES)


class _Handler(BaseHTTPRequestHandler):
    state: HubState
    cdn_url: str
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _record(self) -> bool:
        with self.state.lock:
            self.state.requests.append((self.command, self.path))
        if self.state.fail_status is not None:
            self._send(self.state.fail_status, {"Content-Type": "text/plain"}, b"server error")
            return False
        return True

    def do_HEAD(self) -> None:
        self.do_GET()


class _HubHandler(_Handler):
    def do_GET(self) -> None:
        if not self._record():
            return
        path = self.path.split("?")[0]
        api = re.fullmatch(r"/api/models/([^/]+/[^/]+)/revision/([^/]+)", path)
        resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        repo_id = (api or resolve).group(1) if (api or resolve) else ""
        repo = self.state.repos.get(repo_id)
        if repo is None:
            self._send(404, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
            return
        rev = (api or resolve).group(2)
        if rev not in ("main", repo.commit):
            self._send(404, {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id"})
            return
        if api:
            self._listing(repo_id, repo)
            return
        name = resolve.group(3)
        data = repo.files.get(name)
        if data is None:
            self._send(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": repo.commit})
            return
        common = {"X-Repo-Commit": repo.commit, "ETag": f'"{git_blob_sha1(data)}"'}
        if not _is_lfs(name):
            self._send(200, {**common, "Content-Type": "application/octet-stream"}, data)
            return
        sha = hashlib.sha256(data).hexdigest()
        self._send(302, {**common, "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(data)),
                         "Location": f"{self.cdn_url}/cdn/{sha}"})

    def _listing(self, repo_id: str, repo: Repo) -> None:
        siblings = []
        for name, data in sorted(repo.files.items()):
            size = self.state.declared_size.get(name, len(data))
            entry = {"rfilename": name, "size": size, "blobId": git_blob_sha1(data)}
            if _is_lfs(name):
                entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": size, "pointerSize": 134}
            siblings.append(entry)
        body = json.dumps({"id": repo_id, "modelId": repo_id, "sha": repo.commit, "private": False,
                           "siblings": siblings, "cardData": {"license": "mit"}}).encode()
        self._send(200, {"Content-Type": "application/json"}, body)


class _CdnHandler(_Handler):
    def do_GET(self) -> None:
        if not self._record():
            return
        found = self.state.blob(self.path.rsplit("/", 1)[-1].split("?")[0])
        if found is None:
            self._send(404, {})
            return
        name, data = found
        if name in self.state.corrupt:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        start = 0
        headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes",
                   "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
        status = 200
        wanted = self.headers.get("Range")
        if wanted:
            with self.state.lock:
                self.state.ranges.append(wanted)
            start = int(re.fullmatch(r"bytes=(\d+)-", wanted).group(1))
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        headers["Content-Length"] = str(len(body))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        transfer = [name, wanted, 0]
        with self.state.lock:
            self.state.transfers.append(transfer)
        try:
            for at in range(0, len(body), 1 << 16):
                piece = body[at:at + (1 << 16)]
                self.wfile.write(piece)
                with self.state.lock:
                    self.state.served[name] = self.state.served.get(name, 0) + len(piece)
                    transfer[2] += len(piece)
                if self.state.throttle:
                    time.sleep(self.state.throttle)
        except (BrokenPipeError, ConnectionResetError):  # the client cancelled
            pass


class HubServer:
    """Hub and CDN servers on 127.0.0.1 (ephemeral ports) sharing one `HubState`."""

    def __init__(self, state: HubState | None = None):
        self.state = state or HubState()
        self.cdn = ThreadingHTTPServer(("127.0.0.1", 0), type("Cdn", (_CdnHandler,), {"state": self.state}))
        cdn_url = f"http://127.0.0.1:{self.cdn.server_address[1]}"
        handler = type("Hub", (_HubHandler,), {"state": self.state, "cdn_url": cdn_url})
        self.hub = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.hub.server_address[1]}"
        self._threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self.hub, self.cdn)]

    def __enter__(self) -> HubServer:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        for s in (self.hub, self.cdn):
            s.shutdown()
            s.server_close()


ROOT = Path(__file__).resolve().parent.parent
TINY_IGGT = (ROOT / "resources" / "weights" / "iggt-tiny.safetensors").read_bytes()
TINY_CLIP = (ROOT / "resources" / "weights" / "clip-tiny.safetensors").read_bytes()
OFFICIAL = "lifuguan/IGGT_official"
CLIP_REPO = "laion/CLIP-ViT-B-16-laion2B-s34B-b88K"


@contextlib.contextmanager
def serving_test_hub(cache: Path, monkeypatch) -> Iterator[HubServer]:
    """The test hub with the official repo (the tiny weights under its name) and a CLIP repo whose file is
    not a ViT-B-16, with HF_ENDPOINT and HF_HUB_CACHE pointing at it and at ``cache``."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")  # for subprocesses; the server sends no xet headers anyway
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # huggingface_hub's user-agent telemetry would fetch an agent registry from its import-time endpoint
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    with HubServer() as server:
        server.state.repos[OFFICIAL] = Repo({"model.safetensors": TINY_IGGT, "config.json": b'{"note": "t"}'})
        server.state.repos[CLIP_REPO] = Repo({"open_clip_model.safetensors": TINY_CLIP})
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        server.cache = cache
        yield server
