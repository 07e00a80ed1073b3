"""A scene asked for while another job runs waits for it (viewer.job_runner), and the shown scene stays
editable meanwhile. Edits made after the user was asked about unsaved changes must not vanish when the
waiting scene arrives: the user is asked again (Cancel keeps the edited scene), never replaced silently."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from scene_factory import synthetic_scene

from app.progress import Progress
from app.scene_io import save_scene
from viewer.workers import Job

TIMEOUT_MS = 30_000


@pytest.fixture
def two_scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    a, b = root / "a.iggt", root / "b.iggt"
    save_scene(synthetic_scene(seed=0, views=2), a)
    save_scene(synthetic_scene(seed=1, views=2), b)
    return a, b


def _hold(window) -> threading.Event:
    """Start a job that runs until the returned event is set."""
    release = threading.Event()

    def factory(cancelled):
        yield Progress("hold", "holding", 0.0, 0.0)
        while not release.is_set() and not cancelled():
            time.sleep(0.02)

    assert window.run_job(Job("hold", factory, window), lambda _r: None, "Holding", "Hold failed")
    return release


def _answer(button: QMessageBox.StandardButton, asked: list[str], stop: list[bool]) -> None:
    """Press ``button`` in the message box once one opens (until ``stop`` holds True)."""
    box = QApplication.activeModalWidget()
    if isinstance(box, QMessageBox):
        asked.append(box.text())
        box.button(button).click()
    elif not stop:
        QTimer.singleShot(50, lambda: _answer(button, asked, stop))


@pytest.mark.parametrize("edit", [True, False])
def test_edits_made_while_a_scene_waited_are_not_lost(window, two_scenes, qtbot, edit) -> None:
    a, b = two_scenes
    assert window.open_path(a)
    qtbot.waitUntil(lambda: window.document.scene is not None and window.job is None, timeout=TIMEOUT_MS)
    shown = window.document.scene
    release = _hold(window)
    assert window.open_path(b)  # e.g. from the recent list or a drop: nothing unsaved, nobody asked
    if edit:
        iid = next(iter(shown.instances))
        window.edit_instance(iid, name="renamed while waiting")
        assert window.document.modified
    asked: list[str] = []
    stop: list[bool] = []
    QTimer.singleShot(50, lambda: _answer(QMessageBox.StandardButton.Cancel, asked, stop))
    release.set()
    qtbot.waitUntil(lambda: window.job is None and not window.jobs.waiting, timeout=TIMEOUT_MS)
    qtbot.wait(200)
    stop.append(True)
    if edit:  # asked again; Cancel keeps the edited scene
        assert len(asked) == 1 and "Save the changes" in asked[0], asked
        assert window.document.scene is shown and shown.instances[iid].name == "renamed while waiting"
        assert window.document.modified
    else:  # nothing changed since: b replaces it without a question
        assert asked == [] and window.document.path == b
    window.document.set_modified(False)
