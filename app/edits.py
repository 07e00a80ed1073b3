"""User edits of a Scene's instances as small, undoable command objects (Qt-free).

Each builder (``merge``, ``split_kmeans``, ``split_by_mask``, ``delete``, ``restore``, ``reassign``,
``recluster``, ``rename``, ``set_category``, ``set_colour``, ``set_locked``, ``set_visible``) inspects the
scene, checks that the edit makes sense (raising ``EditError`` with a readable message when not) and
returns a prepared ``Edit`` holding only what changes: the flat indices of relabelled pixels with their
old and new ids (a compressed before/after pair when nearly every pixel changes, as in re-clustering), the
instance table before and after (with freshly computed statistics), and field changes. ``apply`` and
``revert`` replay that record, so undo/redo is exact and cheap, and works the same from tests, the CLI
and the GUI (``EditHistory`` is the one undo stack; ``viewer.commands`` shows it through a QUndoStack). The
record, its replay and the history are in ``app.edit_record``.

Locked instances keep their pixels and fields: edits that would change them are refused, and a
reassignment by lasso skips their pixels. Only ``set_locked`` changes a locked instance.

Deleted instances are archived so they can be restored later (even after other edits): the layer
``DELETED_LAYER`` remembers which deleted instance owned each pixel, and ``scene.metadata[ARCHIVE_KEY]``
keeps their table entries. Restoring gives back the pixels that are still unlabelled.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from app.colors import Colour, instance_colour
from app.edit_record import (
    ARCHIVE_KEY,
    DELETED_LAYER,
    Edit,
    EditError,
    FieldChange,
    LabelDiff,
    LabelSwap,
    SettingsChange,
)
from app.edit_record import (
    EditHistory as EditHistory,  # the undo stack, offered here with the edits it replays
)
from app.scene import NO_INSTANCE, Instance, InstanceStats, Scene

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 200
SPLIT_FIT_SAMPLES = 20_000
RENAMED_KEY = "renamed"  # Instance.extra flag: the user named this instance (see app.review.is_kept)
SUGGESTION_KEY = "semantic_label"  # Instance.extra entry where "Label all" keeps its suggestion
# common indoor categories (ScanNet-20 and the synthetic rooms' furniture), offered after the scene's own
DEFAULT_VOCABULARY = (
    "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf", "picture",
    "counter", "desk", "curtain", "refrigerator", "shower curtain", "toilet", "sink", "bathtub", "lamp",
    "monitor", "plant", "box", "shelf", "otherfurniture",
)  # fmt: skip


# ---------------------------------------------------------------------------------------- statistics
def label_statistics(scene: Scene, labels: np.ndarray) -> dict[int, InstanceStats]:
    """Statistics of every instance under ``labels`` (as a fresh reconstruction computes them).

    All instances are recomputed, not only the edited ones: cross-view consistency of an instance
    depends on its neighbours (what it is confused with).
    """
    from app.instances import instance_statistics, scene_correspondences

    return instance_statistics(
        np.asarray(labels),
        np.asarray(scene.point_map),
        np.asarray(scene.point_mask),
        np.asarray(scene.depth),
        np.asarray(scene.extrinsic),
        np.asarray(scene.intrinsic),
        pairs=scene_correspondences(scene),  # geometry only: computed once per scene, not per edit
    )


# ------------------------------------------------------------------------------------------- helpers
def _instance(scene: Scene, iid: int) -> Instance:
    try:
        return scene.instances[int(iid)]
    except KeyError:
        raise EditError(f"there is no instance {iid}") from None


def _unlocked(scene: Scene, ids: Iterable[int], what: str) -> list[Instance]:
    insts = [_instance(scene, i) for i in ids]
    locked = [i.name for i in insts if i.locked]
    if locked:
        raise EditError(f"cannot {what}: {', '.join(locked)} {'is' if len(locked) == 1 else 'are'} locked")
    return insts


def _archive(scene: Scene) -> dict[str, dict]:
    return {str(k): dict(v) for k, v in dict(scene.metadata.get(ARCHIVE_KEY, {})).items()}


def fresh_ids(scene: Scene, n: int) -> list[int]:
    """``n`` unused instance ids, also avoiding ids of deleted (restorable) instances."""
    taken = set(scene.instances) | {int(k) for k in _archive(scene)}
    start = max(taken, default=NO_INSTANCE) + 1
    return list(range(start, start + n))


def _table_with(
    scene: Scene, labels: np.ndarray, removed: Iterable[int] = (), added: Sequence[Instance] = ()
) -> tuple[Instance, ...]:
    """The instance table after a relabelling, with statistics recomputed for ``labels``."""
    removed = set(removed)
    stats = label_statistics(scene, labels)
    table = [inst for iid, inst in scene.instances.items() if iid not in removed] + list(added)
    return tuple(replace(inst, stats=stats.get(inst.id, InstanceStats())) for inst in table)


def _pixel_mask(scene: Scene, mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != scene.labels.shape:
        raise EditError(f"selection has shape {mask.shape}, the scene's label maps are {scene.labels.shape}")
    return mask


def _label_edit(
    scene: Scene, text: str, op: str, new_labels: np.ndarray, table: tuple[Instance, ...], **details: Any
) -> Edit:
    return Edit(
        text=text,
        op=op,
        details=details,
        labels=LabelDiff.between(scene.labels, new_labels),
        table_before=tuple(scene.instances.values()),
        table_after=table,
    )


# ------------------------------------------------------------------------------------------ builders
def merge(scene: Scene, ids: Sequence[int], target: int | None = None) -> Edit:
    """Merge instances ``ids`` into one (``target``, by default the one with the most pixels)."""
    ids = list(dict.fromkeys(int(i) for i in ids))
    if len(ids) < 2:
        raise EditError("select at least two instances to merge")
    insts = _unlocked(scene, ids, "merge")
    if target is None:
        sizes = {i: int(np.count_nonzero(scene.labels == i)) for i in ids}
        target = max(ids, key=lambda i: (sizes[i], -ids.index(i)))
    elif int(target) not in ids:
        raise EditError(f"the merge target {target} is not among the merged instances")
    target = int(target)
    others = [i for i in ids if i != target]
    labels = np.where(np.isin(scene.labels, others), target, scene.labels).astype(np.int32)
    table = _table_with(scene, labels, removed=others)
    name = scene.instances[target].name
    return _label_edit(
        scene, f"Merge {len(insts)} instances into {name}", "merge", labels, table, ids=ids, target=target
    )


def split_parts(
    scene: Scene, iid: int, assignment: np.ndarray, index: np.ndarray, op: str, text: str
) -> Edit:
    """Edit giving pixel ``index[j]`` part ``assignment[j]``; the biggest part keeps ``iid``."""
    parts, counts = np.unique(assignment, return_counts=True)
    if parts.shape[0] < 2:
        raise EditError(f"the split leaves {scene.instances[iid].name} in one piece")
    order = parts[np.argsort(-counts, kind="stable")]
    new_ids = fresh_ids(scene, len(order) - 1)
    part_to_id = dict(zip(order.tolist(), [iid, *new_ids], strict=True))
    labels = np.array(scene.labels, copy=True).reshape(-1)
    lut = np.zeros(int(order.max()) + 1, np.int32)
    for part, pid in part_to_id.items():
        lut[part] = pid
    labels[index] = lut[assignment]
    labels = labels.reshape(scene.labels.shape)
    base = scene.instances[iid]
    added = [
        Instance.new(nid, name=f"{base.name} ({k + 2})", category=base.category, extra={"split_from": iid})
        for k, nid in enumerate(new_ids)
    ]
    table = _table_with(scene, labels, added=added)
    return _label_edit(scene, text, op, labels, table, instance=iid, new_ids=new_ids)


def split_features(scene: Scene, index: np.ndarray, feature_weight: float = 1.0) -> np.ndarray:
    """Clustering space of pixels (flat indices): 3D position scaled by its spread + unit features."""
    xyz = scene.point_map.reshape(-1, 3)[index].astype(np.float64)
    xyz = xyz - xyz.mean(0)
    spread = float(np.sqrt((xyz**2).sum(1).mean())) or 1.0
    feats = scene.features.reshape(-1, scene.features.shape[-1])[index].astype(np.float64)
    feats /= np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    return np.concatenate([xyz / spread, feature_weight * feats], axis=1)


def split_kmeans(
    scene: Scene, instance_id: int, k: int = 2, seed: int = 0, feature_weight: float = 1.0
) -> Edit:
    """Split an instance into ``k`` parts by k-means on its pixels' 3D positions and instance features."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    (inst,) = _unlocked(scene, [instance_id], "split")
    if not 2 <= int(k) <= 32:
        raise EditError("split into 2 to 32 parts")
    index = np.flatnonzero(scene.labels.reshape(-1) == inst.id)
    if index.shape[0] < k:
        raise EditError(f"{inst.name} has {index.shape[0]} pixels; too few to split into {k} parts")
    x = split_features(scene, index, feature_weight)
    in_cloud = scene.point_mask.reshape(-1)[index]
    fit = x[in_cloud] if in_cloud.sum() >= k else x
    rng = np.random.default_rng(seed)
    if fit.shape[0] > SPLIT_FIT_SAMPLES:
        fit = fit[rng.choice(fit.shape[0], SPLIT_FIT_SAMPLES, replace=False)]
    with threadpool_limits(1):  # many OpenMP threads on a busy CPU make this small fit ~30x slower
        km = KMeans(n_clusters=int(k), n_init=4, random_state=seed).fit(fit)
    assignment = km.predict(x)
    return split_parts(scene, inst.id, assignment, index, "split_kmeans", f"Split {inst.name} into {k} parts")


