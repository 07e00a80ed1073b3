"""The Find highlight in the real 3D view goes away when the query no longer lights anything up: the text
cleared, or no object above the threshold. (It stayed: the previous phrase's objects remained lit while
the panel said "no confident match", because re-selecting the same colour mode redrew nothing.)"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.semantics.ground_truth import scene_from_synthetic
from viewer.panels.query import install_query_panel


@pytest.fixture(scope="module")
def room():
    import torch

    from training.synthetic import render_room

    torch.set_num_threads(1)
    return scene_from_synthetic(render_room(950_003, 3, 112, 140)).scene


@pytest.fixture
def finding(make_window, room, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    window = make_window()
    panel = install_query_panel(window)
    window.document.set_scene(room)
    qtbot.waitUntil(lambda: window.view.scene is room, timeout=30_000)
    panel.show()
    yield window, panel
    window.document.set_modified(False)


def _lit(window) -> int:
    """How many points are not drawn in the view's own colours."""
    return int(np.any(window.view.displayed_colours() != window.view.base_colours(), axis=1).sum())


def _find(panel, qtbot, phrase: str) -> None:
    panel.edit.selectAll()
    qtbot.keyClicks(panel.edit, phrase)
    qtbot.keyClick(panel.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.ready() and panel.job is None and panel.result is not None, timeout=120_000)


def test_clearing_the_phrase_gives_the_points_their_colours_back(finding, qtbot) -> None:
    window, panel = finding
    _find(panel, qtbot, "plant")
    assert panel.result.matched() and _lit(window) > 0
    panel.edit.selectAll()
    qtbot.keyClick(panel.edit, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: panel.result is None, timeout=5_000)
    assert _lit(window) == 0


def test_a_phrase_with_no_match_leaves_nothing_lit(finding, qtbot) -> None:
    window, panel = finding
    _find(panel, qtbot, "plant")
    assert panel.result.matched() and _lit(window) > 0
    _find(panel, qtbot, "banana")  # nothing in this room: the panel says so and lights nothing up
    assert not panel.result.matched() and "No confident match" in panel.status.text()
    assert _lit(window) == 0
