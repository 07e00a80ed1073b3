"""The measuring tool and Set scale through the real 3D view: clicks on points of a synthetic room whose
geometry is known in metres, seen in other units; after Set scale with one known length, measured
distances agree with the truth within 2 %, the scale is one undo step and survives save/reopen."""

from __future__ import annotations

import numpy as np
import pytest
from scene_factory import synthetic_scene

from app.measure import metric_scene, scale_of
from app.scene_io import load_scene, save_scene
from app.scene_settings import MISSING
from viewer import measure_tool
from viewer.measure_tool import install_measure

UNITS_PER_METRE = 0.37


@pytest.fixture
def measuring(make_window, tmp_path, monkeypatch, qtbot):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    metric = synthetic_scene(seed=2, views=3)
    scene = metric_scene(metric, UNITS_PER_METRE)  # as an uncalibrated reconstruction: unknown units
    scene.update_settings(scale=MISSING)
    path = tmp_path / "room.iggt"
    save_scene(scene, path)
    window = make_window()
    tool = install_measure(window)
    assert window.open_path(path)
    qtbot.waitUntil(lambda: window.document.scene is not None and window.job is None, timeout=30_000)
    window.view.reset_view()
    yield window, tool, path
    window.document.set_modified(False)


def _click_points(window, qtbot, tool, indices) -> None:
    """Click where points ``indices`` of the cloud are drawn, in pairs: each pair is measured."""
    pts = np.asarray(window.document.scene.points)
    for n, i in enumerate(indices, 1):
        x, y = window.view.world_to_widget(pts[i])
        window.view.click(x, y)
        qtbot.waitUntil(lambda n=n: len(tool.points) == n % 2)  # the tool took the point


def test_set_scale_then_measure_in_metres(measuring, qtbot, monkeypatch) -> None:
    window, tool, path = measuring
    scene = window.document.scene
    n = scene.n_points
    window.view.set_frustums_visible(False)  # clicks land on points, not on cameras
    rng = np.random.default_rng(0)
    pts = np.asarray(scene.points)
    w, h = window.view.width(), window.view.height()

    def on_screen(i: int) -> bool:
        x, y = window.view.world_to_widget(pts[i])
        return 20 < x < w - 20 and 20 < y < h - 20

    candidates = [int(i) for i in rng.choice(np.flatnonzero(window.view.visible_mask), 200, replace=False)]
    a, b, c, d = [i for i in candidates if on_screen(i)][:4]
    asked = []

    def answer(_parent, span_text, _error=None):  # the user types the real length of the two points
        asked.append(span_text)
        return f"{tool.last.units / UNITS_PER_METRE * 100:.4f} cm"

    monkeypatch.setattr(measure_tool, "ask_length", answer)
    window.actions_["set_scale"].trigger()
    _click_points(window, qtbot, tool, [a, b])
    assert len(asked) == 1 and asked[0].endswith("units")
    assert scale_of(scene) == pytest.approx(1 / UNITS_PER_METRE, rel=1e-4)
    assert scene.n_points == n
    # measure another pair: metres agree with the truth within 2 %
    window.actions_["measure"].trigger()
    assert window.actions_["measure"].isChecked()
    _click_points(window, qtbot, tool, [c, d])
    picked = [np.asarray(p) for p in tool.measured]
    truth = float(np.linalg.norm(picked[0] - picked[1])) / UNITS_PER_METRE
    assert tool.last.metres == pytest.approx(truth, rel=0.02)
    assert "Distance:" in window.statusBar().currentMessage()
    # saved with the scene; one undo removes it
    window.document.save(path)
    assert scale_of(load_scene(path)) == pytest.approx(scale_of(scene))
    window.actions_["undo"].trigger()
    assert scale_of(scene) is None
