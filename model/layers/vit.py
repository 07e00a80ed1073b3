"""DINOv2-style ViT with register tokens, used as the aggregator's patch embedding.

Returns the normalised patch tokens (class and register tokens are dropped after the final norm).
The learned position grid (``pos_grid`` x ``pos_grid``) is resized bicubically (antialiased) to the
input's patch grid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .block import Block
from .conv import unfold_tokens
from .linear import linear


class PatchProjection(nn.Module):
    """Non-overlapping patch embedding (a stride = kernel conv), computed as patchify + matmul."""

    def __init__(self, patch_size: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows, _, _ = unfold_tokens(self.proj, x)
        return linear(rows, self.proj.weight.reshape(self.proj.out_channels, -1), self.proj.bias)


class VisionTransformer(nn.Module):
    def __init__(
        self,
        patch_size: int,
        dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float,
        num_registers: int,
        pos_grid: int,
        with_mask_token: bool = True,
    ) -> None:
        super().__init__()
        self.pos_grid = pos_grid
        self.num_registers = num_registers
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + pos_grid * pos_grid, dim))
        self.register_tokens = nn.Parameter(torch.zeros(1, num_registers, dim))
        # only used for masked training in DINOv2; kept for checkpoint fidelity when asked
        self.mask_token = nn.Parameter(torch.zeros(1, dim)) if with_mask_token else None
        self.patch_embed = PatchProjection(patch_size, dim)
        self.blocks = nn.ModuleList(
            Block(dim, num_heads, mlp_ratio, norm_eps=1e-6, layer_scale=1.0) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def resized_pos_embed(self, rows: int, cols: int) -> torch.Tensor:
        """(1, 1 + rows*cols, dim) position embedding for a rows x cols patch grid."""
        pos = self.pos_embed.float()
        if rows == self.pos_grid and cols == self.pos_grid:
            return pos
        dim = pos.shape[-1]
        grid = pos[:, 1:].reshape(1, self.pos_grid, self.pos_grid, dim).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(rows, cols), mode="bicubic", antialias=True)
        grid = grid.permute(0, 2, 3, 1).reshape(1, rows * cols, dim)
        return torch.cat([pos[:, :1], grid], dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (N, 3, H, W), already mean/std normalised -> patch tokens (N, rows*cols, dim)."""
        n, _, h, w = images.shape
        rows, cols = h // self.patch_embed.proj.stride[0], w // self.patch_embed.proj.stride[1]
        x = self.patch_embed(images)
        x = torch.cat([self.cls_token.expand(n, -1, -1), x], dim=1)
        x = x + self.resized_pos_embed(rows, cols).to(x.dtype)
        x = torch.cat([x[:, :1], self.register_tokens.expand(n, -1, -1), x[:, 1:]], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x[:, 1 + self.num_registers :])  # per-token norm: slice first
