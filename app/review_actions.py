"""The review queue's one-key actions as undoable edits (Qt-free): each returns one prepared ``Edit``
(see ``app.edits``), so every action undoes in one step from the GUI, the CLI, tests and bench/review.py.

accept (A), merge with the suggested neighbour (M), split as the queue suggests (S: the separate 3D parts,
or the two feature groups of two touching objects; with no suggestion, 3D parts else k-means), delete (Del),
rename (F2). Merged, split and renamed instances become "fixed", accepted ones "accepted".
"""

from __future__ import annotations

from dataclasses import replace

from app import edits
from app.edits import Edit, EditError, FieldChange
from app.review import (
    ACCEPTED,
    FIXED,
    STATES,
    ReviewItem,
    feature_groups,
    review_state,
    spatial_parts,
    with_state,
)
from app.scene import Instance, Scene


def _with_states(table: tuple[Instance, ...] | None, ids: set[int], state: str) -> tuple[Instance, ...]:
    return tuple(replace(i, extra=with_state(i, state)) if i.id in ids else i for i in table or ())


def set_review_state(scene: Scene, ids: list[int] | tuple[int, ...], state: str) -> Edit:
    """Set the review state of instances (locked ones too: reviewing does not change what they are)."""
    if state not in STATES:
        raise EditError(f"review state must be one of {', '.join(STATES)}, not {state!r}")
    ids = list(dict.fromkeys(int(i) for i in ids))
    if not ids:
        raise EditError("select an instance first")
    insts = [edits._instance(scene, i) for i in ids]
    changes = tuple(
        FieldChange(i.id, "extra", i.extra, with_state(i, state)) for i in insts if review_state(i) != state
    )
    if not changes:
        raise EditError(f"{edits._describe(scene, ids)} is already {state}")
    verb = {"accepted": "Accept", "fixed": "Mark fixed", "unreviewed": "Mark unreviewed"}[state]
    return Edit(
        text=f"{verb} {edits._describe(scene, ids)}",
        op="review",
        details={"ids": ids, "state": state},
        fields=changes,
    )


def accept(scene: Scene, instance_id: int) -> Edit:
    return set_review_state(scene, [instance_id], ACCEPTED)


def merge_with(scene: Scene, instance_id: int, partner: int) -> Edit:
    """Merge an instance with a neighbour; the merged instance is "fixed"."""
    edit = edits.merge(scene, [instance_id, partner])
    target = int(edit.details["target"])
    edit.table_after = _with_states(edit.table_after, {target}, FIXED)
    edit.text = f"Merge {scene.instances[instance_id].name} with {scene.instances[partner].name}"
    return edit


def merge_suggested(scene: Scene, item: ReviewItem) -> Edit:
    if item.partner is None or item.partner not in scene.instances:
        raise EditError(
            f"the queue suggests no neighbour to merge {scene.instances[item.instance_id].name} with"
        )
    return merge_with(scene, item.instance_id, item.partner)


def split_3d(scene: Scene, instance_id: int) -> Edit:
    """Split an instance into its separate 3D parts (see ``app.review.spatial_parts``); all parts "fixed"."""
    (inst,) = edits._unlocked(scene, [instance_id], "split")
    index, part = spatial_parts(scene, inst.id)
    if part.size == 0 or int(part.max()) < 1:
        raise EditError(f"the points of {inst.name} form one 3D cluster; split it by features instead")
    edit = edits.split_parts(
        scene, inst.id, part, index, "split_3d", f"Split {inst.name} into {part.max() + 1} 3D parts"
    )
    return _fixed_parts(edit)


def split_features(scene: Scene, instance_id: int, k: int = 2) -> Edit:
    """Split an instance in ``k`` by its features and positions (k-means); all parts "fixed"."""
    return _fixed_parts(edits.split_kmeans(scene, instance_id, k))


def split_groups(scene: Scene, instance_id: int) -> Edit:
    """Split an instance into its two feature groups (``app.review.feature_groups``: what the queue's
    "looks like two objects" check found); both parts "fixed"."""
    (inst,) = edits._unlocked(scene, [instance_id], "split")
    groups = feature_groups(scene, inst.id)
    if groups is None:
        raise EditError(f"{inst.name} has too few points to split by its features")
    edit = edits.split_parts(
        scene, inst.id, groups.group, groups.index, "split_groups", f"Split {inst.name} into two objects"
    )
    return _fixed_parts(edit)


def split(scene: Scene, instance_id: int) -> Edit:
    """S without a suggestion: the separate 3D parts when there are several, else two parts by features."""
    try:
        return split_3d(scene, instance_id)
    except EditError as exc:
        if "one 3D cluster" not in str(exc):
            raise
    return split_features(scene, instance_id)


def _fixed_parts(edit: Edit) -> Edit:
    ids = {int(edit.details["instance"]), *(int(i) for i in edit.details["new_ids"])}
    edit.table_after = _with_states(edit.table_after, ids, FIXED)
    return edit


def delete(scene: Scene, instance_id: int) -> Edit:
    return edits.delete(scene, [instance_id])


def rename(scene: Scene, instance_id: int, name: str) -> Edit:
    """Rename and mark "fixed", in one step."""
    edit = edits.rename(scene, instance_id, name)
    inst = scene.instances[int(instance_id)]
    if review_state(inst) != FIXED:
        edit.fields = (*edit.fields, FieldChange(inst.id, "extra", inst.extra, with_state(inst, FIXED)))
    return edit


def split_suggested(scene: Scene, item: ReviewItem) -> Edit:
    """The S key in the queue: the split the queue found (3D parts or the two feature groups)."""
    if item.split == "features":
        return split_groups(scene, item.instance_id)
    if item.split == "3d":
        return split_3d(scene, item.instance_id)
    return split(scene, item.instance_id)


def apply_suggestion(scene: Scene, item: ReviewItem) -> Edit:
    """What the queue suggests for ``item``: merge with its partner, the split it found, or accept."""
    if item.action == "merge" and item.partner in scene.instances:
        return merge_suggested(scene, item)
    if item.action == "split":
        return split_suggested(scene, item)
    return accept(scene, item.instance_id)
