"""Export targets: never replace an existing output unless ``force`` (the CLI's ``--force``; the GUI asks
first), and write it atomically through ``model.atomic_write`` (a reader sees the old output or the
complete new one; a killed export leaves only ``.part`` files that the next export removes).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from app.errors import UserError
from model import atomic_write


class OutputExistsError(UserError):
    """The export target exists and overwriting was not allowed."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists (use --force to overwrite it)")
        self.path = path


def check_target(path: Path, force: bool, folder: bool = False) -> Path:
    """Check that ``path`` may be written: its parent exists, it is free (or ``force``) and it is a regular
    file (a folder for folder exports), not a device, FIFO or socket."""
    path = Path(path).expanduser()
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"cannot write {path}: the folder {parent} does not exist")
    if folder:
        atomic_write.check_folder_target(path)
    else:
        atomic_write.check_file_target(path)
        if path.is_dir():
            raise UserError(f"cannot write the file {path}: a folder of that name exists")
    if path.exists() and not force:
        raise OutputExistsError(path)
    return path


def _refuse_if_taken(path: Path, force: bool):
    def check() -> None:
        if not force and path.exists():  # appeared while we were writing
            raise OutputExistsError(path)

    return check


@contextlib.contextmanager
def atomic_file(path: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is fsynced and renamed to ``path``."""
    path = check_target(path, force)
    with atomic_write.atomic_file(path, before_commit=_refuse_if_taken(path, force)) as tmp:
        yield tmp


def write_bytes_atomic(path: Path, data: bytes, force: bool = False) -> Path:
    with atomic_file(path, force) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_text_atomic(path: Path, text: str, force: bool = False) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), force)


@contextlib.contextmanager
def atomic_folder(path: Path, force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``path``; on success it replaces ``path`` in one swap."""
    path = check_target(path, force, folder=True)
    with atomic_write.atomic_folder(path, before_commit=_refuse_if_taken(path, force)) as tmp:
        yield tmp
