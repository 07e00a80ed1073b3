"""Review states of instances and the review queue: which instances an annotator should look at first.

An instance's review state lives in ``Instance.extra[REVIEW_KEY]`` ("accepted" or "fixed"; absent means
"unreviewed", so scenes saved before review mode load with every instance unreviewed). Accepted, fixed,
renamed and locked instances are *kept*: a re-clustering leaves their pixels, names and states alone and
re-clusters only the rest (``kept_ids``; used by ``app.reconstruct.ReclusterSource``).

The queue ranks unreviewed instances by suspicion, each with its reasons (``review_queue``):
  * low cross-view consistency, and "mixed up with" the instance its masks most often disagree with;
  * tiny fragments (few points next to a neighbour they probably belong to);
  * points forming two or more separate 3D clusters (probably several objects merged into one);
  * features falling into two clean groups that lie side by side in 3D (probably two touching objects
    merged into one: ``feature_groups``);
  * a touching neighbour with close instance features (probably one object split in two).
The one-key review actions (accept, merge with the suggested neighbour, split into the 3D parts or by
features, delete, rename) live in ``app.review_actions``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

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
# two touching objects in one instance: a 2-means of its unit features gives two groups that are
GROUP_SHARE = 0.08  # ... each at least this share of its points (a lamp on a table),
GROUP_SEPARATION = 3.5  # ... apart by this many within-group standard deviations (d' along their axis),
GROUP_SIMILARITY = 0.9  # ... with mean features less alike than this (cosine),
GROUP_PURITY = 0.85  # ... and side by side in 3D: this share of a point's 3D neighbours in its own group
GROUP_SAMPLE = 2000  # points per instance used for the 2-means
GROUP_NEIGHBOURS = 8


@dataclass(frozen=True)
class SceneSnapshot:
    """What the ranking reads of a scene, as it is at one moment, for ranking in the background while the
    user goes on editing: a scene's arrays are read-only and replaced (never written) by edits, so they are
    shared; the instance table (of frozen instances) is a copy."""

    instances: dict[int, Instance]
    labels: np.ndarray
    point_map: np.ndarray
    point_mask: np.ndarray
    features: np.ndarray
    points: np.ndarray


def snapshot(scene: Scene) -> SceneSnapshot:
    return SceneSnapshot(
        dict(scene.instances), scene.labels, scene.point_map, scene.point_mask, scene.features, scene.points
    )


SceneLike = Scene | SceneSnapshot  # what the measures and the queue read


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
# neighbouring pixels of a view: along its rows, along its columns
_NEIGHBOURS = (
    ((slice(None), slice(None), slice(1, None)), (slice(None), slice(None), slice(None, -1))),
    ((slice(None), slice(1, None), slice(None)), (slice(None), slice(None, -1), slice(None))),
)


def _scene_cache(scene: SceneLike, cache: dict | None) -> dict:
    """``cache`` (kept by the caller between rankings of one scene) holding what the ranking worked out
    before: emptied when the scene's geometry, features or point mask were replaced (edits replace only
    the labels, and per-instance results are keyed by the instance's pixels)."""
    if cache is None:
        return {}
    arrays = (scene.point_map, scene.point_mask, scene.features)
    held = cache.get("arrays")
    if held is None or any(a is not b for a, b in zip(held, arrays, strict=True)):
        cache.clear()
        cache["arrays"] = arrays
    return cache


def _label_index(scene: SceneLike) -> Callable[[int], np.ndarray]:
    """A function giving an instance's flat pixel indices (ascending), after one sort of the labels."""
    labels = np.asarray(scene.labels).reshape(-1)
    order = np.argsort(labels, kind="stable")  # stable: each label's pixels stay in ascending order
    sorted_labels = labels[order]

    def index(instance_id: int) -> np.ndarray:
        # searched for in the labels' own type: other numbers would convert the whole array each time
        a, b = np.searchsorted(sorted_labels, np.array([instance_id, instance_id + 1], sorted_labels.dtype))
        return order[a:b]

    return index


