"""Annotation editing in the main window: Edit menu, undo stack + history panel, lasso tools, File >
Export, autosave with crash recovery.

Installed by ``install_editing(window)`` (idempotent; call it at the end of ``MainWindow.__init__``).
The window provides ``document`` (viewer.document.Document), ``selection`` (viewer.selection.Selection),
``view`` (viewer.scene_view.SceneView), ``actions_``, ``menus``, ``add_panel``, ``show_error``, ``settings``
and the hooks ``push_edit(edit, selection)`` and ``push_view(text, redo, undo)``, which are replaced so that
edits prepared elsewhere in the window (renames and show/hide in the instance list, re-clustering, "Label
all") and isolating an instance are recorded on the undo stack. The window itself asks about unsaved
changes on close; this module then drops the session's autosave. All edit logic is in ``app.edits``; this
module only collects the user's choices (selection, dialogs, lasso) and pushes prepared edits.

Questions to the user go through the small ``ask_*`` functions at the bottom, which tests replace.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (
    QApplication,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from app import autosave, edits
from app.scene import Scene
from viewer.actions import ActionSpec
from viewer.commands import EditStack
from viewer.export_dialog import ExportDialog
from viewer.panels.history import HistoryPanel
from viewer.panels.instances import ID_ROLE

log = logging.getLogger(__name__)

AUTOSAVE_SETTING = "editing/autosave_minutes"
DEFAULT_AUTOSAVE_MINUTES = 3.0


class EditingController(QObject):
    """Everything of issue "annotate and export" that lives in the window."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.document = window.document
        self.selection = window.selection
        self.stack = EditStack(self)
        self.stack.setObjectName("edit_stack")
        self.stack.failed.connect(self._on_failed)
        self.stack.applied.connect(
            lambda e: window.statusBar().showMessage(f"{e.text} — Ctrl+Z undoes it", 6000)
        )
        self.history = HistoryPanel(self.stack, window)
        window.add_panel(self.history, Qt.DockWidgetArea.RightDockWidgetArea)
        neighbour = getattr(window, "instance_panel", None)
        if neighbour is not None:  # a tab behind the Instance panel
            window.tabifyDockWidget(neighbour, self.history)
            neighbour.raise_()
        self.export_dialog: ExportDialog | None = None
        self.autosaver = autosave.Autosaver()
        self._autosaved_state: tuple | None = None
        self._changes = 0  # bumps on every scene change, for autosave
        self.lasso: LassoTool | None = None

        self.document.scene_changed.connect(self._on_scene_changed)
        self.document.modified_changed.connect(self._on_modified_changed)
        self.stack.cleanChanged.connect(self._on_clean_changed)
        self.stack.indexChanged.connect(self._on_clean_changed)
        self.stack.selection_requested.connect(self._restore_selection)
        self.stack.indexChanged.connect(self._bump)
        self.stack.indexChanged.connect(self._drop_vanished_selection)
        self.selection.changed.connect(self._update_actions)
        self._build_actions()
        self._hook_window()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setObjectName("autosave_timer")
        minutes = float(window.settings.get(AUTOSAVE_SETTING, DEFAULT_AUTOSAVE_MINUTES))
        self.autosave_timer.setInterval(max(int(minutes * 60_000), 1000))
        self.autosave_timer.timeout.connect(self.autosave_now)
        self.autosave_timer.start()
        window.installEventFilter(self)
        if self.document.scene is not None:
            self._on_scene_changed(self.document.scene)
        self._update_actions()

    # ---------------------------------------------------------------------------------------- actions
    def _build_actions(self) -> None:
        reg = self.window.actions_
        S = ActionSpec
        menu = "edit"
        self.actions: dict[str, Any] = {}

        def add(spec: ActionSpec, slot: Callable | None) -> None:
            self.actions[spec.id] = reg.add(spec, slot)

        add(
            S(
                "undo",
                "&Undo",
                "mdi6.undo",
                QKeySequence.StandardKey.Undo,
                "Undo the last edit",
                menu=menu,
                toolbar=True,
            ),
            self.stack.undo,
        )
        add(
            S(
                "redo",
                "&Redo",
                "mdi6.redo",
                "Ctrl+Shift+Z",
                "Redo the edit undone last",
                menu=menu,
                toolbar=True,
            ),
            self.stack.redo,
        )
        edit_menu = self.window.menus[menu]
        undo_redo = [self.actions["undo"], self.actions["redo"]]
        others = [a for a in edit_menu.actions() if a not in undo_redo]
        if others:  # Undo/Redo first in the Edit menu
            for a in undo_redo:
                edit_menu.removeAction(a)
            edit_menu.insertActions(others[0], undo_redo)
            edit_menu.insertSeparator(others[0])
        self.stack.canUndoChanged.connect(self.actions["undo"].setEnabled)
        self.stack.canRedoChanged.connect(self.actions["redo"].setEnabled)
        self.stack.undoTextChanged.connect(lambda t: self._set_text("undo", "&Undo", t))
        self.stack.redoTextChanged.connect(lambda t: self._set_text("redo", "&Redo", t))
        self.window.menus[menu].addSeparator()
        add(
            S(
                "merge",
                "&Merge with…",
                "mdi6.set-merge",
                "Ctrl+M",
                "Merge the selected instance with other instances",
                menu=menu,
            ),
            self.merge_selected,
        )
        add(
            S(
                "split",
                "&Split into parts…",
                "mdi6.call-split",
                "Ctrl+K",
                "Re-cluster the selected instance into k parts",
                menu=menu,
            ),
            self.split_selected,
        )
        add(
            S(
                "split_lasso",
                "Split off by lasso",
                "mdi6.lasso",
                "Ctrl+Shift+K",
                "Draw around part of the selected instance in the 3D view to make it a new instance",
                menu=menu,
            ),
            lambda: self.start_lasso("split"),
        )
        add(
            S(
                "assign_lasso",
                "Assign by lasso",
                "mdi6.selection-drag",
                "Ctrl+Shift+L",
                "Draw around points in the 3D view to give them to the selected instance (none: a new one)",
                menu=menu,
            ),
            lambda: self.start_lasso("assign"),
        )
        add(
            S(
                "draw_on_view",
                "Draw on a view…",
                "mdi6.draw",
                None,
                "Split or assign by drawing a lasso or box on one photo",
                menu=menu,
            ),
            self.draw_on_view,
        )
        self.window.menus[menu].addSeparator()
        if "rename" not in reg:
            add(
                S("rename", "Re&name…", "mdi6.rename-box", "F2", "Rename the selected instance", menu=menu),
                self.rename_selected,
            )
        add(
            S(
                "category",
                "Set &category…",
                "mdi6.tag-outline",
                "Ctrl+T",
                "Set the selected instance's category",
                menu=menu,
            ),
            self.set_category_selected,
        )
        add(
            S(
                "colour",
                "Set c&olour…",
                "mdi6.palette-outline",
                None,
                "Change the selected instance's colour",
                menu=menu,
            ),
            self.set_colour_selected,
        )
        add(
            S(
                "lock",
                "&Lock",
                "mdi6.lock-outline",
                "Ctrl+L",
                "Protect the selected instance from edits",
                menu=menu,
                checkable=True,
            ),
            self.set_locked_selected,
        )
        self.window.menus[menu].addSeparator()
        add(
            S(
                "delete",
                "&Delete instance",
                "mdi6.delete-outline",
                QKeySequence.StandardKey.Delete,
                "Delete the selected instance (its points become unlabelled)",
                menu=menu,
            ),
            self.delete_selected,
        )
        add(
            S(
                "restore",
                "Restore deleted…",
                "mdi6.delete-restore",
                None,
                "Bring back a deleted instance",
                menu=menu,
            ),
            self.restore_deleted,
        )
        self.window.menus[menu].addSeparator()
        add(
            S("history", "Show &history", "mdi6.history", "Ctrl+H", "Show the list of edits", menu=menu),
            self.show_history,
        )
        file_menu = self.window.menus["file"]
        add(
            S(
                "export",
                "&Export…",
                "mdi6.export",
                "Ctrl+E",
                "Export point cloud, GLB, COLMAP cameras, masks, COCO or the instance table",
                menu="file",
            ),
            self.show_export,
        )
        # keep File > Quit last
        if "quit" in reg:
            quit_action = reg["quit"]
            file_menu.removeAction(quit_action)
            file_menu.addSeparator()
            file_menu.addAction(quit_action)

    def _set_text(self, action_id: str, base: str, what: str) -> None:
        action = self.actions[action_id]
        action.setText(f"{base} {what}" if what else base)

    def _update_actions(self, *_args) -> None:
        scene = self.document.scene
        inst = self.selected_instance()
        has_scene = scene is not None
        for key in ("merge", "split", "split_lasso", "rename", "category", "colour", "lock", "delete"):
            if key in self.actions:
                self.actions[key].setEnabled(inst is not None)
        self.actions["assign_lasso"].setEnabled(has_scene)
        self.actions["draw_on_view"].setEnabled(has_scene)
        self.actions["restore"].setEnabled(has_scene and bool(edits.deleted_instances(scene)))
        self.actions["export"].setEnabled(has_scene)
        lock = self.actions["lock"]
        lock.blockSignals(True)
        lock.setChecked(bool(inst is not None and inst.locked))
        lock.setText("Un&lock" if inst is not None and inst.locked else "&Lock")
        lock.blockSignals(False)
        self.actions["undo"].setEnabled(self.stack.canUndo())
        self.actions["redo"].setEnabled(self.stack.canRedo())

    def _hook_window(self) -> None:
        """Edits prepared elsewhere in the window (renames typed into the instance list, show/hide,
        re-clustering) go through the undo stack: the window routes them through ``window.push_edit``, and
        view changes (isolate) through ``window.push_view``."""
        self.window.push_edit = self.push_edit
        self.window.push_view = self.stack.push_view

    def push_edit(self, edit: edits.Edit, selection: tuple[int | None, int | None] | None = None) -> None:
        """Apply an already prepared edit through the undo stack (``selection``: see ``EditStack.run``)."""
        if self.document.scene is None:
            return
        self.stack.run(lambda _scene: edit, selection)

    # ------------------------------------------------------------------------------------ scene state
    def _on_scene_changed(self, scene: Scene | None) -> None:
        was_modified = self.document.modified
        self.autosaver.discard()
        self._autosaved_state = None
        if self.lasso is not None:
            self.lasso.stop()
        self.stack.set_scene(scene)
        if scene is not None:
            for sig in (scene.events.labels, scene.events.instances, scene.events.instance_changed):
                sig.connect(self._bump)
            scene.events.instances.connect(self._update_actions)
            scene.events.instance_changed.connect(self._update_actions)
        if was_modified:  # e.g. a recovered autosave: not saved anywhere yet
            self.stack.resetClean()
            self.document.set_modified(True)
        self._update_actions()

    def _drop_vanished_selection(self, *_args) -> None:
        scene = self.document.scene
        if (
            scene is not None
            and self.selection.instance is not None
            and self.selection.instance not in scene.instances
        ):
            self.selection.clear()
        self._update_actions()

    def _bump(self, *_args) -> None:
        self._changes += 1

    def _on_clean_changed(self, *_args) -> None:
        """The document is modified when the stack is away from its saved point by an edit (isolating an
        instance is on the stack too, but changes nothing that is saved)."""
        if self.document.scene is not None:
            self.document.set_modified(self.stack.scene_modified())

    def _restore_selection(self, instance_id: int | None) -> None:
        scene = self.document.scene
        self.selection.select(instance_id if scene is not None and instance_id in scene.instances else None)

    def _on_modified_changed(self, modified: bool) -> None:
        if not modified:  # saved (or a fresh scene)
            if not self.stack.isClean():
                self.stack.setClean()
            self.autosaver.discard()
            self._autosaved_state = None

    def _on_failed(self, message: str) -> None:
        self.window.show_error("Cannot edit", message)

    # ------------------------------------------------------------------------------------- selection
    def selected_instance(self):
        scene = self.document.scene
        iid = self.selection.instance
        if scene is None or iid is None:
            return None
        return scene.instances.get(iid)

    def _need_selection(self):
        inst = self.selected_instance()
        if inst is None:
            self.window.show_error("Nothing selected", "Select an instance first (click it in the 3D view).")
        return inst

    # -------------------------------------------------------------------------------------- editing
    def run(self, builder: Callable[[Scene], edits.Edit]) -> edits.Edit | None:
        """Prepare and push one edit (a wait cursor while relabelling and statistics are computed)."""
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return self.stack.run(builder)
        finally:
            QApplication.restoreOverrideCursor()

    def list_selection(self) -> list[int]:
        """Instance ids selected in the instance list (several when it allows multiple selection)."""
        panel = getattr(self.window, "instances_panel", None)
        table = getattr(panel, "table", None)
        if table is None or table.selectionModel() is None:
            return []
        rows = table.selectionModel().selectedRows()
        return [int(r.data(ID_ROLE)) for r in rows if r.data(ID_ROLE) is not None]

    def merge_selected(self, others: list[int] | None = None) -> edits.Edit | None:
        inst = self._need_selection()
        if inst is None:
            return None
        listed = [i for i in self.list_selection() if i != inst.id]
        if others is None and listed:
            others = listed  # several rows selected in the list: merge them
        if others is None:
            others = ask_merge_partners(self.window, self.document.scene, inst.id)
            if not others:
                return None
        return self.run(lambda s: edits.merge(s, [inst.id, *others]))

    def split_selected(self, k: int | None = None) -> edits.Edit | None:
        inst = self._need_selection()
        if inst is None:
            return None
        if k is None:
            k = ask_split_parts(self.window, inst.name)
            if k is None:
                return None
        return self.run(lambda s: edits.split_kmeans(s, inst.id, k))

    def delete_selected(self) -> edits.Edit | None:
        inst = self._need_selection()
        if inst is None:
            return None
        edit = self.run(lambda s: edits.delete(s, [inst.id]))
        if edit is not None:
            self.selection.clear()
        return edit

    def restore_deleted(self, instance_id: int | None = None) -> edits.Edit | None:
        scene = self.document.scene
        if scene is None:
            return None
        if instance_id is None:
            instance_id = ask_restore(self.window, edits.deleted_instances(scene))
            if instance_id is None:
                return None
        edit = self.run(lambda s: edits.restore(s, instance_id))
        if edit is not None:
            self.selection.select(instance_id)
        return edit

    def rename_selected(self, name: str | None = None) -> edits.Edit | None:
        inst = self._need_selection()
        if inst is None:
            return None
        if name is None:
            name = ask_text(self.window, "Rename instance", "Name:", inst.name)
            if name is None:
                return None
        return self.run(lambda s: edits.rename(s, inst.id, name))

    def set_category_selected(self, category: str | None = None) -> edits.Edit | None:
        inst = self._need_selection()
        if inst is None:
            return None
        if category is None:
            category = ask_category(
                self.window, edits.category_vocabulary(self.document.scene), inst.category
            )
            if category is None:
                return None
        return self.run(lambda s: edits.set_category(s, [inst.id], category))

    def set_colour_selected(self, colour: tuple[int, int, int] | None = None) -> edits.Edit | None:
        inst = self._need_selection()
        if inst is None:
            return None
        if colour is None:
            colour = ask_colour(self.window, inst.colour)
            if colour is None:
                return None
        return self.run(lambda s: edits.set_colour(s, [inst.id], colour))

    def set_locked_selected(self, locked: bool) -> edits.Edit | None:
        inst = self._need_selection()
        if inst is None:
            return None
        edit = self.run(lambda s: edits.set_locked(s, [inst.id], bool(locked)))
        self._update_actions()
        return edit

    def apply_pixel_selection(self, mode: str, mask: np.ndarray) -> edits.Edit | None:
        """``mode`` "split": split the selection off the selected instance; "assign": give it to the
        selected instance (or a new one when none is selected); "unlabel": make it unlabelled."""
        inst = self.selected_instance()
        if mode == "split":
            if inst is None:
                self.window.show_error("Nothing selected", "Select the instance to split first.")
                return None
            edit = self.run(lambda s: edits.split_by_mask(s, inst.id, mask))
            if edit is not None:
                self.selection.select(edit.details["new_ids"][0])
            return edit
        if mode == "assign":
            edit = self.run(lambda s: edits.reassign(s, mask, None if inst is None else inst.id))
            if edit is not None and inst is None:
                self.selection.select(edit.details["target"])
            return edit
        if mode == "unlabel":
            return self.run(lambda s: edits.reassign(s, mask, 0))
        raise ValueError(f"unknown selection mode {mode!r}")

    def start_lasso(self, mode: str) -> LassoTool | None:
        if self.document.scene is None:
            return None
        if mode == "split" and self._need_selection() is None:
            return None
        if self.lasso is not None:
            self.lasso.stop()
        self.lasso = LassoTool(self.window.view, lambda poly, box: self._lasso_done(mode, poly), self)
        self.lasso.start()
        self.window.statusBar().showMessage("Draw around the points (hold Shift for a box); Esc cancels", 0)
        return self.lasso

    def _lasso_done(self, mode: str, polygon: np.ndarray | None) -> None:
        self.lasso = None
        self.window.statusBar().clearMessage()
        if polygon is None or len(polygon) < 3 or self.document.scene is None:
            return
        scene = self.document.scene
        mask = edits.pixels_in_polygon(scene, view_display_matrix(self.window.view), polygon)
        hidden = [i for i, inst in scene.instances.items() if not inst.visible]
        if hidden:  # what is not drawn cannot be lassoed
            mask &= ~np.isin(scene.labels, hidden)
        self.apply_pixel_selection(mode, mask)

    def draw_on_view(self) -> None:
        scene = self.document.scene
        if scene is None:
            return
        dialog = ViewLassoDialog(scene, self.selected_instance(), self.window)
        dialog.selection_made.connect(self.apply_pixel_selection)
        dialog.open()
        self._view_lasso = dialog

    def show_history(self) -> None:
        self.history.show()
        self.history.raise_()

    # ---------------------------------------------------------------------------------- save / export
    def show_export(self) -> ExportDialog | None:
        if self.document.scene is None:
            return None
        base = self.document.path
        source = getattr(self.document, "source", None)
        if base is None and source is not None:  # a new reconstruction: export next to its image folder
            base = Path(source).with_suffix(".iggt")
        dialog = ExportDialog(self.document.scene, base, self.window)
        dialog.setModal(True)
        dialog.exported.connect(lambda r: self.window.statusBar().showMessage(f"Exported {r.path}", 8000))
        dialog.show()
        self.export_dialog = dialog
        return dialog

    # ------------------------------------------------------------------------------ autosave/recovery
    def autosave_now(self) -> Path | None:
        scene = self.document.scene
        if scene is None or not self.document.modified:
            return None
        state = (id(scene), self._changes, self.stack.index())
        if state == self._autosaved_state:
            return None
        t0 = time.perf_counter()
        try:
            path = self.autosaver.write(scene, self.document.path, edits=self.stack.index())
        except Exception as exc:  # never interrupt the user for a failed autosave
            log.warning("autosave failed: %s", exc)
            self.window.statusBar().showMessage(f"Autosave failed: {exc}", 8000)
            return None
        self._autosaved_state = state
        log.info("autosave took %.2f s", time.perf_counter() - t0)
        return path

    def offer_recovery(self) -> bool:
        """Offer autosaves left by a crashed session; True when one was opened."""
        found = autosave.find_recoverable(self.autosaver.folder)
        for rec in found:
            answer = ask_recover(self.window, rec)
            if answer == "recover":
                try:
                    scene = autosave.recover(rec)
                except Exception as exc:
                    self.window.show_exception("Cannot recover the autosave", exc)
                    continue
                self.document.set_scene(scene, path=rec.source, modified=True)
                autosave.discard(rec)
                self.autosave_now()  # keep it safe under this session until the user saves
                return True
            if answer == "discard":
                autosave.discard(rec)
        return False

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.window and event.type() == QEvent.Type.Close:
            # the window asks about unsaved changes itself; once it has really closed, this session's
            # autosave is no longer needed (the changes were saved or knowingly discarded)
            QTimer.singleShot(0, self._after_close)
        return False

    def _after_close(self) -> None:
        if not self.window.isVisible():
            self.autosave_timer.stop()
            self.autosaver.discard()


