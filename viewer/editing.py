"""Annotation editing in the main window: the Edit menu's tools (merge, split, lasso, rename, category,
colour, lock, delete/restore), File > Export, autosave with crash recovery, and the history panel.

The main window builds one ``EditingController`` and hands it what it works with: the document, the
viewer state (selection), the window's one undo stack (viewer.commands.EditStack), the 3D view (for the
lasso) and the action registry. All edit logic is in ``app.edits``; this module only collects the user's
choices (selection, dialogs in viewer.edit_dialogs, lassos in viewer.lasso) and pushes prepared edits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu

from app import autosave, edits, photo_lasso
from app.scene import Scene
from viewer import edit_dialogs as ask
from viewer.actions import ActionRegistry, ActionSpec
from viewer.commands import EditStack
from viewer.document import Document
from viewer.export_dialog import ExportDialog
from viewer.lasso import LassoTool, view_display_matrix
from viewer.photo_lasso_dialog import PhotoLassoDialog
from viewer.point_highlight import PointHighlight
from viewer.scene_view import SceneView
from viewer.state import ViewerState

log = logging.getLogger(__name__)

AUTOSAVE_SETTING = "editing/autosave_minutes"
DEFAULT_AUTOSAVE_MINUTES = 3.0
Notify = Callable[[str, int], None]  # (status-bar message, milliseconds; 0: until cleared)
ShowError = Callable[[str, str], Any]
SELECTION_ACTIONS = ("merge", "split", "split_lasso", "rename", "category", "colour", "lock", "delete")


class EditingController(QObject):
    """The window's editing tools, wired to explicit collaborators (nothing is patched into the window)."""

    def __init__(self, window: QMainWindow, *, document: Document, state: ViewerState, stack: EditStack,
                 view: SceneView, actions: ActionRegistry, menus: dict[str, QMenu], settings,
                 show_error: ShowError, show_exception: Callable[[str, BaseException], Any],
                 notify: Notify, listed_instances: Callable[[], Sequence[int]] = tuple) -> None:
        super().__init__(window)
        self.window = window  # parent of the dialogs
        self.document = document
        self.state = state
        self.selection = state.selection
        self.stack = stack
        self.view = view
        self.registry = actions
        self.menus = menus
        self._show_error = show_error
        self._show_exception = show_exception
        self._notify = notify
        self._listed_instances = listed_instances
        self.export_dialog: ExportDialog | None = None
        self.autosaver = autosave.Autosaver()
        self._autosaved_state: tuple | None = None
        self._changes = 0  # bumps on every scene change, for autosave
        self.lasso: LassoTool | None = None
        self._view_lasso: PhotoLassoDialog | None = None
        self.highlight = PointHighlight(view)  # the points a photo lasso's preview will change

        # only bound methods of living QObjects on the stack's signals (no lambdas): the window's stack
        # outlives its widgets, and Qt disconnects a receiver when it is destroyed
        stack.failed.connect(self._on_failed)
        document.scene_changed.connect(self._on_scene_changed)
        document.modified_changed.connect(self._on_modified_changed)
        stack.indexChanged.connect(self._bump)
        stack.indexChanged.connect(self._update_actions)
        self.selection.changed.connect(self._update_actions)
        self._build_actions()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setObjectName("autosave_timer")
        minutes = float(settings.get(AUTOSAVE_SETTING, DEFAULT_AUTOSAVE_MINUTES))
        self.autosave_timer.setInterval(max(int(minutes * 60_000), 1000))
        self.autosave_timer.timeout.connect(self.autosave_now)
        self.autosave_timer.start()
        if document.scene is not None:
            self._on_scene_changed(document.scene)
        self._update_actions()

    # ---------------------------------------------------------------------------------------- actions
    def _build_actions(self) -> None:
        S = ActionSpec
        self.actions: dict[str, QAction] = {}

        def add(spec: ActionSpec, slot: Callable | None) -> None:
            self.actions[spec.id] = self.registry.add(spec, slot)

        add(S("undo", "&Undo", "mdi6.undo", QKeySequence.StandardKey.Undo, "Undo the last edit", menu="edit",
              toolbar=True), self.stack.undo)
        add(S("redo", "&Redo", "mdi6.redo", "Ctrl+Shift+Z", "Redo the edit undone last", menu="edit",
              toolbar=True), self.stack.redo)
        edit_menu = self.menus["edit"]
        undo_redo = [self.actions["undo"], self.actions["redo"]]
        others = [a for a in edit_menu.actions() if a not in undo_redo]
        if others:  # Undo/Redo first in the Edit menu
            for a in undo_redo:
                edit_menu.removeAction(a)
            edit_menu.insertActions(others[0], undo_redo)
            edit_menu.insertSeparator(others[0])
        self.stack.canUndoChanged.connect(self.actions["undo"].setEnabled)
        self.stack.canRedoChanged.connect(self.actions["redo"].setEnabled)
        self.stack.undoTextChanged.connect(self._set_undo_text)
        self.stack.redoTextChanged.connect(self._set_redo_text)
        edit_menu.addSeparator()
        add(S("merge", "&Merge with…", "mdi6.set-merge", "Ctrl+M",
              "Merge the selected instance with other instances", menu="edit"), self.merge_selected)
        add(S("split", "&Split into parts…", "mdi6.call-split", "Ctrl+K",
              "Re-cluster the selected instance into k parts", menu="edit"), self.split_selected)
        add(S("split_lasso", "Split off by lasso", "mdi6.lasso", "Ctrl+Shift+K",
              "Draw around part of the selected instance in the 3D view to make it a new instance",
              menu="edit"), lambda: self.start_lasso("split"))
        add(S("assign_lasso", "Assign by lasso", "mdi6.selection-drag", "Ctrl+Shift+L",
              "Draw around points in the 3D view to give them to the selected instance (none: a new one)",
              menu="edit"), lambda: self.start_lasso("assign"))
        add(S("draw_on_view", "Draw on a view…", "mdi6.draw", None,
              "Split, assign or unlabel by drawing on one photo; every view follows (previewed first)",
              menu="edit"), self.draw_on_view)
        edit_menu.addSeparator()
        if "rename" not in self.registry:
            add(S("rename", "Re&name…", "mdi6.rename-box", "F2", "Rename the selected instance", menu="edit"),
                self.rename_selected)
        else:
            self.actions["rename"] = self.registry["rename"]
        add(S("category", "Set &category…", "mdi6.tag-outline", "Ctrl+T",
              "Set the selected instance's category", menu="edit"), self.set_category_selected)
        add(S("colour", "Set c&olour…", "mdi6.palette-outline", None, "Change the selected instance's colour",
              menu="edit"), self.set_colour_selected)
        add(S("lock", "&Lock", "mdi6.lock-outline", "Ctrl+L", "Protect the selected instance from edits",
              menu="edit", checkable=True), self.set_locked_selected)
        edit_menu.addSeparator()
        add(S("delete", "&Delete instance", "mdi6.delete-outline", QKeySequence.StandardKey.Delete,
              "Delete the selected instance (its points become unlabelled)", menu="edit"),
            self.delete_selected)
        add(S("restore", "Restore deleted…", "mdi6.delete-restore", None, "Bring back a deleted instance",
              menu="edit"), self.restore_deleted)
        edit_menu.addSeparator()
        add(S("export", "&Export…", "mdi6.export", "Ctrl+E",
              "Export point cloud, GLB, COLMAP cameras, masks, COCO or the instance table", menu="file"),
            self.show_export)
        file_menu = self.menus["file"]
        if "quit" in self.registry:  # keep File > Quit last
            quit_action = self.registry["quit"]
            file_menu.removeAction(quit_action)
            file_menu.addSeparator()
            file_menu.addAction(quit_action)

    def _on_failed(self, message: str) -> None:
        self._show_error("Cannot edit", message)

    def _set_undo_text(self, what: str) -> None:
        self._set_text("undo", "&Undo", what)

    def _set_redo_text(self, what: str) -> None:
        self._set_text("redo", "&Redo", what)

    def _set_text(self, action_id: str, base: str, what: str) -> None:
        action = self.actions[action_id]
        action.setText(f"{base} {what}" if what else base)

    def _update_actions(self, *_args) -> None:
        scene = self.document.scene
        inst = self.selected_instance()
        has_scene = scene is not None
        for key in SELECTION_ACTIONS:
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

    # ------------------------------------------------------------------------------------ scene state
    def _on_scene_changed(self, scene: Scene | None) -> None:
        self.autosaver.discard()
        self._autosaved_state = None
        if self.lasso is not None:
            self.lasso.stop()
        dialog = self._view_lasso
        if dialog is not None and dialog.scene is not scene and dialog.isVisible():
            # it draws on the scene that was shown (another was loading when it opened, say): it goes
            dialog.close()
            self._notify("Draw on a view closed: another scene is shown", 8000)
        if scene is not None:
            for sig in (scene.events.labels, scene.events.instances, scene.events.instance_changed):
                sig.connect(self._bump)
            scene.events.instances.connect(self._update_actions)
            scene.events.instance_changed.connect(self._update_actions)
        self._update_actions()

    def _bump(self, *_args) -> None:
        self._changes += 1

    def _on_modified_changed(self, modified: bool) -> None:
        if not modified:  # saved (or a fresh scene)
            self.autosaver.discard()
            self._autosaved_state = None

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
            self._show_error("Nothing selected", "Select an instance first (click it in the 3D view).")
        return inst

    # -------------------------------------------------------------------------------------- editing
    def run(self, builder: Callable[[Scene], edits.Edit]) -> edits.Edit | None:
        """Prepare and push one edit (a wait cursor while relabelling and statistics are computed)."""
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return self.stack.run(builder)
        finally:
            QApplication.restoreOverrideCursor()

    def _ask(self, question: Callable[..., Any], *args: Any) -> Any:
        """Ask the user (viewer.edit_dialogs); afterwards the window is active again, so that its shortcuts
        (Ctrl+Z) work at once, also where no window manager gives the focus back."""
        try:
            return question(self.window, *args)
        finally:
            self.window.activateWindow()

    def list_selection(self) -> list[int]:
        """Instance ids selected in the instance list (several when it allows multiple selection)."""
        return [int(i) for i in self._listed_instances()]


    def merge_selected(self, others: list[int] | None = None) -> edits.Edit | None:
        inst = self._need_selection()
        if inst is None:
            return None
        listed = [i for i in self.list_selection() if i != inst.id]
        if others is None and listed:
            others = listed  # several rows selected in the list: merge them
        if others is None:
            others = self._ask(ask.ask_merge_partners, self.document.scene, inst.id)
            if not others:
                return None
        return self.run(lambda s: edits.merge(s, [inst.id, *others]))

    def split_selected(self, k: int | None = None) -> edits.Edit | None:
        inst = self._need_selection()
        if inst is None:
            return None
        if k is None:
            k = self._ask(ask.ask_split_parts, inst.name)
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
            instance_id = self._ask(ask.ask_restore, edits.deleted_instances(scene))
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
            name = self._ask(ask.ask_text, "Rename instance", "Name:", inst.name)
            if name is None:
                return None
        return self.run(lambda s: edits.rename(s, inst.id, name))

    def set_category_selected(self, category: str | None = None) -> edits.Edit | None:
        inst = self._need_selection()
        if inst is None:
            return None
        if category is None:
            vocabulary = edits.category_vocabulary(self.document.scene)
            category = self._ask(ask.ask_category, vocabulary, inst.category)
            if category is None:
                return None
        return self.run(lambda s: edits.set_category(s, [inst.id], category))

    def set_colour_selected(self, colour: tuple[int, int, int] | None = None) -> edits.Edit | None:
        inst = self._need_selection()
        if inst is None:
            return None
        if colour is None:
            colour = self._ask(ask.ask_colour, inst.colour)
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
        if mode == "split" and inst is None:
            self._show_error("Nothing selected", "Select the instance to split first.")
            return None
        edit = self.run(lambda s: photo_lasso.build_edit(s, mode, mask, None if inst is None else inst.id))
        self._select_lasso_result(edit)
        return edit

    def _select_lasso_result(self, edit: edits.Edit | None) -> None:
        """After a lasso edit: select the part split off, or the new instance given the pixels."""
        if edit is None:
            return
        if edit.op == "split_mask":
            self.selection.select(edit.details["new_ids"][0])
        elif edit.op == "reassign" and self.selected_instance() is None and edit.details["target"]:
            self.selection.select(edit.details["target"])

    def start_lasso(self, mode: str) -> LassoTool | None:
        if self.document.scene is None:
            return None
        if mode == "split" and self._need_selection() is None:
            return None
        if self.lasso is not None:
            self.lasso.stop()
        self.lasso = LassoTool(self.view, lambda poly, box: self._lasso_done(mode, poly), self)
        self.lasso.start()
        self._notify("Draw around the points (hold Shift for a box); Esc cancels", 0)
        return self.lasso

    def _lasso_done(self, mode: str, polygon: np.ndarray | None) -> None:
        self.lasso = None
        self._notify("", 1)
        if polygon is None or len(polygon) < 3 or self.document.scene is None:
            return
        scene = self.document.scene
        mask = edits.pixels_in_polygon(scene, view_display_matrix(self.view), polygon)
        hidden = [i for i, inst in scene.instances.items() if not inst.visible]
        if hidden:  # what is not drawn cannot be lassoed
            mask &= ~np.isin(scene.labels, hidden)
        self.apply_pixel_selection(mode, mask)

    def draw_on_view(self) -> None:
        scene = self.document.scene
        if scene is None:
            return
        dialog = PhotoLassoDialog(scene, self.selected_instance(), self.window)
        # a closed dialog goes, with the scene and thumbnails it holds (a new one is made each time)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # let go of it when it finishes, while it is still alive (not from its destructor's signal)
        dialog.finished.connect(self._photo_dialog_finished)
        dialog.preview_changed.connect(self._on_photo_preview)
        dialog.apply_requested.connect(self.apply_photo_edit)
        dialog.addActions([self.actions["undo"], self.actions["redo"]])  # Ctrl+Z works in the modal dialog
        self.stack.indexChanged.connect(dialog.scene_edited)
        dialog.place_beside(self.view)
        dialog.open()
        self._view_lasso = dialog

    def _photo_dialog_finished(self, _result: int) -> None:
        dialog = self._view_lasso
        if dialog is None:
            return
        self._view_lasso = None
        self.highlight.release()
        self.stack.indexChanged.disconnect(dialog.scene_edited)
        dialog.finished.disconnect(self._photo_dialog_finished)

    def _on_photo_preview(self, pending) -> None:
        self.highlight.show(None if pending is None else pending.points)

    def apply_photo_edit(self, pending) -> edits.Edit | None:
        """Push a previewed photo lasso edit (app.photo_lasso.PhotoEdit) exactly as it was previewed."""
        def build(scene: Scene) -> edits.Edit:
            if not pending.is_current(scene):
                raise edits.EditError("the instances changed since the preview; draw the lasso again")
            return pending.edit

        edit = self.run(build)
        self._select_lasso_result(edit)
        return edit

    # ---------------------------------------------------------------------------------- save / export
    def show_export(self) -> ExportDialog | None:
        if self.document.scene is None:
            return None
        base = self.document.path
        source = getattr(self.document, "source", None)
        if base is None and source is not None:  # a new reconstruction: export next to its image folder,
            base = Path(source).parent / f"{self.document.file_stem()}.iggt"  # named as Save would name it
        dialog = ExportDialog(self.document.scene, base, self.window)
        dialog.setModal(True)
        dialog.exported.connect(lambda r: self._notify(f"Exported {r.path}", 8000))
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
            self._notify(f"Autosave failed: {exc}", 8000)
            return None
        self._autosaved_state = state
        log.info("autosave took %.2f s", time.perf_counter() - t0)
        return path

    def offer_recovery(self) -> bool:
        """Offer autosaves left by a crashed session; True when one was opened."""
        found = autosave.find_recoverable(self.autosaver.folder)
        for rec in found:
            answer = self._ask(ask.ask_recover, rec)
            if answer == "recover":
                try:
                    scene = autosave.recover(rec)
                except Exception as exc:
                    self._show_exception("Cannot recover the autosave", exc)
                    continue
                self.document.set_scene(scene, path=rec.source, modified=True)
                autosave.discard(rec)
                self.autosave_now()  # keep it safe under this session until the user saves
                return True
            if answer == "discard":
                autosave.discard(rec)
        return False

    def shutdown(self) -> None:
        """The window closed for good (the user saved or knowingly discarded): no autosave is needed any
        more, and none may be offered as "recover" at the next start."""
        self.autosave_timer.stop()
        if self.lasso is not None:
            self.lasso.stop()
        self.autosaver.discard()
