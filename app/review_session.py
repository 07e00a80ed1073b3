"""A walk through the review queue (Qt-free): one action on the current item, then the queue is ranked
again and the next unreviewed item becomes current. The Review panel, tests and bench/review.py use it.
The panel ranks in the background (``rank`` of a ``snapshot``): right after an action ``step_on`` shows
the next open item of the ranking before, and ``set_items(keep=...)`` takes the new one when it arrives.

Re-ranking after every action keeps the queue true to the scene: a merged-away instance leaves it, the
parts of a split come in with their own reasons, instances next to the edited one are scored again (the
ranking's per-instance checks are cached, so only instances whose pixels changed are looked at again).
The position follows the user: after an action the first unreviewed item the user has not skipped (N) in
this pass; after an undo or an edit made elsewhere (``rerank(keep=...)``) the same instance stays current.
"""

from __future__ import annotations

from collections.abc import Callable

from app import review_actions as ra
from app.edits import Edit, EditError
from app.review import UNREVIEWED, ReviewItem, SceneSnapshot, review_queue, review_state, snapshot
from app.scene import Scene

ACTIONS = ("accept", "merge", "split", "delete", "rename")


class ReviewSession:
    """The ranked queue of one scene and where the user is in it.

    ``push`` applies an edit and records it for undo (``EditHistory.push``, or the window's ``push_edit``).
    """

    def __init__(self, scene: Scene, push: Callable[[Edit], object]) -> None:
        self.scene = scene
        self.push = push
        self.items: list[ReviewItem] = []
        self.current: int | None = None  # index into items
        self.skipped: set[int] = set()  # instance ids passed over with N in this pass
        self._cache: dict = {}

    # ------------------------------------------------------------------------------------ ranking
    def rank(self, source: SceneSnapshot | None = None) -> list[ReviewItem]:
        """The queue (every instance, unreviewed first, most suspicious first) for the scene as it is now,
        or as it was in ``source`` (a ``snapshot`` of it, ranked in a worker thread while the user edits;
        one ranking at a time per session: they share the cache of per-instance checks)."""
        return review_queue(snapshot(self.scene) if source is None else source, True, self._cache)

    def set_items(self, items: list[ReviewItem], keep: int | None = None) -> None:
        """Take a ranking (from ``rank``, perhaps computed in the background); the current item is the
        instance ``keep`` when it is still in the queue, else the next open one."""
        self.items = list(items)
        ids = [it.instance_id for it in self.items]
        if keep is not None and keep in ids:
            self.current = ids.index(keep)
        else:
            self.current = self._first_open()

    def rerank(self, keep: int | None = None) -> None:
        self.set_items(self.rank(), keep)

    def step_on(self, keep: int | None = None) -> None:
        """The scene changed and its new ranking is not in yet: the ranking before without the instances
        that are gone, and the current item as ``set_items`` chooses it (after an action, ``keep`` None:
        the first open item the user has not skipped; undone and split-off instances come with the
        ranking)."""
        self.set_items([it for it in self.items if it.instance_id in self.scene.instances], keep)

    def is_open(self, item: ReviewItem) -> bool:
        """Still to review: the instance exists and is unreviewed."""
        inst = self.scene.instances.get(item.instance_id)
        return inst is not None and review_state(inst) == UNREVIEWED

    def _first_open(self) -> int | None:
        open_ = [k for k, it in enumerate(self.items) if self.is_open(it)]
        fresh = [k for k in open_ if self.items[k].instance_id not in self.skipped]
        if not fresh:  # every open item was skipped: a new pass starts
            self.skipped.clear()
        return (fresh or open_ or [None])[0]

    def current_item(self) -> ReviewItem | None:
        return None if self.current is None or self.current >= len(self.items) else self.items[self.current]

    # ---------------------------------------------------------------------------------- moving
    def go(self, index: int | None) -> None:
        self.current = index if index is not None and 0 <= index < len(self.items) else None

    def next(self) -> bool:
        """N: skip the current item for this pass; the next open item (False: nothing open is left)."""
        item = self.current_item()
        if item is not None:
            self.skipped.add(item.instance_id)
        return self._step(+1, open_only=True)

    def back(self) -> bool:
        """P: the previous item, whatever its state."""
        return self._step(-1, open_only=False)

    def _step(self, step: int, open_only: bool) -> bool:
        if not self.items:
            return False
        k = -1 if self.current is None and step > 0 else (self.current or 0)
        for _ in range(len(self.items)):
            k = (k + step) % len(self.items)
            if not open_only or self.is_open(self.items[k]):
                self.current = k
                return True
        return False

    # ---------------------------------------------------------------------------------- actions
    def edit_for(self, action: str, name: str | None = None) -> Edit:
        """The edit an action on the current item makes (not applied); EditError when it cannot be done."""
        item = self.current_item()
        if item is None:
            raise EditError("no review item is selected")
        iid = item.instance_id
        if iid not in self.scene.instances:
            raise EditError(f"instance {iid} is gone")
        if action == "accept":
            return ra.accept(self.scene, iid)
        if action == "merge":
            return ra.merge_suggested(self.scene, item)
        if action == "split":
            return ra.split_suggested(self.scene, item)
        if action == "delete":
            return ra.delete(self.scene, iid)
        if action == "rename":
            if not name:
                raise EditError("type a name")
            return ra.rename(self.scene, iid, name)
        raise ValueError(f"unknown review action {action!r} (one of {', '.join(ACTIONS)})")

    def act(self, action: str, name: str | None = None) -> Edit:
        """Do an action on the current item (one undoable edit), rank again, go to the next open item."""
        edit = self.edit_for(action, name)
        self.push(edit)
        self.rerank()
        return edit
