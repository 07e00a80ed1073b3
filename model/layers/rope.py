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
    """Per-token cos/sin for the row half and the column half, each (tokens, half_dim)."""

    cos_row: torch.Tensor
    sin_row: torch.Tensor
    cos_col: torch.Tensor
    sin_col: torch.Tensor

    def repeat(self, times: int) -> RopeTables:
        """Tables for ``times`` frames laid out one after another (global attention)."""
        return RopeTables(*(t.repeat(times, 1) for t in self))


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
        return RopeTables(cos_t[rows], sin_t[rows], cos_t[cols], sin_t[cols])

    @staticmethod
    def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rotated * sin

    def forward(self, x: torch.Tensor, tables: RopeTables) -> torch.Tensor:
        half_dim = x.shape[-1] // 2
        cos_r, sin_r, cos_c, sin_c = (t.to(x.dtype) for t in tables)
        rows = self._rotate(x[..., :half_dim], cos_r, sin_r)
        cols = self._rotate(x[..., half_dim:], cos_c, sin_c)
        return torch.cat([rows, cols], dim=-1)
