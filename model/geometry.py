"""Camera conventions of IGGT/VGGT: pose encoding <-> extrinsics/intrinsics, depth unprojection.

* Pose encoding ``absT_quaR_FoV`` (..., 9): ``[tx, ty, tz, qx, qy, qz, qw, fov_h, fov_w]``; the quaternion
  is scalar-last and need not be unit length; FoVs in radians.
* Extrinsic (..., 3, 4) = ``[R | t]``, world-to-camera, OpenCV axes (x right, y down, z forward).
* Intrinsic (..., 3, 3) in pixels with the principal point at the image centre ``(W/2, H/2)``.

Every function accepts torch tensors or numpy arrays and returns the same kind it was given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

Array = torch.Tensor | np.ndarray


def _to_torch(x: Array) -> tuple[torch.Tensor, bool]:
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x)), True
    if isinstance(x, torch.Tensor):
        return x, False
    raise TypeError(f"expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}")


def _back(x: torch.Tensor, as_numpy: bool) -> Array:
    return x.detach().cpu().numpy() if as_numpy else x


def quat_to_mat(quat: torch.Tensor) -> torch.Tensor:
    """(..., 4) XYZW quaternions (any non-zero length) -> (..., 3, 3) rotation matrices."""
    i, j, k, r = torch.unbind(quat, -1)
    two_s = 2.0 / (quat * quat).sum(-1)
    mat = torch.stack(
        (
            1 - two_s * (j * j + k * k),
            two_s * (i * j - k * r),
            two_s * (i * k + j * r),
            two_s * (i * j + k * r),
            1 - two_s * (i * i + k * k),
            two_s * (j * k - i * r),
            two_s * (i * k - j * r),
            two_s * (j * k + i * r),
            1 - two_s * (i * i + j * j),
        ),
        -1,
    )
    return mat.reshape((*quat.shape[:-1], 3, 3))


def mat_to_quat(mat: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation matrices -> (..., 4) unit XYZW quaternions with non-negative real part."""
    if mat.shape[-2:] != (3, 3):
        raise ValueError(f"rotation matrices must be (..., 3, 3), got {tuple(mat.shape)}")
    batch = mat.shape[:-2]
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = torch.unbind(mat.reshape((*batch, 9)), dim=-1)
    q_abs = torch.sqrt(
        torch.clamp(
            torch.stack(
                [1.0 + m00 + m11 + m22, 1.0 + m00 - m11 - m22, 1.0 - m00 + m11 - m22, 1.0 - m00 - m11 + m22],
                dim=-1,
            ),
            min=0.0,
        )
    )
    # candidates in (r, i, j, k) order, one per largest diagonal term; the best-conditioned is kept
    candidates = torch.stack(
        [
            torch.stack([q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, q_abs[..., 1] ** 2, m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2], dim=-1),
        ],
        dim=-2,
    )
    candidates = candidates / (2.0 * q_abs[..., None].clamp(min=0.1))
    best = q_abs.argmax(dim=-1)
    rijk = torch.gather(candidates, -2, best[..., None, None].expand((*batch, 1, 4))).squeeze(-2)
    quat = rijk[..., [1, 2, 3, 0]]
    return torch.where(quat[..., 3:4] < 0, -quat, quat)


def pose_encoding_to_extri_intri(
    pose_encoding: Array, image_hw: Sequence[int], build_intrinsics: bool = True
) -> tuple[Array, Array | None]:
    """(..., 9) encoding -> extrinsic (..., 3, 4) world-to-camera and intrinsic (..., 3, 3) in pixels."""
    enc, as_numpy = _to_torch(pose_encoding)
    t, quat = enc[..., :3], enc[..., 3:7]
    fov_h, fov_w = enc[..., 7], enc[..., 8]
    extrinsic = torch.cat([quat_to_mat(quat), t[..., None]], dim=-1)
    intrinsic = None
    if build_intrinsics:
        h, w = (int(v) for v in image_hw)
        intrinsic = torch.zeros((*enc.shape[:-1], 3, 3), dtype=enc.dtype, device=enc.device)
        intrinsic[..., 0, 0] = (w / 2.0) / torch.tan(fov_w / 2.0)
        intrinsic[..., 1, 1] = (h / 2.0) / torch.tan(fov_h / 2.0)
        intrinsic[..., 0, 2] = w / 2
        intrinsic[..., 1, 2] = h / 2
        intrinsic[..., 2, 2] = 1.0
        intrinsic = _back(intrinsic, as_numpy)
    return _back(extrinsic, as_numpy), intrinsic


def extri_intri_to_pose_encoding(extrinsic: Array, intrinsic: Array, image_hw: Sequence[int]) -> Array:
    """Inverse of ``pose_encoding_to_extri_intri`` (unit quaternion, real part >= 0)."""
    ext, as_numpy = _to_torch(extrinsic)
    intr, _ = _to_torch(intrinsic)
    h, w = (int(v) for v in image_hw)
    quat = mat_to_quat(ext[..., :3, :3])
    fov_h = 2 * torch.atan((h / 2) / intr[..., 1, 1])
    fov_w = 2 * torch.atan((w / 2) / intr[..., 0, 0])
    enc = torch.cat([ext[..., :3, 3], quat, fov_h[..., None], fov_w[..., None]], dim=-1)
    return _back(enc, as_numpy)


def closed_form_inverse_se3(se3: Array) -> Array:
    """Inverts (..., 3, 4) or (..., 4, 4) rigid transforms: [R | t] -> [R^T | -R^T t] (same shape)."""
    m, as_numpy = _to_torch(se3)
    rot_t = m[..., :3, :3].transpose(-1, -2)
    trans = -(rot_t @ m[..., :3, 3:4])
    out = m.clone()
    out[..., :3, :3] = rot_t
    out[..., :3, 3:4] = trans
    return _back(out, as_numpy)


def unproject_depth_map_to_point_map(depth: Array, extrinsic: Array, intrinsic: Array) -> Array:
    """Depth (S, H, W) or (S, H, W, 1) -> world points (S, H, W, 3).

    Pixel (u, v) (column, row; integer pixel indices as in the official code) at depth z goes to the
    camera point ``((u - cx) z / fx, (v - cy) z / fy, z)`` and then to the world with the inverse of
    the world-to-camera extrinsic.
    """
    d, as_numpy = _to_torch(depth)
    ext, _ = _to_torch(extrinsic)
    intr, _ = _to_torch(intrinsic)
    if d.dim() == 4 and d.shape[-1] == 1:
        d = d[..., 0]
    if d.dim() != 3:
        raise ValueError(f"depth must be (S, H, W) or (S, H, W, 1), got {tuple(d.shape)}")
    ext, intr = ext.to(d), intr.to(d)
    _, h, w = d.shape
    u = torch.arange(w, dtype=d.dtype, device=d.device)[None, None, :]
    v = torch.arange(h, dtype=d.dtype, device=d.device)[None, :, None]
    fx, fy = intr[:, 0, 0, None, None], intr[:, 1, 1, None, None]
    cx, cy = intr[:, 0, 2, None, None], intr[:, 1, 2, None, None]
    cam = torch.stack([(u - cx) * d / fx, (v - cy) * d / fy, d], dim=-1)
    rot, trans = ext[:, :3, :3], ext[:, :3, 3]
    # X_world = R^T (X_cam - t)
    world = torch.einsum("shwj,sjk->shwk", cam - trans[:, None, None, :], rot)
    return _back(world, as_numpy)
