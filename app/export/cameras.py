"""Camera geometry shared by exporters: centres, frustum corners and intrinsics at original resolution.

Scene cameras are world-to-camera ``[R | t]`` (OpenCV axes) with intrinsics that project to model-grid
pixel indices (pixel centres at integers, as the network's unprojection assumes).
"""

from __future__ import annotations

import numpy as np

from app.scene import Scene, ViewTransform


def camera_centres(extrinsic: np.ndarray) -> np.ndarray:
    """(S, 3) camera centres in world coordinates: ``-R^T t``."""
    ext = np.asarray(extrinsic, dtype=np.float64)
    return -np.einsum("sji,sj->si", ext[:, :, :3], ext[:, :, 3])


def frustum_corners(
    extrinsic: np.ndarray, intrinsic: np.ndarray, image_size: tuple[int, int], depth: float
) -> np.ndarray:
    """(S, 4, 3) world positions of the image corners at z = ``depth`` in front of each camera."""
    h, w = image_size
    pix = np.array(
        [[-0.5, -0.5, 1], [w - 0.5, -0.5, 1], [w - 0.5, h - 0.5, 1], [-0.5, h - 0.5, 1]], np.float64
    )
    out = np.empty((len(extrinsic), 4, 3))
    for s, (ext, k) in enumerate(
        zip(np.asarray(extrinsic, np.float64), np.asarray(intrinsic, np.float64), strict=True)
    ):
        cam = (np.linalg.inv(k) @ pix.T).T * depth
        out[s] = (cam - ext[:, 3]) @ ext[:, :3]  # R^T (x - t), row-vector form
    return out


def original_intrinsic(intrinsic: np.ndarray, transform: ViewTransform) -> np.ndarray:
    """Intrinsics for the original image in COLMAP's convention (top-left pixel centre at (0.5, 0.5)).

    A model pixel index ``u`` maps to original continuous coordinate ``left + (u + 0.5) * sx``.
    """
    sy, sx = transform.scale
    left, top = transform.crop_box[0], transform.crop_box[1]
    a = np.array([[sx, 0, left + 0.5 * sx], [0, sy, top + 0.5 * sy], [0, 0, 1]], np.float64)
    return a @ np.asarray(intrinsic, np.float64)


def scene_scale(scene: Scene) -> float:
    """A length for drawing helpers (frustums): 5% of the cloud's (or cameras') extent."""
    pts = scene.points
    if pts.shape[0] >= 2:
        diag = float(np.linalg.norm(np.percentile(pts, 98, axis=0) - np.percentile(pts, 2, axis=0)))
    else:
        c = camera_centres(scene.extrinsic)
        diag = float(np.linalg.norm(c.max(0) - c.min(0)))
    return 0.05 * diag if np.isfinite(diag) and diag > 0 else 0.1
