"""Review states of instances and the review queue: which instances an annotator should look at first.

An instance's review state lives in ``Instance.extra[REVIEW_KEY]`` ("accepted" or "fixed"; absent means
"unreviewed", so scenes saved before review mode load with every instance unreviewed). Accepted, fixed,
renamed and locked instances are *kept*: a re-clustering leaves their pixels, names and states alone and
re-clusters only the rest (``kept_ids``; used by ``app.reconstruct.ReclusterSource``).

The queue ranks unreviewed instances by suspicion, each with its reasons (``review_queue``):
  * low cross-view consistency, and "mixed up with" the instance its masks most often disagree with;
  * tiny fragments (few points next to a neighbour they probably belong to);
  * points forming two or more separate 3D clusters (probably several objects merged into one);
  * a touching neighbour with close instance features (probably one object split in two).
The one-key review actions (accept, merge with the suggested neighbour, split into the 3D parts or by
features, delete, rename) live in ``app.review_actions``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from app.scene import NO_INSTANCE, Instance, Scene

REVIEW_KEY = "review"
UNREVIEWED, ACCEPTED, FIXED = "unreviewed", "accepted", "fixed"
STATES = (UNREVIEWED, ACCEPTED, FIXED)

LOW_CONSISTENCY = 0.6  # below this an instance's masks disagree across views often enough to look at
MIXED_UP = 0.5  # below this the instance it is confused with is named as a reason
FRAGMENT_SHARE = 0.01  # an instance with fewer than this share of the cloud's points is a fragment
FRAGMENT_MIN_POINTS = 50  # ... and always one with fewer points than this
PART_SHARE = 0.15  # a separate 3D part must hold this share of the instance's points to count
SIMILAR_FEATURES = 0.9  # cosine similarity of mean features above which touching instances look alike
PART_SAMPLE = 2000  # points per instance used to find its 3D parts
PART_RADIUS = 5.0  # link radius for 3D parts, in median nearest-neighbour spacings of the whole cloud


# ----------------------------------------------------------------------------------------------- states
def review_state(inst: Instance) -> str:
    state = inst.extra.get(REVIEW_KEY)
    return state if state in (ACCEPTED, FIXED) else UNREVIEWED


def with_state(inst: Instance, state: str) -> dict:
    """``inst.extra`` with the review state set to ``state``."""
    if state not in STATES:
        raise ValueError(f"review state must be one of {', '.join(STATES)}, not {state!r}")
    extra = {k: v for k, v in inst.extra.items() if k != REVIEW_KEY}
    if state != UNREVIEWED:
        extra[REVIEW_KEY] = state
    return extra


def is_renamed(inst: Instance) -> bool:
    """The user renamed the instance (``app.edits.rename`` marks it)."""
    return bool(inst.extra.get("renamed"))


def is_kept(inst: Instance) -> bool:
    """Locked, accepted, fixed or renamed: a re-clustering keeps this instance as it is."""
    return inst.locked or review_state(inst) != UNREVIEWED or is_renamed(inst)


def kept_ids(scene: Scene) -> list[int]:
    return [iid for iid, inst in scene.instances.items() if is_kept(inst)]


def review_progress(scene: Scene) -> tuple[int, int]:
    """(reviewed, total) instances, for "12 of 33 reviewed"."""
    total = len(scene.instances)
    done = sum(1 for inst in scene.instances.values() if review_state(inst) != UNREVIEWED)
    return done, total


def progress_text(scene: Scene) -> str:
    done, total = review_progress(scene)
    return f"{done} of {total} reviewed"


# ------------------------------------------------------------------------------------------ measures
def _mean_features(scene: Scene, ids: Iterable[int]) -> dict[int, np.ndarray]:
    """Unit-length mean instance feature of every instance (over its in-cloud pixels)."""
    labels = np.asarray(scene.labels).reshape(-1)
    mask = np.asarray(scene.point_mask).reshape(-1) & (labels != NO_INSTANCE)
    feats = np.asarray(scene.features).reshape(-1, scene.features.shape[-1])[mask].astype(np.float32)
    feats /= np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    lab = labels[mask]
    out = {}
    for iid in ids:
        f = feats[lab == iid]
        if f.shape[0]:
            m = f.mean(0)
            out[iid] = m / max(float(np.linalg.norm(m)), 1e-12)
    return out


def touching_pairs(scene: Scene, max_gap: float | None = None) -> dict[tuple[int, int], int]:
    """Pairs of instances (a < b) that touch: neighbouring pixels in some view whose 3D points are within
    ``max_gap`` (default: 3 median pixel spacings), with how many such pixel pairs there are."""
    labels = np.asarray(scene.labels)
    pts = np.asarray(scene.point_map)
    ok = np.asarray(scene.point_mask)
    pairs: list[np.ndarray] = []
    gaps: list[np.ndarray] = []
    for a_sl, b_sl in (
        ((slice(None), slice(None), slice(1, None)), (slice(None), slice(None), slice(None, -1))),
        ((slice(None), slice(1, None), slice(None)), (slice(None), slice(None, -1), slice(None))),
    ):
        la, lb = labels[a_sl], labels[b_sl]
        d = np.linalg.norm(pts[a_sl] - pts[b_sl], axis=-1)
        both = ok[a_sl] & ok[b_sl]
        same = both & (la == lb)
        gaps.append(d[same])
        edge = both & (la != lb) & (la != NO_INSTANCE) & (lb != NO_INSTANCE)
        pairs.append(np.stack([np.minimum(la[edge], lb[edge]), np.maximum(la[edge], lb[edge]), d[edge]], 1))
    spacing = np.concatenate(gaps)
    if max_gap is None:
        max_gap = 3.0 * float(np.median(spacing)) if spacing.size else np.inf
    edges = np.concatenate(pairs) if pairs else np.zeros((0, 3))
    edges = edges[edges[:, 2] <= max_gap]
    if not edges.shape[0]:
        return {}
    keys, counts = np.unique(edges[:, :2].astype(np.int64), axis=0, return_counts=True)
    return {(int(a), int(b)): int(n) for (a, b), n in zip(keys, counts, strict=True)}


def _cloud_spacing(scene: Scene, sample: int = 5000, seed: int = 0) -> float:
    """Median nearest-neighbour distance of the cloud, estimated on a random sample (a sample of n of N
    points on surfaces is sparser by about sqrt(N / n))."""
    from scipy.spatial import cKDTree

    pts = np.asarray(scene.points, np.float64)
    if pts.shape[0] < 2:
        return 1.0
    rng = np.random.default_rng(seed)
    take = pts if pts.shape[0] <= sample else pts[rng.choice(pts.shape[0], sample, replace=False)]
    d, _ = cKDTree(take).query(take, k=2)
    return max(float(np.median(d[:, 1])) * np.sqrt(take.shape[0] / pts.shape[0]), 1e-9)


def spatial_parts(
    scene: Scene,
    instance_id: int,
    spacing: float | None = None,
    seed: int = 0,
    index: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The separate 3D parts of an instance: (flat pixel indices of the instance, part of each pixel).

    Parts are connected components of a sample of its points linked within ``PART_RADIUS`` cloud spacings;
    components holding less than ``PART_SHARE`` of the sample join the nearest big one, and every pixel takes
    the part of its nearest sample point. Part numbers are 0.. by decreasing size.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    if index is None:
        index = np.flatnonzero(np.asarray(scene.labels).reshape(-1) == instance_id)
    if index.size == 0:
        return index, np.zeros(0, np.int64)
    xyz = np.asarray(scene.point_map).reshape(-1, 3)[index].astype(np.float64)
    in_cloud = np.asarray(scene.point_mask).reshape(-1)[index]
    cand = np.flatnonzero(in_cloud) if in_cloud.sum() >= 2 else np.arange(index.size)
    rng = np.random.default_rng(seed)
    if cand.size > PART_SAMPLE:
        cand = np.sort(rng.choice(cand, PART_SAMPLE, replace=False))
    spacing = _cloud_spacing(scene) if spacing is None else spacing
    # a sample of n of the instance's m points is sparser than the cloud by about sqrt(m / n) (surfaces)
    density = np.sqrt(max(in_cloud.sum(), 1) / max(cand.size, 1))
    radius = PART_RADIUS * spacing * max(density, 1.0)
    tree = cKDTree(xyz[cand])
    pairs = tree.query_pairs(radius, output_type="ndarray")
    graph = coo_matrix((np.ones(pairs.shape[0], bool), (pairs[:, 0], pairs[:, 1])), shape=(cand.size,) * 2)
    n, comp = connected_components(graph, directed=False)
    sizes = np.bincount(comp, minlength=n)
    big = np.flatnonzero(sizes >= max(PART_SHARE * cand.size, 2))
    if big.size <= 1:
        return index, np.zeros(index.size, np.int64)
    big = big[np.argsort(-sizes[big], kind="stable")]
    part_of_comp = np.full(n, -1, np.int64)
    part_of_comp[big] = np.arange(big.size)
    anchors = np.flatnonzero(part_of_comp[comp] >= 0)
    _, nearest = cKDTree(xyz[cand][anchors]).query(xyz)
    return index, part_of_comp[comp[anchors[nearest]]]


# --------------------------------------------------------------------------------------------- queue
@dataclass(frozen=True)
class ReviewItem:
    """One instance in the review queue, with why it is there and what the queue suggests."""

    instance_id: int
    score: float  # suspicion; higher first
    reasons: tuple[str, ...]
    action: str  # suggested one-key action: "merge", "split" or "accept"
    partner: int | None = None  # the suggested neighbour to merge with
    parts: int = 1  # separate 3D parts of the instance
    details: dict = field(default_factory=dict)

    @property
    def reason_text(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "nothing suspicious"


def _part_counts(scene: Scene, ids: Iterable[int], cache: dict | None) -> dict[int, int]:
    """Number of separate 3D parts of each instance; ``cache`` (kept by the caller between calls for one
    scene) remembers instances whose pixels did not change."""
    cache = {} if cache is None else cache
    labels = np.asarray(scene.labels).reshape(-1)
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    spacing: float | None = None
    out = {}
    for iid in ids:
        a, b = np.searchsorted(sorted_labels, [iid, iid + 1])
        index = np.sort(order[a:b])
        key = (iid, index.size, int(index.sum()))
        if key not in cache:
            if index.size < 2 * FRAGMENT_MIN_POINTS:
                cache[key] = 1
            else:
                spacing = _cloud_spacing(scene) if spacing is None else spacing
                _, part = spatial_parts(scene, iid, spacing, index=index)
                cache[key] = int(part.max()) + 1 if part.size else 1
        out[iid] = cache[key]
    return out


def review_queue(scene: Scene, include_reviewed: bool = False, cache: dict | None = None) -> list[ReviewItem]:
    """Instances ranked by suspicion (most suspicious first); reviewed ones only with ``include_reviewed``
    (after the unreviewed ones). Pass the same ``cache`` dict for later calls on the same scene."""
    insts = dict(scene.instances)
    if not insts:
        return []
    names = {iid: inst.name for iid, inst in insts.items()}
    counts = {iid: inst.stats.point_count for iid, inst in insts.items()}
    fragment = max(FRAGMENT_SHARE * sum(counts.values()), FRAGMENT_MIN_POINTS)
    feats = _mean_features(scene, insts)
    touching = touching_pairs(scene)
    neighbours: dict[int, list[tuple[int, int]]] = {iid: [] for iid in insts}
    for (a, b), n in touching.items():
        if a in neighbours and b in neighbours:
            neighbours[a].append((b, n))
            neighbours[b].append((a, n))

    def similarity(a: int, b: int) -> float:
        return float(feats[a] @ feats[b]) if a in feats and b in feats else 0.0

    todo = [iid for iid, inst in insts.items() if include_reviewed or review_state(inst) == UNREVIEWED]
    part_counts = _part_counts(scene, todo, cache)
    items = []
    for iid in todo:
        inst = insts[iid]
        reasons: list[str] = []
        score = 0.0
        partner: int | None = None
        action = "accept"
        # touching neighbour with the closest features (the merge suggestion)
        best = max(neighbours[iid], key=lambda nb: (similarity(iid, nb[0]), nb[1]), default=None)
        best_sim = similarity(iid, best[0]) if best else 0.0
        cons = inst.stats.consistency
        if cons is not None and cons < LOW_CONSISTENCY:
            score += LOW_CONSISTENCY - cons
            reasons.append(f"low consistency {cons:.2f}")
            cw = inst.stats.confused_with
            if cons < MIXED_UP and cw is not None and cw in insts:
                reasons.append(f"mixed up with {names[cw]}")
                score += 0.2
                partner = cw
        n_points = counts[iid]
        if n_points < fragment:
            score += 0.4 + 0.4 * (1.0 - n_points / fragment)
            reasons.append(f"tiny fragment ({n_points} points)")
            if best is not None:
                partner, action = best[0], "merge"
        parts = part_counts[iid]
        if parts >= 2:
            score += 0.6 + 0.1 * (parts - 2)
            reasons.append(f"its points form {parts} separate 3D clusters")
            action = "split"
        if best is not None and best_sim >= SIMILAR_FEATURES:
            score += 0.5 * (best_sim - SIMILAR_FEATURES) / (1 - SIMILAR_FEATURES) + 0.2
            reasons.append(f"touches {names[best[0]]} with close features ({best_sim:.2f})")
            if action != "split":
                partner, action = best[0], "merge"
        if action == "accept" and partner is not None:
            action = "merge"
        items.append(
            ReviewItem(
                iid,
                round(score, 4),
                tuple(reasons),
                action,
                partner,
                parts,
                {"points": n_points, "consistency": cons, "similarity": round(best_sim, 4)},
            )
        )
    items.sort(key=lambda it: (review_state(insts[it.instance_id]) != UNREVIEWED, -it.score, it.instance_id))
    return items
