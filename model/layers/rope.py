"""2D rotary position embedding of the aggregator (VGGT convention).

The head dimension is split in two halves: the first is rotated by the token's row, the second by
its column. Within each half, features are paired as (i, i + d/2) (rotate-half convention), with
frequencies ``1 / base**(2k/d)``. Special tokens (camera, registers) get position (0, 0); patch
(r, c) gets (r + 1, c + 1).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class RopeTables(NamedTuple):
    """Per-token cos/sin over the whole head dim (row half then column half), each (tokens, head_dim)."""

    cos: torch.Tensor
    sin: torch.Tensor

    def repeat(self, times: int) -> RopeTables:
        """Tables for ``times`` frames laid out one after another (global attention)."""
        return RopeTables(self.cos.repeat(times, 1), self.sin.repeat(times, 1))


def patch_positions(rows: int, cols: int, num_special: int, device: torch.device) -> torch.Tensor:
    """Integer (row, col) positions, shape (num_special + rows*cols, 2); special tokens at (0, 0)."""
    r = torch.arange(rows, device=device).repeat_interleave(cols)
    c = torch.arange(cols, device=device).repeat(rows)
    grid = torch.stack([r, c], dim=-1) + 1
    special = torch.zeros(num_special, 2, dtype=grid.dtype, device=device)
    return torch.cat([special, grid], dim=0)


class Rope2D(nn.Module):
    """Applies 2D RoPE to (B, heads, tokens, head_dim) tensors."""

    def __init__(self, base: float = 100.0) -> None:
        super().__init__()
        self.base = base

    def tables(self, positions: torch.Tensor, head_dim: int, dtype: torch.dtype) -> RopeTables:
        half_dim = head_dim // 2
        exponents = torch.arange(0, half_dim, 2, device=positions.device).float() / half_dim
        inv_freq = 1.0 / (self.base**exponents)
        max_pos = int(positions.max()) + 1
        angles = torch.arange(max_pos, device=positions.device, dtype=inv_freq.dtype)[:, None] * inv_freq
        angles = torch.cat([angles, angles], dim=-1).to(dtype)
        cos_t, sin_t = angles.cos(), angles.sin()
        rows, cols = positions[:, 0], positions[:, 1]
        return RopeTables(
            torch.cat([cos_t[rows], cos_t[cols]], dim=-1), torch.cat([sin_t[rows], sin_t[cols]], dim=-1)
        )

    def forward(self, x: torch.Tensor, tables: RopeTables) -> torch.Tensor:
        """x (..., tokens, head_dim): each half is rotated as x * cos + rotate_half(x) * sin."""
        quarter = x.shape[-1] // 4
        parts = x.unflatten(-1, (2, 2, quarter))  # (row|col, first|second quarter, quarter)
        rotated = torch.stack([-parts[..., 1, :], parts[..., 0, :]], dim=-2).flatten(-3)
        return x * tables.cos.to(x.dtype) + rotated * tables.sin.to(x.dtype)
