"""The open document: the current Scene, where it is saved, and whether it has unsaved changes."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.scene import Scene

log = logging.getLogger(__name__)

SCENE_SUFFIX = ".iggt"


class Document(QObject):
    """Owns the Scene shown by every view. Whether it is modified is the window's undo stack's to say
    (an edit away from the saved point, or a change made outside the stack); cached derived data such as
    CLIP features is not a change the user has to save."""

    scene_changed = Signal(object)  # Scene | None
    modified_changed = Signal(bool)
    path_changed = Signal(object)  # Path | None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scene: Scene | None = None
        self.path: Path | None = None
        self.source: Path | None = None  # the image folder a new reconstruction came from
        self.title: str | None = None  # the name of a new reconstruction (e.g. "Sample room")
        self._modified = False

    @property
    def modified(self) -> bool:
        return self._modified

    def set_modified(self, value: bool) -> None:
        if value != self._modified:
            self._modified = value
            self.modified_changed.emit(value)

    def set_scene(self, scene: Scene | None, path: Path | None = None, source: Path | None = None,
                  modified: bool = False, title: str | None = None) -> None:
        """``title``: what to call a scene that is not saved yet (default: its photo folder's name)."""
        self.scene = scene
        self.title = title
        self.path = path
        self.source = source
        self._modified = not modified  # force the signal
        self.set_modified(modified)
        self.path_changed.emit(path)
        self.scene_changed.emit(scene)

    def save(self, path: Path | None = None) -> Path:
        """Save atomically (app.scene_io); raises app errors with readable messages."""
        from app.scene_io import save_scene

        if self.scene is None:
            raise ValueError("nothing to save")
        target = Path(path or self.path or "")
        if not str(target) or target == Path():
            raise ValueError("no file name to save to")
        if target.suffix.lower() != SCENE_SUFFIX:
            target = target.with_name(target.name + SCENE_SUFFIX)
        written = save_scene(self.scene, target)
        self.path = Path(written)
        self.set_modified(False)
        self.path_changed.emit(self.path)
        log.info("saved scene to %s", self.path)
        return self.path

    def display_name(self) -> str:
        if self.path is not None:
            return self.path.name
        if self.title or self.source is not None:
            return f"{self.title or self.source.name} (not saved)"
        return "untitled"

    def file_stem(self) -> str:
        """A file name (without suffix) to offer when the scene is saved the first time."""
        if self.path is not None:
            return self.path.stem
        name = self.title or (self.source.name if self.source is not None else "scene")
        return "-".join(name.lower().split())
