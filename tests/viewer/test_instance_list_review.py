"""The instance list: several rows selected with Ctrl+click, then Merge merges them all; reviewed
instances show their state's mark."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from scene_factory import synthetic_scene

from app import review_actions as ra
from app.scene_io import save_scene
from viewer.panels.instances import ID_ROLE


def test_ctrl_click_rows_then_merge_and_review_marks(make_window, tmp_path, monkeypatch, qtbot) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = tmp_path / "room.iggt"
    save_scene(synthetic_scene(seed=4, views=3), path)
    window = make_window()
    assert window.open_path(path)
    qtbot.waitUntil(lambda: window.document.scene is not None and window.job is None, timeout=30_000)
    scene = window.document.scene
    table = window.instances_panel.table
    proxy = table.model()

    def click_row(row: int, modifier=Qt.KeyboardModifier.NoModifier) -> int:
        index = proxy.index(row, 1)
        centre = table.visualRect(index).center()
        QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, modifier, centre)
        return int(proxy.data(index, ID_ROLE))

    first = click_row(0)
    second = click_row(1, Qt.KeyboardModifier.ControlModifier)
    third = click_row(2, Qt.KeyboardModifier.ControlModifier)
    rows = {int(r.data(ID_ROLE)) for r in table.selectionModel().selectedRows()}
    assert rows == {first, second, third}
    union = np.isin(scene.labels, [first, second, third])
    window.actions_["merge"].trigger()  # no dialog: the selected rows are the instances to merge
    assert len(np.unique(scene.labels[union])) == 1
    assert sum(i in scene.instances for i in (first, second, third)) == 1
    window.actions_["undo"].trigger()
    assert all(i in scene.instances for i in (first, second, third))

    # review marks in the list
    window.push_edit(ra.accept(scene, first))
    row = window.instances_panel.model.row_of(first)
    text = window.instances_panel.model.index(row, 0).data()
    assert text.endswith("✓") and scene.instances[first].name in text
    window.document.set_modified(False)
