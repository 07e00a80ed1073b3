"""The window's undo stack: app edits wrapped in QUndoCommands (the edit logic lives in ``app.edits``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.edits import Edit, EditError
from app.scene import Scene

log = logging.getLogger(__name__)

EditBuilder = Callable[[Scene], Edit]
UNDO_LIMIT = 500  # edits kept for undo (each keeps only the pixels it changed)


class EditCommand(QUndoCommand):
    """One ``app.edits.Edit`` on one scene: redo applies it, undo reverts it."""

    def __init__(self, scene: Scene, edit: Edit, stack: EditStack) -> None:
        super().__init__(edit.text)
        self.scene = scene
        self.edit = edit
        self._stack = stack

    def redo(self) -> None:
        self._stack._replay(self.edit.apply, self.scene)

    def undo(self) -> None:
        self._stack._replay(self.edit.revert, self.scene)


class EditStack(QUndoStack):
    """Undo/redo of the current scene's edits.

    ``run(builder)`` prepares an edit (``builder(scene)`` may raise ``EditError``, reported through
    ``failed``) and pushes it. Changes to the scene made outside the stack (e.g. re-clustering, view
    toggles stored in the scene) make the saved state unreachable, so the document stays "modified"
    until the next save even if every edit is undone.
    """

    failed = Signal(str)  # a readable reason an edit could not be done
    applied = Signal(object)  # the Edit just applied, undone or redone

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setUndoLimit(UNDO_LIMIT)
        self.scene: Scene | None = None
        self._replaying = False
        self.external_changes = 0  # scene events that did not come from this stack

    # scene binding ---------------------------------------------------------------------------------
    def set_scene(self, scene: Scene | None) -> None:
        if self.scene is not None:
            for sig in self._signals(self.scene):
                sig.disconnect(self._on_scene_event)
            for sig in self._relabel_signals(self.scene):
                sig.disconnect(self._on_relabelled)
        self.clear()
        self.scene = scene
        self.external_changes = 0
        if scene is not None:
            for sig in self._signals(scene):
                sig.connect(self._on_scene_event)
            for sig in self._relabel_signals(scene):
                sig.connect(self._on_relabelled)

    @staticmethod
    def _signals(scene: Scene):
        ev = scene.events
        return (ev.labels, ev.instances, ev.instance_changed, ev.points, ev.layers, ev.embeddings)

    @staticmethod
    def _relabel_signals(scene: Scene):
        return (scene.events.labels, scene.events.points)

    def _on_scene_event(self, *_args) -> None:
        if not self._replaying:
            self.external_changes += 1
            self.resetClean()

    def _on_relabelled(self, *_args) -> None:
        """Labels or points replaced outside the stack (e.g. re-clustering): earlier edits no longer
        apply to these pixels, so the history starts again (the document stays modified)."""
        if not self._replaying and self.count():
            log.info("scene relabelled outside the undo stack; clearing %d edits", self.count())
            self.clear()
            self.resetClean()

    def _replay(self, step: Callable[[Scene], None], scene: Scene) -> None:
        self._replaying = True
        try:
            step(scene)
        except Exception as exc:  # Qt cannot propagate exceptions out of redo()/undo()
            log.exception("edit replay failed")
            self.failed.emit(f"The edit could not be replayed: {exc}")
        finally:
            self._replaying = False

    # editing ---------------------------------------------------------------------------------------
    def run(self, builder: EditBuilder) -> Edit | None:
        """Prepare and apply one edit; None (and ``failed`` emitted) when it cannot be done."""
        if self.scene is None:
            self.failed.emit("Open a scene first.")
            return None
        try:
            edit = builder(self.scene)
        except EditError as exc:
            self.failed.emit(str(exc))
            return None
        self.push(EditCommand(self.scene, edit, self))
        self.applied.emit(edit)
        return edit

    def edit_texts(self) -> list[str]:
        """Texts of the applied edits, oldest first (what the history panel lists above its cursor)."""
        return [self.text(i) for i in range(self.index())]
