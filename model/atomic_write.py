"""The one way files are written: a reader sees the old file or the complete new one, never half of either.

Every writer (scene files, autosaves, each export format, checkpoints) goes through ``atomic_file`` or
``atomic_folder``: the new content is written to a hidden ``.<name>.<pid>-<random>.part`` sibling,
fsynced, and renamed over the target (folders are swapped in one ``renameat2(RENAME_EXCHANGE)`` where the
kernel has it). It lives in ``model`` because that is the bottom layer: ``app`` and ``model`` both use it.

What it refuses, whoever the caller is: writing over anything that is not a regular file (device nodes,
FIFOs, sockets, folders where a file is meant, or links to any of those). Created files follow the umask;
a replaced file keeps its mode. Leftover ``.part`` files of processes that died are removed the next time
the same target is written. Disk full, read-only, quota and permission errors become ``WriteError`` with
one line naming the file.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from model.errors import WriteError

PART = ".part"
OLD = ".old"
# errors that mean "this place cannot take the file" rather than a bug
USER_ERRNOS = {
    errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
    errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY,
}  # fmt: skip
_KINDS = {
    stat.S_IFCHR: "a device", stat.S_IFBLK: "a device", stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder", stat.S_IFLNK: "a link",
}  # fmt: skip


def _describe_errno(exc: OSError) -> str:
    return exc.strerror or str(exc)


def write_error(path: Path, exc: OSError) -> WriteError:
    return WriteError(f"cannot write {path}: {_describe_errno(exc)}")


def kind_of(path: Path) -> str | None:
    """None for a missing path or a regular file (through links); else what it is, e.g. "a device"."""
    try:
        mode = os.stat(path).st_mode
    except OSError:  # missing, or a dangling link (writing replaces the link)
        return None
    if stat.S_ISREG(mode):
        return None
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def check_file_target(path: Path) -> None:
    """Refuse a target that exists and is not a regular file."""
    kind = kind_of(path)
    if kind is not None:
        raise WriteError(f"cannot write {path}: it is {kind}, not a regular file; refusing to replace it")


def check_folder_target(path: Path) -> None:
    """Refuse a folder target that exists and is not a folder."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not stat.S_ISDIR(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "a file")
        raise WriteError(f"cannot write the folder {path}: it is {kind if kind != 'a folder' else 'a file'}")


def current_umask() -> int:
    try:  # reading it this way is thread-safe
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (also one owned by another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def _part_name(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{suffix}")


_OURS = re.compile(r"(\d+)-[0-9a-f]{8}")
_LEGACY = re.compile(r"[a-z0-9_]{8}")  # tempfile's names, used by earlier versions


def _owner_pid(leftover: Path, target: Path, suffix: str) -> int | None:
    """The pid in a part's name; 0 for an earlier version's part (no pid); None: not a part of ``target``."""
    middle = leftover.name[len(target.name) + 2 : -len(suffix)]
    if match := _OURS.fullmatch(middle):
        return int(match.group(1))
    return 0 if _LEGACY.fullmatch(middle) else None


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()


def clean_stale_parts(target: Path) -> list[Path]:
    """Remove the temporary siblings of ``target`` left by writers that died (killed, power cut).

    Parts of live processes are left alone; a previous folder export found moved aside with no export in
    place (a crash between the two renames of the fallback swap) is put back first.
    """
    target = Path(target)
    folder = target.parent
    removed: list[Path] = []
    try:
        candidates = list(folder.glob(f".{_glob_escape(target.name)}.*"))
    except OSError:
        return removed
    for leftover in candidates:
        suffix = next((s for s in (PART, OLD) if leftover.name.endswith(s)), None)
        if suffix is None:
            continue
        pid = _owner_pid(leftover, target, suffix)
        if pid is None or pid == os.getpid() or pid_alive(pid):
            continue
        if suffix == OLD and not os.path.lexists(target) and (leftover / target.name).exists():
            with contextlib.suppress(OSError):
                os.replace(leftover / target.name, target)
        _remove(leftover)
        removed.append(leftover)
    return removed


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


def fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not supported everywhere (e.g. some network file systems)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fsync_file(Path(root) / name)
        fsync_dir(Path(root))


def _new_mode(path: Path, default: int) -> int:
    try:
        return os.stat(path).st_mode & 0o7777 if os.path.lexists(path) else default & ~current_umask()
    except OSError:
        return default & ~current_umask()


@contextlib.contextmanager
def _user_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except WriteError:
        raise
    except OSError as exc:
        if exc.errno in USER_ERRNOS:
            raise write_error(path, exc) from None
        raise


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike,
    backup: str | os.PathLike | None = None,
    before_commit: Callable[[], None] | None = None,
) -> Iterator[Path]:
    """Yield a new empty temporary file next to ``path``; when the block ends normally it is fsynced
    and renamed to ``path``. With ``backup``, the file replaced (if any) is kept under that name first;
    ``before_commit`` may still refuse (raise) just before the rename.
    """
    path = Path(path)
    check_file_target(path)
    with _user_errors(path):
        clean_stale_parts(path)
        tmp = _part_name(path, PART)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        with _user_errors(path):
            yield tmp
            os.chmod(tmp, _new_mode(path, 0o666))
            fsync_file(tmp)
            check_file_target(path)  # nothing odd appeared there meanwhile
            if before_commit is not None:
                before_commit()
            if backup is not None and path.is_file():
                keep_copy(path, Path(backup))
            os.replace(tmp, path)
            fsync_dir(path.parent)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def keep_copy(path: Path, backup: Path) -> None:
    """Make ``backup`` a copy of ``path`` (a hard link where possible) without a moment of it missing."""
    check_file_target(backup)
    clean_stale_parts(backup)
    tmp = _part_name(backup, PART)
    try:
        try:
            os.link(path, tmp)
        except OSError:
            shutil.copy2(path, tmp)
        os.replace(tmp, backup)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_bytes(path: str | os.PathLike, data: bytes, backup: str | os.PathLike | None = None) -> Path:
    with atomic_file(path, backup) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def atomic_folder(
    path: str | os.PathLike, before_commit: Callable[[], None] | None = None
) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``path``; when the block ends normally its files are
    fsynced and it replaces ``path`` (an existing folder is swapped out, then deleted)."""
    path = Path(path)
    check_folder_target(path)
    with _user_errors(path):
        clean_stale_parts(path)
        tmp = _part_name(path, PART)
        os.mkdir(tmp, 0o700)
    try:
        with _user_errors(path):
            yield tmp
            os.chmod(tmp, _new_mode(path, 0o777))
            _fsync_tree(tmp)
            check_folder_target(path)
            if before_commit is not None:
                before_commit()
            if not os.path.lexists(path):
                os.replace(tmp, path)
            elif not _exchange(tmp, path):
                _swap_in_two_steps(tmp, path)
            fsync_dir(path.parent)
    finally:
        _remove(tmp)  # after an exchange this holds the previous export


def _swap_in_two_steps(tmp: Path, path: Path) -> None:
    old = _part_name(path, OLD)
    os.mkdir(old, 0o700)
    os.replace(path, old / path.name)
    try:
        os.replace(tmp, path)
    except OSError:
        os.replace(old / path.name, path)  # put the previous export back
        raise
    finally:
        if os.path.lexists(path):  # else clean_stale_parts puts the previous export back next time
            _remove(old)
