"""Draw on a view driven with the keyboard at odd moments, on the bundled sample room (ground truth): Ctrl+Z
and redo work while the dialog is open (its Apply promises "Ctrl+Z undoes it") and the photos follow; an
undo under a pending preview drops that preview (it was built on the labels before); Esc while the mouse
button is still down drops only the shape being drawn, the dialog stays."""

from __future__ import annotations

import numpy as np
import pytest
from lasso_gestures import CHAIR, drag, loop_around, wait_ready
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication


@pytest.fixture
def drawing(sample_truth_window, qtbot):
    window, scene = sample_truth_window
    window.selection.select(CHAIR)
    window.actions_["draw_on_view"].trigger()
    dialog = window.editing._view_lasso
    qtbot.waitExposed(dialog)
    dialog.activateWindow()  # shortcuts (Ctrl+Z) reach only the active window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    return window, scene, dialog


def _captions(dialog) -> list[str]:
    return [dialog.strip.item(v).text() for v in range(dialog.strip.count())]


def test_undo_and_redo_work_in_the_open_dialog(drawing, qtbot) -> None:
    window, scene, dialog = drawing
    stack, canvas = window.editing.stack, dialog.canvas
    before = np.array(scene.labels, copy=True)
    drag(canvas, loop_around(dialog, scene.labels[0] == CHAIR))
    wait_ready(dialog, qtbot)
    assert dialog.pending is not None
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    after = np.array(scene.labels, copy=True)
    assert stack.index() == 1 and (after != before).any()
    shown = dialog.canvas.image.copy()

    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert stack.index() == 0 and dialog.isVisible()
    np.testing.assert_array_equal(scene.labels, before)
    assert dialog.canvas.image != shown  # the photo shows the chair whole again
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    QTest.keyClick(canvas, Qt.Key.Key_Z, redo)
    assert stack.index() == 1
    np.testing.assert_array_equal(scene.labels, after)
    assert dialog.canvas.image == shown


def test_an_undo_under_a_preview_drops_it(drawing, qtbot) -> None:
    window, scene, dialog = drawing
    stack, canvas = window.editing.stack, dialog.canvas
    loop = loop_around(dialog, scene.labels[0] == CHAIR)
    drag(canvas, loop)
    wait_ready(dialog, qtbot)
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData("unlabel"))
    drag(canvas, loop)  # a second preview, built on the labels after the first edit
    wait_ready(dialog, qtbot)
    assert dialog.pending is not None and any("px" in c for c in _captions(dialog))
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert stack.index() == 0 and dialog.pending is None and not dialog.apply_button.isEnabled()
    assert "changed since the preview" in dialog.summary.text()
    assert not any("px" in c for c in _captions(dialog)) and not window.editing.highlight.active
    QTest.keyClick(canvas, Qt.Key.Key_Return)  # nothing to apply: nothing happens
    assert stack.index() == 0 and stack.count() == 1


def test_esc_while_drawing_drops_the_shape_not_the_dialog(drawing, qtbot) -> None:
    window, scene, dialog = drawing
    canvas = dialog.canvas
    loop = loop_around(dialog, scene.labels[0] == CHAIR)
    drag(canvas, loop[:12], release=False)
    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    assert dialog.isVisible() and not canvas.points
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, loop[11])
    assert dialog.pending is None and dialog.isVisible()
    QTest.keyClick(canvas, Qt.Key.Key_Escape)  # with nothing drawn or previewed, Esc closes
    qtbot.waitUntil(lambda: window.editing._view_lasso is None or not dialog.isVisible())


