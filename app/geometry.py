"""Which pixels become points: confidence percentile filter, background and user masks.

The official demo keeps a pixel when its confidence is at least the given percentile of all
confidences and above 1e-5 (``conf_thres`` is a percentage of points to drop; the IGGT demo passes
0.3), optionally dropping near-black (RGB sum < 16) or near-white (all channels > 240) pixels and
sky pixels (masks where 0 = sky). Unprojection itself is `model.geometry`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.errors import UserError
from app.scene import ViewInfo

DEMO_CONF_PERCENTILE = 0.3  # demo.py: DEFAULT_CONF_THRESHOLD, used as np.percentile(conf, 0.3)
BACKGROUND_FILTERS = ("none", "black", "white")
MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def confidence_mask(conf: np.ndarray, percentile: float) -> np.ndarray:
    """True where ``conf`` >= its ``percentile``-th percentile (0..100) and > 1e-5 (as the demo)."""
    if not 0.0 <= percentile <= 100.0:
        raise UserError(f"confidence percentile must be between 0 and 100, not {percentile}")
    conf = np.asarray(conf)
    finite = np.isfinite(conf)
    if not finite.any():
        return np.zeros(conf.shape, bool)
    threshold = 0.0 if percentile == 0.0 else float(np.percentile(conf[finite], percentile))
    return finite & (conf >= threshold) & (conf > 1e-5)


def background_mask(images: np.ndarray, mode: str) -> np.ndarray:
    """True where a pixel is kept by the demo's black/white background filter ("none": everywhere)."""
    if mode not in BACKGROUND_FILTERS:
        raise UserError(f"background filter must be one of {', '.join(BACKGROUND_FILTERS)}, not {mode!r}")
    rgb = np.asarray(images)
    if mode == "black":
        return rgb.astype(np.int32).sum(axis=-1) >= 16
    if mode == "white":
        return ~(rgb > 240).all(axis=-1)
    return np.ones(rgb.shape[:-1], bool)


def load_user_masks(mask_dir: str | os.PathLike, views: Sequence[ViewInfo]) -> tuple[np.ndarray, list[str]]:
    """Per-view keep masks from ``mask_dir`` (same file stem as the image; nonzero = keep, 0 = sky/
    background), resampled to the model grid with the view's transform. Views without a mask file
    keep everything; returns (masks (S, H, W) bool, notes)."""
    from PIL import Image

    from app.images import preprocess_image

    folder = Path(mask_dir).expanduser()
    if not folder.is_dir():
        raise UserError(f"mask folder not found: {folder}")
    by_stem = {p.stem: p for p in folder.iterdir() if p.suffix.lower() in MASK_SUFFIXES}
    h, w = views[0].transform.model_size
    masks = np.ones((len(views), h, w), bool)
    notes = []
    for i, view in enumerate(views):
        path = by_stem.get(Path(view.name).stem)
        if path is None:
            notes.append(f"no mask for {view.name}; all of it is kept")
            continue
        try:
            with Image.open(path) as img:
                m = np.asarray(img.convert("L"))
        except (OSError, ValueError) as exc:
            raise UserError(f"mask {path.name} cannot be read: {exc}") from None
        if m.shape != tuple(view.original_size):
            raise UserError(
                f"mask {path.name} is {m.shape[1]}x{m.shape[0]}, but image {view.name} is "
                f"{view.original_size[1]}x{view.original_size[0]}"
            )
        grey = np.repeat(m[..., None], 3, axis=2)
        masks[i] = preprocess_image(grey, view.transform)[..., 0] > 25  # ~0.1 of 255, as the demo
    return masks, notes


def point_mask(
    conf: np.ndarray,
    points: np.ndarray,
    percentile: float = DEMO_CONF_PERCENTILE,
    images: np.ndarray | None = None,
    background: str = "none",
    user_masks: np.ndarray | None = None,
) -> np.ndarray:
    """Which pixels go into the point cloud: finite points, confidence percentile, background, masks."""
    keep = np.isfinite(points).all(axis=-1)
    if user_masks is not None:
        keep &= user_masks
    # the percentile is taken over the pixels that survive the masks (the demo multiplies masked
    # confidences by 0, which the "> 1e-5" test then removes)
    masked_conf = np.where(keep, conf, 0.0)
    keep &= confidence_mask(masked_conf, percentile)
    if images is not None and background != "none":
        keep &= background_mask(images, background)
    return keep


DEFAULT_HFOV_DEG = 60.0


def sanitize_prediction(prediction) -> tuple[dict[str, np.ndarray], list[str]]:
    """Copy the prediction's arrays, replacing what cannot be stored or used, with notes saying what.

    An untrained or wrong checkpoint can predict a zero field of view (infinite focal length), broken
    poses, or NaNs. Such cameras get a 60-degree field of view / the identity pose so the scene stays
    usable and loadable; non-finite depth, points, confidences and features become 0 (which the
    confidence filter then drops).
    """
    out = {
        name: np.array(getattr(prediction, name), dtype=np.float32)
        for name in ("extrinsic", "intrinsic", "depth", "depth_conf", "world_points", "world_points_conf",
                     "points_from_depth", "features")
    }  # fmt: skip
    notes: list[str] = []
    h, w = out["depth"].shape[1:]
    k = out["intrinsic"]
    bad_k = ~np.isfinite(k).all(axis=(1, 2)) | (k[:, 0, 0] <= 0) | (k[:, 1, 1] <= 0)
    ext = out["extrinsic"]
    bad_e = ~np.isfinite(ext).all(axis=(1, 2))
    if bad_k.any():
        f = (w / 2) / np.tan(np.deg2rad(DEFAULT_HFOV_DEG) / 2)
        k[bad_k] = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], np.float32)
        notes.append(
            f"the model predicted an invalid field of view for view(s) {_views(bad_k)}; "
            f"assumed {DEFAULT_HFOV_DEG:.0f} degrees (untrained or wrong weights?)"
        )
    if bad_e.any():
        ext[bad_e] = np.eye(4, dtype=np.float32)[:3]
        notes.append(
            f"the model predicted an invalid camera pose for view(s) {_views(bad_e)}; assumed identity"
        )
    bad_depth = ~np.isfinite(out["depth"]) | (out["depth"] <= 0)
    if bad_depth.any():
        out["depth"][bad_depth] = 0.0
        notes.append(f"{int(bad_depth.sum())} pixels without a valid depth were dropped")
    if bad_k.any() or bad_e.any() or bad_depth.any():
        from model.geometry import unproject_depth_map_to_point_map

        out["points_from_depth"] = np.asarray(
            unproject_depth_map_to_point_map(out["depth"], ext, k), dtype=np.float32
        )
    for name in ("depth_conf", "world_points_conf"):
        bad = ~np.isfinite(out[name])
        out[name][bad] = 0.0
        if name == "depth_conf":
            out[name][bad_depth] = 0.0
    for name in ("world_points", "points_from_depth", "features"):
        bad = ~np.isfinite(out[name])
        if bad.any():
            out[name][bad] = 0.0
            pix = bad.any(axis=-1)
            conf = "depth_conf" if name == "points_from_depth" else "world_points_conf"
            if name != "features":
                out[conf][pix] = 0.0
            notes.append(f"{int(pix.sum())} pixels with invalid {name.replace('_', ' ')} were zeroed")
    return out, notes


def _views(flags: np.ndarray) -> str:
    idx = np.flatnonzero(flags).tolist()
    return ", ".join(str(i) for i in idx[:10]) + (" ..." if len(idx) > 10 else "")
