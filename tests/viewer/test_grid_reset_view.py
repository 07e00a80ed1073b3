"""Reset view with the grid on keeps the whole grid in the view, so its labels (metres after Set scale)
can be read: before, the view was fitted to the cloud and zoomed in, and the labels, which sit on the
grid's box outside the cloud, fell off the view at 1280x800 and 1920x1080."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scene_factory import synthetic_scene

from app.measure import set_scale


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_reset_view_shows_the_whole_grid(make_window, qtbot, tmp_path, monkeypatch, size) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    window = make_window()
    window.resize(*size)
    scene = synthetic_scene(seed=2, views=3)
    window.document.set_scene(scene)
    qtbot.waitUntil(lambda: window.view.scene is scene, timeout=30_000)
    pts = np.asarray(scene.points)
    window.push_edit(set_scale(scene, pts.min(0), pts.max(0), 6.5))  # a room about 6.5 m across
    window.actions_["grid"].setChecked(True)
    view = window.view
    spec = view.grid.spec
    assert spec is not None and all(t.endswith("(m)") for t in spec.titles)
    window.actions_["reset_view"].trigger()
    x0, x1, y0, y1, z0, z1 = spec.bounds
    for corner in itertools.product((x0, x1), (y0, y1), (z0, z1)):
        x, y = view.world_to_widget(np.array(corner))
        assert 0 <= x <= view.width() and 0 <= y <= view.height(), (corner, x, y, view.width(), view.height())
    # without the grid, Reset view fills the view with the cloud as before
    window.actions_["grid"].setChecked(False)
    window.actions_["reset_view"].trigger()
    xy = np.array([view.world_to_widget(p) for p in pts[:: max(1, len(pts) // 500)]])
    assert np.ptp(xy[:, 0]) > 0.5 * view.width() or np.ptp(xy[:, 1]) > 0.5 * view.height()