def _pixels_key(instance_id: int, index: np.ndarray) -> tuple[int, bytes]:
    """Names exactly this set of pixels (a count and a sum would let another set with the same ones
    reuse a stale result); hashing costs about what summing does."""
    return instance_id, hashlib.blake2b(np.ascontiguousarray(index).tobytes(), digest_size=16).digest()


def _mean_features(
    scene: SceneLike,
    ids: Iterable[int],
    index: Callable[[int], np.ndarray] | None = None,
    cache: dict | None = None,
) -> dict[int, np.ndarray]:
    """Unit-length mean instance feature of every instance (over its in-cloud pixels, each feature made unit
    length first). With ``cache`` only instances whose pixels changed are summed again."""
    known = {} if cache is None else cache.setdefault("means", {})
    index = _label_index(scene) if index is None else index
    mask = np.asarray(scene.point_mask).reshape(-1)
    feats = np.asarray(scene.features).reshape(-1, scene.features.shape[-1])
    out = {}
    for iid in (int(i) for i in ids):
        if iid <= NO_INSTANCE:
            continue
        pixels = index(iid)
        key = _pixels_key(iid, pixels)
        if key not in known:
            f = feats[pixels[mask[pixels]]].astype(np.float32)
            mean = None
            if f.shape[0]:
                f /= np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
                m = f.sum(axis=0, dtype=np.float64) / f.shape[0]
                mean = (m / max(float(np.linalg.norm(m)), 1e-12)).astype(np.float32)
            known[key] = mean
        if known[key] is not None:
            out[iid] = known[key]
    return out


