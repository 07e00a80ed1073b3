"""Freehand shapes drawn with the mouse on the photo of Edit > Draw on a view (shared by its tests)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

CHAIR = 3  # one of the bundled sample room's red chairs, large in view 1


def around(mask: np.ndarray, pad: int = 3, n: int = 24) -> np.ndarray:
    """A closed loop (row, col) around a mask: an ellipse through its padded bounding box, in the photo."""
    rr, cc = np.nonzero(mask)
    r0, r1, c0, c1 = rr.min() - pad, rr.max() + pad, cc.min() - pad, cc.max() + pad
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rows = (r0 + r1) / 2 + (r1 - r0) / 2 * 1.3 * np.sin(t)
    cols = (c0 + c1) / 2 + (c1 - c0) / 2 * 1.3 * np.cos(t)
    h, w = mask.shape
    return np.clip(np.stack([rows, cols], 1), 0, [h - 1, w - 1])


def on_canvas(dialog, polygon_rc: np.ndarray) -> list[QPoint]:
    """Widget points of (row, col) model-grid points on the dialog's photo."""
    scale, ox, oy = dialog.canvas._geometry()
    return [QPoint(round(ox + (c + 0.5) * scale), round(oy + (r + 0.5) * scale)) for r, c in polygon_rc]


def loop_around(dialog, mask: np.ndarray, n: int = 24) -> list[QPoint]:
    return on_canvas(dialog, around(mask, n=n))


def drag(canvas, pts: list[QPoint], release: bool = True) -> None:
    """Press, move through ``pts`` and (unless ``release`` is False) let go; no event loop turn."""
    left, plain = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QTest.mousePress(canvas, left, plain, pts[0])
    for p in pts[1:]:
        QTest.mouseMove(canvas, p)
    if release:
        QTest.mouseRelease(canvas, left, plain, pts[-1])


def open_drawing(window, qtbot, selected: int = CHAIR):
    """Edit > Draw on a view with ``selected`` selected; the dialog, shown."""
    window.selection.select(selected)
    window.actions_["draw_on_view"].trigger()
    dialog = window.editing._view_lasso
    qtbot.waitExposed(dialog)
    return dialog


def wait_ready(dialog, qtbot) -> None:
    """Wait for the shape's preparation (a background job) to end."""
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)
