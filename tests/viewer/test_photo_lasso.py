"""A real lasso drawn on one photo of the bundled sample room (ground-truth geometry and instances) in
Edit > Draw on a view: before anything changes the dialog previews the pixels of every view and the 3D view
highlights the points; Enter applies exactly that as one undo step, Esc leaves the scene untouched."""

from __future__ import annotations

import os

import numpy as np
import pytest
from lasso_gestures import CHAIR, drag, loop_around, open_drawing, wait_ready
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from viewer.colouring import dimmed
from viewer.point_highlight import FADE_KEEP, HIGHLIGHT_RGB


@pytest.fixture
def sample_window(sample_truth_window):
    window, scene = sample_truth_window
    window.view.set_frustums_visible(False)
    return window, scene


def test_photo_lasso_previews_then_applies_exactly_that(sample_window, qtbot) -> None:
    window, scene = sample_window
    ctl, view = window.editing, window.view
    dialog = open_drawing(window, qtbot)
    assert dialog.current_view() == 0 and dialog.current_mode() == "split"
    # the dialog sits beside the 3D view (over the side panels): the highlight there stays in sight
    assert not dialog.geometry().contains(view.mapToGlobal(view.rect().center()))
    before = np.array(scene.labels, copy=True)
    index = ctl.stack.index()

    drag(dialog.canvas, loop_around(dialog, scene.labels[0] == CHAIR))
    wait_ready(dialog, qtbot)
    pending = dialog.pending
    assert pending is not None
    # nothing has changed yet
    np.testing.assert_array_equal(scene.labels, before)
    assert ctl.stack.index() == index and dialog.apply_button.isEnabled()
    preview_pixels, preview_points = pending.changed.copy(), pending.points.copy()
    views = pending.views
    assert views[0] == 0 and len(views) >= 4  # the chair's pixels in the other views follow
    assert f"{len(preview_points):,} points, {len(views)} views" in dialog.summary.text()
    for v in range(scene.n_views):  # every view's thumbnail says how many of its pixels change
        count = int(preview_pixels[v].sum())
        assert dialog.strip.item(v).text() == f"{v + 1}" + (f": {count:,} px" if count else "")
    # the 3D view: exactly those points in the highlight colour, every other point faded
    colours = view.displayed_colours()
    is_lit = np.all(colours == HIGHLIGHT_RGB, axis=1)
    np.testing.assert_array_equal(np.flatnonzero(is_lit), preview_points)
    faded = dimmed(view.base_colours(), view._background_rgb(), keep=FADE_KEEP)
    np.testing.assert_array_equal(np.delete(colours, preview_points, 0), np.delete(faded, preview_points, 0))
    shots = os.environ.get("IGGT_PHOTO_LASSO_SHOTS")
    if shots:
        dialog.grab().save(f"{shots}/photo_lasso_dialog.png")
        view.save_screenshot(f"{shots}/photo_lasso_3d.png")

    # a click on another view's thumbnail shows that photo large; the preview stays
    other = views[1]
    strip = dialog.strip
    QTest.mouseClick(strip.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     strip.visualItemRect(strip.item(other)).center())  # fmt: skip
    assert dialog.current_view() == other and dialog.pending is pending and not dialog.canvas.points
    if shots:
        dialog.grab().save(f"{shots}/photo_lasso_other_view.png")

    # Enter applies: exactly the previewed pixels and points change, as one undo step
    QTest.keyClick(dialog.canvas, Qt.Key.Key_Return)  # where the user just drew
    assert dialog.pending is None and dialog.isVisible()
    changed = scene.labels != before
    np.testing.assert_array_equal(changed, preview_pixels)
    np.testing.assert_array_equal(np.flatnonzero(changed[scene.point_mask]), preview_points)
    assert ctl.stack.index() == index + 1
    new_id = window.selection.instance
    assert new_id not in before and set(np.unique(scene.labels[changed])) == {new_id}
    assert set(np.unique(before[changed])) == {CHAIR}
    assert not ctl.highlight.active and not np.all(view.displayed_colours() == HIGHLIGHT_RGB, axis=1).any()
    # a preview of instances that have changed since is refused with one clear line, not replayed
    assert ctl.apply_photo_edit(pending) is None and ctl.stack.index() == index + 1
    qtbot.waitUntil(lambda: bool(window.error_dialogs))
    assert "changed since the preview" in window.error_dialogs[-1].text()
    window.error_dialogs[-1].close()
    window.actions_["undo"].trigger()
    np.testing.assert_array_equal(scene.labels, before)
    assert ctl.stack.index() == index

    # another mode prepares the same shape again; Esc cancels it and changes nothing; a second Esc closes
    dialog.view_box.setCurrentIndex(0)
    drag(dialog.canvas, loop_around(dialog, scene.labels[0] == CHAIR))
    wait_ready(dialog, qtbot)
    split = dialog.pending
    assert split is not None and split.mode == "split"
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData("unlabel"))
    wait_ready(dialog, qtbot)
    unlabel = dialog.pending
    assert unlabel is not None and unlabel.mode == "unlabel" and ctl.highlight.active
    assert not (split.changed & ~unlabel.changed).any() and unlabel.changed.sum() > split.changed.sum()
    lit = np.all(view.displayed_colours() == HIGHLIGHT_RGB, axis=1)
    np.testing.assert_array_equal(np.flatnonzero(lit), unlabel.points)
    QTest.keyClick(dialog.canvas, Qt.Key.Key_Escape)
    assert dialog.pending is None and dialog.isVisible() and not ctl.highlight.active
    np.testing.assert_array_equal(scene.labels, before)
    assert ctl.stack.index() == index and ctl.stack.count() == index + 1  # nothing pushed, redo kept
    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_dialog_goes_on_the_wider_side_of_the_3d_view() -> None:
    from PySide6.QtCore import QRect

    from viewer.photo_lasso_dialog import beside

    window, view = QRect(0, 0, 1920, 1080), QRect(400, 40, 900, 1000)  # more room right of the view
    assert beside(window, view, 820) == QRect(1300, 0, 620, 1080)  # all of that room, no overlap
    window, view = QRect(100, 50, 1280, 800), QRect(700, 80, 400, 700)  # more room on the left
    assert beside(window, view, 820) == QRect(100, 50, 600, 800)
    narrow = beside(QRect(0, 0, 1000, 700), QRect(300, 0, 400, 700), 820)
    assert narrow.width() == 480 and narrow.right() == 999  # at least MIN_WIDTH, even over the view


