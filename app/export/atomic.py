"""Atomic writes for exports: a reader sees either the old output or the complete new one, never half.

Files are written to a temporary sibling, flushed and fsynced, then renamed over the target. Folder
exports are built in a temporary sibling folder and renamed into place (an existing folder is first
moved aside and deleted only after the new one is in place). Existing outputs are never replaced unless
``force`` is given: the CLI maps that to ``--force``, the GUI asks first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from app.errors import UserError


class OutputExistsError(UserError):
    """The export target exists and overwriting was not allowed."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists (use --force to overwrite it)")
        self.path = path


def check_target(path: Path, force: bool) -> Path:
    """Resolve ``path`` and check that it may be written: its parent exists and it is free (or ``force``)."""
    path = Path(path).expanduser()
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"cannot write {path}: the folder {parent} does not exist")
    if path.exists() and not force:
        raise OutputExistsError(path)
    return path


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not supported everywhere (e.g. some network file systems)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with open(Path(root) / name, "rb+") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(Path(root))


@contextlib.contextmanager
def atomic_file(path: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is fsynced and renamed to ``path``."""
    path = check_target(path, force)
    if path.is_dir():
        raise UserError(f"cannot write the file {path}: a folder of that name exists")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if path.exists() and not force:  # appeared while we were writing
            raise OutputExistsError(path)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes, force: bool = False) -> Path:
    with atomic_file(path, force) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: Path, text: str, force: bool = False) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), force)


@contextlib.contextmanager
def atomic_folder(path: Path, force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``path``; on success it replaces ``path`` in one rename."""
    path = check_target(path, force)
    if path.exists() and not path.is_dir():
        raise UserError(f"cannot write the folder {path}: a file of that name exists")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        yield tmp
        _fsync_tree(tmp)
        old: Path | None = None
        if path.exists():
            if not force:
                raise OutputExistsError(path)
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
        try:
            os.replace(tmp, path)
        except OSError:
            if old is not None:  # put the previous export back
                os.replace(old / path.name, path)
            raise
        _fsync_dir(path.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
