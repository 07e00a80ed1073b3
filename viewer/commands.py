"""The window's undo stack, shown through Qt: the scene's edits live in one ``app.edits.EditHistory`` (the
same stack scripts and tests use); each is wrapped in a QUndoCommand that replays it through that
history, so the History panel (QUndoView), Ctrl+Z and the menus drive it. Changes of what is shown that
the scene does not store (isolating an instance) are `ViewCommand`s beside them."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.edits import Edit, EditError, EditHistory
from app.scene import Scene

log = logging.getLogger(__name__)

EditBuilder = Callable[[Scene], Edit]
SelectionChange = tuple[int | None, int | None]  # (selected instance before, after)
UNDO_LIMIT = 500  # edits kept for undo (each keeps only the pixels it changed)


class EditCommand(QUndoCommand):
    """One ``app.edits.Edit`` on one scene: redo applies it, undo reverts it. With ``selection``
    (before, after), undo and redo also give back the selected instance of that moment."""

    def __init__(
        self, history: EditHistory, edit: Edit, stack: EditStack, selection: SelectionChange | None = None
    ) -> None:
        super().__init__(edit.text)
        self.history = history
        self.scene = history.scene
        self.edit = edit
        self.selection = selection
        self._stack = stack
        self._pushed = False

    def redo(self) -> None:
        def step(_scene: Scene) -> None:
            if not self._pushed:  # QUndoStack.push redoes the new command once: that applies it
                self.history.push(self.edit)
                self._pushed = True
            elif self.history.redo() is not self.edit:
                raise EditError("the undo history is out of step with the window")

        self._stack._replay(step, self.scene)
        if self.selection is not None:
            self._stack.selection_requested.emit(self.selection[1])

    def undo(self) -> None:
        def step(_scene: Scene) -> None:
            if self.history.undo() is not self.edit:
                raise EditError("the undo history is out of step with the window")

        self._stack._replay(step, self.scene)
        if self.selection is not None:
            self._stack.selection_requested.emit(self.selection[0])


class ViewCommand(QUndoCommand):
    """A change of what is shown that the scene does not store (e.g. isolating an instance): undoable
    like an edit, but it does not make the document modified."""

    def __init__(self, text: str, redo: Callable[[], None], undo: Callable[[], None], stack: EditStack):
        super().__init__(text)
        self._redo, self._undo, self._stack = redo, undo, stack

    def redo(self) -> None:
        self._stack._replay(lambda _scene: self._redo(), self._stack.scene)

    def undo(self) -> None:
        self._stack._replay(lambda _scene: self._undo(), self._stack.scene)


class EditStack(QUndoStack):
    """Undo/redo of the current scene's edits.

    ``run(builder)`` prepares an edit (``builder(scene)`` may raise ``EditError``, reported through
    ``failed``) and pushes it; re-clustering and showing/hiding instances are edits too, ``push_view``
    records isolating. Changes to the scene made outside the stack make the saved state unreachable, so
    the document stays "modified" until the next save even if every edit is undone.
    """

    failed = Signal(str)  # a readable reason an edit could not be done
    applied = Signal(object)  # the Edit just applied, undone or redone
    selection_requested = Signal(object)  # instance id | None an undo/redo gives back the selection to

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setUndoLimit(UNDO_LIMIT)
        self.scene: Scene | None = None
        self.history: EditHistory | None = None
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
        self.history = None if scene is None else EditHistory(scene, limit=UNDO_LIMIT)
        self.external_changes = 0
        if scene is not None:
            for sig in self._signals(scene):
                sig.connect(self._on_scene_event)
            for sig in self._relabel_signals(scene):
                sig.connect(self._on_relabelled)

    @staticmethod
    def _signals(scene: Scene):
        ev = scene.events
        return (ev.labels, ev.instances, ev.instance_changed, ev.points, ev.layers)  # not embeddings: a cache

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
            self.history = EditHistory(self.scene, limit=UNDO_LIMIT)
            self.resetClean()

    @property
    def replaying(self) -> bool:
        """True while a command is being applied or undone (its own scene events are not external)."""
        return self._replaying

    def scene_modified(self) -> bool:
        """Whether the scene differs from its saved state: an edit (not a view change) lies between the
        saved point and the current one, or the saved point is unreachable."""
        clean = self.cleanIndex()
        if clean < 0:
            return True
        lo, hi = sorted((clean, self.index()))
        return any(not isinstance(self.command(i), ViewCommand) for i in range(lo, hi))

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
    def run(self, builder: EditBuilder, selection: SelectionChange | None = None) -> Edit | None:
        """Prepare and apply one edit; None (and ``failed`` emitted) when it cannot be done.

        ``selection`` (before, after): undo/redo also restore the selection (see `EditCommand`)."""
        if self.scene is None:
            self.failed.emit("Open a scene first.")
            return None
        try:
            edit = builder(self.scene)
        except EditError as exc:
            self.failed.emit(str(exc))
            return None
        self.push(EditCommand(self.history, edit, self, selection))
        self.applied.emit(edit)
        return edit

    def push_view(self, text: str, redo: Callable[[], None], undo: Callable[[], None]) -> None:
        """Record a view change (already made or not: ``redo`` runs now and must be idempotent)."""
        if self.scene is not None:
            self.push(ViewCommand(text, redo, undo, self))

    def edit_texts(self) -> list[str]:
        """Texts of the applied edits, oldest first (what the history panel lists above its cursor)."""
        return [self.text(i) for i in range(self.index())]
