"""The viewer's links to the headless pipeline (app.reconstruct, app.clustering): settings in, steps out.

Steps run in a worker thread and must not touch the shown Scene (its events drive Qt widgets): they
return results, which the GUI thread applies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import UserError
from app.paths import SAMPLE_DIR
from app.progress import Cancelled, Progress
from app.scene import Instance, Scene
from viewer.run_settings import RunSettings


def sample_images_folder() -> Path:
    """The bundled sample room's photo folder (resources/sample/<first scene>/images)."""
    index = SAMPLE_DIR / "index.json"
    if index.is_file():
        try:
            scenes = json.loads(index.read_text(encoding="utf-8")).get("scenes", [])
        except (OSError, ValueError) as exc:
            raise UserError(f"the sample index {index} is damaged: {exc}") from None
        if scenes:
            folder = SAMPLE_DIR / scenes[0] / "images"
            if folder.is_dir():
                return folder
    photos = (".png", ".jpg", ".jpeg")
    if SAMPLE_DIR.is_dir() and any(p.suffix.lower() in photos for p in SAMPLE_DIR.iterdir()):
        return SAMPLE_DIR
    raise UserError(f"the bundled sample room is missing ({SAMPLE_DIR}); reinstall the app")


def check_image_folder(folder: Path) -> int:
    """Fail early, with the app's message, when a folder holds no image files at all."""
    from app.images import collect_image_paths, describe_skipped

    candidates, skipped = collect_image_paths([folder])
    if not candidates:
        detail = f" ({describe_skipped(skipped)})" if skipped else ""
        raise UserError(f"No images found in {folder}{detail}. Supported: JPEG, PNG, WebP, BMP, TIFF.")
    return len(candidates)


def cluster_config(run: RunSettings):
    from app.clustering import ClusterConfig

    return ClusterConfig(min_cluster_size=int(run.min_cluster_size), min_samples=int(run.min_samples),
                         epsilon=float(run.epsilon))


def reconstruct_config(run: RunSettings):
    from app.images import PreprocessConfig
    from app.inference import InferenceConfig
    from app.reconstruct import ReconstructConfig

    config = ReconstructConfig(
        preprocess=PreprocessConfig(width=int(run.image_width), max_views=int(run.max_views) or None),
        inference=InferenceConfig(weights=run.weights_spec() or "bundled", device=run.device),
        cluster=cluster_config(run),
        conf_percentile=float(run.confidence_percentile),
    )
    config.validate()
    return config


def reconstruction_factory(folder: Path, run: RunSettings):
    """A Job factory ``f(cancelled) -> generator of Progress returning a Scene`` for ``folder``."""
    from app.reconstruct import iter_reconstruct

    config = reconstruct_config(run)

    def factory(_cancelled):
        # the Job closes the generator on cancel; iter_reconstruct stops its network thread then
        return iter_reconstruct([folder], config)

    return factory


@dataclass
class ReclusterResult:
    labels: np.ndarray
    instances: list[Instance]
    settings: dict[str, Any]


def recluster_factory(scene: Scene, run: RunSettings):
    """Re-cluster the stored features (no network) in the background; the GUI applies the result.

    Mirrors app.reconstruct.recluster, which applies to the scene itself (not allowed off the GUI thread).
    """
    from app.clustering import iter_cluster_views
    from app.instances import build_instances, cluster_labels_to_ids, instance_statistics, match_to_previous

    config = cluster_config(run)
    config.validate()
    point_map = np.asarray(scene.point_map)
    features = np.asarray(scene.features, np.float32)
    mask = np.asarray(scene.point_mask)
    old_labels = np.array(scene.labels)
    old_instances = dict(scene.instances)
    depth, extrinsic, intrinsic = (np.asarray(a) for a in (scene.depth, scene.extrinsic, scene.intrinsic))

    def factory(cancelled):
        gen = iter_cluster_views(point_map, features, mask, config)
        try:
            while True:
                message, fraction = next(gen)
                yield Progress("clustering", message, 0.85 * fraction, fraction)
                if cancelled():
                    raise Cancelled("re-clustering cancelled")
        except StopIteration as stop:
            result = stop.value
        finally:
            gen.close()
        yield Progress("instances", "measuring instances", 0.9, 0.0)
        labels = match_to_previous(cluster_labels_to_ids(result.labels), old_labels, old_instances)
        stats = instance_statistics(labels, point_map, mask, depth, extrinsic, intrinsic)
        instances = build_instances(stats, old_instances)
        settings = {"cluster": config.to_json(), "cluster_params": result.params}
        return ReclusterResult(labels, instances, settings)

    return factory


