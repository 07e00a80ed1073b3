"""The record of one user edit and its exact replay (Qt-free): which pixels change ids, the instance table
before and after, field and settings changes. ``app.edits`` builds these records; an undo stack (the
viewer's ``viewer.commands.EditStack``) replays them. Every replay is logged in the scene's edit log,
which is saved with the scene (``history_of`` reads it back).
"""

from __future__ import annotations

import copy
import datetime as _dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.errors import UserError
from app.scene import Instance, Scene
from app.scene_settings import SceneSettings

DELETED_LAYER = "deleted_labels"
ARCHIVE_KEY = "deleted_instances"


class EditError(UserError):
    """An edit that cannot be done (nothing selected, locked instance, unknown id, ...)."""


# ------------------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class LabelDiff:
    """Pixels whose instance id changes: flat indices into an (S, H, W) array, old and new ids.

    Kept small for long undo histories: indices are int32 when they fit, and an id that is the same for
    every pixel (the usual case: merge, delete, split-off) is stored once.
    """

    index: np.ndarray  # (M,) sorted flat indices
    old: np.ndarray  # (M,) or (1,) int32
    new: np.ndarray  # (M,) or (1,) int32

    @classmethod
    def between(cls, before: np.ndarray, after: np.ndarray) -> LabelDiff:
        b, a = np.asarray(before).reshape(-1), np.asarray(after).reshape(-1)
        idx = np.flatnonzero(b != a)
        if b.size < 2**31:
            idx = idx.astype(np.int32)
        return cls(idx, _compact(b[idx]), _compact(a[idx]))

    def __len__(self) -> int:
        return int(self.index.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.index.nbytes + self.old.nbytes + self.new.nbytes)

    def replay(self, array: np.ndarray, forward: bool) -> np.ndarray:
        """A copy of ``array`` with the change applied (forward) or undone; checks the starting state."""
        expect, put = (self.old, self.new) if forward else (self.new, self.old)
        flat = np.array(array, copy=True).reshape(-1)
        if not np.all(flat[self.index] == expect):
            raise EditError("the scene changed underneath this edit; it cannot be replayed")
        flat[self.index] = put
        return flat.reshape(np.shape(array))


def _compact(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.int32)
    if values.size and np.all(values == values[0]):
        return values[:1].copy()
    return values


@dataclass(frozen=True)
class LabelSwap:
    """A change of (nearly) every pixel, e.g. re-clustering: both label maps, zlib-compressed.

    Label maps are piecewise constant, so this keeps a re-clustering of 0.7M pixels in tens of kB where a
    `LabelDiff` would take ~8 MB per undo step. Same ``replay`` contract as `LabelDiff`.
    """

    shape: tuple[int, ...]
    old: bytes
    new: bytes
    changed: int

    @classmethod
    def between(cls, before: np.ndarray, after: np.ndarray) -> LabelSwap:
        import zlib

        b = np.ascontiguousarray(before, dtype=np.int32)
        a = np.ascontiguousarray(after, dtype=np.int32)
        if b.shape != a.shape:
            raise EditError(f"label maps of shapes {b.shape} and {a.shape} cannot be swapped")
        return cls(b.shape, zlib.compress(b.tobytes(), 1), zlib.compress(a.tobytes(), 1), int((b != a).sum()))

    def _decode(self, data: bytes) -> np.ndarray:
        import zlib

        return np.frombuffer(zlib.decompress(data), dtype=np.int32).reshape(self.shape).copy()

    def __len__(self) -> int:
        return self.changed

    @property
    def nbytes(self) -> int:
        return len(self.old) + len(self.new)

    def replay(self, array: np.ndarray, forward: bool) -> np.ndarray:
        expect, put = (self.old, self.new) if forward else (self.new, self.old)
        if not np.array_equal(np.asarray(array), self._decode(expect)):
            raise EditError("the scene changed underneath this edit; it cannot be replayed")
        return self._decode(put)


@dataclass(frozen=True)
class SettingsChange:
    """Scene settings an edit replaces (e.g. the clustering of a re-clustering): the ``SceneSettings``
    fields it sets, and the record before (frozen), from which undo takes those fields back as they were:
    value, whether the scene held the key at all, and any stored original kept verbatim."""

    before: SceneSettings
    after: dict[str, Any]

    @classmethod
    def of(cls, scene: Scene, after: Mapping[str, Any]) -> SettingsChange:
        return cls(scene.settings, copy.deepcopy(dict(after)))

    def replay(self, scene: Scene, forward: bool) -> None:
        if forward:
            scene.update_settings(**copy.deepcopy(self.after))
        else:
            scene.replace_settings(scene.settings.taken_from(self.before, self.after))


@dataclass(frozen=True)
class FieldChange:
    instance_id: int
    name: str  # Instance field: name, colour, category, locked
    old: Any
    new: Any


