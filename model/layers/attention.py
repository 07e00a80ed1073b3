"""Multi-head attention layers, all on ``F.scaled_dot_product_attention`` (no materialised scores)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .linear import Linear
from .rope import Rope2D, RopeTables


class SelfAttention(nn.Module):
    """Fused-qkv self-attention with optional per-head LayerNorm on q/k and optional 2D RoPE."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        qk_norm: bool = False,
        rope: Rope2D | None = None,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = Linear(dim, 3 * dim, bias=qkv_bias)
        self.q_norm = nn.LayerNorm(self.head_dim) if qk_norm else None
        self.k_norm = nn.LayerNorm(self.head_dim) if qk_norm else None
        self.proj = Linear(dim, dim)
        # a plain attribute (not a submodule): shared, parameter-free
        self.__dict__["rope"] = rope

    def forward(self, x: torch.Tensor, rope_tables: RopeTables | None = None) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        del qkv
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if self.rope is not None and rope_tables is not None:
            q, k = self.rope(torch.stack([q, k]), rope_tables).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)
        del q, k, v
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class CrossAttention(nn.Module):
    """Attention of ``query`` tokens over ``context`` tokens (separate q/k/v projections)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.projq = Linear(dim, dim, bias=qkv_bias)
        self.projk = Linear(dim, dim, bias=qkv_bias)
        self.projv = Linear(dim, dim, bias=qkv_bias)
        self.proj = Linear(dim, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, n, c = query.shape
        q = self._heads(self.projq(query))
        k = self._heads(self.projk(context))
        v = self._heads(self.projv(context))
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))