def split_by_mask(scene: Scene, instance_id: int, mask: np.ndarray) -> Edit:
    """Move the pixels of an instance inside ``mask`` (S, H, W bool) to a new instance."""
    (inst,) = _unlocked(scene, [instance_id], "split")
    mask = _pixel_mask(scene, mask)
    index = np.flatnonzero(scene.labels.reshape(-1) == inst.id)
    inside = mask.reshape(-1)[index]
    if not inside.any():
        raise EditError(f"the selection does not touch {inst.name}")
    if inside.all():
        raise EditError(f"the selection covers all of {inst.name}; nothing would be left to split off")
    # the selected part becomes the new instance, whatever its size
    labels = np.array(scene.labels, copy=True).reshape(-1)
    (nid,) = fresh_ids(scene, 1)
    labels[index[inside]] = nid
    labels = labels.reshape(scene.labels.shape)
    added = [
        Instance.new(nid, name=f"{inst.name} (2)", category=inst.category, extra={"split_from": inst.id})
    ]
    table = _table_with(scene, labels, added=added)
    return _label_edit(
        scene,
        f"Split selection off {inst.name}",
        "split_mask",
        labels,
        table,
        instance=inst.id,
        new_ids=[nid],
    )


def delete(scene: Scene, ids: Sequence[int]) -> Edit:
    """Delete instances: their pixels become unlabelled; they are archived for ``restore``."""
    ids = list(dict.fromkeys(int(i) for i in ids))
    if not ids:
        raise EditError("select the instances to delete")
    insts = _unlocked(scene, ids, "delete")
    hit = np.isin(scene.labels, ids)
    labels = np.where(hit, NO_INSTANCE, scene.labels).astype(np.int32)
    layer = scene.layers.get(DELETED_LAYER)
    layer_before = np.zeros(scene.labels.shape, np.int32) if layer is None else np.asarray(layer, np.int32)
    layer_after = np.where(hit, scene.labels, layer_before).astype(np.int32)
    archive = _archive(scene)
    after = dict(archive)
    for inst in insts:
        after[str(inst.id)] = inst.to_json()
    table = _table_with(scene, labels, removed=ids)
    text = f"Delete {insts[0].name}" if len(insts) == 1 else f"Delete {len(insts)} instances"
    edit = _label_edit(scene, text, "delete", labels, table, ids=ids)
    edit.deleted = LabelDiff.between(layer_before, layer_after)
    edit.archive_before, edit.archive_after = archive, after
    return edit


