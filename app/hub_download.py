"""Fetch files of one hub repository revision into the standard Hugging Face cache, resumably.

What comes from `huggingface_hub`: the endpoint and cache locations, the repository listing with sizes and
checksums (`HfApi.model_info(files_metadata=True)`, which also pins the branch to one commit), each file's
resolve URL and redirect target (`hf_hub_url`, `get_hf_file_metadata`: X-Repo-Commit, ETag /
X-Linked-Etag, X-Linked-Size, Location), its HTTP session and error types. The files end up in the
documented cache layout (``models--owner--name/blobs/<etag>``, ``snapshots/<commit>/<file>`` -> blob,
``refs/<branch>``), which `snapshot_download(local_files_only=True)`, `try_to_load_from_cache`, open_clip
and every other hub tool read.

Why the transfer itself is ours: huggingface_hub 2.4's `hf_hub_download` writes to a process-unique
temporary file that it deletes on any failure (so a cancelled download restarts from zero), and its
`http_get` reads 10 MB chunks (cancel and progress lag by 10 MB). Here a partial file
``blobs/<etag>.incomplete`` survives a cancel and the next run asks for the rest with a Range request;
every 1 MB chunk reports progress and checks for cancel. Each finished file is checked against the size
and sha256 (git-sha1 for small non-LFS files) the hub lists before it enters the cache; a file that does
not match is deleted.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.errors import UserError
from app.progress import Cancelled

CHUNK = 1 << 20
DISK_MARGIN = 64 << 20  # keep this much free beyond the download
_DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


@dataclass(frozen=True)
class DownloadProgress:
    """Where a download stands: bytes over all files, speed of this session, time left."""

    done: int
    total: int
    speed: float  # bytes/s over the bytes fetched in this run (resumed bytes excluded)
    file: str
    stage: str = "download"  # download | verify | validate

    @property
    def eta_s(self) -> float | None:
        return (self.total - self.done) / self.speed if self.speed > 0 else None

    def text(self) -> str:
        if self.stage != "download":
            return f"{self.stage} {self.file}"
        eta = self.eta_s
        left = "" if eta is None else f", {int(eta) // 60}:{int(eta) % 60:02d} left"
        return f"{human_bytes(self.done)} / {human_bytes(self.total)}, {human_bytes(self.speed)}/s{left}"


ProgressFn = Callable[[DownloadProgress], None]
CancelFn = Callable[[], bool]


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    sha256: str | None  # LFS files
    blob_id: str | None  # git sha1 of small files

    @property
    def etag(self) -> str:
        return self.sha256 or self.blob_id or ""


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def endpoint() -> str:
    """The hub endpoint, read from the environment now (HF_ENDPOINT), else huggingface_hub's default."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def offline() -> bool:
    """HF_HUB_OFFLINE (read now) or huggingface_hub's offline mode."""
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return flag in ("1", "true", "yes", "on") or bool(constants.HF_HUB_OFFLINE)


def free_bytes(path: Path) -> int:
    """Free space for an unprivileged writer on the file system holding ``path`` (statvfs)."""
    while not path.exists():
        path = path.parent
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


@contextlib.contextmanager
def hub_errors(what: str) -> Iterator[None]:
    """Network and hub errors as one line the user can act on."""
    import httpx2
    from huggingface_hub import errors

    try:
        yield
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError, errors.RemoteEntryNotFoundError):
        raise UserError(f"{what}: not found on the hub at {endpoint()}") from None
    except errors.GatedRepoError:
        raise UserError(f"{what}: the hub requires you to accept its terms first (log in with 'hf auth "
                        "login' after accepting them on the model page)") from None
    except errors.OfflineModeIsEnabled:
        raise UserError("HF_HUB_OFFLINE is set: downloads are off (unset it to download)") from None
    except errors.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        raise UserError(f"{what}: the hub at {endpoint()} answered HTTP {status}; try again later") from None
    except httpx2.TransportError as exc:
        kind = "timed out" if isinstance(exc, httpx2.TimeoutException) else "is unreachable"
        raise UserError(f"{what}: the hub at {endpoint()} {kind} (no network?)") from None


