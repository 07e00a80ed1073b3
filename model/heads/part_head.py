"""Part (instance) head: fuses the part adaptor maps with the point head's geometry features.

Fusion (coarse to fine), as in the official IGGT:
  refinenet4 (1x grid) -> global cross-attention over the point head's 1x features
  -> refinenet3 (2x) -> refinenet2 (4x) -> window cross-attention over the point head's 4x features
  -> refinenet1 (8x) -> output_conv1 -> window self-attention -> resize to the image -> output_conv2.
Output: raw 8-dim features (N, part_dim, H, W); no activation.

The official head also computes a cross-attention on the 2x grid whose result is discarded
(``cross_attention_1``) and inherits unused DPT layers (``norm/projects/resize_layers``). Those are
only built when ``keep_unused`` is set, and never run.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..config import IGGTConfig
from ..layers import CrossAttention
from ..layers.conv import map_to_tokens, tokens_to_map
from .dpt import Scratch, TokenMaps, interpolate
from .window_attention import WindowCrossAttention, WindowSelfAttention


class PartHead(nn.Module):
    def __init__(self, cfg: IGGTConfig) -> None:
        super().__init__()
        f = cfg.part_features
        c = cfg.adaptor_channels
        if cfg.keep_unused:
            leftovers = TokenMaps(cfg.token_dim, cfg.dpt_out_channels)
            self.norm, self.projects, self.resize_layers = (
                leftovers.norm, leftovers.projects, leftovers.resize_layers
            )
        self.scratch = Scratch((c, c, c, c), f, f // 2, cfg.part_dim, cfg.dpt_hidden)
        if cfg.keep_unused:
            self.cross_attention_1 = CrossAttention(f, cfg.part_cross_heads)
        self.cross_attention_2 = CrossAttention(f, cfg.part_cross_heads)
        self.window_self_atten = WindowSelfAttention(
            f // 2,
            cfg.part_window_heads,
            cfg.part_window_size,
            cfg.part_window_mlp_ratio,
            cfg.part_conv_features,
            cfg.part_cab_compress,
            cfg.part_cab_squeeze,
        )
        self.window_cross_attention = WindowCrossAttention(
            f,
            cfg.part_window_heads,
            cfg.part_window_size,
            cfg.part_window_overlap,
            cfg.part_window_mlp_ratio,
            cfg.part_conv_features,
        )

    def forward(
        self,
        adaptor_maps: Sequence[torch.Tensor],
        point_feats: Sequence[torch.Tensor],
        image_hw: tuple[int, int],
    ) -> torch.Tensor:
        """adaptor_maps: [res1..res4]; point_feats: point head (out2 4x, out3 2x, out4 1x)."""
        sc = self.scratch
        l1, l2, l3, l4 = sc.project(adaptor_maps)
        x = sc.refinenet4(l4, size=l3.shape[2:])
        del l4
        h, w = x.shape[-2:]
        context = map_to_tokens(point_feats[2])
        x = tokens_to_map(self.cross_attention_2(map_to_tokens(x), context), h, w)
        del context
        x = sc.refinenet3(x, l3, size=l2.shape[2:])
        del l3
        x = sc.refinenet2(x, l2, size=l1.shape[2:])
        del l2
        x = self.window_cross_attention(x, point_feats[0])
        x = sc.refinenet1(x, l1)
        del l1
        x = sc.output_conv1(x)
        x = self.window_self_atten(x)
        return sc.output_conv2(interpolate(x, image_hw))