def deleted_instances(scene: Scene) -> list[Instance]:
    """Archived (deleted, restorable) instances, oldest first."""
    return [Instance.from_json(d) for d in _archive(scene).values()]


def forget_deleted(scene: Scene) -> None:
    """Drop the archive of deleted instances (not undoable; the ``recluster`` edit does this undoably):
    after re-clustering, which renumbers every pixel, the archived ids and pixels mean nothing."""
    if DELETED_LAYER in scene.layers:
        scene.set_layer(DELETED_LAYER, None)
    scene.metadata.pop(ARCHIVE_KEY, None)


def restore(scene: Scene, instance_id: int) -> Edit:
    """Bring back a deleted instance with those of its pixels that are still unlabelled."""
    archive = _archive(scene)
    key = str(int(instance_id))
    if key not in archive:
        raise EditError(f"instance {instance_id} is not among the deleted instances")
    if int(instance_id) in scene.instances:
        raise EditError(f"instance id {instance_id} is in use again; it cannot be restored")
    inst = Instance.from_json(archive[key])
    layer = scene.layers.get(DELETED_LAYER)
    layer_before = np.zeros(scene.labels.shape, np.int32) if layer is None else np.asarray(layer, np.int32)
    owned = layer_before == inst.id
    back = owned & (scene.labels == NO_INSTANCE)
    if not back.any():
        raise EditError(f"all pixels of {inst.name} have been given to other instances; nothing to restore")
    labels = np.where(back, inst.id, scene.labels).astype(np.int32)
    layer_after = np.where(owned, 0, layer_before).astype(np.int32)
    after = {k: v for k, v in archive.items() if k != key}
    table = _table_with(scene, labels, added=[inst])
    edit = _label_edit(scene, f"Restore {inst.name}", "restore", labels, table, instance=inst.id)
    edit.deleted = LabelDiff.between(layer_before, layer_after)
    edit.archive_before, edit.archive_after = archive, after
    return edit


