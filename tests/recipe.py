"""Deterministic weights (recipe v1 of tests/reference/DETERMINISTIC_WEIGHTS.md).

Every floating-point state-dict entry gets values that depend only on its key and shape, so any
implementation with the official key names can rebuild the exact weights the parity references were
computed with. Non-float entries (BatchNorm counters, Swin index tables) keep their constructor values.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from model.config import IGGTConfig
from model.iggt import set_tensor

_FC2_OFFSET = np.array([0, 0, 0, 0, 0, 0, 0.25, 0.25, 0.25], dtype=np.float32)


def deterministic_tensor(key: str, shape: Iterable[int]) -> np.ndarray:
    """float32 array for ``key`` of ``shape`` following the recipe's first matching rule."""
    shape = tuple(int(d) for d in shape)
    x = np.random.default_rng(zlib.crc32(key.encode("utf-8"))).standard_normal(shape, dtype=np.float32)
    fan = np.float32(np.sqrt(np.prod(shape[1:]))) if len(shape) >= 2 else None
    if key == "camera_head.pose_branch.fc2.weight":
        x *= np.float32(0.1 / np.sqrt(np.prod(shape[1:])))
    elif key == "camera_head.pose_branch.fc2.bias":
        x = np.float32(0.02) * x + _FC2_OFFSET
    elif key.endswith("weight") and len(shape) >= 2:
        x /= fan
    elif key.endswith("weight") and len(shape) == 1:
        x = np.float32(1) + np.float32(0.1) * x
    elif key.endswith("gamma"):
        x = np.float32(0.1) + np.float32(0.01) * x
    elif key.endswith("running_var"):
        x = np.float32(1) + np.float32(0.1) * np.abs(x)
    else:
        x *= np.float32(0.02)
    return x


def apply_recipe(net: nn.Module, device: str | torch.device = "cpu") -> nn.Module:
    """Gives every float state-dict entry of ``net`` its recipe value, one tensor at a time.

    Works on a network built on the meta device: weights are created directly at their final place,
    so at most one extra tensor exists at any time.
    """
    for key, current in net.state_dict(keep_vars=True).items():
        if current.is_floating_point():
            value = torch.from_numpy(deterministic_tensor(key, current.shape))
            set_tensor(net, key, value.to(device))
    if hasattr(net, "restore_constant_buffers"):
        net.restore_constant_buffers(device)
    return net


def build_recipe_iggt(config: IGGTConfig | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """The network of ``config`` (default: full, lean) with recipe weights, in eval mode."""
    from model.iggt import build_iggt

    cfg = config or IGGTConfig.full(keep_unused=False)
    return apply_recipe(build_iggt(cfg, device="meta"), device).eval()
