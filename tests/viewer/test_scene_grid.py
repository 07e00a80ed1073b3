"""The 3D view's grid after Set scale: a synthetic room whose geometry is known in metres, seen in other
units; with one known length set as the scale the grid's ticks are round metres that cover the room's true
extent (the same ticks as a grid drawn on the true metric room), labelled "m"; undo returns to units."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scene_factory import synthetic_scene

from app.measure import metric_scene, set_scale
from app.scale_grid import grid_spec
from app.scene_settings import MISSING

UNITS_PER_METRE = 0.37


@pytest.fixture
def room(make_window, tmp_path, monkeypatch, qtbot):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    metric = synthetic_scene(seed=2, views=3)
    scene = metric_scene(metric, UNITS_PER_METRE)  # an uncalibrated reconstruction: unknown units
    scene.update_settings(scale=MISSING)
    window = make_window()
    window.document.set_scene(scene)
    qtbot.waitUntil(lambda: window.view.scene is scene, timeout=30_000)
    window.view.reset_view()
    yield window, metric, scene
    window.document.set_modified(False)


def test_grid_in_metres_after_set_scale(room, qtbot, tmp_path) -> None:
    window, metric, scene = room
    view = window.view
    window.actions_["grid"].trigger()
    assert window.state.grid_visible
    units = view.grid.labels()
    assert len(units) == 3 and all(not lab.endswith("m") for axis in units for lab in axis)
    assert units == [list(a.labels) for a in view.grid.spec.axes] and not view.grid.spec.in_metres
    lo_u, hi_u = np.asarray(scene.points).min(0), np.asarray(scene.points).max(0)
    assert all(a.ticks[0] <= lo_u[k] + 1e-6 and a.ticks[-1] >= hi_u[k] - 1e-6
               for k, a in enumerate(view.grid.spec.axes))  # fmt: skip

    # one known length: two points of the room whose true distance is known, as the user clicks a door
    pts, true_pts = np.asarray(scene.points), np.asarray(metric.points)
    a, b = 0, int(np.argmax(np.linalg.norm(true_pts - true_pts[0], axis=1)))
    known_m = float(np.linalg.norm(true_pts[a] - true_pts[b]))
    window.push_edit(set_scale(scene, pts[a], pts[b], known_m))
    spec = view.grid.spec
    assert spec.in_metres
    drawn = view.grid.labels()
    assert drawn == [list(axis.labels) for axis in spec.axes]
    lo, hi = true_pts.min(0), true_pts.max(0)
    for k, axis in enumerate(spec.axes):
        assert all(lab.endswith(" m") for lab in drawn[k] if lab)
        mantissa = axis.step / 10 ** math.floor(math.log10(axis.step) + 1e-9)
        assert min(abs(mantissa - m) for m in (1, 2, 5)) < 1e-9  # a round number of metres
        ticks = axis.ticks
        assert [float(lab.removesuffix(" m")) for lab in drawn[k] if lab] == pytest.approx(
            [t for lab, t in zip(drawn[k], ticks, strict=True) if lab])
        assert np.diff(ticks) == pytest.approx(axis.step)
        # the grid covers the room's true extent in metres, at most one step wider on each side
        assert ticks[0] <= lo[k] + 1e-6 and ticks[-1] >= hi[k] - 1e-6
        assert ticks[0] > lo[k] - axis.step and ticks[-1] < hi[k] + axis.step
    # the same ticks as a grid drawn around the true metric room in its own units
    truth = grid_spec(metric_bounds(true_pts), None)
    plain = [[lab.removesuffix(" m") for lab in axis] for axis in drawn]
    assert plain == [list(a.labels) for a in truth.axes]
    assert window.view.plotter.renderer.cube_axes_actor.GetXTitle() == "X (m)"

    window.actions_["undo"].trigger()  # clearing the scale returns the grid to scene units
    assert not view.grid.spec.in_metres
    assert view.grid.labels() == units
    window.actions_["grid"].trigger()
    assert view.grid.labels() == []


def metric_bounds(points: np.ndarray) -> tuple[float, ...]:
    lo, hi = points.min(0), points.max(0)
    return tuple(float(v) for pair in zip(lo, hi, strict=True) for v in pair)