def apply_recluster(scene: Scene, result: ReclusterResult) -> None:
    scene.set_labels(result.labels, result.instances)
    scene.update_settings(**result.settings)


def timing_key(device: str) -> str:
    return f"timing/{device.split(':')[0]}_s_per_mpx"


def remember_timing(settings, scene: Scene) -> None:
    """Store the network's seconds per view-megapixel of a finished run (basis of later estimates)."""
    seconds = (scene.settings.get("timings_s") or {}).get("inference")
    device = str(scene.settings.get("device", ""))
    if seconds and device:
        h, w = scene.image_size
        settings.set(timing_key(device), float(seconds) / (scene.n_views * h * w / 1e6))
        settings.set("timing/last_device", device)


def seconds_per_mpx(settings, device: str) -> float | None:
    """The remembered speed for ``device`` ('auto': the device the last run used)."""
    if device == "auto":
        device = settings.get("timing/last_device", "")
    return (settings.get(timing_key(device), 0.0) or None) if device else None


def estimate_text(model_id: str, device: str, n_views: int, size: tuple[int, int], per_view_bytes: float,
                  free_bytes: int | None, cap: int, why: str, seconds_per_mpx: float | None) -> str:
    """One paragraph: what a run of ``n_views`` at ``size`` will need on ``device``, and whether it fits."""
    h, w = size
    need = per_view_bytes * n_views
    free = "unknown" if free_bytes is None else f"{free_bytes / 1e9:.1f} GB free"
    text = (f"{model_id} on {device}: {n_views} views at {w}×{h} need about {need / 1e9:.2f} GB "
            f"beyond the weights ({free}).")
    if seconds_per_mpx:
        seconds = seconds_per_mpx * n_views * h * w / 1e6
        from app.progress import format_seconds

        text += f" Expected time about {format_seconds(seconds)} (from your last run on this device)."
    else:
        text += " The time is measured on the first run."
    if n_views > cap:
        text += f" ⚠ This will not fit: at most {cap} views ({why}). Lower the views or the width."
    else:
        text += f" Fits (up to {cap} views)."
    return text


def check_weights_factory(run: RunSettings, n_views: int | None, seconds_per_mpx: float | None = None):
    """Load the chosen weights with the real loader (its errors are the message) and estimate the run."""
    from app.images import PreprocessConfig
    from app.inference import (
        InferenceConfig,
        bytes_per_view,
        check_device,
        free_memory_bytes,
        get_predictor,
        resolve_weights,
    )

    inference = InferenceConfig(weights=run.weights_spec() or "bundled", device=run.device)
    inference.validate()
    size = PreprocessConfig(width=int(run.image_width)).target_size()
    views = min(int(n_views or run.max_views), int(run.max_views))

    def factory(_cancelled):
        yield Progress("model", "checking the weights", 0.0, 0.0)
        resolve_weights(inference.weights)
        check_device(inference.device)
        predictor = get_predictor(inference)
        yield Progress("model", "loading the weights", 0.1, 0.1)
        predictor.load()
        cap, why = predictor.max_views(*size)
        token_dim = 2 * int(getattr(predictor.net.config, "embed_dim", 1024))
        reduced = predictor.device.startswith("cuda") and inference.dtype != "float32"
        per_view = bytes_per_view(token_dim, size[0], size[1], reduced)
        return estimate_text(predictor.model_id, predictor.device, views, size, per_view,
                             free_memory_bytes(predictor.device), cap, why, seconds_per_mpx)

    return factory
