"""From cluster labels to the instance table: ids, statistics and cross-view consistency.

Instance ids are 1..K, largest (most pixels) first; 0 = no instance. Statistics per instance:
point count (points of the cloud), robust 3D bounding box (1st-99th percentile per axis), centroid,
pixel count per view, and a consistency score: every view's pixels are reprojected (with the predicted
depth and cameras) into the other views where they are visible (depth test); over all such pixel
correspondences, consistency = IoU of "labelled i here" and "labelled i there". 1 = the instance's
masks agree everywhere across views; low values flag identity errors (one object split into different
ids per view, or two objects merged). `confused_with` names the instance it is most often mistaken for.
"""

from __future__ import annotations

import weakref
from collections.abc import Generator, Iterable, Mapping
from dataclasses import replace

import numpy as np

from app.colors import instance_colour
from app.progress import run_generator
from app.scene import NO_INSTANCE, Instance, InstanceStats, Scene

BBOX_PERCENTILES = (1.0, 99.0)
MIN_CORRESPONDENCES = 50  # fewer reprojected pixels than this: consistency is not measurable


def cluster_labels_to_ids(cluster_labels: np.ndarray) -> np.ndarray:
    """0-based cluster labels (-1 = none) -> instance ids 1..K by decreasing pixel count (0 = none)."""
    lab = np.asarray(cluster_labels).reshape(-1)
    out = np.zeros(lab.shape, dtype=np.int32)
    ok = lab >= 0
    if ok.any():
        counts = np.bincount(lab[ok])
        present = np.flatnonzero(counts)
        order = present[np.argsort(-counts[present], kind="stable")]
        lut = np.zeros(counts.size, dtype=np.int32)
        lut[order] = np.arange(1, order.size + 1, dtype=np.int32)
        out[ok] = lut[lab[ok]]
    return out.reshape(np.shape(cluster_labels))


# ------------------------------------------------------------------------------------- consistency
def _unproject_view(
    depth: np.ndarray, extrinsic: np.ndarray, intrinsic: np.ndarray, rows, cols
) -> np.ndarray:
    z = depth[rows, cols].astype(np.float64)
    k = intrinsic.astype(np.float64)
    x = (cols - k[0, 2]) / k[0, 0] * z
    y = (rows - k[1, 2]) / k[1, 1] * z
    cam = np.stack([x, y, z], axis=1)
    r, t = extrinsic[:, :3].astype(np.float64), extrinsic[:, 3].astype(np.float64)
    return (cam - t) @ r  # R^T (x - t)


def _view_pairs(extrinsic: np.ndarray, max_partners: int) -> list[tuple[int, int]]:
    s = extrinsic.shape[0]
    r, t = extrinsic[:, :, :3], extrinsic[:, :, 3]
    centres = -np.einsum("sji,sj->si", r, t)  # camera centres: -R^T t
    d = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    pairs = []
    for a in range(s):
        order = [b for b in np.argsort(d[a], kind="stable") if b != a][:max_partners]
        pairs.extend((a, int(b)) for b in order)
    return pairs