def reassign(scene: Scene, mask: np.ndarray, target: int | None, name: str | None = None) -> Edit:
    """Give the selected pixels to instance ``target`` (0: unlabel; None: a new instance).

    Pixels of locked instances are left alone. Instances left without pixels are removed.
    """
    mask = _pixel_mask(scene, mask)
    locked = [i for i, inst in scene.instances.items() if inst.locked]
    free = mask & ~np.isin(scene.labels, locked) if locked else mask
    added: list[Instance] = []
    if target is None:
        (tid,) = fresh_ids(scene, 1)
        added = [Instance.new(tid, **({"name": name} if name else {}))]
        label_text = added[0].name
    elif int(target) == NO_INSTANCE:
        tid, label_text = NO_INSTANCE, "no instance"
    else:
        (tinst,) = _unlocked(scene, [int(target)], "reassign pixels to it")
        tid, label_text = tinst.id, tinst.name
    move = free & (scene.labels != tid)
    if not move.any():
        raise EditError("the selection has no pixels that can be reassigned (empty, locked or already there)")
    losers = [int(i) for i in np.unique(scene.labels[move]) if i != NO_INSTANCE]
    labels = np.where(move, tid, scene.labels).astype(np.int32)
    emptied = [i for i in losers if not np.any(labels == i)]
    table = _table_with(scene, labels, removed=emptied, added=added)
    return _label_edit(
        scene,
        f"Assign {int(move.sum())} pixels to {label_text}",
        "reassign",
        labels,
        table,
        target=tid,
        pixels=int(move.sum()),
        removed=emptied,
    )


def recluster(
    scene: Scene,
    labels: np.ndarray,
    stats: Mapping[int, InstanceStats],
    settings: Mapping[str, Any] | None = None,
    based_on: np.ndarray | None = None,
) -> Edit:
    """Replace every label by a re-clustering's (see ``app.reconstruct.compute_recluster``), undoably.

    Ids the new labels keep (matched to the old instances) keep their name, colour and flags as the scene
    has them now, so renames made while the re-clustering ran survive; new ids get defaults. ``settings``
    (``SceneSettings`` fields, e.g. ``cluster`` and ``cluster_params``) replace the scene's. Deleted
    instances cannot be restored after a re-clustering (every pixel was renumbered) until it is undone.
    ``based_on`` is the label map the re-clustering started from: the edit is refused if the scene's labels
    have changed since.
    """
    from app.instances import build_instances

    labels = np.asarray(labels, dtype=np.int32)
    if labels.shape != scene.labels.shape:
        raise EditError(f"re-clustered labels have shape {labels.shape}, not {scene.labels.shape}")
    if based_on is not None and based_on is not scene.labels and not np.array_equal(based_on, scene.labels):
        raise EditError("the instances changed while re-clustering; re-cluster again")
    unknown = sorted(set(np.unique(labels).tolist()) - set(stats) - {NO_INSTANCE})
    if unknown:
        raise EditError(f"re-clustered labels use instances without statistics: {unknown[:10]}")
    from app.review import is_kept

    moved = [
        inst.name
        for inst in scene.instances.values()
        if is_kept(inst) and not np.array_equal(scene.labels == inst.id, labels == inst.id)
    ]
    if moved:
        raise EditError(
            f"re-clustering would change {', '.join(moved)} (locked, reviewed or renamed); re-cluster again"
        )
    table = tuple(build_instances(stats, scene.instances))
    settings = dict(settings or {})
    details: dict[str, Any] = {"instances": len(table)}
    if "cluster" in settings:
        details["cluster"] = settings["cluster"].to_json()
    edit = Edit(
        text=f"Re-cluster into {len(table)} instances",
        op="recluster",
        details=details,
        labels=LabelSwap.between(scene.labels, labels),
        table_before=tuple(scene.instances.values()),
        table_after=table,
        settings=SettingsChange.of(scene, settings) if settings else None,
    )
    layer = scene.layers.get(DELETED_LAYER)
    if layer is not None:
        edit.deleted = LabelDiff.between(layer, np.zeros_like(layer))
    archive = _archive(scene)
    if archive:
        edit.archive_before, edit.archive_after = archive, {}
    return edit