@dataclass
class Edit:
    """One prepared, replayable user edit. ``text`` is what the history panel shows."""

    text: str
    op: str
    details: dict[str, Any] = field(default_factory=dict)  # JSON-able, for the scene's edit log
    labels: LabelDiff | LabelSwap | None = None
    table_before: tuple[Instance, ...] | None = None
    table_after: tuple[Instance, ...] | None = None
    deleted: LabelDiff | None = None  # change of the DELETED_LAYER
    archive_before: dict[str, dict] | None = None
    archive_after: dict[str, dict] | None = None
    fields: tuple[FieldChange, ...] = ()
    settings: SettingsChange | None = None

    def apply(self, scene: Scene) -> None:
        self._replay(scene, forward=True)

    def revert(self, scene: Scene) -> None:
        self._replay(scene, forward=False)

    def _replay(self, scene: Scene, forward: bool) -> None:
        table = self.table_after if forward else self.table_before
        if self.deleted is not None:
            layer = scene.layers.get(DELETED_LAYER)
            base = np.zeros(scene.labels.shape, np.int32) if layer is None else layer
            new_layer = self.deleted.replay(base, forward)
            scene.set_layer(DELETED_LAYER, new_layer if new_layer.any() else None)
        archive = self.archive_after if forward else self.archive_before
        if archive is not None:
            if archive:
                scene.metadata[ARCHIVE_KEY] = {k: dict(v) for k, v in archive.items()}
            else:
                scene.metadata.pop(ARCHIVE_KEY, None)
        if self.labels is not None:
            scene.set_labels(self.labels.replay(scene.labels, forward), table or ())
        elif table is not None:
            scene.set_instances(table)
        for change in self.fields if forward else reversed(self.fields):
            scene.update_instance(change.instance_id, **{change.name: change.new if forward else change.old})
        if self.settings is not None:
            self.settings.replay(scene, forward)
        scene.log_edit(
            {
                "op": self.op,
                "text": self.text,
                "undo": not forward,
                "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                **self.details,
            }
        )


class EditHistory:
    """The undo/redo stack of Edits on one scene (Qt-free), with a "saved" marker for unsaved-change checks.
    The viewer shows it through a QUndoStack (viewer.commands.EditStack); scripts and tests use it as is.
    ``limit``: how many edits are kept for undo (the oldest are forgotten)."""

    def __init__(self, scene: Scene, limit: int | None = None) -> None:
        self.scene = scene
        self.limit = limit
        self._done: list[Edit] = []
        self._undone: list[Edit] = []
        self._clean: int | None = 0  # len(_done) at the last save; None: that state is unreachable

    def push(self, edit: Edit) -> Edit:
        edit.apply(self.scene)
        self._done.append(edit)
        if self._clean is not None and self._clean > len(self._done) - 1:
            self._clean = None
        self._undone.clear()
        if self.limit is not None and len(self._done) > self.limit:
            del self._done[0]
            self._clean = None if self._clean is None or self._clean == 0 else self._clean - 1
        return edit

    def undo(self) -> Edit:
        if not self._done:
            raise EditError("nothing to undo")
        edit = self._done.pop()
        edit.revert(self.scene)
        self._undone.append(edit)
        return edit

    def redo(self) -> Edit:
        if not self._undone:
            raise EditError("nothing to redo")
        edit = self._undone.pop()
        edit.apply(self.scene)
        self._done.append(edit)
        return edit

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    def texts(self) -> list[str]:
        return [e.text for e in self._done]

    def mark_saved(self) -> None:
        self._clean = len(self._done)

    @property
    def dirty(self) -> bool:
        return self._clean != len(self._done)


def _effective(edit_log: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(op, text) of the edits in effect after replaying an edit log, oldest first."""
    done: list[tuple[str, str]] = []
    for entry in edit_log:
        item = (str(entry.get("op", "")), str(entry.get("text") or entry.get("op") or "edit"))
        if not entry.get("undo"):
            done.append(item)
        elif item in done:  # the newest edit of that kind is the one undone
            del done[len(done) - 1 - done[::-1].index(item)]
    return done


def history_of(edit_log: Iterable[Mapping[str, Any]]) -> list[str]:
    """The edits in effect after replaying a scene's edit log, oldest first (undone ones dropped)."""
    return [text for _op, text in _effective(edit_log)]


KEPT_BY_CLUSTERING = ("recluster", "set_name", "set_locked", "review")  # see app.review.is_kept


def edits_since_clustering(edit_log: Iterable[Mapping[str, Any]]) -> list[str]:
    """The edits in effect made after the scene's last re-clustering that a new one would replace (renamed,
    locked and reviewed instances are kept by it, so those edits are not listed)."""
    done = _effective(edit_log)
    last = max((i for i, (op, _t) in enumerate(done) if op == "recluster"), default=-1)
    return [text for op, text in done[last + 1:] if op not in KEPT_BY_CLUSTERING]
