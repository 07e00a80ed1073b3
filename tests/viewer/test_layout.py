"""The window at common screen sizes, and the first minute (issue 17, items 8 and 9)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QDockWidget, QScrollArea, QTabBar, QTableWidget
from scene_factory import synthetic_scene

from viewer.main import create_window, install_features


def settle(qtbot, ms: int = 300) -> None:
    qtbot.wait(ms)
    QApplication.processEvents()


@pytest.mark.parametrize(("size", "preview"), [((1280, 800), 280), ((1920, 1080), 420)])
def test_the_window_fits_and_panels_stay_put(window, qtbot, size, preview):
    install_features(window)
    window.document.set_scene(synthetic_scene(seed=3, views=6, height=224, width=308))
    width, height = size
    window.resize(width, height)
    window.restore_layout()
    settle(qtbot)
    scene = window.document.scene
    assert window.height() <= height and window.minimumSizeHint().height() <= height - 40
    bar = window.statusBar()
    assert bar.isVisible() and bar.geometry().bottom() < window.height()
    canvas = window.images_panel.canvas
    assert canvas.width() >= preview and canvas.height() >= 200  # the photo preview is not a stamp
    docks = window.findChildren(QDockWidget)
    before = {d.objectName(): d.geometry() for d in docks}
    for iid in list(scene.instances)[:4]:  # panels do not jump when the selection changes
        window.selection.select(iid)
        settle(qtbot, 100)
        assert {d.objectName(): d.geometry() for d in docks} == before
    assert window.height() <= height
    find = window.findChild(QDockWidget, "query_panel")
    window.bring_forward(find)
    settle(qtbot)
    rows = find.table.viewport().height() / max(find.table.verticalHeader().defaultSectionSize(), 1)
    assert rows >= 6  # Find lists more than a couple of results (about 2 rows before)


def test_find_and_ask_fit_the_side_panel_at_1280(window, qtbot):
    """At 1280x800 the Find and Ask tabs asked for 580 px in a panel of about 330: it scrolled sideways."""
    install_features(window)
    window.document.set_scene(synthetic_scene(seed=3, views=6, height=224, width=308))
    window.resize(1280, 800)
    window.restore_layout()
    find = window.findChild(QDockWidget, "query_panel")
    window.bring_forward(find)
    scroll = find.widget()
    assert isinstance(scroll, QScrollArea)
    for tab in range(find.tabs.count()):
        find.tabs.setCurrentIndex(tab)
        settle(qtbot)
        page = find.tabs.widget(tab)
        assert scroll.viewport().width() < 360  # the side panel as the default layout makes it at 1280
        assert not scroll.horizontalScrollBar().isVisible(), find.tabs.tabText(tab)
        assert scroll.widget().minimumSizeHint().width() <= scroll.viewport().width()
        assert page.geometry().right() <= scroll.viewport().width()
        table = page.findChild(QTableWidget)
        assert not table.horizontalScrollBar().isVisible()  # the columns fit too (names are elided)


def visible_dock_tabs(window) -> list[list[str]]:
    """The tab bars of the window's tabbed docks that are on screen, as lists of their tab titles."""
    bars = [b for b in window.findChildren(QTabBar) if b.parent() is window and b.isVisible()]
    return [[bar.tabText(i) for i in range(bar.count())] for bar in bars]


STARTS = """
import json, sys
from PySide6.QtWidgets import QApplication, QTabBar
from viewer.main import create_application, create_window
from viewer.settings import AppSettings
app = create_application()
for n in range(3):
    window = create_window(settings=AppSettings(sys.argv[1] + f"/{n}/viewer.ini"))
    for _ in range(20):
        app.processEvents()
    bars = [b for b in window.findChildren(QTabBar) if b.parent() is window and b.isVisible()]
    print(json.dumps([[b.tabText(i) for i in range(b.count())] for b in bars]))
    window.close()
"""


def test_each_panel_has_one_tab_at_start_and_with_a_scene(settings, qtbot, tmp_path):
    """Qt left a second tab bar from building the tab groups on screen: a second "Instance" tab in the
    empty state that stayed put when the real one moved. Which bar Qt leaves visible varies from process to
    process (under pytest it happened to be hidden), so the app is started as it starts for a user: a fresh
    process, three windows."""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", STARTS, str(tmp_path)], cwd=root, env=dict(os.environ),
                         capture_output=True, text=True, timeout=120, check=True).stdout
    starts = [json.loads(line) for line in out.splitlines() if line.startswith("[")]
    assert len(starts) == 3
    window = create_window(settings=settings)
    qtbot.addWidget(window)
    window.document.set_scene(synthetic_scene(seed=3, views=4))
    settle(qtbot)
    for tabs in [*starts, visible_dock_tabs(window)]:
        titles = [t for bar in tabs for t in bar]
        assert sorted(titles) == sorted(set(titles)), tabs
        assert ["Instance", "History", "Review"] in tabs and ["Instances", "Find objects"] in tabs
    window.document.set_modified(False)


def test_the_first_scene_build_shows_the_run_in_the_middle(window, fast_run, qtbot):
    empty = window.empty_state
    assert window.open_sample()
    assert window.stack.currentWidget() is empty and empty.running
    assert empty.run_cancel.isVisible() and not empty.sample_button.isVisible()
    assert "Sample room" in empty.title.text()
    qtbot.mouseClick(empty.run_cancel, qtbot_button())
    qtbot.waitUntil(lambda: window.job is None, timeout=60_000)
    assert not empty.running and empty.sample_button.isVisible() and window.document.scene is None
    assert window.open_sample()
    qtbot.waitUntil(lambda: window.document.scene is not None and window.job is None, timeout=300_000)
    assert window.windowTitle().startswith("Sample room (not saved)")
    assert window.document.file_stem() == "sample-room"
    assert not empty.running


def qtbot_button():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton
