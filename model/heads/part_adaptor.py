"""Part adaptor: aggregator tokens -> four instance-branch feature maps (4x, 2x, 1x, 1/2x grid)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..layers.conv import Conv2d, tokens_to_map


class ProjectBlock(nn.Module):
    """1x1 conv+BN+ReLU, a residual pair of 3x3 conv+BN, then a 1x1 output conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.input_proj = nn.Sequential(
            Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True)
        )
        self.residual_conv = nn.Sequential(
            Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.output_proj = Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_proj(x)
        return self.output_proj(self.residual_conv(x) + x)


class PartAdaptor(nn.Module):
    def __init__(self, dim_in: int, channels: int) -> None:
        super().__init__()
        c = channels
        self.norm = nn.LayerNorm(dim_in)
        self.projects = nn.ModuleList(Conv2d(dim_in, c, 1) for _ in range(4))
        self.resize_layers = nn.ModuleList(
            [
                nn.Sequential(
                    nn.ConvTranspose2d(c, c, kernel_size=4, stride=2, padding=1),
                    ProjectBlock(c),
                    nn.ConvTranspose2d(c, c, kernel_size=4, stride=2, padding=1),
                    ProjectBlock(c),
                ),
                nn.Sequential(nn.ConvTranspose2d(c, c, kernel_size=2, stride=2), ProjectBlock(c)),
                nn.Sequential(nn.Identity(), ProjectBlock(c)),
                nn.Sequential(Conv2d(c, c, kernel_size=3, stride=2, padding=1), ProjectBlock(c)),
            ]
        )

    def level(self, i: int, tokens: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
        x = self.norm(tokens)
        x = tokens_to_map(x, rows, cols)
        return self.resize_layers[i](self.projects[i](x))

    def forward(self, layer_tokens: Sequence[torch.Tensor], rows: int, cols: int) -> list[torch.Tensor]:
        """four (N, rows*cols, dim_in) token tensors -> [res1 (4x), res2 (2x), res3 (1x), res4 (1/2x)]."""
        return [self.level(i, t, rows, cols) for i, t in enumerate(layer_tokens)]
