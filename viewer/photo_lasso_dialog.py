"""Edit > "Draw on a view…": draw a lasso (or a box with Shift) on one photo to split it off the selected
instance, assign it or make it unlabelled, in every view at once.

Nothing changes while drawing: each shape is prepared by ``app.photo_lasso`` in a background job (a
second or more on large rooms; a progress bar, Apply disabled until it is ready) and previewed first, in
this photo and in the thumbnails of the other views (the pixels that will change, tinted; a click on a
thumbnail shows that photo large, the preview stays) and as "1,234 points, 5 views"; the window's 3D view
highlights the points (``preview_changed``). A new shape on any photo, another mode or an undo replaces the
preview, or the preparation still running. Enter (Apply) applies exactly that edit as one undo step
(``apply_requested``); Esc (Cancel) drops it, or stops the preparation, and leaves the scene untouched;
Esc while drawing drops only the shape being drawn. The window's Ctrl+Z / redo work in the dialog too
(``EditingController.draw_on_view`` lends it those actions); after any edit ``scene_edited`` redraws the
photos, and drops a preview the edit made stale; when another scene is shown the controller closes it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import photo_lasso
from app.colors import label_image
from app.edits import EditError
from app.progress import Progress
from app.scene import Scene
from viewer.dialogs import user_message
from viewer.imagery import mask_edges, to_pixmap
from viewer.lasso import ViewCanvas
from viewer.panels.thumbnails import VIEW_ROLE, ThumbnailStrip
from viewer.workers import Job

CHANGE_COLOUR = np.array([255, 214, 0], np.float32)  # pixels and points the edit will change
THUMB_SIDE = 96
MIN_WIDTH = 480
REST_KEEP = 0.55  # brightness of the unchanged pixels while a preview is shown
HINT = "Drag to draw a lasso on the photo; hold Shift for a box. Nothing changes until you apply."


def tinted(rgb: np.ndarray, mask: np.ndarray, colour: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """``rgb`` with ``mask`` blended towards ``colour`` and its outline drawn solid."""
    out = np.array(rgb, dtype=np.float32, copy=True)
    out[mask] = (1 - alpha) * out[mask] + alpha * colour
    out[mask_edges(mask)] = colour
    return out.astype(np.uint8)


def beside(area: QRect, avoid: QRect, width: int, min_width: int = MIN_WIDTH) -> QRect:
    """Where a dialog goes inside ``area`` (the window) covering as little of ``avoid`` (the 3D view, whose
    highlight the user is to see) as it can: on the wider side of it, at most ``width`` wide."""
    left_room = avoid.left() - area.left()
    right_room = area.right() - avoid.right()
    w = min(width, max(min_width, left_room, right_room), area.width())
    x = area.left() if left_room > right_room else area.right() - w + 1
    return QRect(x, area.top(), w, area.height())


class PhotoLassoDialog(QDialog):
    preview_changed = Signal(object)  # the pending app.photo_lasso.PhotoEdit, or None
    apply_requested = Signal(object)  # the PhotoEdit to apply

    MODES = (("split", "Split off the selected instance"), ("assign", "Assign to the selected instance"),
             ("unlabel", "Make unlabelled"))  # fmt: skip

    def __init__(self, scene: Scene, selected, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("view_lasso_dialog")
        self.setWindowTitle("Draw on a view")
        self.scene = scene
        self.selected = selected
        self.pending: photo_lasso.PhotoEdit | None = None
        self.job: Job | None = None  # the shape's preparation while it runs
        self._shape: tuple[int, np.ndarray] | None = None  # (view, polygon) drawn last
        self.view_box = QComboBox(self)
        self.view_box.setObjectName("view_lasso_view")
        for i, view in enumerate(scene.views):
            self.view_box.addItem(f"{i + 1}: {view.name}", i)
        self.mode_box = QComboBox(self)
        self.mode_box.setObjectName("view_lasso_mode")
        for key, text in self.MODES:
            self.mode_box.addItem(text, key)
        if selected is None:  # nothing to split; what is assigned goes to a new instance
            split = self.mode_box.model().item(0)
            split.setEnabled(False)
            split.setToolTip("Select an instance first (click it in the 3D view or the list)")
            self.mode_box.setItemText(1, "Assign to a new instance")
            self.mode_box.setCurrentIndex(1)
        self.this_photo = QCheckBox("Only this photo", self)
        self.this_photo.setObjectName("view_lasso_this_photo")
        self.this_photo.setToolTip("Change only the pixels drawn around in this photo, not the "
                                   "same surface in the other views (their points may not line up)")
        self.canvas = ViewCanvas(self)
        self.canvas.polygon_finished.connect(self._on_polygon)
        self.strip = ThumbnailStrip(self, icon_side=THUMB_SIDE, wrap=True)  # rows: every view in sight
        self.strip.setObjectName("view_lasso_thumbnails")
        self.strip.view_activated.connect(self._draw_on)
        self.summary = QLabel(HINT, self)
        self.summary.setObjectName("view_lasso_summary")
        self.summary.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("view_lasso_progress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)  # what it is doing: "following the shape into view 3 of 16 (20%)"
        self.progress.setVisible(False)
        keep_room = self.progress.sizePolicy()
        keep_room.setRetainSizeWhenHidden(True)  # the photo keeps its size when the bar comes and goes
        self.progress.setSizePolicy(keep_room)
        buttons = QDialogButtonBox(self)
        self.apply_button = QPushButton("Apply", self)
        self.apply_button.setObjectName("view_lasso_apply")
        self.apply_button.setToolTip("Apply the previewed change (Enter); Ctrl+Z undoes it")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("view_lasso_cancel")
        self.cancel_button.setToolTip("Drop the previewed change or stop preparing it (Esc); the scene "
                                      "stays as it is")
        close = QPushButton("Close", self)
        close.setAutoDefault(False)
        self.cancel_button.setAutoDefault(False)
        for button, role in ((self.apply_button, QDialogButtonBox.ButtonRole.AcceptRole),
                             (self.cancel_button, QDialogButtonBox.ButtonRole.ActionRole),
                             (close, QDialogButtonBox.ButtonRole.RejectRole)):  # fmt: skip
            buttons.addButton(button, role)
        self.apply_button.clicked.connect(self.apply)
        self.cancel_button.clicked.connect(self.cancel)
        close.clicked.connect(self.close)
        self.apply_button.setDefault(True)
        top = QHBoxLayout()
        top.addWidget(self.view_box, 1)
        top.addWidget(self.mode_box, 1)
        top.addWidget(self.this_photo)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 3)
        layout.addWidget(self.strip, 2)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress)
        layout.addWidget(buttons)
        self.view_box.currentIndexChanged.connect(lambda _i: self._show_photo())
        self.mode_box.currentIndexChanged.connect(lambda _i: self._on_mode())
        self.this_photo.toggled.connect(lambda _on: self._on_mode())
        self._update_buttons()
        self._show_images()
        self.resize(820, 720)

    # ------------------------------------------------------------------------------------------ state
    def place_beside(self, view: QWidget) -> None:
        """Sit over the window's side panels, next to the 3D view, so its highlight stays in sight."""
        window = view.window()
        area = QRect(window.mapToGlobal(QPoint(0, 0)), window.size())
        avoid = QRect(view.mapToGlobal(QPoint(0, 0)), view.size())
        self.setGeometry(beside(area, avoid, self.width()))

    def current_view(self) -> int:
        return int(self.view_box.currentData())

    def current_mode(self) -> str:
        return str(self.mode_box.currentData())

    def _selected_id(self) -> int | None:
        sel = self.selected
        return None if sel is None or sel.id not in self.scene.instances else int(sel.id)

    def _set_pending(self, pending: photo_lasso.PhotoEdit | None, message: str | None = None) -> None:
        shown = self.pending is not None or pending is not None  # the photos show (or will show) a preview
        self.pending = pending
        self._update_buttons()
        if pending is not None:
            self.summary.setText(f"Will change {pending.summary}: Enter applies, Esc cancels.")
        else:
            self.summary.setText(message or HINT)
        if shown:
            self._show_images()
        self.preview_changed.emit(pending)

    def _update_buttons(self) -> None:
        busy = self.job is not None
        self.apply_button.setEnabled(self.pending is not None and not busy)
        self.cancel_button.setEnabled(self.pending is not None or busy)
        self.progress.setVisible(busy)

    def _draw_on(self, view: int) -> None:
        self.view_box.setCurrentIndex(self.view_box.findData(view))

    # ---------------------------------------------------------------------------------------- images
    def _view_rgb(self, v: int, changed: np.ndarray | None, step: int = 1) -> np.ndarray:
        """View ``v`` (every ``step``-th pixel) with the selected instance and the previewed change."""
        labels = self.scene.labels[v][::step, ::step]
        rgb = np.asarray(self.scene.images[v])[::step, ::step].copy()
        sid = self._selected_id()
        if sid is not None:
            hit = labels == sid
            tint = label_image(labels, self.scene.instance_colours())
            rgb[hit] = (0.5 * rgb[hit] + 0.5 * tint[hit]).astype(np.uint8)
        if changed is not None:  # a preview: what changes tinted, the rest darkened so it stands out
            changed = changed[::step, ::step]
            rgb = np.where(changed[..., None], rgb, (rgb * REST_KEEP).astype(np.uint8))
            if changed.any():
                rgb = tinted(rgb, changed, CHANGE_COLOUR)
        return rgb

    def _changed(self, v: int) -> np.ndarray | None:
        return None if self.pending is None else self.pending.changed[v]

    def _show_images(self) -> None:
        """The photo drawn on and every thumbnail (after the preview or the scene changed)."""
        counts = [0] * self.scene.n_views if self.pending is None else self.pending.view_pixels
        step = max(1, max(self.scene.image_size) // (2 * THUMB_SIDE))  # thumbnails: no more pixels than shown
        entries = []
        for v, info in enumerate(self.scene.views):
            caption = f"{v + 1}" + (f": {counts[v]:,} px" if counts[v] else "")
            entries.append((v, to_pixmap(self._view_rgb(v, self._changed(v), step)), caption, info.name))
        self.strip.set_items(entries)
        self._show_photo()

    def _show_photo(self) -> None:
        """The current photo; the shape stays on the photo it was drawn on, others show what it changes."""
        v = self.current_view()
        keep = self._shape is not None and self._shape[0] == v
        self.canvas.set_image(self._view_rgb(v, self._changed(v)), keep_shape=keep)
        item = self.strip.item(v)
        if item is not None and item.data(VIEW_ROLE) == v:
            self.strip.setCurrentItem(item)

    # --------------------------------------------------------------------------------------- actions
    def _on_polygon(self, polygon: np.ndarray) -> None:
        self._shape = (self.current_view(), polygon)
        self._prepare()

    def _on_mode(self) -> None:
        """Another mode (or "Only this photo" toggled): the shape drawn (if any) is prepared again, also
        when it changed nothing in the mode before ("select the instance to split first")."""
        if self._shape is not None:
            self._prepare()

    def _prepare(self) -> None:
        """Prepare the shape drawn last in the background; one running for an earlier shape (or mode, or
        labels) is dropped, and so is the preview shown."""
        self._stop_job()
        view, polygon = self._shape
        scene, mode, selected = self.scene, self.current_mode(), self._selected_id()
        carry = not self.this_photo.isChecked()

        def step(_cancelled):  # the worker's: it holds the scene and the shape, not the dialog
            try:
                return (yield from photo_lasso.iter_prepare(scene, view, polygon, mode, selected,
                                                            carry=carry))  # fmt: skip
            except EditError as exc:  # "nothing to change": an answer for the user, not a failure
                return exc

        # the window owns the job (when there is one): a dialog closed mid-way is deleted, while the job
        # waits for its worker to stop and then goes by itself
        job = Job("photo-lasso", step, self.parent() or self)
        job.progress.connect(self._on_progress)
        job.succeeded.connect(self._on_prepared)
        job.failed.connect(self._on_prepare_failed)
        job.done.connect(self._on_job_done)
        self.job = job
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        job.start()  # first: dropping the preview shown redraws the photos and the 3D view meanwhile
        self._set_pending(None, "Preparing the preview… Esc cancels.")

    def _stop_job(self) -> bool:
        """Stop the running preparation (its result, if it still comes, is dropped); True if one ran."""
        job, self.job = self.job, None
        if job is None:
            return False
        job.progress.disconnect(self._on_progress)
        job.succeeded.disconnect(self._on_prepared)
        job.failed.disconnect(self._on_prepare_failed)
        job.done.disconnect(self._on_job_done)
        job.cancel()
        self._update_buttons()
        return True

    def _on_progress(self, event: Progress) -> None:
        self.progress.setValue(round(event.fraction * 1000))
        self.progress.setFormat(f"{event.message} (%p%)")

    def _on_prepared(self, result: photo_lasso.PhotoEdit | EditError) -> None:
        self.job = None
        if isinstance(result, EditError):
            self._set_pending(None, f"Nothing to change: {result}")
        else:
            self._set_pending(result)

    def _on_prepare_failed(self, exc: BaseException) -> None:
        self.job = None
        self._set_pending(None, f"Could not prepare the change: {user_message(exc)}")

    def _on_job_done(self) -> None:
        self.job = None
        self._update_buttons()

    def apply(self) -> None:
        pending = self.pending
        if pending is None:
            return
        self._shape = None
        self._set_pending(None)
        self.apply_requested.emit(pending)
        self._show_images()  # the scene's new labels

    def cancel(self) -> None:
        """Drop the shape drawn and its preview (if any) or its preparation."""
        self._stop_job()
        self._shape = None
        self._set_pending(None)
        self._show_photo()  # without the shape

    def scene_edited(self) -> None:
        """The scene's instances changed (an undo, a redo, an applied edit): show them; a preview built on
        the labels before is dropped (applying it would be refused); one being prepared starts again."""
        if self.job is not None:
            self._show_images()  # the labels now, while the shape is prepared on them again
            self._prepare()
        elif self.pending is not None and not self.pending.is_current(self.scene):
            self._shape = None
            self._set_pending(None, "The scene changed since the preview: draw the lasso again.")
        else:
            self._show_images()

    def reject(self) -> None:
        """Esc: drop the shape being drawn, else the shape drawn and its preview; with neither, close."""
        if self.canvas.cancel_drawing():
            return
        if self.pending is not None or self._shape is not None or self.job is not None:
            self.cancel()
            return
        super().reject()

    def closeEvent(self, event) -> None:
        """Closing the window drops the shape and the preview and closes (Esc only drops them)."""
        self._stop_job()
        if self.pending is not None or self._shape is not None:
            self._shape = None  # QDialog's closeEvent rejects: with a shape left, reject would only drop it
            self._set_pending(None)
        super().closeEvent(event)

    def done(self, result: int) -> None:
        self._stop_job()
        if self.pending is not None:
            self.pending = None
            self.preview_changed.emit(None)
        super().done(result)
