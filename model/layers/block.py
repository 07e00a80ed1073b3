"""Pre-norm transformer block (attention + MLP, each with an optional LayerScale)."""

from __future__ import annotations

import torch
from torch import nn

from .attention import SelfAttention
from .linear import Linear
from .rope import Rope2D, RopeTables


class Mlp(nn.Module):
    def __init__(self, in_features: int, hidden_features: int, out_features: int | None = None) -> None:
        super().__init__()
        self.fc1 = Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = Linear(hidden_features, out_features or in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.fc1(x)
        if torch.is_grad_enabled():
            hidden = self.act(hidden)
        else:  # inference: no second hidden-size buffer
            torch.ops.aten.gelu_(hidden)
        return self.fc2(hidden)


class LayerScale(nn.Module):
    def __init__(self, dim: int, init_value: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    """x + ls1(attn(norm1(x))), then x + ls2(mlp(norm2(x)))."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        norm_eps: float = 1e-5,
        layer_scale: float | None = None,
        qk_norm: bool = False,
        rope: Rope2D | None = None,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = SelfAttention(dim, num_heads, qkv_bias=True, qk_norm=qk_norm, rope=rope)
        self.ls1 = LayerScale(dim, layer_scale) if layer_scale else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim, layer_scale) if layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor, rope_tables: RopeTables | None = None) -> torch.Tensor:
        x = _residual(x, self.attn(self.norm1(x), rope_tables), self.ls1)
        return _residual(x, self.mlp(self.norm2(x)), self.ls2)


def _residual(x: torch.Tensor, branch: torch.Tensor, scale: nn.Module) -> torch.Tensor:
    """x + scale(branch), with the LayerScale multiply fused into the add."""
    if isinstance(scale, LayerScale):
        return torch.addcmul(x, branch, scale.gamma)
    return x + branch
