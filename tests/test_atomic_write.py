"""The one atomic-write helper: what it refuses, the modes it creates, backups, and stale parts."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from model import atomic_write
from model.errors import WriteError


def test_file_is_replaced_whole_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    atomic_write.write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_files_and_folders_follow_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        atomic_write.write_bytes(tmp_path / "f", b"x")
        with atomic_write.atomic_folder(tmp_path / "d") as tmp:
            (tmp / "inner.txt").write_text("y")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((tmp_path / "d" / "inner.txt").stat().st_mode) == 0o666 & ~umask


def _special(kind: str, path: Path) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "link_to_dev_null":
        path.symlink_to("/dev/null")
    elif kind == "folder":
        path.mkdir()
    elif kind == "socket":
        import socket

        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()


@pytest.mark.parametrize("kind", ["fifo", "link_to_dev_null", "folder", "socket"])
def test_refuses_to_write_over_anything_but_a_regular_file(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "t"
    _special(kind, target)
    before = os.lstat(target)
    with pytest.raises(WriteError, match="not a regular file"), atomic_write.atomic_file(target) as tmp:
        tmp.write_bytes(b"data")
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def test_backup_keeps_the_replaced_file(tmp_path: Path) -> None:
    target = tmp_path / "s.iggt"
    target.write_bytes(b"v1")
    atomic_write.write_bytes(target, b"v2", backup=tmp_path / "s.iggt.bak")
    assert (tmp_path / "s.iggt.bak").read_bytes() == b"v1" and target.read_bytes() == b"v2"


def test_a_failing_writer_leaves_the_old_file_and_no_part(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write.atomic_file(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer crashed")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_folder_swap_replaces_the_previous_export(tmp_path: Path) -> None:
    target = tmp_path / "masks"
    target.mkdir()
    (target / "old.png").write_text("old")
    with atomic_write.atomic_folder(target) as tmp:
        (tmp / "new.png").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["masks"]


def _dead_pid() -> int:
    code = "import os; print(os.getpid())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return int(proc.stdout)


def test_parts_of_dead_writers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    target = tmp_path / "cloud.ply"
    dead, live = _dead_pid(), os.getppid()
    (tmp_path / f".cloud.ply.{dead}-abcd1234.part").write_bytes(b"half")
    (tmp_path / f".cloud.ply.{live}-abcd1234.part").write_bytes(b"busy")
    (tmp_path / ".cloud.ply.x8k2j0ab.part").mkdir()  # an older version's leftover (no pid in the name)
    (tmp_path / ".other.ply.123-abcd.part").write_bytes(b"not ours")
    atomic_write.write_bytes(target, b"ply")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f".cloud.ply.{live}-abcd1234.part", ".other.ply.123-abcd.part", "cloud.ply"]


def test_a_folder_left_aside_by_a_crash_is_put_back(tmp_path: Path) -> None:
    target = tmp_path / "colmap"
    aside = tmp_path / f".colmap.{_dead_pid()}-00ff00ff.old"
    (aside / "colmap").mkdir(parents=True)
    (aside / "colmap" / "cameras.txt").write_text("previous export")
    assert atomic_write.clean_stale_parts(target) == [aside]
    assert (target / "cameras.txt").read_text() == "previous export" and not aside.exists()


def test_disk_errors_name_the_file_on_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "small"
    folder.mkdir()
    code = (
        "import resource, signal, sys\n"
        "from model import atomic_write\n"
        "from model.errors import WriteError\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        "    atomic_write.write_bytes(sys.argv[1], b'x' * 100000)\n"
        "except WriteError as exc:\n"
        "    print(exc)\n"
    )
    root = Path(__file__).resolve().parent.parent
    argv = [sys.executable, "-c", code, str(folder / "big.bin")]
    out = subprocess.run(argv, capture_output=True, text=True, cwd=root)
    assert out.stdout.strip() == f"cannot write {folder / 'big.bin'}: File too large", out.stderr
    assert list(folder.iterdir()) == []
