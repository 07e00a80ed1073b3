"""Review mode: work through a scene's instances, most suspicious first, with one key per action.

The Review panel lists the review queue (``app.review.review_queue``: each instance with why it is there
and what it suggests). The current item is selected (the 3D view highlights it and dims the rest) and
framed, and its mask is shown in every view side by side. Keys (while the queue list has the focus):
A accept, M merge with the suggested neighbour, S the suggested split (3D parts or two objects), Del delete,
F2 rename, N next (skip), P previous. Every action is one undoable edit (``app.review_actions``) pushed
through the window's ``push_edit``, and the next unreviewed item of the queue as it was follows at once.
The queue is then ranked again in the background (``app.review_session``, on a snapshot of the scene: parts
of a split come in, merged-away instances leave, neighbours are scored again; most of a second on the
sample room, more on big ones, which froze the window when it ran in the GUI thread). When the ranking
arrives the list is updated and the item on screen stays current, so keys pressed meanwhile act on the item
the user sees; a ranking of a scene that changed since (another key, an undo) is dropped for the next one.
An undo or an edit made elsewhere re-ranks the same way, keeping the current item. The status bar counts
"12 of 33 reviewed".

Installed by ``install_review(window)``; the window provides ``document``, ``selection``, ``view``,
``add_panel``, ``push_edit``, ``statusBar`` and ``run_job`` (a background job with progress).
"""

from __future__ import annotations

import html
import logging
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QSize, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QImage,
    QKeyEvent,
    QPixmap,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
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
from app.progress import Progress
from app.review import UNREVIEWED, ReviewItem, progress_text, review_state, snapshot
from app.review_session import ReviewSession
from app.scene import Scene
from viewer.panels.narrow import wrap_to_fit
from viewer.swatch import swatch
from viewer.workers import Job

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
# the panel fits a 1280x800 window's right column (about 256 px high beside the photos) without scrolling
THUMB_HEIGHT = 48  # the mask strip's thumbnails (a 1280x720 window leaves the panel about 240 px)
REASON_LINES = 3  # the current item's reasons are cut to this many lines (all of them in its tooltip)
QUEUE_ROWS = 2  # the queue asks for this many rows and takes whatever height is left beyond the rest
STATE_MARK = {"accepted": "✓", "fixed": "✎", "unreviewed": "•"}