def _field_edit(
    scene: Scene, ids: Sequence[int], name: str, value: Any, text: str, allow_locked: bool = False
) -> Edit:
    ids = list(dict.fromkeys(int(i) for i in ids))
    if not ids:
        raise EditError("select an instance first")
    insts = [_instance(scene, i) for i in ids] if allow_locked else _unlocked(scene, ids, "change it")
    changes = tuple(
        FieldChange(i.id, name, getattr(i, name), value) for i in insts if getattr(i, name) != value
    )
    if not changes:
        raise EditError("nothing changes")
    details = {"ids": ids, "field": name, "value": list(value) if isinstance(value, tuple) else value}
    return Edit(text=text, op=f"set_{name}", details=details, fields=changes)


def rename(scene: Scene, instance_id: int, name: str) -> Edit:
    name = " ".join(str(name).split())
    if not name:
        raise EditError("a name cannot be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise EditError(f"a name can have at most {MAX_NAME_LENGTH} characters")
    inst = _instance(scene, instance_id)
    edit = _field_edit(scene, [instance_id], "name", name, f"Rename {inst.name} to {name}")
    if not inst.extra.get(RENAMED_KEY):  # a name the user gave: re-clustering keeps the instance
        edit.fields = (
            *edit.fields,
            FieldChange(inst.id, "extra", inst.extra, {**inst.extra, RENAMED_KEY: True}),
        )
    return edit


def set_category(scene: Scene, ids: Sequence[int], category: str | None) -> Edit:
    category = " ".join(str(category).split()) if category is not None else ""
    if len(category) > MAX_NAME_LENGTH:
        raise EditError(f"a category can have at most {MAX_NAME_LENGTH} characters")
    value = category or None
    what = f"category {value}" if value else "no category"
    return _field_edit(scene, ids, "category", value, f"Set {what} on {_describe(scene, ids)}")


def set_colour(scene: Scene, ids: Sequence[int], colour: Sequence[int]) -> Edit:
    try:
        rgb: Colour = tuple(int(c) for c in colour)  # type: ignore[assignment]
    except (TypeError, ValueError):
        raise EditError(f"a colour is three numbers 0-255, not {colour!r}") from None
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise EditError(f"a colour is three numbers 0-255, not {colour!r}")
    hex_rgb = "".join(f"{c:02x}" for c in rgb)
    return _field_edit(scene, ids, "colour", rgb, f"Colour {_describe(scene, ids)} #{hex_rgb}")


def set_locked(scene: Scene, ids: Sequence[int], locked: bool) -> Edit:
    verb = "Lock" if locked else "Unlock"
    return _field_edit(
        scene, ids, "locked", bool(locked), f"{verb} {_describe(scene, ids)}", allow_locked=True
    )


def set_visible(scene: Scene, ids: Sequence[int], visible: bool) -> Edit:
    """Show or hide instances (locked ones too: visibility is how they are drawn, not what they are)."""
    verb = "Show" if visible else "Hide"
    return _field_edit(
        scene, ids, "visible", bool(visible), f"{verb} {_describe(scene, ids)}", allow_locked=True
    )


def _describe(scene: Scene, ids: Sequence[int]) -> str:
    ids = list(dict.fromkeys(int(i) for i in ids))
    if len(ids) == 1 and ids[0] in scene.instances:
        return scene.instances[ids[0]].name
    return f"{len(ids)} instances"


def category_vocabulary(scene: Scene, instance_id: int | None = None) -> list[str]:
    """Category names to offer: the instance's "Label all" suggestion, the scene's vocabulary, categories
    in use, then common indoor ones."""
    names: list[str] = []
    inst = scene.instances.get(int(instance_id)) if instance_id is not None else None
    suggestion = inst.extra.get(SUGGESTION_KEY) if inst is not None else None
    if isinstance(suggestion, dict) and suggestion.get("label"):
        names.append(str(suggestion["label"]))
    for source in (scene.settings.vocabulary, [i.category for i in scene.instances.values()]):
        names += [str(n) for n in source if n]
    names += DEFAULT_VOCABULARY
    return list(dict.fromkeys(names))


def default_colour(instance_id: int) -> Colour:
    return instance_colour(instance_id - 1)


# ----------------------------------------------------------------------------------------- selection
def pixels_in_polygon(
    scene: Scene, world_to_screen: np.ndarray, polygon: np.ndarray, only_cloud: bool = False
) -> np.ndarray:
    """(S, H, W) bool: pixels whose 3D point projects inside a screen polygon (a lasso or a box).

    ``world_to_screen`` is a 4x4 matrix from world coordinates to screen pixels (x right, y down) in
    homogeneous form; ``polygon`` is (P, 2) screen points. Points behind the camera are never inside.
    With ``only_cloud`` only pixels shown in the point cloud count.
    """
    pts = scene.point_map.reshape(-1, 3).astype(np.float64)
    hom = (
        np.concatenate([pts, np.ones((pts.shape[0], 1))], axis=1) @ np.asarray(world_to_screen, np.float64).T
    )
    w = hom[:, 3]
    ok = w > 1e-12
    xy = np.full((pts.shape[0], 2), np.nan)
    xy[ok] = hom[ok, :2] / w[ok, None]
    inside = ok & points_in_polygon(xy, np.asarray(polygon, np.float64))
    inside = inside.reshape(scene.labels.shape)
    return inside & scene.point_mask if only_cloud else inside


def points_in_polygon(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule point-in-polygon test for many points (vectorised over points)."""
    if polygon.shape[0] < 3:
        return np.zeros(xy.shape[0], bool)
    x, y = xy[:, 0], xy[:, 1]
    lo = np.nanmin(polygon, axis=0)
    hi = np.nanmax(polygon, axis=0)
    cand = (x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1])
    idx = np.flatnonzero(cand)
    px, py = x[idx], y[idx]
    inside = np.zeros(idx.shape[0], bool)
    x0, y0 = polygon[-1]
    for x1, y1 in polygon:
        crosses = (y1 > py) != (y0 > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            xcross = (x0 - x1) * (py - y1) / (y0 - y1) + x1
        inside ^= crosses & (px < xcross)
        x0, y0 = x1, y1
    out = np.zeros(xy.shape[0], bool)
    out[idx] = inside
    return out


def pixels_in_view_polygon(scene: Scene, view: int, polygon: np.ndarray) -> np.ndarray:
    """(S, H, W) bool selecting the pixels of one view inside a polygon drawn on that view's image.

    ``polygon`` is in the view's model-grid pixel coordinates (x = column, y = row).
    """
    if not 0 <= view < scene.n_views:
        raise EditError(f"there is no view {view}")
    h, w = scene.image_size
    rows, cols = np.mgrid[0:h, 0:w]
    inside = points_in_polygon(
        np.stack([cols.ravel(), rows.ravel()], 1).astype(np.float64), np.asarray(polygon, float)
    )
    out = np.zeros(scene.labels.shape, bool)
    out[view] = inside.reshape(h, w)
    return out


def pixels_of_points(scene: Scene, point_indices: np.ndarray) -> np.ndarray:
    """(S, H, W) bool of the pixels behind points of the cloud (indices into ``scene.points``)."""
    out = np.zeros(scene.labels.shape, bool)
    v, r, c = scene.point_pixels[np.asarray(point_indices, dtype=np.int64)].T
    out[v, r, c] = True
    return out


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