def test_only_this_photo_keeps_the_lasso_to_the_drawn_photo(sample_window, qtbot) -> None:
    """"Only this photo" previews (and applies) the drawn photo's pixels alone; unticked, the same shape
    reaches the other views again."""
    window, scene = sample_window
    dialog = open_drawing(window, qtbot)
    drag(dialog.canvas, loop_around(dialog, scene.labels[0] == CHAIR))
    wait_ready(dialog, qtbot)
    assert len(dialog.pending.views) >= 4
    qtbot.mouseClick(dialog.this_photo, Qt.MouseButton.LeftButton)
    wait_ready(dialog, qtbot)
    assert dialog.this_photo.isChecked() and dialog.pending.views == [0]
    assert f"{len(dialog.pending.points):,} points, 1 view" in dialog.summary.text()
    before = np.array(scene.labels, copy=True)
    QTest.keyClick(dialog.canvas, Qt.Key.Key_Return)
    changed = scene.labels != before
    assert changed[0].any() and not changed[1:].any()
    assert np.all(before[0][changed[0]] == CHAIR)  # the chair's pixels split off, in view 1 only
    window.actions_["undo"].trigger()
    np.testing.assert_array_equal(scene.labels, before)
    drag(dialog.canvas, loop_around(dialog, scene.labels[0] == CHAIR))
    wait_ready(dialog, qtbot)
    assert dialog.this_photo.isChecked() and dialog.pending.views == [0]
    qtbot.mouseClick(dialog.this_photo, Qt.MouseButton.LeftButton)
    wait_ready(dialog, qtbot)
    assert not dialog.this_photo.isChecked() and len(dialog.pending.views) >= 4
    QTest.keyClick(dialog, Qt.Key.Key_Escape)


def test_the_highlight_fades_the_colours_the_view_shows_now(sample_window, qtbot) -> None:
    """The faded colours are kept between previews, but another colour mode or background is faded anew;
    closing the dialog lets go of them and gives the view its own colours back."""
    window, scene = sample_window
    ctl, view = window.editing, window.view
    dialog = open_drawing(window, qtbot)
    drag(dialog.canvas, loop_around(dialog, scene.labels[0] == CHAIR))
    wait_ready(dialog, qtbot)
    points = dialog.pending.points
    for change in (lambda: view.set_colour_mode("instance"), lambda: view.set_background("#ffffff")):
        change()
        ctl.highlight.show(points)  # (what the next preview does)
        faded = dimmed(view.base_colours(), view._background_rgb(), keep=FADE_KEEP)
        rest = np.delete(view.displayed_colours(), points, 0)
        np.testing.assert_array_equal(rest, np.delete(faded, points, 0))
    dialog.close()
    qtbot.waitUntil(lambda: ctl._view_lasso is None)
    assert not ctl.highlight.active and ctl.highlight._faded is None
    assert not np.all(view.displayed_colours() == HIGHLIGHT_RGB, axis=1).any()
