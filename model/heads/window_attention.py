"""Window attention blocks of the part head (HAT-style), as configured by the official IGGT.

* ``WindowSelfAttention``: non-overlapping 8x8 window self-attention (no position bias, no shift)
  plus a channel-attention conv branch scaled by 0.01, then an MLP; wrapped by LayerNorms and a
  conv residual/output stage.
* ``WindowCrossAttention``: 8x8 query windows attend to 12x12 overlapping key/value windows of a
  second feature map (unfold with stride 8, padding 2), with a learned relative-position bias.
Both take and return (N, C, H, W); H and W must be multiples of the window size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..layers.block import Mlp
from ..layers.conv import Conv2d, map_to_tokens, tokens_to_map
from ..layers.linear import Linear

# tokens per chunk in the inference paths of the window blocks (bounds the MLP/attention temporaries)
TOKENS_PER_CHUNK = 4096


def window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * H/ws * W/ws, ws*ws, C), windows row-major per image."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def window_merge(windows: torch.Tensor, ws: int, b: int, h: int, w: int) -> torch.Tensor:
    """Inverse of ``window_partition``: -> (B, H*W, C)."""
    c = windows.shape[-1]
    x = windows.view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h * w, c)


def relative_index_self(ws: int) -> torch.Tensor:
    """(ws*ws, ws*ws) Swin relative-position index (kept as a buffer for checkpoint fidelity)."""
    coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (ws - 1)
    return rel[..., 0] * (2 * ws - 1) + rel[..., 1]


def relative_index_overlap(ws: int, ext: int) -> torch.Tensor:
    """(ws*ws, ext*ext) index into the (ws+ext-1)^2 bias table, HAT OCA convention.

    Some entries are negative (HAT's offset), so lookups wrap around the table end, as in the
    official code; ``bias_lookup`` applies the same wrap explicitly.
    """
    ori = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)
    ex = torch.stack(torch.meshgrid(torch.arange(ext), torch.arange(ext), indexing="ij")).flatten(1)
    rel = (ex[:, None, :] - ori[:, :, None]).permute(1, 2, 0) + (ws - ext + 1)
    return rel[..., 0] * (ws + ext - 1) + rel[..., 1]


def official_query_windows(q: torch.Tensor, ws: int) -> torch.Tensor:
    """Query "windows" exactly as the official OCAB forms them: (B, H, W, C) -> (B*H*W/ws^2, ws*ws, C).

    The official code permutes the projected queries to (B, C, H, W) and then applies the
    (B, H, W, C) window partition to that layout, i.e. it tiles the (channel, row) plane and reshapes
    the result into windows. Key/value windows and the output merge use the regular layout. Trained
    weights expect this token arrangement, so it is reproduced here (it needs C % ws == 0).
    """
    b, h, w, c = q.shape
    x = q.permute(0, 3, 1, 2).reshape(b, c // ws, ws, h // ws, ws, w).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b * h * w // (ws * ws), ws * ws, c)


class TokenNorm(nn.Module):
    """(N, C, H, W) -> LayerNorm'd tokens (N, H*W, C)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(map_to_tokens(x))


class ChannelAttention(nn.Module):
    def __init__(self, dim: int, squeeze: int) -> None:
        super().__init__()
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            Conv2d(dim, dim // squeeze, 1),
            nn.ReLU(inplace=True),
            Conv2d(dim // squeeze, dim, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)


class ConvAttentionBranch(nn.Module):
    def __init__(self, dim: int, compress: int, squeeze: int) -> None:
        super().__init__()
        self.cab = nn.Sequential(
            Conv2d(dim, dim // compress, 3, padding=1),
            nn.GELU(),
            Conv2d(dim // compress, dim, 3, padding=1),
            ChannelAttention(dim, squeeze),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cab(x)


class _QKVAttention(nn.Module):
    """Plain multi-head self-attention over window tokens (fused qkv with bias)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = Linear(dim, 3 * dim)
        self.proj = Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class SelfAttentionBlock(nn.Module):
    """HAB without shift: x + window_attn(norm1(x)) + 0.01 * conv_branch(norm1(x)), then + mlp."""

    def __init__(self, dim: int, num_heads: int, window: int, mlp_ratio: float, compress: int,
                 squeeze: int) -> None:
        super().__init__()
        self.window = window
        self.norm1 = nn.LayerNorm(dim)
        self.attn = _QKVAttention(dim, num_heads)
        self.conv_block = ConvAttentionBranch(dim, compress, squeeze)
        self.conv_scale = 0.01
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, _, c = x.shape
        normed = self.norm1(x).view(b, h, w, c)
        conv = map_to_tokens(self.conv_block(normed.permute(0, 3, 1, 2)))
        if torch.is_grad_enabled():
            attn = self.attn(window_partition(normed, self.window))
            del normed
            x = x + window_merge(attn, self.window, b, h, w) + conv * self.conv_scale
            del attn, conv
            return x + self.mlp(self.norm2(x))
        # inference: same arithmetic over bands of window rows / token chunks, to bound memory
        out = torch.add(x, conv, alpha=self.conv_scale).view(b, h, w, c)
        del conv
        ws = self.window
        band = max(ws, (TOKENS_PER_CHUNK // max(w, 1)) // ws * ws)
        for r0 in range(0, h, band):
            r1 = min(h, r0 + band)
            attn = self.attn(window_partition(normed[:, r0:r1], ws))
            out[:, r0:r1] += window_merge(attn, ws, b, r1 - r0, w).view(b, r1 - r0, w, c)
        del normed
        return residual_mlp_(out.view(b, h * w, c), self.norm2, self.mlp)


def residual_mlp_(x: torch.Tensor, norm: nn.Module, mlp: nn.Module) -> torch.Tensor:
    """x += mlp(norm(x)) in place, over chunks of tokens (inference only)."""
    for t0 in range(0, x.shape[1], TOKENS_PER_CHUNK):
        part = x[:, t0 : t0 + TOKENS_PER_CHUNK]
        part += mlp(norm(part))
    return x


class OverlapCrossAttentionBlock(nn.Module):
    """OCAB: query windows of x attend to overlapping windows of a context map, with position bias."""

    def __init__(self, dim: int, num_heads: int, window: int, overlap: float, mlp_ratio: float) -> None:
        super().__init__()
        self.dim = dim
        self.num_heads = num_heads
        self.window = window
        self.ext = int(window * overlap) + window
        self.norm1 = nn.LayerNorm(dim)
        self.q = Linear(dim, dim)
        self.k = Linear(dim, dim)
        self.v = Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((window + self.ext - 1) ** 2, num_heads))
        self.proj = Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def bias_lookup(self, index: torch.Tensor) -> torch.Tensor:
        table = self.relative_position_bias_table
        bias = table[index.reshape(-1) % table.shape[0]]
        return bias.view(index.shape[0], index.shape[1], -1).permute(2, 0, 1)

    def _windows(self, padded: torch.Tensor, r0: int, r1: int) -> torch.Tensor:
        """Windows of window rows r0..r1 of a padded (B, H+2p, W+2p, C) map -> (N, heads, ext*ext, d),
        in the order of ``F.unfold(kernel ext, stride ws)`` (batch, window row, window column)."""
        ws, ext = self.window, self.ext
        c = padded.shape[-1]
        part = padded[:, r0 * ws : (r1 - 1) * ws + ext].unfold(1, ext, ws).unfold(2, ext, ws)
        part = part.permute(0, 1, 2, 4, 5, 3).reshape(-1, ext * ext, self.num_heads, c // self.num_heads)
        return part.transpose(1, 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor, h: int, w: int, index: torch.Tensor):
        b, _, c = x.shape
        ws, ext, heads = self.window, self.ext, self.num_heads
        d, pad = c // heads, (ext - ws) // 2
        rows, cols = h // ws, w // ws
        q = official_query_windows(self.q(self.norm1(x)).view(b, h, w, c), ws).view(b, rows, cols, ws * ws, c)
        ctx = self.norm1(context)
        # zero-padded key/value maps; window (r, j) covers padded rows r*ws .. r*ws+ext, same for columns
        k_map = F.pad(self.k(ctx).view(b, h, w, c), (0, 0, pad, pad, pad, pad))
        v_map = F.pad(self.v(ctx).view(b, h, w, c), (0, 0, pad, pad, pad, pad))
        del ctx
        bias = self.bias_lookup(index).to(q.dtype).unsqueeze(0)
        band = max(1, TOKENS_PER_CHUNK // (ws * w))  # window rows per step (bounds the window copies)
        merged = []
        for r0 in range(0, rows, band):
            r1 = min(rows, r0 + band)
            n = b * (r1 - r0) * cols

            qb = q[:, r0:r1].reshape(n, ws * ws, heads, d).transpose(1, 2)
            kb, vb = (self._windows(m, r0, r1) for m in (k_map, v_map))
            out = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=bias)
            del qb, kb, vb
            out = out.transpose(1, 2).reshape(n, ws * ws, c)
            merged.append(window_merge(out, ws, b, (r1 - r0) * ws, w).view(b, (r1 - r0) * ws, w, c))
        del q, k_map, v_map
        out = merged[0] if len(merged) == 1 else torch.cat(merged, dim=1)
        del merged
        x = self.proj(out.view(b, h * w, c)) + x
        if torch.is_grad_enabled():
            return x + self.mlp(self.norm2(x))
        return residual_mlp_(x, self.norm2, self.mlp)


class _WindowStage(nn.Module):
    """Shared outer structure: token norm -> block -> norm -> conv residual -> conv head."""

    def __init__(self, dim: int, block: nn.Module, conv_features: int) -> None:
        super().__init__()
        self.patch_embed = TokenNorm(dim)
        self.atten_block = block
        self.norm = nn.LayerNorm(dim)
        self.conv_after_body = Conv2d(dim, dim, 3, padding=1)
        self.conv_before_upsample = nn.Sequential(
            Conv2d(dim, conv_features, 3, padding=1), nn.LeakyReLU(inplace=True)
        )
        self.conv_last = Conv2d(conv_features, dim, 3, padding=1)

    def finish(self, tokens: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        body = tokens_to_map(self.norm(tokens), h, w)
        del tokens
        y = self.conv_after_body(body) + x
        del body
        return self.conv_last(self.conv_before_upsample(y))


class WindowSelfAttention(_WindowStage):
    def __init__(self, dim: int, num_heads: int, window: int, mlp_ratio: float, conv_features: int,
                 compress: int, squeeze: int) -> None:
        block = SelfAttentionBlock(dim, num_heads, window, mlp_ratio, compress, squeeze)
        super().__init__(dim, block, conv_features)
        self.window = window
        self.register_buffer("relative_position_index_SA", relative_index_self(window))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        tokens = self.atten_block(self.patch_embed(x), h, w)
        return self.finish(tokens, x)


class WindowCrossAttention(_WindowStage):
    def __init__(self, dim: int, num_heads: int, window: int, overlap: float, mlp_ratio: float,
                 conv_features: int) -> None:
        block = OverlapCrossAttentionBlock(dim, num_heads, window, overlap, mlp_ratio)
        super().__init__(dim, block, conv_features)
        self.window = window
        self.register_buffer("relative_position_index_SA", relative_index_self(window))
        self.register_buffer("relative_position_index_OCA", relative_index_overlap(window, block.ext))

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        tokens = self.atten_block(
            self.patch_embed(x), self.patch_embed(context), h, w, self.relative_position_index_OCA
        )
        return self.finish(tokens, x)
