"""Every start after the first restores the saved dock layout; Qt 6.12 then leaves extra tab bars of a tab
group on screen (three "Display | Clustering" bars). One of them stayed where it was, showing the old
front tab, when the real one moved. Started as a user starts the app: fresh processes, one settings file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SECOND_START = """
import json, sys
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabBar
from viewer.main import create_application, create_window
from viewer.settings import AppSettings
app = create_application()
for start in range(2):  # the first start saves the layout, the second restores it
    window = create_window(settings=AppSettings(sys.argv[1] + "/viewer.ini"))
    for _ in range(30):
        app.processEvents()
    if start:
        docks = [window.display_panel, window.instances_panel]
        window.resizeDocks(docks, [400, 300], Qt.Orientation.Vertical)
        window.clustering_panel.raise_()
        for _ in range(30):
            app.processEvents()
        bars = [b for b in window.findChildren(QTabBar) if b.parent() is window and b.isVisible()]
        print(json.dumps([[b.tabText(i) for i in range(b.count())] + [b.currentIndex()] for b in bars]))
    window.close()
    for _ in range(10):
        app.processEvents()
"""


def test_a_restored_layout_shows_each_tab_group_once(tmp_path) -> None:
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", SECOND_START, str(tmp_path)], cwd=root, env=dict(os.environ),
                         capture_output=True, text=True, timeout=120, check=True).stdout
    (bars,) = [json.loads(line) for line in out.splitlines() if line.startswith("[")]
    groups = sorted(tuple(b[:-1]) for b in bars)
    assert groups == sorted({*groups}), bars  # no group shown twice
    assert ["Display", "Clustering", 1] in bars  # the one bar follows the raised tab
