"""The viewer's links to the headless pipeline (app.reconstruct, app.clustering): settings in, steps out.

Steps run in a worker thread and must not touch the shown Scene (its events drive Qt widgets): they
return results, which the GUI thread applies.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from app.errors import UserError
from app.paths import SAMPLE_DIR
from app.progress import Progress
from app.scene import Scene
from viewer.run_settings import MODEL_PRESET, RunSettings


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


def requested_cluster(run: RunSettings):
    """The clustering the user asked for: None for "model" (the weights' own preset, which the run plan
    resolves), else the fields (which a named preset filled, so that they give exactly that preset)."""
    from app.clustering import ClusterConfig

    if run.cluster_preset == MODEL_PRESET:
        return None
    return ClusterConfig(**run.cluster_values())


def cluster_config(run: RunSettings):
    """The clustering a run (or a re-clustering) with these settings uses."""
    from app.run_plan import cluster_plan

    return cluster_plan(requested_cluster(run), run.weights_spec() or "bundled")


def reconstruct_config(run: RunSettings):
    """The user's request (`app.run_plan.ReconstructConfig`) these settings make."""
    from app.images import PreprocessConfig
    from app.inference import InferenceConfig
    from app.run_plan import ReconstructConfig

    config = ReconstructConfig(
        preprocess=PreprocessConfig(width=int(run.image_width), max_views=int(run.max_views) or None),
        inference=InferenceConfig(weights=run.weights_spec() or "bundled", device=run.device),
        cluster=requested_cluster(run),
        conf_percentile=float(run.confidence_percentile),
    )
    config.validate()
    return config


def run_input_size(run: RunSettings) -> tuple[int, int]:
    """(H, W) a run with these settings feeds the network: the user's width, else the weights' own."""
    from app.images import PreprocessConfig
    from app.run_plan import WeightsDefaults, weights_defaults

    defaults = WeightsDefaults()
    # unreadable weights are reported by the run itself; the estimate then uses the default size
    with contextlib.suppress(Exception):
        defaults = weights_defaults(run.weights_spec() or "bundled")
    preprocess = PreprocessConfig(width=int(run.image_width))
    return preprocess.with_model_defaults(defaults.width, defaults.height).target_size()


def reconstruction_factory(folder: Path, run: RunSettings):
    """A Job factory ``f(cancelled) -> generator of Progress returning a Scene`` for ``folder``."""
    from app.reconstruct import iter_reconstruct
    from app.run_plan import make_plan

    config = make_plan(reconstruct_config(run))  # the weights are asked here, once

    def factory(_cancelled):
        # the Job closes the generator on cancel; iter_reconstruct stops its network thread then
        return iter_reconstruct([folder], config)

    return factory


def recluster_factory(scene: Scene, run: RunSettings, cache=None):
    """A Job factory that re-clusters the stored features (no network) and returns an
    ``app.reconstruct.ReclusterResult``; the GUI thread applies it (``result.edit(scene)``).

    The scene is read here, on the GUI thread (a snapshot of its read-only arrays); the worker never
    touches it. ``cache``: an ``app.clustering.ClusterCache`` kept for this scene between re-clusterings.
    """
    from app.reconstruct import ReclusterSource, iter_recluster

    config = cluster_config(run)
    config.validate()
    source = ReclusterSource.of(scene)

    def factory(_cancelled):  # the Job closes the generator on cancel
        return iter_recluster(source, config, cache)

    return factory


def timing_key(device: str) -> str:
    return f"timing/{device.split(':')[0]}_s_per_mpx"


def remember_timing(settings, scene: Scene) -> None:
    """Store the network's seconds per view-megapixel of a finished run (basis of later estimates)."""
    seconds = scene.settings.timings_s.get("inference")
    device = scene.settings.device if scene.settings.has("device") else ""
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
    from app.run_estimate import cpu_warning

    h, w = size
    need = per_view_bytes * n_views
    free = "unknown" if free_bytes is None else f"{free_bytes / 1e9:.1f} GB free"
    text = (f"{model_id} on {device}: {n_views} views at {w}×{h} need about {need / 1e9:.2f} GB "
            f"beyond the weights ({free}).")
    if seconds_per_mpx:
        seconds = seconds_per_mpx * n_views * h * w / 1e6
        from app.progress import format_seconds

        text += f" Expected time about {format_seconds(seconds)} (from your last run on this device)."
    elif warning := cpu_warning(model_id.split(":")[0].removeprefix("iggt-"), device, n_views, h, w):
        text += f" ⚠ {warning[0].upper()}{warning[1:]}."  # the full model's first run on a CPU
    else:
        text += " The time is measured on the first run."
    if n_views > cap:
        text += (f" ⚠ This may not fit: the estimate allows {cap} views ({why}); the run will try. "
                 "Lower the views or the width if it runs out of memory.")
    else:
        text += f" Fits (up to {cap} views)."
    return text


def check_weights_factory(run: RunSettings, n_views: int | None, seconds_per_mpx: float | None = None):
    """Load the chosen weights with the real loader (its errors are the message) and estimate the run."""
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
    size = run_input_size(run)
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
