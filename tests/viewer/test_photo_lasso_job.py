"""Draw on a view prepares each shape in a background job (on the bundled sample room, ground truth): the
dialog shows progress and keeps Apply disabled until the preview is ready; Esc stops it and changes
nothing; a new shape or another mode replaces a preparation still running (its result never shows); closing
the dialog mid-way is safe and the window carries on.

The checks right after a drag run before the event loop turns: the job cannot have reported yet (its
signals are queued to this thread), so they see the preparation running whatever the machine's speed."""

from __future__ import annotations

import numpy as np
import pytest
from lasso_gestures import CHAIR, drag, loop_around, wait_ready
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from viewer.photo_lasso_dialog import HINT, PhotoLassoDialog
from viewer.point_highlight import HIGHLIGHT_RGB


@pytest.fixture
def drawing(sample_truth_window, qtbot):
    window, scene = sample_truth_window
    window.view.set_frustums_visible(False)
    window.selection.select(CHAIR)
    window.actions_["draw_on_view"].trigger()
    dialog = window.editing._view_lasso
    qtbot.waitExposed(dialog)
    yield window, scene, dialog
    if dialog in window.findChildren(PhotoLassoDialog):
        dialog.close()


def _preparing(dialog) -> bool:
    """The dialog shows a preparation running: progress, Apply disabled, Cancel enabled, no preview."""
    return (dialog.job is not None and dialog.progress.isVisible() and not dialog.apply_button.isEnabled()
            and dialog.cancel_button.isEnabled() and dialog.pending is None
            and "Preparing the preview" in dialog.summary.text())  # fmt: skip


def test_preparing_shows_progress_and_apply_waits_for_the_preview(drawing, qtbot) -> None:
    window, scene, dialog = drawing
    values: list[int] = []
    texts: list[str] = []
    summaries: list[str] = []
    dialog.progress.valueChanged.connect(values.append)
    drag(dialog.canvas, loop_around(dialog, scene.labels[0] == CHAIR))
    assert _preparing(dialog)
    assert not window.editing.highlight.active
    QTest.keyClick(dialog.canvas, Qt.Key.Key_Return)  # Enter before the preview: nothing to apply
    assert window.editing.stack.count() == 0
    dialog.job.progress.connect(lambda e: texts.append(dialog.progress.text()))
    dialog.job.progress.connect(lambda e: summaries.append(dialog.summary.text()))
    qtbot.waitUntil(lambda: dialog.pending is not None, timeout=30_000)
    qtbot.waitUntil(lambda: dialog.job is None)
    assert values and max(values) > 0 and values == sorted(values)  # the bar moved forwards
    assert any("following the shape into view" in t for t in texts)  # the bar says what it does
    assert all("Preparing the preview" in t for t in summaries)
    assert dialog.apply_button.isEnabled() and not dialog.progress.isVisible()
    assert "Will change" in dialog.summary.text() and window.editing.highlight.active
    QTest.keyClick(dialog.canvas, Qt.Key.Key_Return)
    assert window.editing.stack.count() == 1 and dialog.pending is None
    # the Cancel button stops a preparation as Esc does
    after = np.array(scene.labels, copy=True)
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData("unlabel"))
    drag(dialog.canvas, loop_around(dialog, scene.labels[0] == CHAIR))
    job = dialog.job
    assert _preparing(dialog)
    gone = qtbot.waitSignal(job.destroyed, timeout=30_000)
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert job.is_cancelled() and dialog.job is None and dialog.summary.text() == HINT
    gone.wait()
    assert dialog.pending is None and window.editing.stack.count() == 1
    np.testing.assert_array_equal(scene.labels, after)


def test_esc_stops_the_preparation_and_changes_nothing(drawing, qtbot) -> None:
    window, scene, dialog = drawing
    ctl = window.editing
    before = np.array(scene.labels, copy=True)
    table = tuple(scene.instances.values())
    drag(dialog.canvas, loop_around(dialog, scene.labels[0] == CHAIR))
    job = dialog.job
    assert _preparing(dialog)
    gone = qtbot.waitSignal(job.destroyed, timeout=30_000)  # the job goes once its worker has stopped
    QTest.keyClick(dialog.canvas, Qt.Key.Key_Escape)
    assert job.is_cancelled() and dialog.job is None and dialog.isVisible()
    assert dialog.pending is None and not dialog.canvas.points and dialog.summary.text() == HINT
    assert not dialog.progress.isVisible() and not dialog.apply_button.isEnabled()
    assert not dialog.cancel_button.isEnabled()
    gone.wait()
    # nothing arrived late: no preview, no highlight, no edit
    assert dialog.pending is None and not ctl.highlight.active and dialog.summary.text() == HINT
    np.testing.assert_array_equal(scene.labels, before)
    assert tuple(scene.instances.values()) == table and ctl.stack.count() == 0
    QTest.keyClick(dialog.canvas, Qt.Key.Key_Escape)  # nothing drawn or running: Esc closes
    qtbot.waitUntil(lambda: not dialog.isVisible())


