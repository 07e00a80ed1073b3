"""Measure says only what it can do and does only what it says: without a scene Measure and Set scale are
disabled with a tooltip saying why (Measure said "click the first point" with nothing to click); in Measure
mode a click where a camera frustum is drawn over the cloud measures the point there (it jumped to that
camera's photo), measuring selects nothing, and the line measured is not drawn in the cameras' colour."""

from __future__ import annotations

import numpy as np
import pyvista as pv
from PySide6.QtCore import Qt
from scene_factory import synthetic_scene

from viewer.measure_tool import LINE_NAME, install_measure


def test_measure_needs_an_open_scene(make_window, qtbot) -> None:
    window = make_window()
    tool = install_measure(window)
    measure, scale = window.actions_["measure"], window.actions_["set_scale"]
    for action in (measure, scale):
        assert not action.isEnabled()
        assert action.toolTip().startswith("Open a scene first")
        assert action.statusTip().startswith("Open a scene first")
    assert window.menus["view"].toolTipsVisible()  # the menu shows why they are greyed
    qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ShiftModifier)  # its shortcut does nothing
    measure.trigger()
    assert tool.mode is None and not measure.isChecked()
    assert "Measure" not in window.statusBar().currentMessage()

    window.document.set_scene(synthetic_scene(seed=2, views=3))
    qtbot.waitUntil(lambda: measure.isEnabled() and scale.isEnabled())
    assert "Open a scene" not in measure.toolTip() and "Shift+M" in measure.toolTip()
    qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ShiftModifier)
    assert tool.mode == "measure" and measure.isChecked()
    assert window.statusBar().currentMessage() == "Measure: click the first point"

    window.document.set_scene(None)  # the scene closed: measuring ends, and both are disabled again
    qtbot.waitUntil(lambda: not measure.isEnabled() and not scale.isEnabled())
    assert tool.mode is None and not measure.isChecked()
    assert "Measure" not in window.statusBar().currentMessage()


def _cameras_over_cloud(view) -> list[tuple[float, float, int]]:
    """(x, y, camera) of spots where a camera frustum's line is drawn over a point of the cloud."""
    width, height = view.width(), view.height()
    spots = []
    for v, pts in enumerate(view._frustum_points):
        for a, b in [(0, i) for i in range(1, 5)] + [(i, 1 + i % 4) for i in range(1, 5)]:
            for t in np.linspace(0.05, 0.95, 19):
                x, y = view.world_to_widget(pts[a] + t * (pts[b] - pts[a]))
                if 20 < x < width - 20 and 20 < y < height - 20 and view.pick(x, y).view == v:
                    spots.append((x, y, v))
    view.hold_frusta("test", True)  # what is drawn there without the cameras: a point of the cloud?
    spots = [(x, y, v) for x, y, v in spots if view.pick(x, y).point >= 0]
    view.hold_frusta("test", False)
    return spots


def test_in_measure_mode_a_click_on_a_camera_measures_the_point_there(make_window, qtbot) -> None:
    window = make_window()
    tool = install_measure(window)
    window.document.set_scene(synthetic_scene(seed=2, views=3))
    view = window.view
    qtbot.waitUntil(lambda: view.scene is window.document.scene and view.frustums_drawn)
    view.reset_view()
    spots = _cameras_over_cloud(view)
    assert len(spots) >= 2
    (x1, y1, cam), (x2, y2, _) = spots[0], max(spots, key=lambda s: np.hypot(s[0] - spots[0][0],
                                                                            s[1] - spots[0][1]))
    assert view.pick(x1, y1).view == cam  # outside Measure this click goes to the camera
    panel_view = window.images_panel.current_view
    window.actions_["measure"].trigger()
    view.click(x1, y1)
    qtbot.waitUntil(lambda: len(tool.points) == 1)  # the first point
    fx, fy = view.world_to_widget(tool.points[0])
    view.click(x2, y2)
    qtbot.waitUntil(lambda: tool.last is not None)  # the second point: a distance
    assert view.current_view is None and window.images_panel.current_view == panel_view  # no jump
    assert window.selection.instance is None  # measuring selects nothing
    assert window.statusBar().currentMessage().startswith("Distance:") and LINE_NAME in view.plotter.actors
    assert np.hypot(fx - x1, fy - y1) <= 8  # the point drawn where the user clicked, not one far off
    assert tool.last.units > 0
    line = np.asarray(view.plotter.actors[LINE_NAME].GetProperty().GetColor()) * 255
    cameras = pv.wrap(view._frustum_actor.GetMapper().GetInput()).cell_data["colours"]
    assert np.abs(cameras - line).max(axis=1).min() > 100  # the line stands out from the cameras drawn

    qtbot.keyClick(view, Qt.Key.Key_Escape)  # measuring ends: the same click goes to the camera again
    assert tool.mode is None
    view.click(x1, y1)
    qtbot.waitUntil(lambda: view.current_view == cam)
