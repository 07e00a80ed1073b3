"""Output activations of the heads (official conventions)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def inverse_log(y: torch.Tensor) -> torch.Tensor:
    """sign(y) * (exp(|y|) - 1)."""
    return torch.sign(y) * torch.expm1(torch.abs(y))


def split_value_and_conf(out: torch.Tensor, activation: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C, H, W) head output -> values (N, H, W, C-1) through ``activation``, conf (N, H, W) = 1 + exp."""
    fmap = out.permute(0, 2, 3, 1)
    values, conf = fmap[..., :-1], fmap[..., -1]
    if activation == "exp":
        values = torch.exp(values)
    elif activation == "inv_log":
        values = inverse_log(values)
    else:
        raise ValueError(f"unknown activation {activation!r}")
    return values, 1 + conf.exp()


def activate_pose(encoding: torch.Tensor) -> torch.Tensor:
    """absT_quaR_FoV: translation and quaternion linear, field of view through ReLU."""
    return torch.cat([encoding[..., :7], F.relu(encoding[..., 7:])], dim=-1)
