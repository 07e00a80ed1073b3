"""Right-click on a point in the 3D view opens that instance's actions; a right drag does not."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from scene_factory import synthetic_scene

from app.review import ACCEPTED, review_state
from app.scene_io import save_scene
from viewer.context_menu import install_context_menu


def test_right_click_on_a_point_offers_its_actions(make_window, tmp_path, monkeypatch, qtbot) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = tmp_path / "room.iggt"
    save_scene(synthetic_scene(seed=3, views=3), path)
    window = make_window()
    menus = install_context_menu(window)
    assert window.open_path(path)
    qtbot.waitUntil(lambda: window.document.scene is not None and window.job is None, timeout=30_000)
    scene = window.document.scene
    view = window.view
    view.set_frustums_visible(False)
    # a point of an instance where the view draws it
    w, h = view.plotter.width(), view.plotter.height()
    labels, pts = np.asarray(scene.point_labels), np.asarray(scene.points)
    hit, pos = None, None
    for i in np.random.default_rng(0).choice(np.flatnonzero(labels > 0), 300, replace=False):
        x, y = view.world_to_widget(pts[i])
        if 20 < x < w - 20 and 20 < y < h - 20:
            pos = QPoint(round(x), round(y))
            hit = view.pick(pos.x(), pos.y())
            if hit.instance in scene.instances:
                break
    assert hit is not None and hit.instance in scene.instances
    target = view.plotter
    QTest.mousePress(target, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, pos)
    QTest.mouseRelease(target, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, pos)
    qtbot.waitUntil(lambda: menus.last_menu is not None and menus.last_menu.isVisible())
    menu = menus.last_menu
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts[0] == scene.instances[hit.instance].name and "Merge with…" in texts and "Delete" in texts
    assert window.selection.instance == hit.instance
    accept = next(a for a in menu.actions() if a.objectName() == "context_accept")
    accept.trigger()
    assert review_state(scene.instances[hit.instance]) == ACCEPTED
    delete = next(a for a in menu.actions() if a.objectName() == "context_delete")
    menu.close()
    delete.trigger()
    assert hit.instance not in scene.instances
    window.actions_["undo"].trigger()
    assert hit.instance in scene.instances
    # a right drag (zoom) opens nothing
    menus.last_menu = None
    QTest.mousePress(target, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, pos)
    end = pos + QPoint(0, 40)
    QTest.mouseMove(target, end)
    QTest.mouseRelease(target, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, end)
    qtbot.wait(100)
    assert menus.last_menu is None
    assert np.asarray(scene.labels).any()
    window.document.set_modified(False)
