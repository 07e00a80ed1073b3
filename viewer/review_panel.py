"""Review mode: work through a scene's instances, most suspicious first, with one key per action.

The Review panel lists the review queue (``app.review.review_queue``: each instance with why it is there
and what it suggests). The current item is selected (the 3D view highlights it and dims the rest) and
framed, and its mask is shown in every view side by side. Keys (while the queue list has the focus):
A accept, M merge with the suggested neighbour, S the suggested split (3D parts or two objects), Del delete,
F2 rename, N next (skip), P previous. Every action is one undoable edit (``app.review_actions``) pushed
through the window's ``push_edit``; the queue is then ranked again at once (``app.review_session``: parts
of a split come in, merged-away instances leave) and the next unreviewed item follows; an undo re-ranks
too, keeping the current item. The status bar counts "12 of 33 reviewed".

Installed by ``install_review(window)``; the window provides ``document``, ``selection``, ``view``,
``add_panel``, ``push_edit``, ``statusBar`` and ``run_job`` (a background job with progress).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QIcon, QImage, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QDockWidget,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.edits import EditError
from app.review import UNREVIEWED, ReviewItem, progress_text, review_state
from app.review_session import ReviewSession
from app.scene import Scene
from viewer.panels.narrow import wrap_to_fit
from viewer.swatch import swatch

log = logging.getLogger(__name__)

ITEM_ROLE = Qt.ItemDataRole.UserRole
KEYS = {
    Qt.Key.Key_A: "accept",
    Qt.Key.Key_M: "merge",
    Qt.Key.Key_S: "split",
    Qt.Key.Key_Delete: "delete",
    Qt.Key.Key_F2: "rename",
    Qt.Key.Key_N: "next",
    Qt.Key.Key_P: "back",
}
THUMB_HEIGHT = 96
STATE_MARK = {"accepted": "✓", "fixed": "✎", "unreviewed": "•"}


def mask_thumbnail(scene: Scene, instance_id: int, view: int, height: int = THUMB_HEIGHT) -> QImage:
    """The view's image darkened, with the instance's pixels in its colour (half-transparent)."""
    img = np.asarray(scene.images[view], np.float32)
    mask = np.asarray(scene.labels[view]) == instance_id
    colour = np.asarray(scene.instances[instance_id].colour, np.float32)
    out = img * 0.3
    out[mask] = img[mask] * 0.25 + colour * 0.75
    step = max(1, round(img.shape[0] / height))
    out = np.ascontiguousarray(out[::step, ::step].clip(0, 255).astype(np.uint8))
    h, w, _ = out.shape
    return QImage(out.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def frame_instance(view: Any, scene: Scene, instance_id: int, render: bool = True) -> bool:
    """Point the 3D camera at an instance and fit its points (keeping the viewing direction)."""
    pts = np.asarray(scene.points)[np.asarray(scene.point_labels) == instance_id]
    if pts.shape[0] == 0:
        return False
    lo, hi = np.percentile(pts, 1, axis=0), np.percentile(pts, 99, axis=0)
    bounds = (lo[0], hi[0], lo[1], hi[1], lo[2], hi[2])
    view.plotter.renderer.ResetCamera(*[float(b) for b in bounds])
    view.plotter.renderer.ResetCameraClippingRange()
    if render:
        view.render()
    return True


def ask_name(parent: QWidget, current: str) -> str | None:
    text, ok = QInputDialog.getText(parent, "Rename instance", "Name:", text=current)
    return text if ok else None


class QueueList(QListWidget):
    """The queue; claims the review keys while it has the focus (before the window's shortcuts)."""

    def __init__(self, panel: ReviewPanel) -> None:
        super().__init__(panel)
        self._panel = panel

    def event(self, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() in KEYS
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        plain = event.modifiers() == Qt.KeyboardModifier.NoModifier
        action = KEYS.get(Qt.Key(event.key())) if plain else None
        if action is None:
            super().keyPressEvent(event)
            return
        self._panel.act(action)


class ReviewPanel(QDockWidget):
    """The Review dock (see the module docstring)."""

    def __init__(self, window: Any) -> None:
        super().__init__("Review", window)
        self.setObjectName("review_panel")
        self.window_ = window
        self.session: ReviewSession | None = None
        self._scene: Scene | None = None
        self._refresh_pending = False
        self._ranking = False  # a ranking runs in the background: actions wait for it
        self._built = False  # the queue was asked for on this scene (it stays, even when all is done)
        self._changed_while_ranking = False
        body = QWidget(self)
        layout = QVBoxLayout(body)
        self.progress = QLabel("No scene", body)
        self.progress.setObjectName("review_progress")
        wrap_to_fit(self.progress)
        top = QHBoxLayout()
        top.addWidget(self.progress, 1)
        self.start_button = QPushButton("Build queue", body)
        self.start_button.setToolTip("Rank the instances by suspicion (again)")
        self.start_button.clicked.connect(self.build_queue)
        top.addWidget(self.start_button)
        layout.addLayout(top)
        self.list = QueueList(self)
        self.list.setObjectName("review_queue")
        self.list.setIconSize(QSize(12, 12))
        self.list.currentRowChanged.connect(self._on_row)
        # a narrow side panel: long reasons are elided here (the whole reason shows below), never scrolled to
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.list, 2)
        self.reason = QLabel("", body)
        wrap_to_fit(self.reason)
        self.reason.setObjectName("review_reason")
        layout.addWidget(self.reason)
        self.strip = QWidget(body)
        self.strip_layout = QHBoxLayout(self.strip)
        self.strip_layout.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea(body)
        scroll.setWidget(self.strip)
        scroll.setWidgetResizable(True)
        scroll.setFixedHeight(THUMB_HEIGHT + 28)
        layout.addWidget(scroll)
        # a 1280 px screen's side panel is about 320 px: the actions on two rows of three (seven buttons in
        # one row asked for 632), back and next sharing the last cell
        buttons = QGridLayout()
        self.buttons: dict[str, QPushButton] = {}
        step = QHBoxLayout()
        for k, (name, text) in enumerate((
                ("accept", "&Accept (A)"), ("merge", "Merge (M)"), ("split", "Split (S)"),
                ("delete", "Delete (Del)"), ("rename", "Rename (F2)"), ("back", "◀ P"), ("next", "N ▶"))):
            b = QPushButton(text, body)
            b.setObjectName(f"review_{name}")
            b.clicked.connect(lambda _=False, n=name: self.act(n))
            if name in ("back", "next"):
                b.setMinimumWidth(b.fontMetrics().horizontalAdvance(text) + 16)
                step.addWidget(b)
            else:
                buttons.addWidget(b, k // 3, k % 3)
            self.buttons[name] = b
        buttons.addLayout(step, 1, 2)
        layout.addLayout(buttons)
        self.setWidget(body)
        self.status = QLabel("", window)
        self.status.setObjectName("review_status")
        window.statusBar().addPermanentWidget(self.status)
        window.document.scene_changed.connect(self._on_scene)
        self.visibilityChanged.connect(self._on_visible)
        self._on_scene(window.document.scene)

    def _on_visible(self, visible: bool) -> None:
        if not visible:  # review ends with its tab: the cameras come back
            self.window_.view.hold_frusta("review", False)

    # ---------------------------------------------------------------------------------------- scene
    @property
    def items(self) -> list[ReviewItem]:
        return self.session.items if self.session is not None else []

    @property
    def current(self) -> int | None:
        return self.session.current if self.session is not None else None

    def _on_scene(self, scene: Scene | None) -> None:
        if self._scene is not None:
            for signal in (self._scene.events.instances, self._scene.events.labels,
                           self._scene.events.instance_changed):  # fmt: skip
                signal.disconnect(self._schedule_refresh)
        self._scene = scene
        self._built = False
        self.window_.view.hold_frusta("review", False, render=False)
        self.session = None if scene is None else ReviewSession(scene, self.window_.push_edit)
        self.list.clear()
        if scene is not None:
            for signal in (scene.events.instances, scene.events.labels, scene.events.instance_changed):
                signal.connect(self._schedule_refresh)
        self._update_progress()
        self._show_current()

    def _schedule_refresh(self, *_: Any) -> None:
        if self._ranking:
            self._changed_while_ranking = True
        if not self._refresh_pending:
            self._refresh_pending = True
            QTimer.singleShot(0, self._refresh)

    def _refresh(self) -> None:
        """After an edit made elsewhere or an undo: rank again, keeping the current instance current."""
        if not self._refresh_pending:  # an action already ranked the queue for this change
            return
        self._refresh_pending = False
        self._update_progress()
        session = self.session
        if session is None or not (session.items or self._built):  # an emptied queue comes back with undo
            return
        item = session.current_item()
        session.rerank(keep=None if item is None else item.instance_id)
        self._populate()
        self._show_current(frame=False)

    def _update_progress(self) -> None:
        scene = self._scene
        text = "" if scene is None or not scene.instances else progress_text(scene)
        self.progress.setText(text or "No instances")
        self.status.setText(text)

    # ---------------------------------------------------------------------------------------- queue
    def build_queue(self) -> None:
        """Rank the instances (in the background; the first open item is shown when done)."""
        session = self.session
        if session is None:
            return
        from viewer.workers import Job

        def step(cancel):
            from app.progress import Progress

            yield Progress("review", "ranking instances by suspicion", 0.1, 0.1)
            return session, session.rank()

        # cancel_at_once=False: "done" comes when the ranking has really stopped reading the scene
        job = Job("review queue", lambda cancel: step(cancel), self, cancel_at_once=False)
        self._ranking, self._changed_while_ranking = True, False
        job.done.connect(self._ranking_ended)
        self.window_.run_job(job, self._on_queue, "Ranking instances…", "Review queue failed")

    def _ranking_ended(self, *_: Any) -> None:
        self._ranking = False

    def _on_queue(self, result: tuple[ReviewSession, list[ReviewItem]]) -> None:
        session, items = result
        if session is not self.session:
            return
        session.skipped.clear()
        session.set_items(items)
        self._built = True
        if self._changed_while_ranking:  # an edit made meanwhile (a rename in the list, an undo): this
            session.rerank()  # ranking describes the scene before it
        self._populate()
        self._show_current()
        self.list.setFocus()
        self._update_progress()

    def _populate(self) -> None:
        """The list widget from the session's ranking, the current row selected."""
        scene = self._scene
        self.list.blockSignals(True)
        self.list.clear()
        for item in self.items:
            row = QListWidgetItem()
            self._fill(row, item, scene)
            self.list.addItem(row)
        if self.current is not None:
            self.list.setCurrentRow(self.current)
        self.list.blockSignals(False)

    def _open(self, item: ReviewItem) -> bool:
        return self.session is not None and self.session.is_open(item)

    def _fill(self, row: QListWidgetItem, item: ReviewItem, scene: Scene) -> None:
        inst = scene.instances.get(item.instance_id)
        if inst is None:
            row.setText(f"(gone) instance {item.instance_id}")
            row.setIcon(QIcon())
            row.setForeground(QColor("#888888"))
            return
        state = review_state(inst)
        suggestion = item.action
        if item.action == "merge" and item.partner in scene.instances:
            suggestion += f" with {scene.instances[item.partner].name}"
        elif item.action == "split" and item.split is not None:
            suggestion += " into 3D parts" if item.split == "3d" else " into two objects"
        row.setText(f"{STATE_MARK[state]} {inst.name} — {item.reason_text} → {suggestion}")
        row.setIcon(swatch(inst.colour))
        row.setData(ITEM_ROLE, item.instance_id)
        row.setToolTip(f"{inst.name}: {state}\n{item.reason_text}\nsuggested: {suggestion}")
        row.setForeground(QColor("#888888") if state != UNREVIEWED else QColor(self.palette().text().color()))

    def _go(self, index: int | None) -> None:
        if self.session is None:
            return
        self.session.go(index)
        index = self.current
        if index is not None:
            self.list.blockSignals(True)
            self.list.setCurrentRow(index)
            self.list.blockSignals(False)
        self._show_current()

    def _on_row(self, row: int) -> None:
        self._go(row if 0 <= row < len(self.items) else None)

    def current_item(self) -> ReviewItem | None:
        return None if self.session is None else self.session.current_item()

    def _show_current(self, frame: bool = True) -> None:
        item, scene = self.current_item(), self._scene
        for k in reversed(range(self.strip_layout.count())):
            w = self.strip_layout.takeAt(k).widget()
            if w is not None:
                w.deleteLater()
        enabled = item is not None and scene is not None and item.instance_id in scene.instances
        for b in self.buttons.values():
            b.setEnabled(item is not None)
        if not enabled:
            self.reason.setText("Build the queue to start reviewing." if not self.items else "Instance gone.")
            return
        inst = scene.instances[item.instance_id]
        self.reason.setText(f"<b>{inst.name}</b> ({review_state(inst)}): {item.reason_text}")
        # pixels per view: the instance statistics have them (counted here only when they are missing)
        pixels = inst.stats.view_pixels or {
            v: int(np.count_nonzero(np.asarray(scene.labels[v]) == inst.id)) for v in range(scene.n_views)}
        for v in sorted(v for v, n in pixels.items() if n > 0):
            label = QLabel(self.strip)
            label.setPixmap(QPixmap.fromImage(mask_thumbnail(scene, inst.id, v)))
            label.setToolTip(scene.views[v].name)
            self.strip_layout.addWidget(label)
        self.strip_layout.addStretch(1)
        if frame:
            self.window_.selection.select(inst.id)
            view = self.window_.view
            view.hold_frusta("review", True, render=False)
            # seen from the photo that shows the most of it (the direction kept from before often looked
            # at a small fragment through a wall of the room's other, dimmed, points)
            view.go_to_view(max(pixels, key=pixels.get), render=False)
            frame_instance(view, scene, inst.id)

    # --------------------------------------------------------------------------------------- actions
    def act(self, action: str) -> None:
        """One review action on the current item (one undoable edit); the queue is ranked again at once and
        the next open item follows (N skips, P goes back)."""
        if self._ranking:  # the background ranking reads the scene: it is not edited under it
            self.window_.statusBar().showMessage("Ranking the queue: a moment…", 3000)
            return
        if self._refresh_pending:  # an undo or an edit made elsewhere not yet answered: rank first
            self._refresh()
        session, scene = self.session, self._scene
        if session is None or scene is None or session.current_item() is None:
            return
        if action in ("next", "back"):
            moved = session.next() if action == "next" else session.back()
            if not moved:
                self.window_.statusBar().showMessage(f"Review done: {progress_text(scene)}", 6000)
            self._go(session.current)
            return
        name = None
        if action == "rename":
            iid = session.current_item().instance_id
            if iid not in scene.instances:
                return
            name = ask_name(self, scene.instances[iid].name)
            if name is None:
                return
            if self._scene is not scene or self.window_.document.scene is not scene:
                # another scene arrived while the name was asked for: the rename was for the one before
                self.window_.statusBar().showMessage("Another scene was opened meanwhile: not renamed", 6000)
                return
        try:
            edit = session.edit_for(action, name)
        except EditError as exc:
            self.window_.statusBar().showMessage(str(exc), 6000)
            return
        self.window_.push_edit(edit)
        session.rerank()  # the pushed edit's scene events are answered here, not again by _refresh
        self._refresh_pending = False
        self._update_progress()
        self._populate()
        self._show_current()
        if session.current is None:
            self.window_.statusBar().showMessage(f"Review done: {progress_text(scene)}", 6000)


def install_review(window: Any) -> ReviewPanel:
    """Add the Review panel to ``window`` (kept as ``window.review_panel``)."""
    existing = getattr(window, "review_panel", None)
    if isinstance(existing, ReviewPanel):
        return existing
    panel = ReviewPanel(window)
    window.add_panel(panel, Qt.DockWidgetArea.RightDockWidgetArea)
    window.review_panel = panel
    return panel