# ------------------------------------------------------------------------------------------ 3D lasso
def view_display_matrix(view: Any) -> np.ndarray:
    """4x4 matrix from world coordinates to VTK display pixels (origin bottom-left) of the 3D view."""
    renderer = view.plotter.renderer
    camera = renderer.GetActiveCamera()
    aspect = renderer.GetTiledAspectRatio()
    m = camera.GetCompositeProjectionTransformMatrix(aspect, -1, 1)
    proj = np.array([[m.GetElement(i, j) for j in range(4)] for i in range(4)])
    w, h = renderer.GetSize()
    x0, y0 = renderer.GetOrigin()
    to_display = np.array([[w / 2, 0, 0, x0 + w / 2], [0, h / 2, 0, y0 + h / 2], [0, 0, 1, 0], [0, 0, 0, 1]])
    return to_display @ proj


class LassoTool(QObject):
    """Freehand lasso (or box with Shift) drawn over the 3D view; the camera is frozen while drawing.

    Calls ``done(polygon, is_box)`` with the polygon in VTK display pixels (None when cancelled).
    """

    def __init__(self, view: Any, done: Callable[[np.ndarray | None, bool], None], parent=None) -> None:
        super().__init__(parent)
        self.view = view
        self.widget = view.plotter
        self._done = done
        self.points: list[tuple[float, float]] = []
        self.box = False
        self._drawing = False
        self._actor = None
        self.active = False

    def start(self) -> None:
        self.active = True
        self.widget.installEventFilter(self)
        self.widget.setCursor(Qt.CursorShape.CrossCursor)
        self.widget.setFocus()

    def stop(self, polygon: np.ndarray | None = None) -> None:
        if not self.active:
            return
        self.active = False
        self.widget.removeEventFilter(self)
        self.widget.unsetCursor()
        try:
            self._remove_outline()
        finally:
            self._done(polygon, self.box)

    def to_display(self, x: float, y: float) -> tuple[float, float]:
        ratio = self.widget.devicePixelRatioF()
        return x * ratio, (self.widget.height() - y) * ratio

    def polygon(self) -> np.ndarray:
        pts = np.array(self.points, dtype=np.float64).reshape(-1, 2)
        if self.box and len(pts) >= 2:
            (xa, ya), (xb, yb) = pts[0], pts[-1]
            return np.array([[xa, ya], [xb, ya], [xb, yb], [xa, yb]])
        return pts

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        et = event.type()
        if et == QEvent.Type.ShortcutOverride and event.key() == Qt.Key.Key_Escape:
            event.accept()  # Esc cancels the lasso instead of triggering the window's shortcut
            return True
        if et == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
            self.stop(None)
            return True
        if et == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._drawing = True
            self.box = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            pos = event.position()
            self.points = [self.to_display(pos.x(), pos.y())]
            return True
        if et == QEvent.Type.MouseMove and self._drawing:
            pos = event.position()
            point = self.to_display(pos.x(), pos.y())
            if self.box:
                self.points = [self.points[0], point]
            else:
                self.points.append(point)
            self._draw_outline()
            return True
        if et == QEvent.Type.MouseButtonRelease and self._drawing:
            self._drawing = False
            self.stop(self.polygon())
            return True
        # the camera stays put while the tool is active
        return et in (QEvent.Type.MouseButtonDblClick, QEvent.Type.Wheel, QEvent.Type.MouseButtonPress)

    def _draw_outline(self) -> None:
        import pyvista as pv
        from vtkmodules.vtkRenderingCore import vtkActor2D, vtkPolyDataMapper2D

        poly = self.polygon()
        if len(poly) < 2:
            return
        closed = np.vstack([poly, poly[:1]])
        pts = np.column_stack([closed, np.zeros(len(closed))])
        lines = pv.lines_from_points(pts)
        if self._actor is None:
            mapper = vtkPolyDataMapper2D()
            self._actor = vtkActor2D()
            self._actor.SetMapper(mapper)
            self._actor.GetProperty().SetColor(1.0, 0.85, 0.1)
            self._actor.GetProperty().SetLineWidth(2)
            self.view.plotter.renderer.AddViewProp(self._actor)
        self._actor.GetMapper().SetInputData(lines)
        self.view.plotter.render()

    def _remove_outline(self) -> None:
        if self._actor is not None:
            self.view.plotter.renderer.RemoveViewProp(self._actor)
            self._actor = None
            self.view.plotter.render()