def test_another_scene_shown_closes_the_dialog(drawing, qtbot) -> None:
    """A scene that was loading when the dialog opened arrives: the dialog drew on the old scene (its next
    preview lit up points of the old cloud in the new one: IndexError), so it closes and says why."""
    from scene_factory import synthetic_scene

    window, scene, dialog = drawing
    drag(dialog.canvas, loop_around(dialog, scene.labels[0] == CHAIR))
    wait_ready(dialog, qtbot)
    assert dialog.pending is not None and window.editing.highlight.active
    other = synthetic_scene(seed=1, views=3)
    window.document.set_scene(other)
    qtbot.waitUntil(lambda: window.editing._view_lasso is None, timeout=5_000)
    assert not window.editing.highlight.active and window.editing.stack.count() == 0
    assert "another scene" in window.statusBar().currentMessage()
    assert len(window.view.displayed_colours()) == other.n_points


def test_another_mode_tries_a_shape_that_changed_nothing_again(drawing, qtbot) -> None:
    """With nothing selected, "Split off the selected instance" changes nothing; choosing "Make unlabelled"
    then previews the same shape (it kept saying "select the instance to split first")."""
    window, scene, dialog = drawing
    window.selection.clear()
    dialog.selected = None
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData("split"))
    drag(dialog.canvas, loop_around(dialog, scene.labels[0] == CHAIR))
    wait_ready(dialog, qtbot)
    assert dialog.pending is None and "select the instance" in dialog.summary.text()
    assert dialog.canvas.points  # the shape stays on the photo
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData("unlabel"))
    wait_ready(dialog, qtbot)
    assert dialog.pending is not None and dialog.pending.mode == "unlabel"
    assert "Will change" in dialog.summary.text()
    QTest.keyClick(dialog.canvas, Qt.Key.Key_Escape)  # drops shape and preview; another mode brings back none
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData("split"))
    assert dialog.pending is None and not dialog.canvas.points and dialog.isVisible()


def test_an_undo_while_preparing_prepares_the_shape_again_on_the_labels_after(drawing, qtbot) -> None:
    """The preparation running read the labels before the undo: it is replaced by one on the labels after,
    whose preview applies (the first one's would be refused as stale)."""
    window, scene, dialog = drawing
    stack, canvas = window.editing.stack, dialog.canvas
    loop = loop_around(dialog, scene.labels[0] == CHAIR)
    drag(canvas, loop)
    wait_ready(dialog, qtbot)
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    assert stack.index() == 1
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData("unlabel"))
    drag(canvas, loop)  # prepared on the labels after the split (no event loop turn since)
    first = dialog.job
    assert first is not None and dialog.pending is None and not dialog.apply_button.isEnabled()
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert stack.index() == 0 and first.is_cancelled()
    assert dialog.job is not None and dialog.job is not first  # the same shape, again
    wait_ready(dialog, qtbot)
    assert dialog.pending is not None and dialog.pending.is_current(scene)
    before, previewed = np.array(scene.labels, copy=True), dialog.pending.changed
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    assert stack.index() == 1 and stack.count() == 1  # applied (the redo of the split is gone)
    np.testing.assert_array_equal(scene.labels != before, previewed)
    assert previewed.any() and not scene.labels[previewed].any()  # made unlabelled



def _thumbnails(dialog) -> list[bytes]:
    return [bytes(dialog.strip.item(v).icon().pixmap(96, 96).toImage().constBits())
            for v in range(dialog.strip.count())]  # fmt: skip


def test_an_undo_while_preparing_shows_the_labels_after_at_once(drawing, qtbot) -> None:
    """The photos follow an undo even while a shape is being prepared, and stay right when it is
    stopped (they kept the labels before the undo)."""
    window, scene, dialog = drawing
    canvas = dialog.canvas
    loop = loop_around(dialog, scene.labels[0] == CHAIR)
    drag(canvas, loop)
    wait_ready(dialog, qtbot)
    QTest.keyClick(canvas, Qt.Key.Key_Return)  # the split applied
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData("unlabel"))
    drag(canvas, loop)
    assert dialog.job is not None
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo while preparing
    assert window.editing.stack.index() == 0
    QTest.keyClick(canvas, Qt.Key.Key_Escape)  # stop it
    assert dialog.job is None and dialog.pending is None
    shown = _thumbnails(dialog)
    dialog._show_images()  # drawn afresh from the labels now
    assert _thumbnails(dialog) == shown
