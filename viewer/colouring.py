"""Per-point colours for the 3D view's colour modes (numpy only; computed once per scene and mode)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from app.colors import NO_INSTANCE_COLOUR, FeaturePca
from app.scene import Scene
from viewer.state import COLOUR_MODES


def _colormap_lut(name: str = "viridis", n: int = 256) -> np.ndarray:
    try:
        from matplotlib import colormaps

        return (colormaps[name](np.linspace(0.0, 1.0, n))[:, :3] * 255).astype(np.uint8)
    except (ImportError, KeyError):  # grey ramp fallback
        ramp = np.linspace(0, 255, n).astype(np.uint8)
        return np.stack([ramp, ramp, ramp], axis=1)


def scalar_colours(
    values: np.ndarray, cmap: str = "viridis", low: float = 0.02, high: float = 0.98
) -> np.ndarray:
    """Map scalars to (N, 3) uint8 through a colormap, stretched between two quantiles."""
    values = np.asarray(values, dtype=np.float32)
    if values.size == 0:
        return np.zeros((0, 3), np.uint8)
    sample = values if values.size <= 200_000 else values[:: values.size // 200_000 + 1]
    lo, hi = np.quantile(sample, [low, high])
    span = max(float(hi - lo), 1e-12)
    lut = _colormap_lut(cmap)
    idx = np.clip((values - lo) * ((len(lut) - 1) / span), 0, len(lut) - 1).astype(np.int32)
    return lut[idx]


def instance_lut(colours: Mapping[int, tuple[int, int, int]], max_id: int) -> np.ndarray:
    """(max_id + 1, 3) uint8 table: row i = colour of instance i (unknown ids: the no-instance grey)."""
    lut = np.empty((max_id + 1, 3), np.uint8)
    lut[:] = NO_INSTANCE_COLOUR
    for iid, rgb in colours.items():
        if 0 < iid <= max_id:
            lut[iid] = rgb
    return lut


def up_vector(scene: Scene) -> np.ndarray:
    """World 'up' estimated from the cameras: the mean of their -y axes (OpenCV: y points down)."""
    rot = np.asarray(scene.extrinsic[:, :, :3], dtype=np.float64)
    ups = -rot[:, 1, :]  # row 1 of world-to-camera R = camera y axis in world coordinates
    up = ups.mean(axis=0)
    norm = np.linalg.norm(up)
    return (up / norm if norm > 1e-9 else np.array([0.0, -1.0, 0.0])).astype(np.float32)


def masked_rows(array: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``array[mask]`` for an (..., C) array and a mask over its leading axes, with each row moved as one
    raw C * itemsize byte item (for 2M rows of 8 float16 features: ~4 ms instead of ~55 ms)."""
    a = np.ascontiguousarray(array)
    c = a.shape[-1]
    rows = a.reshape(-1, c).view(np.dtype((np.void, c * a.itemsize)))[:, 0]
    return rows[np.asarray(mask, dtype=bool).reshape(-1)].view(a.dtype).reshape(-1, c)


def mode_colours(scene: Scene, mode: str) -> np.ndarray:
    """(N, 3) uint8 colours of the scene's points for ``mode`` (see COLOUR_MODES)."""
    if mode == "rgb":
        return np.ascontiguousarray(scene.point_rgb)
    if mode == "instance":
        labels = scene.point_labels
        max_id = max(int(labels.max(initial=0)), max(scene.instances, default=0))
        return instance_lut(scene.instance_colours(), max_id)[labels]
    if mode == "pca":
        feats = masked_rows(scene.features, scene.point_mask)
        return FeaturePca.fit(feats).colours(feats, np.uint8)
    if mode == "confidence":
        return scalar_colours(scene.point_confidence, "viridis")
    if mode == "height":
        return scalar_colours(scene.points @ up_vector(scene), "turbo")
    if mode == "depth":
        pix = scene.point_pixels
        return scalar_colours(scene.depth[pix[:, 0], pix[:, 1], pix[:, 2]], "magma")
    raise ValueError(f"unknown colour mode {mode!r}; choose one of {', '.join(COLOUR_MODES)}")


def dimmed(colours: np.ndarray, background: tuple[int, int, int], keep: float = 0.22) -> np.ndarray:
    """Colours faded towards the background (for points outside the selection)."""
    bg = np.asarray(background, np.float32)
    return (colours.astype(np.float32) * keep + bg * (1.0 - keep)).astype(np.uint8)