def touching_pairs(
    scene: SceneLike, max_gap: float | None = None, cache: dict | None = None
) -> dict[tuple[int, int], int]:
    """Pairs of instances (a < b) that touch: neighbouring pixels in some view whose 3D points are within
    ``max_gap`` (default: 3 median pixel spacings), with how many such pixel pairs there are. With
    ``cache`` the 3D distances of neighbouring pixels (which no edit changes) are worked out once."""
    gaps = None if cache is None else cache.get("neighbour_gaps")
    if gaps is None:
        pts, ok = np.asarray(scene.point_map), np.asarray(scene.point_mask)
        gaps = [(np.linalg.norm(pts[a] - pts[b], axis=-1), ok[a] & ok[b]) for a, b in _NEIGHBOURS]
        if cache is not None:
            cache["neighbour_gaps"] = gaps
    labels = np.asarray(scene.labels)
    top = int(labels.max(initial=NO_INSTANCE)) + 1  # a pair (a, b) is the number a * top + b
    pairs: list[np.ndarray] = []
    dists: list[np.ndarray] = []
    within: list[np.ndarray] = []
    for (a_sl, b_sl), (d, both) in zip(_NEIGHBOURS, gaps, strict=True):
        la, lb = labels[a_sl], labels[b_sl]
        within.append(d[both & (la == lb)])
        edge = both & (la != lb) & (la != NO_INSTANCE) & (lb != NO_INSTANCE)
        a, b = la[edge], lb[edge]
        pairs.append(np.minimum(a, b).astype(np.int64) * top + np.maximum(a, b))
        dists.append(d[edge])
    spacing = np.concatenate(within)
    if max_gap is None:
        max_gap = 3.0 * float(np.median(spacing)) if spacing.size else np.inf
    pair = np.concatenate(pairs)[np.concatenate(dists).astype(np.float64) <= max_gap]
    if not pair.size:
        return {}
    keys, counts = np.unique(pair, return_counts=True)
    return {(int(k // top), int(k % top)): int(n) for k, n in zip(keys, counts, strict=True)}


def _cloud_spacing(scene: SceneLike, sample: int = 5000, seed: int = 0) -> float:
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
    scene: SceneLike,
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


@dataclass(frozen=True)
class FeatureGroups:
    """An instance's pixels in two groups by a 2-means of their unit instance features, and how cleanly
    they separate (see ``feature_groups``)."""

    index: np.ndarray  # flat pixel indices of the instance
    group: np.ndarray  # 0 (the bigger group) or 1 for every pixel of ``index``
    shares: tuple[float, float]  # share of the instance's points in each group, bigger first
    separation: float  # distance of the group means along their axis, in pooled within-group std devs
    similarity: float  # cosine of the two groups' mean features
    purity: float  # share of a point's nearest 3D neighbours in its own group (0.5: mixed, 1: side by side)

    @property
    def two_objects(self) -> bool:
        """The groups look like two objects: both big enough, clearly apart in features, side by side."""
        return (
            self.shares[1] >= GROUP_SHARE
            and self.separation >= GROUP_SEPARATION
            and self.similarity < GROUP_SIMILARITY
            and self.purity >= GROUP_PURITY
        )

    def describe(self) -> str:
        return (
            f"looks like two objects: its features fall into two groups ({self.shares[0]:.0%} / "
            f"{self.shares[1]:.0%}, {self.separation:.1f} std apart) side by side in 3D"
        )


def feature_groups(
    scene: SceneLike, instance_id: int, seed: int = 0, index: np.ndarray | None = None
) -> FeatureGroups | None:
    """Two groups of an instance's pixels by 2-means on its unit instance features (None: too few points).

    Two touching objects merged into one instance form one 3D cluster, so ``spatial_parts`` cannot see
    them; what still tells them apart is what the network says: two modes of the instance features, each
    a compact region in 3D. One object split by 2-means gives halves that are close (a unimodal spread
    split in two is about 2.7 std apart) and, with noisy features, interleaved in 3D. The fit uses a sample
    of the in-cloud points; every pixel then takes its nearest group centre. Deterministic for a ``seed``.
    """
    from scipy.spatial import cKDTree
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    if index is None:
        index = np.flatnonzero(np.asarray(scene.labels).reshape(-1) == instance_id)
    in_cloud = np.flatnonzero(np.asarray(scene.point_mask).reshape(-1)[index])
    if in_cloud.size < 2 * FRAGMENT_MIN_POINTS:
        return None
    rng = np.random.default_rng(seed)
    sample = in_cloud if in_cloud.size <= GROUP_SAMPLE else np.sort(rng.choice(in_cloud, GROUP_SAMPLE, False))
    feats = np.asarray(scene.features).reshape(-1, scene.features.shape[-1])[index].astype(np.float64)
    feats /= np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    if float(np.ptp(feats[sample], axis=0).max()) < 1e-9:  # one feature value: nothing to split (and no
        return None  # 2-means of it, which warns on stderr)
    with threadpool_limits(1):  # a small fit; many threads on a busy CPU only slow it down
        km = KMeans(n_clusters=2, n_init=4, random_state=seed).fit(feats[sample])
    fit = km.labels_
    if np.bincount(fit, minlength=2).min() < 2:
        return None
    if np.count_nonzero(fit == 1) > np.count_nonzero(fit == 0):  # group 0 is the bigger one
        fit = 1 - fit
        centres = km.cluster_centers_[::-1]
    else:
        centres = km.cluster_centers_
    axis = centres[1] - centres[0]
    axis /= max(float(np.linalg.norm(axis)), 1e-12)
    proj = feats[sample] @ axis
    a, b = proj[fit == 0], proj[fit == 1]
    separation = abs(float(b.mean() - a.mean())) / max(float(np.sqrt((a.var() + b.var()) / 2)), 1e-9)
    unit = centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    xyz = np.asarray(scene.point_map).reshape(-1, 3)[index[sample]].astype(np.float64)
    k = min(GROUP_NEIGHBOURS, sample.size - 1)
    _, nn = cKDTree(xyz).query(xyz, k=k + 1)
    purity = float(np.mean(fit[nn[:, 1:]] == fit[:, None]))
    share1 = float(np.mean(fit == 1))
    group = np.argmax(feats @ centres.T - 0.5 * (centres**2).sum(1), axis=1)  # the nearest centre, per pixel
    return FeatureGroups(
        index,
        group,
        (1.0 - share1, share1),
        round(separation, 3),
        round(float(unit[0] @ unit[1]), 4),
        round(purity, 4),
    )


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
    split: str | None = None  # the suggested split: "3d" (its separate parts) or "features" (two groups)

    @property
    def reason_text(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "nothing suspicious"


def _shape_checks(
    scene: SceneLike,
    ids: Iterable[int],
    cache: dict | None,
    index: Callable[[int], np.ndarray] | None = None,
) -> dict[int, tuple[int, FeatureGroups | None]]:
    """Per instance: its number of separate 3D parts and, when it is one part, its two feature groups
    (arrays left out). ``cache`` (kept by the caller between calls for one scene) remembers instances whose
    pixels did not change, so re-ranking after an edit only looks at the instances it touched."""
    known = {} if cache is None else cache.setdefault("shapes", {})
    index = _label_index(scene) if index is None else index
    spacing: float | None = None if cache is None else cache.get("spacing")
    out = {}
    for iid in ids:
        pixels = index(iid)
        key = _pixels_key(iid, pixels)
        if key not in known:
            parts, groups = 1, None
            if pixels.size >= 2 * FRAGMENT_MIN_POINTS:
                if spacing is None:
                    spacing = _cloud_spacing(scene)
                    if cache is not None:
                        cache["spacing"] = spacing
                _, part = spatial_parts(scene, iid, spacing, index=pixels)
                parts = int(part.max()) + 1 if part.size else 1
                if parts == 1:
                    groups = feature_groups(scene, iid, index=pixels)
                    if groups is not None:  # keep the figures, not the per-pixel arrays
                        groups = replace(groups, index=np.zeros(0, np.int64), group=np.zeros(0, np.int64))
            known[key] = (parts, groups)
        out[iid] = known[key]
    return out


def review_queue(
    scene: SceneLike, include_reviewed: bool = False, cache: dict | None = None
) -> list[ReviewItem]:
    """Instances ranked by suspicion (most suspicious first); reviewed ones only with ``include_reviewed``
    (after the unreviewed ones). Pass the same ``cache`` dict for later calls on the same scene."""
    insts = dict(scene.instances)
    if not insts:
        return []
    names = {iid: inst.name for iid, inst in insts.items()}
    counts = {iid: inst.stats.point_count for iid, inst in insts.items()}
    fragment = max(FRAGMENT_SHARE * sum(counts.values()), FRAGMENT_MIN_POINTS)
    cache = _scene_cache(scene, cache)
    index = _label_index(scene)
    feats = _mean_features(scene, insts, index, cache)
    touching = touching_pairs(scene, cache=cache)
    neighbours: dict[int, list[tuple[int, int]]] = {iid: [] for iid in insts}
    for (a, b), n in touching.items():
        if a in neighbours and b in neighbours:
            neighbours[a].append((b, n))
            neighbours[b].append((a, n))

    def similarity(a: int, b: int) -> float:
        return float(feats[a] @ feats[b]) if a in feats and b in feats else 0.0

    todo = [iid for iid, inst in insts.items() if include_reviewed or review_state(inst) == UNREVIEWED]
    shape = _shape_checks(scene, todo, cache, index)
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
        parts, groups = shape[iid]
        split: str | None = None
        if parts >= 2:
            score += 0.6 + 0.1 * (parts - 2)
            reasons.append(f"its points form {parts} separate 3D clusters")
            action, split = "split", "3d"
        elif groups is not None and groups.two_objects:
            score += 0.6 + 0.1 * min(groups.separation - GROUP_SEPARATION, 3.0)
            reasons.append(groups.describe())
            action, split = "split", "features"
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
                {"points": n_points, "consistency": cons, "similarity": round(best_sim, 4)}
                | (
                    {}
                    if groups is None
                    else {
                        "groups": {
                            "shares": groups.shares,
                            "separation": groups.separation,
                            "similarity": groups.similarity,
                            "purity": groups.purity,
                        }
                    }
                ),
                split,
            )
        )
    items.sort(key=lambda it: (review_state(insts[it.instance_id]) != UNREVIEWED, -it.score, it.instance_id))
    return items
