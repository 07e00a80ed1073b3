"""What a batch runs: the scans under an input folder (or named by a list file) and their fingerprints.

A scan is a folder that directly holds image files (the same files `iggt reconstruct FOLDER` reads); its
name is its path relative to the input root (a list file: relative to the folders' common parent) and
names its output, ``OUT_DIR/<name>.iggt``. The fingerprint hashes the image files' names and contents,
so a rerun notices a changed, added or removed photo however the folder was copied.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import UserError
from app.images import IMAGE_SUFFIXES, collect_image_paths, file_sha256

OUTPUT_SUFFIX = ".iggt"


@dataclass(frozen=True)
class Scan:
    name: str  # posix path relative to the input root, without suffix; names the output
    folder: Path  # absolute

    def output(self, out_dir: Path) -> Path:
        return out_dir / f"{self.name}{OUTPUT_SUFFIX}"


def _has_images(folder: Path) -> bool:
    try:
        return any(
            e.is_file() and not e.name.startswith(".") and Path(e.name).suffix.lower() in IMAGE_SUFFIXES
            for e in os.scandir(folder)
        )
    except OSError:
        return False


def find_scans(source: Path, out_dir: Path | None = None) -> list[Scan]:
    """Every scan under ``source`` (a folder, searched recursively) or named by ``source`` (a list file:
    one folder a line, relative to the list file's folder; blank lines and ``#`` comments ignored)."""
    source = source.expanduser().absolute()
    if source.is_file():
        return _scans_from_list(source)
    if not source.is_dir():
        raise UserError(f"no such folder or list file: {source}")
    skip = out_dir.expanduser().absolute() if out_dir is not None else None
    folders = []
    for root, dirs, _files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and Path(root, d) != skip)
        if _has_images(Path(root)):
            folders.append(Path(root))
    if not folders:
        raise UserError(f"no folder with images under {source}")
    return [Scan(_name(f, source), f) for f in folders]


def _name(folder: Path, root: Path) -> str:
    rel = folder.relative_to(root).as_posix()
    return folder.name if rel == "." else rel


def _scans_from_list(list_file: Path) -> list[Scan]:
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the list file {list_file}: {exc}") from None
    folders: list[Path] = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        folder = (list_file.parent / Path(text).expanduser()).resolve()
        if not folder.is_dir():
            raise UserError(f"{list_file}:{number}: {text} is not a folder")
        if folder not in folders:
            folders.append(folder)
    if not folders:
        raise UserError(f"the list file {list_file} names no folder")
    root = Path(os.path.commonpath([f.parent for f in folders]))
    scans = [Scan(_name(f, root), f) for f in folders]
    names = [s.name for s in scans]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(f"the list file names two scans that would both be written as {dupes[0]}.iggt")
    return scans


def input_fingerprint(scan: Scan) -> str:
    """SHA-256 over the scan's image files (names and contents), in the order reconstruct reads them."""
    paths, _skipped = collect_image_paths([scan.folder])
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode("utf-8") + b"\0")
        try:
            digest.update(file_sha256(path).encode("ascii"))
        except OSError as exc:  # reported by the run itself; the fingerprint just says "unreadable"
            digest.update(f"unreadable:{exc.errno}".encode())
    return digest.hexdigest()[:32]


def settings_fingerprint(config_json: dict[str, Any], weights_files: Iterable[Path] = ()) -> str:
    """A short hash of the run settings and of the weights' files (size and modification time), so
    changing an option or the weights reruns every scan."""
    stats = []
    for path in weights_files:
        try:
            st = path.stat()
            stats.append([str(path), st.st_size, st.st_mtime_ns])
        except OSError:
            stats.append([str(path), None, None])
    text = json.dumps({"config": config_json, "weights": stats}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
