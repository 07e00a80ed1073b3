"""Fault injection for every writer (scene save, autosave, each export format): the writing process is
SIGKILLed at several points, or its file system fills up (RLIMIT_FSIZE -> EFBIG, a real kernel error).
Afterwards the previous file is intact (or, when killed after the rename, the new one is complete), and
the next run leaves no ``.part`` behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT
from test_export_fixtures import make_export_scene

from app.autosave import Autosaver
from app.export import FORMATS, ExportOptions, export_scene
from app.scene_io import load_scene, save_scene

TARGETS = {"ply": "c.ply", "glb": "s.glb", "colmap": "colmap", "masks": "masks", "coco": "c.json",
           "table": "t.csv", "scene": "room.iggt", "autosave": "autosave"}  # fmt: skip
WRITERS = sorted(TARGETS)
# progress: in the middle of producing the content; fsync: content written, not yet durable;
# before_rename / after_rename: around the step that puts it in place
POINTS = ["progress", "fsync", "before_rename", "after_rename"]

CHILD = r"""
import os, signal, sys
from pathlib import Path
writer, point, target, scene_path, limit = sys.argv[1:6]
target = Path(target)
if int(limit):
    import resource
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
from model import atomic_write
from app.scene_io import load_scene
scene = load_scene(scene_path)

def die():
    os.kill(os.getpid(), signal.SIGKILL)

calls = {"n": 0}
def counting(original, at):
    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == at:
            die()
        return original(*args, **kwargs)
    return wrapper

def is_target(dst):
    dst = Path(dst)
    return dst == target or (writer == "autosave" and dst.suffix == ".iggt")

if point == "progress":
    import app.export.base as base, app.scene_io as scene_io
    base.ExportOptions.report = counting(base.ExportOptions.report, 2)
    scene_io._npy_bytes = counting(scene_io._npy_bytes, 3)
elif point == "fsync":
    atomic_write.fsync_file = counting(atomic_write.fsync_file, 1)
elif point in ("before_rename", "after_rename"):
    replace, exchange = os.replace, atomic_write._exchange
    def hooked(original):
        def wrapper(src, dst, *a, **k):
            if point == "before_rename" and is_target(dst):
                die()
            result = original(src, dst, *a, **k)
            if point == "after_rename" and is_target(dst):
                die()
            return result
        return wrapper
    os.replace = hooked(replace)
    atomic_write._exchange = hooked(exchange)

from model.errors import WriteError
try:
    if writer == "scene":
        from app.scene_io import save_scene
        save_scene(scene, target)
    elif writer == "autosave":
        from app.autosave import Autosaver
        Autosaver(target, session="s1").write(scene, None, edits=2)
    else:
        from app.export import ExportOptions, export_scene
        export_scene(scene, writer, target, ExportOptions(force=True))
except WriteError as exc:
    print(exc)
    sys.exit(1)
sys.exit(0)
"""


def snapshot(path: Path) -> dict[str, bytes]:
    """The output's files; hidden ``.part`` files (allowed leftovers of a kill) and autosave notes (they
    hold the time and pid of the writer) aside."""
    if path.is_file():
        return {path.name: _content(path)}
    files = [p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith(".")]
    return {str(p.relative_to(path)): _content(p) for p in files if not p.name.endswith(".iggt.json")}


def _content(path: Path):
    """A file's bytes; for a scene file, its members' bytes (the zip's own time stamps left out)."""
    if path.suffix != ".iggt":
        return path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write(writer: str, scene, target: Path) -> None:
    if writer == "scene":
        save_scene(scene, target)
    elif writer == "autosave":
        Autosaver(target, session="s1").write(scene, None, edits=2)
    else:
        export_scene(scene, writer, target, ExportOptions(force=True))


def _child(writer: str, point: str, target: Path, scene_path: Path, limit: int = 0):
    argv = [sys.executable, "-c", CHILD, writer, point, str(target), str(scene_path), str(limit)]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory):
    """Two different scenes: the previous output is written from ``old``; the interrupted run, ``new``."""
    folder = tmp_path_factory.mktemp("scenes")
    old = make_export_scene(folder / "photos_old", seed=0)
    new = make_export_scene(folder / "photos_new", seed=1)
    new.update_instance(next(iter(new.instances)), name="renamed in the new run")
    return old, save_scene(new, folder / "new.iggt")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("writer", WRITERS)
def test_killed_writer_leaves_old_or_new_and_the_next_run_cleans_up(
    scenes, tmp_path: Path, writer: str, point: str
) -> None:
    old, new_path = scenes
    new = load_scene(new_path)
    target = tmp_path / TARGETS[writer]
    write(writer, old, target)
    before = snapshot(target)
    proc = _child(writer, point, target, new_path)
    assert proc.returncode == -signal.SIGKILL, proc.stderr  # it really died at that point
    after = snapshot(target)
    reference = tmp_path / "reference" / TARGETS[writer]
    reference.parent.mkdir()
    write(writer, new, reference)
    complete_new = snapshot(reference)
    assert complete_new != before
    if point == "after_rename":
        assert after == complete_new, f"the new {writer} output is incomplete"
    elif point == "progress":  # some writers report progress once more after the rename
        assert after in (before, complete_new), f"the {writer} output is neither the old nor the new one"
    else:
        assert after == before, f"the previous {writer} output was damaged"
    write(writer, new, target)  # the next run
    assert _leftovers(tmp_path) == [], _leftovers(tmp_path)
    if writer == "scene":
        assert load_scene(target).n_views == new.n_views and (tmp_path / "room.iggt.bak").is_file()


@pytest.mark.parametrize("writer", WRITERS)
def test_full_file_system_fails_in_one_line_and_keeps_the_previous_output(
    scenes, tmp_path: Path, writer: str
) -> None:
    old, new_path = scenes
    target = tmp_path / TARGETS[writer]
    write(writer, old, target)
    before = snapshot(target)
    proc = _child(writer, "none", target, new_path, limit=256)  # every output here is larger
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.strip().startswith("cannot write ") and proc.stdout.strip().endswith("File too large")
    assert snapshot(target) == before
    assert _leftovers(tmp_path) == []


def test_every_export_format_is_covered() -> None:
    assert set(FORMATS) <= set(WRITERS)


def test_a_foreign_process_part_is_left_alone_while_it_runs(tmp_path: Path, scenes) -> None:
    old, _ = scenes
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        busy = tmp_path / f".c.ply.{sleeper.pid}-0badc0de.part"
        busy.write_bytes(b"being written by another process")
        write("ply", old, tmp_path / "c.ply")
        assert busy.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    write("ply", old, tmp_path / "c.ply")
    assert not busy.exists()
    assert os.listdir(tmp_path) == ["c.ply"]
