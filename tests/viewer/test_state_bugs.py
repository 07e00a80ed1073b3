"""State and bookkeeping found while annotating (issue 17, items 1-7), driven through the real window."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QListWidget
from scene_factory import synthetic_scene

from app import autosave
from app.progress import Progress
from app.scene_io import save_scene
from viewer import edit_dialogs
from viewer.panels.query import install_query_panel
from viewer.workers import Job

OPEN_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def scene_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenes") / "room.iggt"
    save_scene(synthetic_scene(seed=3, views=4), path)
    return path


@pytest.fixture
def opened(make_window, scene_path, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # a private autosave folder
    window = make_window()
    assert window.open_path(scene_path)
    qtbot.waitUntil(lambda: window.document.scene is not None and window.job is None, timeout=OPEN_TIMEOUT_MS)
    yield window
    window.document.set_modified(False)


def two_largest(scene) -> tuple[int, int]:
    ids = sorted(scene.instances, key=lambda i: -scene.instances[i].stats.point_count)
    return ids[0], ids[1]


def slow_job(window, seconds: float) -> Job:
    def steps(cancelled):
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds and not cancelled():
            time.sleep(0.02)
            yield Progress("inference", "working", 0.5, (time.monotonic() - t0) / seconds)
        return "slow"

    return Job("reconstruct", steps, window)


def test_a_job_asked_for_while_another_runs_waits_and_the_find_panel_gets_its_features(opened, qtbot):
    """Item 1 (a refused job was lost: Find stuck on "Computing CLIP features" until a restart) and item 6
    ("Save changes?" after only a search; and after undoing back to the saved state)."""
    window = opened
    panel = install_query_panel(window)
    results = []
    assert window.run_job(slow_job(window, 1.5), results.append, "Reconstructing", "failed")
    qtbot.keyClicks(panel.edit, "chair")  # the Find panel asks for its features job meanwhile
    qtbot.waitUntil(lambda: panel.job is not None, timeout=5000)
    assert not window.error_dialogs  # no "Busy" popup: the job waits
    qtbot.waitUntil(lambda: results == ["slow"], timeout=20_000)
    qtbot.waitUntil(lambda: panel.ready() and panel.job is None, timeout=120_000)
    qtbot.waitUntil(lambda: panel.table.rowCount() > 0, timeout=10_000)
    assert not window.document.modified  # cached CLIP features are not an unsaved change
    scene = window.document.scene
    iid = two_largest(scene)[0]
    window.selection.select(iid)
    window.editing.rename_selected("renamed")
    assert window.document.modified
    window.actions_["undo"].trigger()
    assert scene.instances[iid].name != "renamed" and not window.document.modified


def test_the_status_bar_counts_instances_after_merge_split_and_undo(opened, monkeypatch):
    """Item 3."""
    window = opened
    scene = window.document.scene
    n = len(scene.instances)
    a, b = two_largest(scene)
    window.selection.select(a)
    window.editing.merge_selected([b])
    assert f"{n - 1} instances" in window.info_label.text()
    window.editing.split_selected(3)
    assert len(scene.instances) == n + 1 and f"{n + 1} instances" in window.info_label.text()
    window.actions_["undo"].trigger()
    window.actions_["undo"].trigger()
    assert f"{n} instances" in window.info_label.text()


def test_reclustering_asks_before_it_replaces_edited_instances(opened, qtbot, monkeypatch):
    """Item 4: a split (and a rename) were silently replaced by a re-clustering. Renamed instances are now
    kept by it (app.review.is_kept); an edit it would replace is asked about first."""
    window = opened
    scene = window.document.scene
    a, b = two_largest(scene)
    window.selection.select(a)
    window.editing.rename_selected("my table")
    asked = []
    monkeypatch.setattr(edit_dialogs, "ask_replace_edits", lambda _w, texts: asked.append(texts) or False)
    window.selection.select(b)
    window.editing.split_selected(2)
    n = len(scene.instances)
    window.clustering_panel.setEnabled(True)
    window.clustering_panel.apply_preset("small")
    assert asked == [[window.undo_stack.text(window.undo_stack.index() - 1)]]  # the split, not the rename
    assert window.job is None and len(scene.instances) == n and scene.instances[a].name == "my table"
    assert "edits are kept" in window.clustering_panel.status.text()


def test_ctrl_z_works_right_after_the_merge_dialog(opened, qtbot):
    """Item 5: after the (real) merge dialog, Ctrl+Z did nothing until the list was clicked."""
    window = opened
    scene = window.document.scene
    n = len(scene.instances)
    window.selection.select(two_largest(scene)[0])

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, QDialog)
        listing = dialog.findChild(QListWidget)
        listing.item(0).setCheckState(Qt.CheckState.Checked)
        dialog.accept()

    QTimer.singleShot(300, answer)
    QTest.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert len(scene.instances) == n - 1
    qtbot.wait(300)  # the user presses Ctrl+Z right away (no waiting here for the window to be active)
    QTest.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(scene.instances) == n, "Ctrl+Z did nothing"
    assert QApplication.activeWindow() is window


def test_a_clean_quit_leaves_nothing_to_recover(opened, monkeypatch):
    """Item 6: "did not close properly last time - Recover?" after Ctrl+Q -> Discard."""
    window = opened
    window.selection.select(two_largest(window.document.scene)[0])
    window.editing.rename_selected("unsaved name")
    assert window.editing.autosave_now() is not None
    monkeypatch.setattr(window.scenes, "maybe_save", lambda _why="": True)  # the user chose Discard
    window.close()
    assert not window.isVisible()
    assert autosave.find_recoverable(window.editing.autosaver.folder) == []  # at once, before the app quits
    assert not any(window.editing.autosaver.folder.glob("*.iggt"))


def test_saved_edits_are_listed_after_reopening(opened, tmp_path, qtbot):
    """Item 7: the history panel said edits are saved with the scene, and showed none after reopening."""
    window = opened
    scene = window.document.scene
    window.selection.select(two_largest(scene)[0])
    window.editing.rename_selected("kept name")
    path = tmp_path / "edited.iggt"
    assert window.scenes.save_to(path)
    assert window.open_path(path)
    qtbot.waitUntil(lambda: window.document.scene is not scene and window.job is None,
                    timeout=OPEN_TIMEOUT_MS)
    assert window.history.saved_entries()[-1].endswith("kept name")
    assert not window.history.saved.isHidden() and "kept name" in window.history.saved.text()
