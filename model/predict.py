"""Inference entry point: images in, typed numpy prediction out (batch dimension dropped)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .device import (
    CancelFn,
    ProgressFn,
    autocast,
    autocast_dtype,
    free_device_memory,
    is_out_of_memory,
    oom_message,
    resolve_device,
)
from .errors import IGGTError, InputSizeError, OutOfMemory
from .forward_watch import ForwardWatch, device_sync
from .geometry import pose_encoding_to_extri_intri, unproject_depth_map_to_point_map
from .iggt import IGGT, auto_frame_chunk, check_images


@dataclass
class PredictOptions:
    """How to run ``predict``.

    ``device``: "auto" (CUDA when available), "cpu", "cuda", "cuda:1", ... The network is moved there.
    ``dtype``: reduced precision of the aggregator on CUDA (autocast); None = bfloat16 where the GPU
    supports it, else float16; ``torch.float32`` disables it. The heads always run in float32, and
    everything runs in float32 on the CPU.
    ``frame_chunk``: frames per head pass (None = by device and image size); lower it to save memory.
    ``progress(stage, fraction)`` is called between blocks; ``cancel()`` returning True stops the run
    with ``model.errors.Cancelled`` (checked between blocks, i.e. well within a second on a GPU). Both
    work through forward hooks (`model.forward_watch`).
    """

    device: str | torch.device = "auto"
    dtype: torch.dtype | None = None
    frame_chunk: int | None = None
    progress: ProgressFn | None = None
    cancel: CancelFn | None = None


@dataclass
class Prediction:
    """Per-view outputs as float32 numpy arrays (S = number of views)."""

    extrinsic: np.ndarray  # (S, 3, 4) world-to-camera, OpenCV axes
    intrinsic: np.ndarray  # (S, 3, 3) pixels
    depth: np.ndarray  # (S, H, W)
    depth_conf: np.ndarray  # (S, H, W), >= 1
    world_points: np.ndarray  # (S, H, W, 3) point head, world frame
    world_points_conf: np.ndarray  # (S, H, W), >= 1
    points_from_depth: np.ndarray  # (S, H, W, 3) depth unprojected with the predicted cameras
    features: np.ndarray  # (S, H, W, 8) raw instance features
    pose_enc: np.ndarray  # (S, 9) final pose encoding

    @property
    def num_views(self) -> int:
        return int(self.depth.shape[0])

    @property
    def image_hw(self) -> tuple[int, int]:
        return int(self.depth.shape[1]), int(self.depth.shape[2])

    def normalized_features(self, eps: float = 1e-12) -> np.ndarray:
        """Instance features L2-normalised over the channel axis (what clustering uses)."""
        norm = np.linalg.norm(self.features, axis=-1, keepdims=True)
        return self.features / np.maximum(norm, eps)


def as_image_tensor(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(S, 3, H, W) float in [0, 1] (tensor or array), or (S, H, W, 3) uint8 -> float tensor (S, 3, H, W)."""
    if isinstance(images, np.ndarray):
        if images.dtype == np.uint8:
            if images.ndim != 4 or images.shape[-1] != 3:
                raise InputSizeError(f"uint8 images must have shape (S, H, W, 3); got {images.shape}")
            return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
        if not np.issubdtype(images.dtype, np.floating):
            raise IGGTError(f"images must be float in [0, 1] or uint8, got dtype {images.dtype}")
        images = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    if not isinstance(images, torch.Tensor):
        raise IGGTError(f"images must be a numpy array or torch tensor, got {type(images).__name__}")
    if images.dim() == 5:
        if images.shape[0] != 1:
            raise InputSizeError(f"predict takes one scene at a time; got a batch of {images.shape[0]}")
        images = images[0]
    return images.float() if images.is_floating_point() else images


def predict(
    net: IGGT, images: np.ndarray | torch.Tensor, options: PredictOptions | None = None
) -> Prediction:
    """Runs the network on one scene's views and converts the outputs (see ``Prediction``).

    Raises ``InputSizeError`` for unusable shapes (before any work), ``Cancelled`` when cancelled,
    ``OutOfMemory`` (with advice) when the device runs out of memory: by then every reference to the
    failed forward is gone and the cached memory is released, so a retry with fewer views finds it free.
    """
    opts = options or PredictOptions()
    batch = check_images(as_image_tensor(images))
    _, s, _, h, w = batch.shape
    device = resolve_device(opts.device)
    try:
        return _predict(net, batch, device, opts)
    except Exception as exc:  # only an out-of-memory error is handled here
        if not is_out_of_memory(exc):
            raise
    # outside the except block: the exception, its traceback and the frames it kept are gone
    free_device_memory(device)
    raise OutOfMemory(oom_message(s, h, w, device))


def _predict(net: IGGT, batch: torch.Tensor, device: torch.device, opts: PredictOptions) -> Prediction:
    _, s, _, h, w = batch.shape
    compute_dtype = autocast_dtype(device, opts.dtype)
    chunk = max(1, int(opts.frame_chunk)) if opts.frame_chunk else auto_frame_chunk(h, w, device)
    net = _on_device(net, device)
    watch = ForwardWatch(net, opts.progress, opts.cancel, math.ceil(s / chunk), device_sync(device))
    watch.step("preparing", 0.0)
    batch = batch.to(device)
    with watch, torch.inference_mode(), autocast(device, compute_dtype):
        out = net(batch, frame_chunk=chunk)
    watch.step("cameras", 0.0)
    pose_enc = out["pose_enc"][-1][0].float()
    extrinsic, intrinsic = pose_encoding_to_extri_intri(pose_enc, (h, w))
    depth = out["depth"][0, ..., 0]
    points_from_depth = unproject_depth_map_to_point_map(depth, extrinsic, intrinsic)
    result = Prediction(
        extrinsic=_np(extrinsic),
        intrinsic=_np(intrinsic),
        depth=_np(depth),
        depth_conf=_np(out["depth_conf"][0]),
        world_points=_np(out["world_points"][0]),
        world_points_conf=_np(out["world_points_conf"][0]),
        points_from_depth=_np(points_from_depth),
        features=_np(out["part_feat"][0].permute(0, 2, 3, 1)),
        pose_enc=_np(pose_enc),
    )
    watch.step("done", 1.0)
    return result


def _on_device(net: IGGT, device: torch.device) -> IGGT:
    param = next(net.parameters())
    if param.device.type != device.type or (device.index is not None and param.device.index != device.index):
        net = net.to(device)
    return net.eval()


def _np(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().float().cpu().numpy(), dtype=np.float32)
