"""Edit > Draw on a view makes a new dialog each time: a closed one must go, with the scene it showed
(thumbnails of every view and the scene itself), not stay a hidden child of the window."""

from __future__ import annotations

import gc
import weakref

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from scenes import make_scene

from viewer.photo_lasso_dialog import PhotoLassoDialog


def test_a_closed_photo_lasso_dialog_is_gone_with_its_scene(window, qtbot) -> None:
    window.document.set_scene(make_scene())
    ref = weakref.ref(window.document.scene)
    qtbot.waitUntil(lambda: window.view.scene is ref(), timeout=30_000)
    for _ in range(3):
        window.actions_["draw_on_view"].trigger()
        dialog = window.editing._view_lasso
        qtbot.waitExposed(dialog)
        QTest.keyClick(dialog, Qt.Key.Key_Escape)  # nothing previewed: Esc closes
        qtbot.waitUntil(lambda: not window.findChildren(PhotoLassoDialog), timeout=5_000)
    assert window.editing._view_lasso is None
    window.document.set_modified(False)
    window.document.set_scene(make_scene())
    del dialog
    qtbot.wait(50)
    gc.collect()
    assert ref() is None