# ------------------------------------------------------------------------------------------ 2D lasso
class ViewCanvas(QWidget):
    """One view's photo (model resolution, scaled to fit) on which the user draws a lasso or a box."""

    polygon_finished = Signal(object)  # (P, 2) polygon in model-grid pixel coordinates

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("view_canvas")
        self.setMinimumSize(320, 220)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.image: QImage | None = None
        self.points: list[QPointF] = []
        self.box = False
        self._drawing = False

    def set_image(self, rgb: np.ndarray) -> None:
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        h, w = rgb.shape[:2]
        self.image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self.points = []
        self.update()

    def _geometry(self) -> tuple[float, float, float]:
        """Scale and offset of the drawn image inside the widget."""
        if self.image is None:
            return 1.0, 0.0, 0.0
        scale = min(self.width() / self.image.width(), self.height() / self.image.height())
        ox = (self.width() - scale * self.image.width()) / 2
        oy = (self.height() - scale * self.image.height()) / 2
        return scale, ox, oy

    def to_model(self, p: QPointF) -> tuple[float, float]:
        """Widget position -> model-grid coordinates (pixel centres at integers)."""
        scale, ox, oy = self._geometry()
        return (p.x() - ox) / scale - 0.5, (p.y() - oy) / scale - 0.5

    def polygon(self) -> np.ndarray:
        pts = np.array([self.to_model(p) for p in self.points], dtype=np.float64).reshape(-1, 2)
        if self.box and len(pts) >= 2:
            (xa, ya), (xb, yb) = pts[0], pts[-1]
            return np.array([[xa, ya], [xb, ya], [xb, yb], [xa, yb]])
        return pts

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        if self.image is not None:
            scale, ox, oy = self._geometry()
            target = QRectF(ox, oy, scale * self.image.width(), scale * self.image.height())
            painter.drawImage(target, self.image)
        if len(self.points) >= 2:
            painter.setPen(QPen(QColor(255, 215, 0), 2))
            if self.box:
                painter.drawRect(QRectF(self.points[0], self.points[-1]).normalized())
            else:
                painter.drawPolygon(QPolygonF(self.points))
        painter.end()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drawing = True
            self.box = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.points = [event.position()]
            self.update()

    def mouseMoveEvent(self, event) -> None:
        if self._drawing:
            if self.box:
                self.points = [self.points[0], event.position()]
            else:
                self.points.append(event.position())
            self.update()

    def mouseReleaseEvent(self, event) -> None:
        if self._drawing and event.button() == Qt.MouseButton.LeftButton:
            self._drawing = False
            if len(self.points) >= 2:
                self.polygon_finished.emit(self.polygon())


