"""Ground-truth tensors for training, in the IGGT/VGGT convention.

Cameras are expressed in the first camera's frame (the synthetic renderer already does this).
As in VGGT training, the whole scene is rescaled so that the mean distance of the ground-truth
point map to the origin (the first camera) is 1: depths, point maps and camera translations are
divided by that scale, so the network learns scale-normalised geometry.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from training.synthetic import CATEGORY_ID, SyntheticScene

# Contrastive labels of the room structure (not instances, but distinct groups for the loss).
STUFF_LABEL_OFFSET = 1_000_000


@dataclass
class Batch:
    images: torch.Tensor  # (B, S, 3, H, W) float in [0, 1]
    depth: torch.Tensor  # (B, S, H, W), scale-normalised
    world_points: torch.Tensor  # (B, S, H, W, 3), scale-normalised, first-camera frame
    extrinsic: torch.Tensor  # (B, S, 3, 4), translation scale-normalised
    intrinsic: torch.Tensor  # (B, S, 3, 3)
    pose_enc: torch.Tensor  # (B, S, 9) absT_quaR_FoV of the normalised cameras
    labels: torch.Tensor  # (B, S, H, W) int64: instance id, or STUFF_LABEL_OFFSET + category for structure
    instance_ids: torch.Tensor  # (B, S, H, W) int64, 0 = structure
    valid: torch.Tensor  # (B, S, H, W) bool
    scale: torch.Tensor  # (B,) the factor the metric scene was divided by

    def to(self, device: str | torch.device) -> Batch:
        return Batch(**{f.name: getattr(self, f.name).to(device) for f in dataclasses.fields(self)})


def unproject(depth: np.ndarray, extrinsic: np.ndarray, intrinsic: np.ndarray) -> np.ndarray:
    """World points (S, H, W, 3) from z-depth (S, H, W) and world-to-camera cameras (pixel centres at
    integer coordinates, as VGGT's unprojection)."""
    s, h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((s, h, w, 3), np.float64)
    for i in range(s):
        k = intrinsic[i].astype(np.float64)
        z = depth[i].astype(np.float64)
        cam = np.stack([(u - k[0, 2]) / k[0, 0] * z, (v - k[1, 2]) / k[1, 1] * z, z], -1)
        r, t = extrinsic[i][:, :3].astype(np.float64), extrinsic[i][:, 3].astype(np.float64)
        out[i] = (cam - t) @ r  # R^T (x - t)
    return out.astype(np.float32)


def rotation_to_quaternion(r: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions XYZW (scipy's order) with w >= 0."""
    from scipy.spatial.transform import Rotation

    q = Rotation.from_matrix(np.asarray(r, np.float64).reshape(-1, 3, 3)).as_quat()
    q *= np.where(q[:, 3:] < 0, -1.0, 1.0)
    return q.reshape(*r.shape[:-2], 4)


def pose_encoding(extrinsic: np.ndarray, intrinsic: np.ndarray, height: int, width: int) -> np.ndarray:
    """absT_quaR_FoV encoding (S, 9): [t, quaternion XYZW, fov_h, fov_w] of world-to-camera cameras."""
    quat = rotation_to_quaternion(extrinsic[:, :, :3])
    fov_h = 2 * np.arctan((height / 2) / intrinsic[:, 1, 1])
    fov_w = 2 * np.arctan((width / 2) / intrinsic[:, 0, 0])
    return np.concatenate([extrinsic[:, :, 3], quat, fov_h[:, None], fov_w[:, None]], axis=1).astype(
        np.float32
    )


def structure_labels(scene: SyntheticScene) -> np.ndarray:
    """Instance ids, with floor / wall / ceiling pixels given their own (non-instance) labels."""
    labels = scene.instance_ids.astype(np.int64)
    structure = labels == 0
    labels[structure] = STUFF_LABEL_OFFSET + scene.category_ids[structure]
    return labels


def make_batch(scenes: list[SyntheticScene]) -> Batch:
    """Stack scenes with the same number of views and size into normalised training tensors."""
    fields: dict[str, list] = {
        k: [] for k in ("images", "depth", "points", "ext", "intr", "enc", "labels", "ids", "scale")
    }
    for sc in scenes:
        _, h, w = sc.depth.shape
        pts = unproject(sc.depth, sc.extrinsic, sc.intrinsic)
        scale = float(np.linalg.norm(pts, axis=-1).mean())
        ext = sc.extrinsic.copy()
        ext[:, :, 3] /= scale
        fields["images"].append(sc.images.astype(np.float32).transpose(0, 3, 1, 2) / 255.0)
        fields["depth"].append(sc.depth / scale)
        fields["points"].append(pts / scale)
        fields["ext"].append(ext)
        fields["intr"].append(sc.intrinsic)
        fields["enc"].append(pose_encoding(ext, sc.intrinsic, h, w))
        fields["labels"].append(structure_labels(sc))
        fields["ids"].append(sc.instance_ids.astype(np.int64))
        fields["scale"].append(scale)
    t = {k: torch.from_numpy(np.stack(v)) for k, v in fields.items()}
    return Batch(
        images=t["images"].float(),
        depth=t["depth"].float(),
        world_points=t["points"].float(),
        extrinsic=t["ext"].float(),
        intrinsic=t["intr"].float(),
        pose_enc=t["enc"].float(),
        labels=t["labels"],
        instance_ids=t["ids"],
        valid=t["depth"] > 0,
        scale=t["scale"].double(),
    )


__all__ = ["CATEGORY_ID", "STUFF_LABEL_OFFSET", "Batch", "make_batch", "pose_encoding", "unproject"]