def iter_correspondences(
    depth: np.ndarray,
    extrinsic: np.ndarray,
    intrinsic: np.ndarray,
    valid: np.ndarray | None = None,
    stride: int = 2,
    depth_tolerance: float = 0.08,
    max_partners: int = 8,
) -> Generator[float, None, tuple[np.ndarray, np.ndarray]]:
    """`correspondences` one pair of views at a time: yields the fraction of pairs done (a caller can
    show progress and stop between pairs) and returns the pairs."""
    s, h, w = depth.shape
    if valid is None:
        valid = np.ones((s, h, w), bool)
    rows, cols = np.meshgrid(np.arange(0, h, stride), np.arange(0, w, stride), indexing="ij")
    rows, cols = rows.reshape(-1), cols.reshape(-1)
    world = {}
    out_a: list[np.ndarray] = []
    out_b: list[np.ndarray] = []
    view_pairs = _view_pairs(np.asarray(extrinsic, np.float64), max_partners)
    for done, (a, b) in enumerate(view_pairs):
        yield done / len(view_pairs)
        if a not in world:
            keep = valid[a, rows, cols] & (depth[a, rows, cols] > 0)
            world[a] = (
                rows[keep],
                cols[keep],
                _unproject_view(depth[a], extrinsic[a], intrinsic[a], rows[keep], cols[keep]),
            )
        ra, ca, xw = world[a]
        if ra.size == 0:
            continue
        e = np.asarray(extrinsic[b], np.float64)
        cam = xw @ e[:, :3].T + e[:, 3]
        z = cam[:, 2]
        front = z > 1e-6
        kb = np.asarray(intrinsic[b], np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = kb[0, 0] * cam[:, 0] / z + kb[0, 2]
            v = kb[1, 1] * cam[:, 1] / z + kb[1, 2]
        ub = np.floor(u + 0.5)
        vb = np.floor(v + 0.5)
        inside = front & (ub >= 0) & (ub < w) & (vb >= 0) & (vb < h)
        ub = ub[inside].astype(np.int64)
        vb = vb[inside].astype(np.int64)
        zb = depth[b, vb, ub]
        seen = valid[b, vb, ub] & (np.abs(z[inside] - zb) <= depth_tolerance * zb)
        out_a.append((a * h + ra[inside][seen]) * w + ca[inside][seen])
        out_b.append((b * h + vb[seen]) * w + ub[seen])
    index = np.int32 if s * h * w < 2**31 else np.int64
    if not out_a:
        return np.zeros(0, index), np.zeros(0, index)
    return np.concatenate(out_a).astype(index), np.concatenate(out_b).astype(index)


def correspondences(
    depth: np.ndarray,
    extrinsic: np.ndarray,
    intrinsic: np.ndarray,
    valid: np.ndarray | None = None,
    stride: int = 2,
    depth_tolerance: float = 0.08,
    max_partners: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel correspondences between nearby views: flat (S*H*W) indices ``(a, b)`` such that pixel a,
    reprojected with its depth, lands on pixel b of another view and passes the depth test there
    (|z_b - depth_b| <= tol * depth_b); both valid. Depends on geometry only, not on labels, so one set
    serves every labelling of a scene (re-clustering, edits)."""
    return run_generator(
        iter_correspondences(depth, extrinsic, intrinsic, valid, stride, depth_tolerance, max_partners)
    )


# a scene's correspondences over its cloud's pixels, kept while the scene lives: (the geometry arrays they
# were computed from, the pairs). A Scene never writes into its arrays (a new point mask is a new array),
# so the same array objects mean the same correspondences.
_SCENE_PAIRS: weakref.WeakKeyDictionary[Scene, tuple[tuple, tuple[np.ndarray, np.ndarray]]] = (
    weakref.WeakKeyDictionary()
)


def _scene_geometry(scene: Scene) -> tuple[np.ndarray, ...]:
    return scene.depth, scene.extrinsic, scene.intrinsic, scene.point_mask


def scene_correspondences_ready(scene: Scene) -> bool:
    """True when `iter_scene_correspondences` has the scene's correspondences already (it returns at once)."""
    kept = _SCENE_PAIRS.get(scene)
    return kept is not None and all(a is b for a, b in zip(kept[0], _scene_geometry(scene), strict=True))


def iter_scene_correspondences(scene: Scene) -> Generator[float, None, tuple[np.ndarray, np.ndarray]]:
    """The `correspondences` of the scene's cloud pixels (what `instance_statistics` uses by default),
    computed once per scene geometry (2-3 s on 16 views of 448x560) and then kept with the scene, so that
    every edit's statistics reuse them; yields progress fractions while computing."""
    geometry = _scene_geometry(scene)
    if scene_correspondences_ready(scene):
        return _SCENE_PAIRS[scene][1]
    pairs = yield from iter_correspondences(*geometry)
    _SCENE_PAIRS[scene] = (geometry, pairs)
    return pairs


def scene_correspondences(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """`iter_scene_correspondences` without progress."""
    return run_generator(iter_scene_correspondences(scene))


def correspondence_confusion(
    labels: np.ndarray,
    depth: np.ndarray,
    extrinsic: np.ndarray,
    intrinsic: np.ndarray,
    valid: np.ndarray | None = None,
    stride: int = 2,
    depth_tolerance: float = 0.08,
    max_partners: int = 8,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """(K+1, K+1) counts of (label in view a, label at the reprojected pixel in view b) over the
    `correspondences` of nearby views (``pairs``: precomputed ones, e.g. kept between re-clusterings)."""
    k1 = int(labels.max(initial=0)) + 1
    a, b = pairs if pairs is not None else correspondences(
        depth, extrinsic, intrinsic, valid, stride, depth_tolerance, max_partners
    )
    flat = np.asarray(labels).reshape(-1)
    codes = flat[a].astype(np.int64) * k1 + flat[b]
    return np.bincount(codes, minlength=k1 * k1).reshape(k1, k1)


def consistency_from_confusion(confusion: np.ndarray) -> dict[int, tuple[float | None, int | None]]:
    """{id: (IoU of its masks across views or None, most-confused other id or None)} for ids >= 1."""
    c = confusion.astype(np.float64)
    sym = c + c.T
    out: dict[int, tuple[float | None, int | None]] = {}
    for i in range(1, c.shape[0]):
        union = c[i, :].sum() + c[:, i].sum() - c[i, i]
        score = None if union < MIN_CORRESPONDENCES else float(c[i, i] / union)
        row = sym[i].copy()
        row[i] = 0
        row[NO_INSTANCE] = 0
        other = int(np.argmax(row)) if row.max() > 0 else None
        out[i] = (score, other)
    return out


# ------------------------------------------------------------------------------------- statistics
def instance_statistics(
    labels: np.ndarray,
    point_map: np.ndarray,
    point_mask: np.ndarray,
    depth: np.ndarray,
    extrinsic: np.ndarray,
    intrinsic: np.ndarray,
    valid_for_consistency: np.ndarray | None = None,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[int, InstanceStats]:
    """Statistics of every instance id >= 1 present in ``labels`` (``pairs``: precomputed
    `correspondences` for these depth maps, cameras and valid pixels)."""
    s = labels.shape[0]
    k1 = int(labels.max(initial=0)) + 1
    view_counts = np.stack([np.bincount(labels[v].reshape(-1), minlength=k1) for v in range(s)])  # (S, K+1)
    pl = labels[point_mask]
    pts = point_map[point_mask]
    order = np.argsort(pl, kind="stable")
    bounds = np.searchsorted(pl[order], np.arange(k1 + 1))
    confusion = correspondence_confusion(
        labels,
        depth,
        extrinsic,
        intrinsic,
        point_mask if valid_for_consistency is None else valid_for_consistency,
        pairs=pairs,
    )
    cons = consistency_from_confusion(confusion)
    stats: dict[int, InstanceStats] = {}
    for i in range(1, k1):
        if view_counts[:, i].sum() == 0:
            continue
        p = pts[order[bounds[i] : bounds[i + 1]]]
        if p.shape[0]:
            lo, hi = np.percentile(p, BBOX_PERCENTILES, axis=0)
            bbox_min, bbox_max = tuple(float(x) for x in lo), tuple(float(x) for x in hi)
            centroid = tuple(float(x) for x in p.mean(axis=0))
        else:
            bbox_min = bbox_max = centroid = None
        score, other = cons.get(i, (None, None))
        stats[i] = InstanceStats(
            point_count=int(p.shape[0]),
            bbox_min=bbox_min,
            bbox_max=bbox_max,
            centroid=centroid,
            view_pixels={v: int(view_counts[v, i]) for v in range(s) if view_counts[v, i] > 0},
            consistency=score,
            confused_with=other,
        )
    return stats


def build_instances(
    stats: Mapping[int, InstanceStats], previous: Mapping[int, Instance] | None = None
) -> list[Instance]:
    """Instance table for ``stats``; ids found in ``previous`` keep their name/colour/flags/extra."""
    previous = previous or {}
    out = []
    for iid in sorted(stats):
        if iid in previous:
            out.append(replace(previous[iid], stats=stats[iid]))
        else:
            out.append(
                Instance(id=iid, name=f"instance {iid}", colour=instance_colour(iid - 1), stats=stats[iid])
            )
    return out


def scene_statistics(scene: Scene) -> dict[int, InstanceStats]:
    return instance_statistics(
        np.asarray(scene.labels),
        np.asarray(scene.point_map),
        np.asarray(scene.point_mask),
        np.asarray(scene.depth),
        np.asarray(scene.extrinsic),
        np.asarray(scene.intrinsic),
    )


def refresh_statistics(scene: Scene) -> None:
    """Recompute every instance's statistics in place (keeps names, colours and flags)."""
    stats = scene_statistics(scene)
    table = []
    for iid, inst in scene.instances.items():
        table.append(replace(inst, stats=stats.get(iid, InstanceStats())))
    scene.set_instances(table)


def match_to_previous(
    new_labels: np.ndarray, old_labels: np.ndarray, old_ids: Iterable[int], min_iou: float = 0.5
) -> np.ndarray:
    """Renumber ``new_labels`` so that instances overlapping an old one (IoU >= min_iou) keep its id.

    Lets re-clustering keep the user's names/colours for instances that did not change. Unmatched new
    instances get fresh ids above every old id.
    """
    new = np.asarray(new_labels, dtype=np.int64).reshape(-1)
    old = np.asarray(old_labels, dtype=np.int64).reshape(-1)
    kn, ko = int(new.max(initial=0)) + 1, int(old.max(initial=0)) + 1
    inter = np.bincount(new * ko + old, minlength=kn * ko).reshape(kn, ko).astype(np.float64)
    area_n, area_o = inter.sum(1), inter.sum(0)
    iou = inter / np.maximum(area_n[:, None] + area_o[None, :] - inter, 1)
    iou[0, :] = 0
    iou[:, 0] = 0
    lut = np.zeros(kn, dtype=np.int64)
    used: set[int] = set()
    valid_old = set(int(i) for i in old_ids)
    for n_id, o_id in sorted(np.argwhere(iou >= min_iou).tolist(), key=lambda p: -iou[p[0], p[1]]):
        if lut[n_id] == 0 and o_id not in used and o_id in valid_old:
            lut[n_id] = o_id
            used.add(o_id)
    nxt = max([*valid_old, ko - 1, 0]) + 1
    for n_id in range(1, kn):
        if lut[n_id] == 0 and area_n[n_id] > 0:
            lut[n_id] = nxt
            nxt += 1
    return lut[new].reshape(np.shape(new_labels)).astype(np.int32)
