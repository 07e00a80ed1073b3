"""F1 lists the keys a user cannot find in any menu: the Review queue's one-key actions (A, M, S, Del, F2,
N, P while the queue has the focus; A is also the window's Axes) and Enter/Esc/undo in Draw on a view."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest

from viewer.dialogs import ShortcutsDialog
from viewer.review_panel import KEYS


def _rows(dialog) -> list[tuple[str, str]]:
    table = dialog.table
    return [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]


def test_f1_lists_the_review_keys_and_draw_on_a_view(window, qtbot) -> None:
    QTest.keyClick(window, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: window.findChild(ShortcutsDialog) is not None)
    dialog = window.findChild(ShortcutsDialog)
    rows = _rows(dialog)
    titles = [text for text, keys in rows if text.startswith("—")]
    assert titles[:2] == ["— Review queue (while its list has the focus) —", "— Draw on a view —"]
    start = rows.index((titles[0], ""))
    review = dict(rows[start + 1 : start + 1 + len(KEYS)])
    assert sorted(review.values()) == sorted(QKeySequence(k).toString() for k in KEYS)
    assert review["Accept"] == "A" and review["Merge with the suggested neighbour"] == "M"
    assert review["Skip to the next"] == "N" and review["Back to the previous"] == "P"
    draw = dict(rows[rows.index((titles[1], "")) + 1 :])
    assert draw["Apply the preview"] == "Enter"
    assert "Ctrl+Z" in draw["Undo / redo (also with the dialog open)"]
    assert ("— Mouse —", "") in rows  # the mouse controls follow
