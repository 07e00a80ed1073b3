"""Measure and Set scale as a user drives them with the keyboard and bad input, in the real window: Esc
ends measuring (line and status text go; the next click measures nothing), the distance shown follows
the scale when it is set or undone, and a length Set scale cannot read is asked for again with why."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from scene_factory import synthetic_scene

from app.measure import scale_of
from viewer import measure_tool
from viewer.measure_tool import LINE_NAME, install_measure


@pytest.fixture
def measuring(make_window, monkeypatch, tmp_path, qtbot):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    window = make_window()
    tool = install_measure(window)
    window.document.set_scene(synthetic_scene(seed=2, views=3))
    qtbot.waitUntil(lambda: window.view.scene is window.document.scene, timeout=30_000)
    window.view.set_frustums_visible(False)  # clicks land on points, not on cameras
    window.view.reset_view()
    yield window, tool
    window.document.set_modified(False)


def _points_on_screen(window, n: int) -> list[tuple[float, float]]:
    view = window.view
    pts = np.asarray(window.document.scene.points)
    rng = np.random.default_rng(0)
    out = []
    for i in rng.choice(np.flatnonzero(view.visible_mask), 300, replace=False):
        x, y = view.world_to_widget(pts[i])
        if 20 < x < view.width() - 20 and 20 < y < view.height() - 20:
            out.append((x, y))
    return out[:n]


def _click(window, qtbot, xy) -> None:
    window.view.click(*xy)
    qtbot.wait(20)


def test_esc_ends_measuring(measuring, qtbot) -> None:
    window, tool = measuring
    a, b, c = _points_on_screen(window, 3)
    bar = window.statusBar()
    window.actions_["measure"].trigger()
    _click(window, qtbot, a)
    _click(window, qtbot, b)
    assert bar.currentMessage().startswith("Distance:") and LINE_NAME in window.view.plotter.actors
    _click(window, qtbot, c)  # half-way through the next measurement
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert tool.mode is None and not window.actions_["measure"].isChecked() and not tool.points
    assert LINE_NAME not in window.view.plotter.actors and "Distance" not in bar.currentMessage()
    last = tool.last
    _click(window, qtbot, a)
    _click(window, qtbot, b)
    assert tool.last is last  # clicks select again, they measure nothing

    # leaving through the menu takes the reading off the status bar too
    window.actions_["measure"].trigger()
    _click(window, qtbot, a)
    _click(window, qtbot, b)
    window.actions_["measure"].trigger()
    assert "Distance" not in bar.currentMessage()


def test_the_distance_shown_follows_the_scale(measuring, qtbot, monkeypatch) -> None:
    window, _tool = measuring
    a, b, c, d = _points_on_screen(window, 4)
    monkeypatch.setattr(measure_tool, "ask_length", lambda _parent, _span, _error=None: "2 m")
    window.actions_["set_scale"].trigger()
    _click(window, qtbot, a)
    _click(window, qtbot, b)
    assert scale_of(window.document.scene) is not None
    window.actions_["measure"].trigger()
    _click(window, qtbot, c)
    _click(window, qtbot, d)
    in_metres = window.statusBar().currentMessage()
    assert in_metres.startswith("Distance:") and "units" not in in_metres
    window.actions_["undo"].trigger()  # the scale goes: the same two points, read in scene units
    assert scale_of(window.document.scene) is None
    assert window.statusBar().currentMessage().startswith("Distance:")
    assert "units" in window.statusBar().currentMessage()
    window.actions_["redo"].trigger()
    assert window.statusBar().currentMessage() == in_metres


def test_a_length_it_cannot_read_is_asked_again(measuring, qtbot, monkeypatch) -> None:
    window, tool = measuring
    a, b = _points_on_screen(window, 2)
    answers, errors = iter(["0", "abc", "-2 m", "90 cm"]), []

    def answer(_parent, _span, error=None):
        errors.append(error)
        return next(answers)

    monkeypatch.setattr(measure_tool, "ask_length", answer)
    window.actions_["set_scale"].trigger()
    _click(window, qtbot, a)
    _click(window, qtbot, b)
    # the same two points, asked until the length is usable; each time it says what was wrong
    assert errors[0] is None and all(errors[1:]) and len(errors) == 4
    assert "positive" in errors[1] and "abc" in errors[2]
    assert scale_of(window.document.scene) == pytest.approx(0.9 / tool.last.units, rel=1e-6)
    # Cancel at the question: no scale, the line goes, one undo step for the one scale set
    monkeypatch.setattr(measure_tool, "ask_length", lambda *_a, **_k: None)
    window.actions_["set_scale"].trigger()
    _click(window, qtbot, a)
    _click(window, qtbot, b)
    assert tool.mode is None and LINE_NAME not in window.view.plotter.actors
    window.actions_["undo"].trigger()
    assert scale_of(window.document.scene) is None
