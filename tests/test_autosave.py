"""Autosave side files: written atomically away from the user's file, found after a crash, discarded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_export_fixtures import make_export_scene

from app import autosave, edits
from app.scene import Scene
from app.scene_io import save_scene


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    return make_export_scene(tmp_path / "photos")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def crash(note: Path) -> None:
    """Make an autosave look like it was left by a process that died."""
    data = json.loads(note.read_text())
    data["pid"] = dead_pid()
    note.write_text(json.dumps(data))


def test_autosave_is_recoverable_after_a_crash_only(scene: Scene, tmp_path: Path) -> None:
    folder = tmp_path / "autosave"
    source = save_scene(scene, tmp_path / "room.iggt")
    user_file = source.read_bytes()
    edits.merge(scene, [2, 3]).apply(scene)
    saver = autosave.Autosaver(folder)
    path = saver.write(scene, source, edits=1)
    assert path.parent == folder and source.read_bytes() == user_file  # the user's file is untouched
    assert autosave.find_recoverable(folder) == []  # this session is alive
    crash(Path(str(path) + ".json"))
    (rec,) = autosave.find_recoverable(folder)
    assert rec.source == source.absolute() and rec.edits == 1 and "room.iggt" in rec.describe()
    recovered = autosave.recover(rec)
    np.testing.assert_array_equal(recovered.labels, scene.labels)
    assert set(recovered.instances) == {1, 2}
    autosave.discard(rec)
    assert autosave.find_recoverable(folder) == [] and not any(folder.iterdir())


def test_untitled_scene_and_clean_exit(scene: Scene, tmp_path: Path) -> None:
    folder = tmp_path / "autosave"
    saver = autosave.Autosaver(folder)
    path = saver.write(scene, None, edits=3)
    assert path.name.startswith("untitled-")
    saver.discard()  # clean exit
    assert not path.exists() and not Path(str(path) + ".json").exists()
    path = saver.write(scene, None)
    crash(Path(str(path) + ".json"))
    (rec,) = autosave.find_recoverable(folder)
    assert rec.source is None and rec.title == "an unsaved scene"


def test_stale_autosaves_are_dropped(scene: Scene, tmp_path: Path) -> None:
    folder = tmp_path / "autosave"
    source = save_scene(scene, tmp_path / "room.iggt")
    path = autosave.Autosaver(folder).write(scene, source)
    crash(Path(str(path) + ".json"))
    later = path.stat().st_mtime + 10
    os.utime(source, (later, later))  # the user saved after the autosave
    assert autosave.find_recoverable(folder) == []
    assert not path.exists()
    (folder / "broken.iggt.json").write_text("{not json")
    assert autosave.find_recoverable(folder) == []


def test_saving_under_a_new_name_moves_the_autosave(scene: Scene, tmp_path: Path) -> None:
    folder = tmp_path / "autosave"
    saver = autosave.Autosaver(folder)
    first = saver.write(scene, None)
    second = saver.write(scene, tmp_path / "named.iggt")
    assert not first.exists() and second.exists() and "named" in second.name


def test_a_damaged_side_file_does_not_block_autosaving(tmp_path) -> None:
    from scenes import make_scene

    from app.autosave import Autosaver
    from app.scene_io import load_scene

    saver = Autosaver(tmp_path, session="s1")
    side = saver.path_for(None)
    side.write_bytes(b"PK\x03\x04 half a zip from a failing disk")
    assert load_scene(saver.write(make_scene(), None, edits=1)).n_views == 2