def mask_thumbnail(scene: Scene, instance_id: int, view: int, height: int = THUMB_HEIGHT) -> QImage:
    """The view's image darkened, with the instance's pixels in its colour (half-transparent)."""
    img = np.asarray(scene.images[view], np.float32)
    mask = np.asarray(scene.labels[view]) == instance_id
    colour = np.asarray(scene.instances[instance_id].colour, np.float32)
    out = img * 0.3
    out[mask] = img[mask] * 0.25 + colour * 0.75
    step = max(1, img.shape[0] // (2 * height))  # big photos: a cheap first cut, then a smooth one
    out = np.ascontiguousarray(out[::step, ::step].clip(0, 255).astype(np.uint8))
    h, w, _ = out.shape
    image = QImage(out.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return image.scaledToHeight(height, Qt.TransformationMode.SmoothTransformation)


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


def cut_to_lines(text: str, font: QFont, width: int, lines: int) -> str:
    """``text`` as word-wrapped at ``width`` in ``font``, cut after ``lines`` lines (ending in "…")."""
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WordWrap)
    layout.setTextOption(option)
    starts = []
    layout.beginLayout()
    while len(starts) <= lines:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        starts.append(line.textStart())
    layout.endLayout()
    if len(starts) <= lines:
        return text
    start = starts[lines - 1]
    return text[:start] + QFontMetrics(font).elidedText(text[start:], Qt.TextElideMode.ElideRight, width)


class ReasonLabel(QLabel):
    """The current item's name (bold) and reasons, wrapped at the panel's width and cut to
    ``REASON_LINES`` lines: four or more lines of reasons made the panel scroll in a 1280x800 window."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        wrap_to_fit(self)
        self.setTextFormat(Qt.TextFormat.RichText)
        self._head, self._rest = "", ""

    def set_reason(self, head: str, rest: str = "") -> None:
        """Show ``head`` (bold) followed by ``rest``."""
        self._head, self._rest = head, rest
        self._fit()

    def full_text(self) -> str:
        return self._head + self._rest

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        full = self.full_text()
        bold = QFont(self.font())
        bold.setBold(True)  # measured all in bold: the text shown never takes more lines than measured
        width = self.contentsRect().width()
        shown = cut_to_lines(full, bold, width, REASON_LINES) if width > 0 else full
        self.setToolTip(full if shown != full else "")
        n = min(len(self._head), len(shown))
        text = f"<b>{html.escape(shown[:n])}</b>{html.escape(shown[n:])}"
        if text != self.text():
            self.setText(text)


class QueueList(QListWidget):
    """The queue; claims the review keys while it has the focus (before the window's shortcuts)."""

    def __init__(self, panel: ReviewPanel) -> None:
        super().__init__(panel)
        self._panel = panel

    def sizeHint(self) -> QSize:
        """A few rows: the rest of the panel is laid out first (Qt's 192 px for a list made the panel
        scroll in a 1280x800 window, the queue taking the space the mask strip needed)."""
        rows = QUEUE_ROWS * max(self.sizeHintForRow(0), self.fontMetrics().height() + 4)
        return QSize(super().sizeHint().width(), rows + 2 * self.frameWidth())

    def minimumSizeHint(self) -> QSize:
        return QSize(super().minimumSizeHint().width(), self.sizeHint().height())

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
        self._built = False  # the queue was asked for on this scene (it stays, even when all is done)
        self._rank_job: Job | None = None  # the ranking running in the background (one at a time)
        self._generation = 0  # counts the scene's changes: the ranking of a scene before one is dropped
        self._rank_again = False  # the scene changed while a ranking ran: rank once more when it ends
        self._fresh = False  # the ranking asked for by Build queue: a new pass from its first open item
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
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
        self.reason = ReasonLabel(body)
        self.reason.setObjectName("review_reason")
        layout.addWidget(self.reason)
        self.strip = QWidget(body)
        self.strip_layout = QHBoxLayout(self.strip)
        self.strip_layout.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea(body)
        scroll.setObjectName("review_strip")
        scroll.setWidget(self.strip)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedHeight(THUMB_HEIGHT + scroll.horizontalScrollBar().sizeHint().height())
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

    @property
    def ranking(self) -> bool:
        """A ranking runs or is due: the list shows the one before (the current item is right)."""
        return self._rank_job is not None or self._rank_again or self._refresh_pending

    def _on_scene(self, scene: Scene | None) -> None:
        if self._scene is not None:
            for signal in (self._scene.events.instances, self._scene.events.labels,
                           self._scene.events.instance_changed):  # fmt: skip
                signal.disconnect(self._schedule_refresh)
        self._scene = scene
        self._built = False
        self._generation += 1
        self._rank_again = self._fresh = False
        if self._rank_job is not None:  # it ranks the scene before: its result is dropped, and with the
            self._rank_job.cancel(at_once=True)  # session its cache goes too: nothing to wait for (a Build
            self._rank_job = None  # queue in the window's job slot frees it now, not at the ranking's end)
        self.window_.view.hold_frusta("review", False, render=False)
        self.session = None if scene is None else ReviewSession(scene, self.window_.push_edit)
        self.list.clear()
        if scene is not None:
            for signal in (scene.events.instances, scene.events.labels, scene.events.instance_changed):
                signal.connect(self._schedule_refresh)
        self._update_progress()
        self._show_current()

    def _schedule_refresh(self, *_: Any) -> None:
        self._generation += 1
        if self._rank_job is not None:  # it ranks the scene before this change: rank once more after it
            self._rank_again = True
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
        session.step_on(keep=None if item is None else item.instance_id)
        self._populate()
        self._show_current(frame=False)
        self._rank()

    def _update_progress(self) -> None:
        scene = self._scene
        text = "" if scene is None or not scene.instances else progress_text(scene)
        self.progress.setText(text or "No instances")
        self.status.setText(text)

    # ---------------------------------------------------------------------------------------- queue
    def build_queue(self) -> None:
        """Rank the instances (again) and start a new pass at the first open item: in the background with
        progress in the status bar (the first ranking of a room takes seconds)."""
        if self.session is None:
            return
        self._fresh = True
        self._rank(with_progress=True)

    def _fit_height(self) -> None:
        """After Build queue the right column gives the panel the height it needs, the photos below it
        taking less, rather than the panel scrolling in a short window (a 1280x720 screen)."""
        scroll, reason = self.widget(), self.reason
        if self.isFloating() or not self.isVisible() or not isinstance(scroll, QScrollArea):
            return
        body, line = scroll.widget(), reason.fontMetrics().lineSpacing()
        width = scroll.viewport().width()
        need = body.heightForWidth(width) if body.hasHeightForWidth() else body.sizeHint().height()
        need += max(0, REASON_LINES - reason.height() // line) * line  # room for the longest reasons
        short = need - scroll.viewport().height()
        if short > 0:
            self.window_.resizeDocks([self], [self.height() + short], Qt.Orientation.Vertical)

    def _rank(self, with_progress: bool = False) -> None:
        """Rank the queue in a worker thread on a snapshot of the scene as it is now (see the module
        docstring); while one runs, the next waits for it (they share the session's cache)."""
        session = self.session
        if session is None:
            return
        if self._rank_job is not None:
            self._rank_again = True
            return
        self._rank_again = False
        source, generation = snapshot(session.scene), self._generation

        def step(_cancelled):
            yield Progress("review", "ranking instances by suspicion", 0.1, 0.1)
            return session.rank(source)

        # cancel_at_once=False: "done" comes when the ranking has really stopped using the session's cache
        job = Job("review queue", step, self, cancel_at_once=False)
        self._rank_job = job
        job.done.connect(lambda: self._rank_done(job))
        if with_progress:
            self.window_.run_job(job, lambda items: self._on_ranked(session, generation, items),
                                 "Ranking instances…", "Review queue failed")  # fmt: skip
        else:
            job.succeeded.connect(lambda items: self._on_ranked(session, generation, items))
            job.failed.connect(self._rank_failed)
            job.start()

    def _rank_done(self, job: Job) -> None:
        if self._rank_job is job:
            self._rank_job = None
            if self._rank_again:
                self._rank()

    def _rank_failed(self, exc: BaseException) -> None:
        self.window_.statusBar().showMessage(f"Ranking the review queue failed: {exc}", 8000)

    def _on_ranked(self, session: ReviewSession, generation: int, items: list[ReviewItem]) -> None:
        if session is not self.session or generation != self._generation:
            return  # it ranked the scene before a change: the ranking after it follows
        if not self.window_.isVisible():  # closed meanwhile: its 3D view is gone
            return
        fresh, self._fresh = self._fresh, False
        shown = session.current_item()
        if fresh:
            session.skipped.clear()
        session.set_items(items, keep=None if fresh or shown is None else shown.instance_id)
        self._built = True
        self._populate()
        now = session.current_item()
        if fresh or now is None or shown is None or now.instance_id != shown.instance_id:
            self._show_current()
        else:
            self._show_reason(now)  # the same instance, its reasons ranked anew
        if fresh:
            self.list.setFocus()
            QTimer.singleShot(0, self._fit_height)
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

    def _show_reason(self, item: ReviewItem) -> None:
        inst = self._scene.instances[item.instance_id]
        state = review_state(inst)
        shown_state = "" if state == UNREVIEWED else f" ({state})"
        self.reason.set_reason(inst.name, f"{shown_state}: {item.reason_text}")

    def _show_current(self, frame: bool = True) -> None:
        item, scene = self.current_item(), self._scene
        for k in reversed(range(self.strip_layout.count())):
            w = self.strip_layout.takeAt(k).widget()
            if w is not None:
                w.hide()  # gone from sight now, not when the event loop deletes it
                w.deleteLater()
        enabled = item is not None and scene is not None and item.instance_id in scene.instances
        for b in self.buttons.values():
            b.setEnabled(item is not None)
        if not enabled:
            if not self.items:
                hint = "Build the queue to start reviewing."
            elif item is None:  # nothing open is left
                hint = f"Review done: {progress_text(scene)}. Build queue starts another pass."
            else:
                hint = "This instance is gone (merged or deleted): N or P moves on."
            self.reason.set_reason("", hint)
            return
        inst = scene.instances[item.instance_id]
        self._show_reason(item)
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
            view = self.window_.view
            view.hold_frusta("review", True, render=False)
            # seen from the photo that shows the most of it (the direction kept from before often looked
            # at a small fragment through a wall of the room's other, dimmed, points)
            view.go_to_view(max(pixels, key=pixels.get), render=False)
            frame_instance(view, scene, inst.id, render=False)
            if self.window_.selection.instance != inst.id:
                self.window_.selection.select(inst.id)  # the view dims the others and renders, once
            else:
                view.render()

    # --------------------------------------------------------------------------------------- actions
    def act(self, action: str) -> None:
        """One review action on the item on screen (one undoable edit); the next open item follows at once
        and the queue is ranked again in the background (N skips, P goes back)."""
        if self._refresh_pending:  # an undo or an edit made elsewhere not yet answered: answer it first
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
            now = session.current_item()
            if now is None or now.instance_id != iid:  # gone meanwhile (an undo, a re-cluster)
                self.window_.statusBar().showMessage("The instance changed meanwhile: not renamed", 6000)
                return
        try:
            edit = session.edit_for(action, name)
        except EditError as exc:
            self.window_.statusBar().showMessage(str(exc), 6000)
            return
        self.window_.push_edit(edit)
        self._refresh_pending = False  # the pushed edit's scene events are answered here, not by _refresh
        session.step_on()
        self._update_progress()
        self._populate()
        self._show_current()
        self._rank()
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