def test_a_new_mode_or_shape_replaces_the_running_preparation(drawing, qtbot) -> None:
    window, scene, dialog = drawing
    ctl = window.editing
    drag(dialog.canvas, loop_around(dialog, scene.labels[0] == CHAIR))
    first = dialog.job
    first_gone = qtbot.waitSignal(first.destroyed, timeout=30_000)
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData("unlabel"))
    second = dialog.job
    assert second is not None and second is not first and first.is_cancelled() and _preparing(dialog)
    qtbot.waitUntil(lambda: dialog.pending is not None, timeout=30_000)
    first_gone.wait()  # the first job has ended too: its result ("split") never showed
    assert dialog.pending.mode == "unlabel" and dialog.job is None and dialog.apply_button.isEnabled()
    unlabel = dialog.pending

    # a new shape on another photo: the preview shown goes at once, the new one comes when ready
    other = next(v for v in range(1, scene.n_views) if (scene.labels[v] == CHAIR).sum() > 200)
    dialog.view_box.setCurrentIndex(dialog.view_box.findData(other))
    drag(dialog.canvas, loop_around(dialog, scene.labels[other] == CHAIR))
    assert _preparing(dialog) and not ctl.highlight.active
    qtbot.waitUntil(lambda: dialog.pending is not None, timeout=30_000)
    assert dialog.pending is not unlabel and dialog.pending.view == other
    assert dialog.pending.changed[other].any()
    qtbot.waitUntil(lambda: dialog.job is None)
    lit = np.all(window.view.displayed_colours() == HIGHLIGHT_RGB, axis=1)
    np.testing.assert_array_equal(np.flatnonzero(lit), dialog.pending.points)
    assert ctl.stack.count() == 0


def test_closing_the_dialog_mid_preparation_is_safe(drawing, qtbot) -> None:
    window, scene, dialog = drawing
    ctl = window.editing
    before = np.array(scene.labels, copy=True)
    drag(dialog.canvas, loop_around(dialog, scene.labels[0] == CHAIR))
    job = dialog.job
    assert _preparing(dialog)
    gone = qtbot.waitSignal(job.destroyed, timeout=30_000)
    dialog.close()
    assert job.is_cancelled()
    qtbot.waitUntil(lambda: ctl._view_lasso is None and not window.findChildren(PhotoLassoDialog))
    gone.wait()  # the job outlived the dialog until its worker stopped, then went by itself
    np.testing.assert_array_equal(scene.labels, before)
    assert ctl.stack.count() == 0 and not ctl.highlight.active

    # the window carries on: a new dialog prepares and applies
    window.actions_["draw_on_view"].trigger()
    again = ctl._view_lasso
    qtbot.waitExposed(again)
    drag(again.canvas, loop_around(again, scene.labels[0] == CHAIR))
    qtbot.waitUntil(lambda: again.pending is not None, timeout=30_000)
    qtbot.waitUntil(lambda: again.job is None)
    QTest.keyClick(again.canvas, Qt.Key.Key_Return)
    assert ctl.stack.count() == 1 and (scene.labels != before).any()
    again.close()
    qtbot.waitUntil(lambda: not window.findChildren(PhotoLassoDialog))


def test_a_shape_that_changes_nothing_says_so_and_is_no_failure(drawing, qtbot, caplog) -> None:
    """A shape that misses the instance to split is an answer ("Nothing to change: …"), not a failed job
    with a traceback in the log (superqt raised the EditError the step returned)."""
    window, scene, dialog = drawing
    dialog.this_photo.setChecked(True)
    corner = np.zeros(scene.labels.shape[1:], bool)
    corner[2:12, 2:12] = True
    assert not (scene.labels[0][:20, :20] == CHAIR).any()
    drag(dialog.canvas, loop_around(dialog, corner))
    wait_ready(dialog, qtbot)
    assert dialog.summary.text().startswith("Nothing to change: the selection does not touch")
    assert dialog.pending is None and not dialog.apply_button.isEnabled()
    assert "failed" not in caplog.text and window.editing.stack.count() == 0


def test_with_nothing_selected_the_modes_say_what_they_can_do(sample_truth_window, qtbot) -> None:
    """Nothing selected: splitting cannot be chosen (it needs an instance), and assigning says that the
    pixels go to a new instance, which is what applying it does."""
    window, scene = sample_truth_window
    window.selection.select(None)
    window.actions_["draw_on_view"].trigger()
    dialog = window.editing._view_lasso
    qtbot.waitExposed(dialog)
    box = dialog.mode_box
    assert not box.model().item(box.findData("split")).isEnabled()
    assert dialog.current_mode() == "assign" and box.currentText() == "Assign to a new instance"
    before = set(scene.instances)
    drag(dialog.canvas, loop_around(dialog, scene.labels[0] == CHAIR))
    wait_ready(dialog, qtbot)
    QTest.keyClick(dialog.canvas, Qt.Key.Key_Return)
    new = set(scene.instances) - before
    assert len(new) == 1 and (scene.labels[0] == new.pop()).any()
    dialog.close()
