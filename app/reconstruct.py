"""The reconstruction pipeline: images -> network -> points -> instances -> Scene, as a generator.

``iter_reconstruct(sources, config)`` yields `Progress` events (stage, overall fraction, ETA) and returns
the Scene. The CLI drives it with a plain loop, the GUI from a worker thread. To cancel: close the
generator (``gen.close()``), or use `app.progress.run_generator` with a cancel callback; the network
runs in a helper thread that notices the cancel between blocks, and nothing is written anywhere.
Saving is the caller's job (`app.scene_io.save_scene`).

Re-clustering stored features (no network): ``compute_recluster`` / ``iter_recluster`` read a
`ReclusterSource` snapshot and never touch the Scene (so they can run in a worker thread);
``result.edit(scene)`` gives the undoable edit that applies it (``recluster`` does both).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from app import __version__
from app.clustering import ClusterCache, ClusterConfig, iter_cluster_views
from app.errors import UserError
from app.geometry import (
    load_user_masks,
    point_mask,
    sanitize_prediction,
)
from app.images import ImageSet, iter_load_images
from app.inference import HARD_MAX_VIEWS, Predictor, get_predictor
from app.instances import build_instances, cluster_labels_to_ids, instance_statistics, match_to_previous
from app.progress import Progress, StagePlan, iter_in_thread, relay, run_generator
from app.review import kept_ids
from app.run_plan import ReconstructConfig, RunPlan, make_plan
from app.scene import InstanceStats, Scene
from app.scene_settings import SceneSettings, SkippedFile

if TYPE_CHECKING:
    from app.edits import Edit

log = logging.getLogger(__name__)

STAGES = (
    ("images", 0.05),
    ("model", 0.08),
    ("inference", 0.62),
    ("points", 0.02),
    ("clustering", 0.15),
    ("instances", 0.08),
)


def view_cap_note(n_views: int, cap: int, why: str, size: tuple[int, int]) -> str | None:
    """A warning when more views than the memory estimate allows are about to run (None when they fit).

    The per-view estimate is rough (scaled from a CPU fp32 measurement; see bench/gpu_check.py), so it
    warns and the run goes on: running out of memory is reported cleanly with advice. More than
    `HARD_MAX_VIEWS` views is refused (global attention is quadratic in views)."""
    if n_views > HARD_MAX_VIEWS:
        raise UserError(
            f"{n_views} views is more than {HARD_MAX_VIEWS}, the most one reconstruction takes; "
            f"use --views {HARD_MAX_VIEWS} to pick {HARD_MAX_VIEWS} evenly spaced images"
        )
    if n_views <= cap:
        return None
    h, w = size
    return (
        f"{n_views} views at {w}x{h} may not fit: the memory estimate allows {cap} ({why}); if the run "
        f"runs out of memory, use --views {cap} or a smaller --width"
    )


def iter_reconstruct(
    sources: Sequence[str | os.PathLike],
    config: ReconstructConfig | RunPlan | None = None,
    predictor: Predictor | None = None,
) -> Generator[Progress, None, Scene]:
    """Images -> Scene, yielding progress. Raises UserError (bad input), Cancelled (closed/cancelled).

    A `ReconstructConfig` is resolved into a `RunPlan` first (its errors come before any work); from
    there the run is a straight line that never asks the weights again.
    """
    if not isinstance(config, RunPlan):
        config = make_plan(config or ReconstructConfig(), read_size=predictor is None)
    plan = config
    stages = StagePlan(STAGES)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    # ---- images
    imageset: ImageSet = yield from iter_load_images(sources, plan.preprocess, stages)
    timings["images"] = time.perf_counter() - t0
    h, w = imageset.images.shape[1:3]
    user_masks = None
    notes = list(imageset.notes)
    if plan.mask_dir:
        user_masks, mask_notes = load_user_masks(plan.mask_dir, imageset.views)
        notes += mask_notes

    # expected durations of the steps after the network (measured on 2 CPU cores, 10 views at 336x504)
    mpix = imageset.images.shape[0] * h * w / 1.7e6
    for stage, seconds in (("points", 0.5), ("clustering", 3.0), ("instances", 1.0)):
        stages.set_expected(stage, seconds * max(mpix, 0.1))

    # ---- model
    t = time.perf_counter()
    predictor = predictor or get_predictor(plan.inference)
    yield stages.event("model", 0.0, "loading the model")
    yield from iter_in_thread(lambda progress, cancel: predictor.load(), stages, "model")
    cap, why = predictor.max_views(h, w)
    over = view_cap_note(len(imageset.views), cap, why, (h, w))
    if over is not None:
        log.warning("%s", over)
        notes.append(over)
        yield stages.event("model", 1.0, over)
    timings["model"] = time.perf_counter() - t

    # ---- network
    t = time.perf_counter()
    images = imageset.as_float()
    prediction = yield from iter_in_thread(
        lambda progress, cancel: predictor.predict(images, progress, cancel), stages, "inference"
    )
    timings["inference"] = time.perf_counter() - t

    # ---- points
    t = time.perf_counter()
    yield stages.event("points", 0.0, "filtering points by confidence")
    pred, fixes = sanitize_prediction(prediction)
    notes += fixes
    depth = pred["depth"]
    if plan.points_source == "depth":
        point_map, conf = pred["points_from_depth"], pred["depth_conf"]
    else:
        point_map, conf = pred["world_points"], pred["world_points_conf"]
    mask = point_mask(
        conf, point_map, plan.conf_percentile, imageset.images, plan.background_filter, user_masks
    )
    if not mask.any():
        raise UserError("no point survives the confidence/background filters; lower --conf-percentile")
    timings["points"] = time.perf_counter() - t

    # ---- clustering
    t = time.perf_counter()
    features = pred["features"]
    clusters = yield from relay(
        iter_cluster_views(point_map, features, mask, plan.cluster, colours=imageset.images),
        lambda update: stages.event("clustering", update[1], update[0]),
    )
    timings["clustering"] = time.perf_counter() - t

    # ---- instances
    t = time.perf_counter()
    yield stages.event("instances", 0.0, "measuring instances and cross-view consistency")
    labels = cluster_labels_to_ids(clusters.labels)
    extrinsic, intrinsic = pred["extrinsic"], pred["intrinsic"]
    stats = instance_statistics(labels, point_map, mask, depth, extrinsic, intrinsic)
    instances = build_instances(stats)
    timings["instances"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0

    settings = SceneSettings.of_run(
        plan,
        device=getattr(predictor, "device", plan.inference.device),
        image_size=(h, w),
        cluster_params=clusters.params,
        skipped_files=[SkippedFile(str(s.path), s.reason, s.bad) for s in imageset.skipped],
        notes=notes,
        timings_s={k: round(v, 3) for k, v in timings.items()},
    )
    scene = Scene(
        views=imageset.views,
        images=imageset.images,
        extrinsic=extrinsic,
        intrinsic=intrinsic,
        depth=depth,
        depth_conf=pred["depth_conf"],
        point_map=point_map,
        point_conf=conf,
        point_mask=mask,
        features=np.clip(features, -65000, 65000).astype(np.float16),
        labels=labels,
        instances=instances,
        settings=settings,
        model_id=predictor.model_id,
        app_version=__version__,
        image_storage=plan.image_storage,
    )
    yield stages.event("instances", 1.0, f"{len(instances)} instances in {scene.n_points} points")
    return scene


def reconstruct(
    sources: Sequence[str | os.PathLike],
    config: ReconstructConfig | RunPlan | None = None,
    predictor: Predictor | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Scene:
    """Blocking `iter_reconstruct` (raises `Cancelled` when ``cancel()`` turns True)."""

    return run_generator(iter_reconstruct(sources, config, predictor), on_progress, cancel)


# ------------------------------------------------------------------------------------ re-clustering
@dataclass(frozen=True)
class ReclusterSource:
    """What re-clustering reads from a Scene, taken on the thread that owns the scene.

    These are the scene's own read-only arrays (a Scene replaces its arrays, it never writes into them),
    so a worker thread can read them while the scene moves on; the computation never touches the Scene.
    """

    point_map: np.ndarray
    features: np.ndarray
    point_mask: np.ndarray
    depth: np.ndarray
    extrinsic: np.ndarray
    intrinsic: np.ndarray
    labels: np.ndarray
    instance_ids: tuple[int, ...]
    locked_ids: tuple[int, ...]
    images: np.ndarray | None = None  # (S, H, W, 3) uint8 photos: the colour cue of clustering

    @classmethod
    def of(cls, scene: Scene) -> ReclusterSource:
        return cls(
            point_map=scene.point_map,
            features=scene.features,
            point_mask=scene.point_mask,
            depth=scene.depth,
            extrinsic=scene.extrinsic,
            intrinsic=scene.intrinsic,
            labels=scene.labels,
            instance_ids=tuple(scene.instances),
            locked_ids=tuple(kept_ids(scene)),  # locked, reviewed or renamed: kept as they are
            images=scene.images,
        )


@dataclass(frozen=True)
class ReclusterResult:
    """New label maps and their statistics; `edit` turns them into an undoable edit of the scene."""

    labels: np.ndarray  # (S, H, W) int32 ids; instances that did not change keep their old ids
    stats: dict[int, InstanceStats]
    settings: dict[str, Any]  # SceneSettings fields: cluster (the ClusterConfig), cluster_params (HDBSCAN's)
    based_on: np.ndarray  # the label maps it was matched against (the edit is refused if they changed)
    timings: dict[str, float]

    @property
    def n_instances(self) -> int:
        return len(self.stats)

    def edit(self, scene: Scene) -> Edit:
        from app.edits import recluster as recluster_edit

        return recluster_edit(scene, self.labels, self.stats, self.settings, self.based_on)


def iter_recluster(
    source: ReclusterSource, config: ClusterConfig, cache: ClusterCache | None = None
) -> Generator[Progress, None, ReclusterResult]:
    """Re-cluster stored features (no network), yielding `Progress`. Pure: reads ``source`` only.

    New instances that overlap an old one (IoU >= 0.5) take its id, so names and colours carry over;
    kept instances (locked, reviewed or renamed: `app.review.kept_ids`) keep exactly their pixels and only
    the other pixels are clustered. A ``cache`` (see `app.clustering.ClusterCache`) kept
    between calls for the same scene makes later runs with other sizes/epsilon take milliseconds.
    """
    config.validate()
    t0 = time.perf_counter()
    keep, valid = _free_pixels(source)  # only the pixels of instances that are not kept take part
    clusters = yield from relay(
        iter_cluster_views(source.point_map, source.features, valid, config, cache, colours=source.images),
        lambda update: Progress("clustering", update[0], 0.85 * update[1], 0.85 * update[1]),
    )
    yield Progress("clustering", "measuring instances", 0.9, 0.9)
    t = time.perf_counter()
    free_ids = set(source.instance_ids) - set(source.locked_ids)
    labels = match_to_previous(cluster_labels_to_ids(clusters.labels), source.labels, free_ids)
    if keep is not None:  # fresh ids are above every old one, so no new instance collides with a kept one
        labels = np.where(keep, source.labels, labels).astype(np.int32)
    stats = instance_statistics(
        labels,
        source.point_map,
        source.point_mask,
        source.depth,
        source.extrinsic,
        source.intrinsic,
        pairs=_correspondences(source, cache),
    )
    timings = {**clusters.timings, "instances": time.perf_counter() - t, "total": time.perf_counter() - t0}
    settings = {"cluster": config, "cluster_params": dict(clusters.params)}
    return ReclusterResult(labels, stats, settings, source.labels, timings)


_FREE_PIXELS: list[tuple] = []  # the last (point_mask, keep, valid) of _free_pixels


def _free_pixels(source: ReclusterSource) -> tuple[np.ndarray | None, np.ndarray]:
    """(pixels of kept instances or None, point_mask without them). The same arrays while the kept pixels
    stay the same (as they do over re-clusterings), so a ClusterCache bound to them keeps its work."""
    if not source.locked_ids:
        return None, source.point_mask
    keep = np.isin(source.labels, np.asarray(source.locked_ids, dtype=np.int64))
    for mask, last_keep, valid in _FREE_PIXELS:
        if mask is source.point_mask and np.array_equal(keep, last_keep):
            return last_keep, valid
    valid = source.point_mask & ~keep
    _FREE_PIXELS[:] = [(source.point_mask, keep, valid)]
    return keep, valid


def _correspondences(
    source: ReclusterSource, cache: ClusterCache | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """The scene's cross-view pixel correspondences (for consistency scores), kept in ``cache``: they
    depend on depth, cameras and valid pixels only, never on the labels."""
    if cache is None:
        return None
    from app.instances import correspondences

    key = ("correspondences", id(source.depth), id(source.extrinsic), id(source.intrinsic))
    return cache.get(
        key, lambda: correspondences(source.depth, source.extrinsic, source.intrinsic, source.point_mask)
    )


def prepare_recluster(source: ReclusterSource, config: ClusterConfig, cache: ClusterCache) -> None:
    """Fill ``cache`` with the work every re-clustering of ``source`` with ``config``'s sample and kNN
    settings reuses (then other sizes/epsilon take milliseconds); e.g. in the background after opening."""
    from app.clustering import cluster_views

    cluster_views(
        source.point_map, source.features, _free_pixels(source)[1], config, cache=cache, colours=source.images
    )
    _correspondences(source, cache)


def compute_recluster(
    source: Scene | ReclusterSource,
    config: ClusterConfig,
    cancel: Callable[[], bool] | None = None,
    cache: ClusterCache | None = None,
) -> ReclusterResult:
    """Blocking `iter_recluster`; never changes the scene. Raises `Cancelled` when ``cancel()`` is True."""
    if isinstance(source, Scene):
        source = ReclusterSource.of(source)
    return run_generator(iter_recluster(source, config, cache), cancel=cancel, what="re-clustering")


def recluster(
    scene: Scene,
    config: ClusterConfig,
    cancel: Callable[[], bool] | None = None,
    cache: ClusterCache | None = None,
) -> Edit:
    """Re-cluster the scene's stored features and apply the result; returns the applied (revertible) edit."""
    edit = compute_recluster(scene, config, cancel, cache).edit(scene)
    edit.apply(scene)
    return edit