def list_files(repo_id: str, revision: str) -> tuple[str, dict[str, RemoteFile], str | None]:
    """(commit the revision points to now, the repository's files, the card's licence) in one request."""
    from huggingface_hub import HfApi

    with hub_errors(repo_id):
        info = HfApi(endpoint=endpoint()).model_info(repo_id, revision=revision, files_metadata=True,
                                                     timeout=20)
    files = {}
    for s in info.siblings or []:
        size = s.lfs.size if s.lfs else s.size
        sha256 = s.lfs.sha256 if s.lfs else None
        files[s.rfilename] = RemoteFile(s.rfilename, int(size or 0), sha256, s.blob_id)
    licence = getattr(getattr(info, "card_data", None), "license", None)
    if not info.sha:
        raise UserError(f"{repo_id}: the hub at {endpoint()} gave no commit for {revision!r}")
    return info.sha, files, licence


class _Meter:
    """Counts bytes for progress (at most ~10 reports a second) and checks for cancel."""

    def __init__(self, total: int, done: int, progress: ProgressFn | None, cancel: CancelFn | None):
        self.total, self.done, self.fetched = total, done, 0
        self.progress, self.cancel = progress, cancel
        self.start = time.monotonic()
        self.last = 0.0
        self.file = ""

    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled("download cancelled (the partial file is kept; the next download resumes it)")

    def add(self, n: int, force: bool = False) -> None:
        self.done += n
        self.fetched += n
        now = time.monotonic()
        if self.progress is not None and (force or now - self.last >= 0.1):
            self.last = now
            elapsed = now - self.start
            speed = self.fetched / elapsed if elapsed >= 0.5 else 0.0  # too early to tell
            self.progress(DownloadProgress(self.done, self.total, speed, self.file))

    def stage(self, stage: str, name: str) -> None:
        if self.progress is not None:
            self.progress(DownloadProgress(self.done, self.total, 0.0, name, stage))


def _file_digest(path: Path, git_size: int | None, meter: _Meter) -> str:
    """sha256 of the file, or its git blob sha1 when ``git_size`` is given."""
    h = hashlib.sha1(f"blob {git_size}\0".encode()) if git_size is not None else hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(8 * CHUNK), b""):
            meter.check()
            h.update(chunk)
    return h.hexdigest()


def _transfer(url: str, partial: Path, remote: RemoteFile, meter: _Meter) -> None:
    """Append the rest of ``remote`` to ``partial`` (Range request from its current size)."""
    from huggingface_hub import constants, get_session
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

    have = partial.stat().st_size if partial.exists() else 0
    if have > remote.size:
        partial.unlink()
        have = 0
    if have == remote.size:
        return
    headers = build_hf_headers(library_name="iggt-viewer")
    headers["Accept-Encoding"] = "identity"
    if have:
        headers["Range"] = f"bytes={have}-"
    with get_session().stream("GET", url, headers=headers, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT,
                              follow_redirects=True) as response:
        hf_raise_for_status(response)
        mode = "ab"
        if have and response.status_code != 206:  # the server ignored the Range: start again
            meter.done -= have
            mode = "wb"
        with partial.open(mode) as out:
            for chunk in response.iter_bytes(CHUNK):
                meter.check()
                out.write(chunk)
                meter.add(len(chunk))
            out.flush()
            os.fsync(out.fileno())


def _link(storage: Path, commit: str, name: str, blob: Path) -> Path:
    pointer = storage / "snapshots" / commit / name
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if pointer.is_symlink() or pointer.exists():
        pointer.unlink()
    os.symlink(os.path.relpath(blob, pointer.parent), pointer)
    return pointer


