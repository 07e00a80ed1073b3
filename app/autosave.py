"""Autosave and crash recovery (Qt-free; the viewer runs it from a timer).

While a scene has unsaved edits, the viewer writes it every few minutes to a side file in the user data
folder (``<user data>/autosave/``), never next to the user's own file: a scene file is only replaced when
the user saves. Each side file has an ``.json`` note saying which scene it belongs to, when it was
written and by which process. A clean exit (or a save) discards the session's side file; a crash leaves
it, and the next start offers it through ``find_recoverable``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.paths import user_data_dir
from app.scene import Scene
from model import atomic_write

log = logging.getLogger(__name__)

AUTOSAVE_INTERVAL_S = 180
NOTE_SUFFIX = ".json"
SCENE_SUFFIX = ".iggt"


def autosave_dir() -> Path:
    return user_data_dir() / "autosave"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Recoverable:
    """An autosave left by a session that did not end cleanly."""

    scene_path: Path  # the autosaved scene (an .iggt file)
    note_path: Path
    source: Path | None  # the scene file it belongs to; None: the scene was never saved
    saved: str  # ISO time of the autosave
    edits: int  # how many edits were done in that session
    title: str  # what to call it in a prompt

    def describe(self) -> str:
        when = self.saved.replace("T", " ").split("+")[0]
        return f"{self.title} (autosaved {when} UTC, {self.edits} edit{'s' if self.edits != 1 else ''})"


class Autosaver:
    """Writes this session's autosave of one scene; ``discard`` removes it."""

    def __init__(self, folder: Path | None = None, session: str | None = None) -> None:
        self.folder = Path(folder) if folder is not None else autosave_dir()
        self.session = session or uuid.uuid4().hex[:12]
        self.current: Path | None = None

    def path_for(self, source: Path | None) -> Path:
        if source is None:
            return self.folder / f"untitled-{self.session}{SCENE_SUFFIX}"
        digest = hashlib.sha1(str(Path(source).expanduser().absolute()).encode()).hexdigest()[:10]
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(source).stem)[:40]
        return self.folder / f"{stem}-{digest}-{self.session}{SCENE_SUFFIX}"

    def write(self, scene: Scene, source: Path | None, edits: int = 0) -> Path:
        """Save ``scene`` to this session's side file (atomically) and its note."""
        from app.scene_io import is_scene_file, save_scene

        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path_for(source)
        if self.current is not None and self.current != path:
            self.discard()  # the scene was saved under another name meanwhile
        if path.is_file() and not is_scene_file(path):  # our own side file, damaged: not the user's data
            path.unlink()
        save_scene(scene, path, keep_backup=False)
        note = {
            "source": None if source is None else str(Path(source).expanduser().absolute()),
            "saved": _now(),
            "pid": os.getpid(),
            "session": self.session,
            "edits": int(edits),
            "views": scene.n_views,
            "instances": len(scene.instances),
        }
        atomic_write.write_text(path.with_name(path.name + NOTE_SUFFIX), json.dumps(note, indent=1))
        self.current = path
        log.info("autosaved %s", path)
        return path

    def discard(self) -> None:
        if self.current is not None:
            _remove(self.current)
            self.current = None


def _remove(scene_path: Path) -> None:
    for p in (scene_path, scene_path.with_name(scene_path.name + NOTE_SUFFIX)):
        try:
            p.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot remove autosave %s: %s", p, exc)


def find_recoverable(folder: Path | None = None) -> list[Recoverable]:
    """Autosaves of sessions that ended without cleaning up (newest first).

    Autosaves of running sessions are skipped; those older than their scene file (saved afterwards)
    and notes without a scene are stale and removed.
    """
    folder = Path(folder) if folder is not None else autosave_dir()
    if not folder.is_dir():
        return []
    found = []
    for note_path in folder.glob(f"*{SCENE_SUFFIX}{NOTE_SUFFIX}"):
        scene_path = note_path.with_name(note_path.name[: -len(NOTE_SUFFIX)])
        try:
            note = json.loads(note_path.read_text(encoding="utf-8"))
            pid = int(note.get("pid", -1))
        except (OSError, ValueError, TypeError):
            log.warning("ignoring unreadable autosave note %s", note_path)
            continue
        if pid == os.getpid() or atomic_write.pid_alive(pid):  # this session, or one still running
            continue
        if not scene_path.is_file():
            _remove(scene_path)
            continue
        source = Path(note["source"]) if note.get("source") else None
        if source is not None and source.is_file() and source.stat().st_mtime > scene_path.stat().st_mtime:
            _remove(scene_path)  # the user saved after this autosave
            continue
        title = source.name if source is not None else "an unsaved scene"
        found.append(
            Recoverable(
                scene_path, note_path, source, str(note.get("saved", "")), int(note.get("edits", 0)), title
            )
        )
    return sorted(found, key=lambda r: r.saved, reverse=True)


def discard(recoverable: Recoverable) -> None:
    _remove(recoverable.scene_path)


def recover(recoverable: Recoverable) -> Scene:
    """Load an autosave; the caller shows it as unsaved changes to ``recoverable.source``."""
    from app.scene_io import load_scene

    return load_scene(recoverable.scene_path)