class ViewLassoDialog(QDialog):
    """Draw a lasso (or a box with Shift) on one photo, then split it off / assign it / unlabel it."""

    selection_made = Signal(str, object)  # mode, (S, H, W) bool pixel mask

    MODES = (("split", "Split off the selected instance"), ("assign", "Assign to the selected instance"),
             ("unlabel", "Make unlabelled"))  # fmt: skip

    def __init__(self, scene: Scene, selected, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("view_lasso_dialog")
        self.setWindowTitle("Draw on a view")
        self.scene = scene
        self.selected = selected
        self.view_box = QComboBox(self)
        self.view_box.setObjectName("view_lasso_view")
        for i, view in enumerate(scene.views):
            self.view_box.addItem(f"{i + 1}: {view.name}", i)
        self.mode_box = QComboBox(self)
        self.mode_box.setObjectName("view_lasso_mode")
        for key, text in self.MODES:
            self.mode_box.addItem(text, key)
        if selected is None:
            self.mode_box.setCurrentIndex(1)
        self.canvas = ViewCanvas(self)
        self.canvas.polygon_finished.connect(self._on_polygon)
        hint = QLabel("Drag to draw a lasso; hold Shift for a box. Each shape is applied at once "
                      "(Ctrl+Z undoes it).", self)  # fmt: skip
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(self.view_box, 1)
        top.addWidget(self.mode_box, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self.view_box.currentIndexChanged.connect(self._show_view)
        self._show_view()
        self.resize(760, 600)

    def current_view(self) -> int:
        return int(self.view_box.currentData())

    def _show_view(self) -> None:
        from app.colors import label_image

        v = self.current_view()
        rgb = np.asarray(self.scene.images[v]).copy()
        if self.selected is not None and self.selected.id in self.scene.instances:
            hit = self.scene.labels[v] == self.selected.id
            tint = label_image(self.scene.labels[v], self.scene.instance_colours())
            rgb[hit] = (0.5 * rgb[hit] + 0.5 * tint[hit]).astype(np.uint8)
        self.canvas.set_image(rgb)

    def _on_polygon(self, polygon: np.ndarray) -> None:
        mask = edits.pixels_in_view_polygon(self.scene, self.current_view(), polygon)
        self.selection_made.emit(str(self.mode_box.currentData()), mask)
        self._show_view()


# ---------------------------------------------------------------------------------- questions (tests patch)
def ask_recover(parent: QWidget, rec: autosave.Recoverable) -> str:
    """'recover', 'discard' or 'later'."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Recover unsaved changes?")
    box.setText("IGGT Viewer did not close properly last time.")
    box.setInformativeText(f"Recover the unsaved changes to {rec.describe()}?")
    recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    clicked = box.clickedButton()
    return "recover" if clicked is recover else "discard" if clicked is discard else "later"


def ask_text(parent: QWidget, title: str, label: str, value: str) -> str | None:
    text, ok = QInputDialog.getText(parent, title, label, text=value)
    return text if ok else None


def ask_category(parent: QWidget, vocabulary: list[str], current: str | None) -> str | None:
    items = list(vocabulary)
    if current and current not in items:
        items.insert(0, current)
    index = items.index(current) if current in items else 0
    text, ok = QInputDialog.getItem(parent, "Set category", "Category (pick or type):", items, index, True)
    return text if ok else None


def ask_colour(parent: QWidget, current: tuple[int, int, int]) -> tuple[int, int, int] | None:
    colour = QColorDialog.getColor(QColor(*current), parent, "Instance colour")
    return (colour.red(), colour.green(), colour.blue()) if colour.isValid() else None


def ask_split_parts(parent: QWidget, name: str) -> int | None:
    k, ok = QInputDialog.getInt(parent, "Split instance", f"Split {name} into how many parts?", 2, 2, 16)
    return k if ok else None


def merge_candidates(scene: Scene, instance_id: int) -> list[int]:
    """Other instances, nearest (by centroid) first: the likely other pieces of the same object."""
    base = scene.instances[instance_id].stats.centroid
    others = [i for i in scene.instances if i != instance_id]
    if base is None:
        return others

    def distance(i: int) -> float:
        c = scene.instances[i].stats.centroid
        return float("inf") if c is None else float(np.linalg.norm(np.subtract(c, base)))

    return sorted(others, key=distance)


def ask_merge_partners(parent: QWidget, scene: Scene, instance_id: int) -> list[int]:
    from viewer.merge_dialog import MergeDialog, view_preview

    view = getattr(parent, "view", None)
    preview = view_preview(view) if view is not None else None
    dialog = MergeDialog(scene, instance_id, merge_candidates(scene, instance_id), preview, parent)
    return dialog.checked() if dialog.exec() == QDialog.DialogCode.Accepted else []


def ask_restore(parent: QWidget, deleted: list) -> int | None:
    if not deleted:
        return None
    names = [f"{inst.name} (id {inst.id})" for inst in deleted]
    text, ok = QInputDialog.getItem(
        parent, "Restore deleted instance", "Instance:", names, len(names) - 1, False
    )
    return deleted[names.index(text)].id if ok else None


def install_editing(window: Any, offer_recovery: bool = True) -> EditingController:
    """Add editing, export, autosave and recovery to ``window``; returns the controller
    (also kept as ``window.editing``)."""
    existing = getattr(window, "editing", None)
    if isinstance(existing, EditingController):
        return existing
    controller = EditingController(window)
    window.editing = controller
    if offer_recovery:
        QTimer.singleShot(0, controller.offer_recovery)
    return controller