def fetch(repo_id: str, revision: str, choose: Callable[[list[str]], list[str]], cache_dir: Path,
          progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> list[Path]:
    """Download the files ``choose`` picks from the repo listing at ``revision`` (pinned to the commit the
    hub names for it once, so all files come from one commit); returns their snapshot paths."""
    from filelock import FileLock
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.file_download import repo_folder_name

    if offline():
        raise UserError("HF_HUB_OFFLINE is set: downloads are off (unset it to download)")
    commit, listing, _ = list_files(repo_id, revision)
    try:
        remotes = [listing[name] for name in choose(sorted(listing))]
    except Exception as exc:  # CheckpointError and friends: the repo does not hold what we expect
        raise UserError(f"{repo_id}@{commit[:8]}: {exc}") from None
    storage = cache_dir / repo_folder_name(repo_id=repo_id, repo_type="model")
    blobs = storage / "blobs"
    todo = [r for r in remotes if not (blobs / r.etag).is_file()]
    partial_bytes = sum(_size(blobs / f"{r.etag}.incomplete") for r in todo)
    total = sum(r.size for r in remotes)
    need = sum(r.size for r in todo) - partial_bytes
    free = free_bytes(cache_dir)
    if need + DISK_MARGIN > free:
        raise UserError(f"not enough disk space for {repo_id} in {cache_dir}: {human_bytes(need)} needed, "
                        f"{human_bytes(free)} free")
    meter = _Meter(total, total - need, progress, cancel)
    meter.fetched = 0
    blobs.mkdir(parents=True, exist_ok=True)
    locks = cache_dir / ".locks" / storage.name
    locks.mkdir(parents=True, exist_ok=True)
    for remote in todo:
        meter.file = remote.name
        blob = blobs / remote.etag
        partial = blobs / f"{remote.etag}.incomplete"
        with FileLock(str(locks / f"{remote.etag}.lock")):
            if blob.is_file():
                continue
            with hub_errors(f"{repo_id}/{remote.name}"):
                meta = get_hf_file_metadata(hf_hub_url(repo_id, remote.name, revision=commit,
                                                       endpoint=endpoint()), endpoint=endpoint())
            if meta.etag and meta.etag != remote.etag:
                raise UserError(f"{repo_id}/{remote.name}: the hub's listing and the file disagree "
                                "(it changed while downloading?); try again")
            try:
                with hub_errors(f"{repo_id}/{remote.name}"):
                    _transfer(meta.location, partial, remote, meter)
            except OSError as exc:
                if exc.errno in _DISK_FULL:
                    partial.unlink(missing_ok=True)
                    raise UserError(f"the disk holding {cache_dir} is full ({exc.strerror}); the partial "
                                    f"download of {remote.name} was deleted") from None
                raise
            meter.stage("verify", remote.name)
            _verify(partial, remote, meter)
            os.replace(partial, blob)
    paths = [_link(storage, commit, r.name, blobs / r.etag) for r in remotes]
    if revision != commit:
        refs = storage / "refs" / revision
        refs.parent.mkdir(parents=True, exist_ok=True)
        refs.write_text(commit)
    meter.add(0, force=True)
    return paths


def _verify(partial: Path, remote: RemoteFile, meter: _Meter) -> None:
    size = partial.stat().st_size
    if remote.sha256:
        expected, got = remote.sha256, _file_digest(partial, None, meter)
    elif remote.blob_id:
        expected, got = remote.blob_id, _file_digest(partial, size, meter)
    else:
        expected = got = ""
    if size != remote.size or got != expected:
        partial.unlink()
        what = f"size {size} instead of {remote.size}" if size != remote.size else "checksum mismatch"
        raise UserError(f"{remote.name}: the downloaded file is damaged ({what}); it was deleted and nothing "
                        "was installed; download again")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def remove(paths: list[Path]) -> None:
    """Take downloaded files out of the cache again (their snapshot links and blobs)."""
    for pointer in paths:
        blob = pointer.resolve() if pointer.is_symlink() else None
        pointer.unlink(missing_ok=True)
        if blob is not None:
            blob.unlink(missing_ok=True)
