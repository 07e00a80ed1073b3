"""DPT dense head: four token layers -> multi-scale maps -> fused full-resolution prediction.

Also provides the pieces reused by the part head (fusion blocks, scratch convolutions, the
sinusoidal UV position embedding).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..layers.conv import Conv2d, tokens_to_map
from .activations import split_value_and_conf

# interpolate works on int32 indices internally; stay well below that per call
_MAX_INTERP_ELEMENTS = 1_610_612_736


def interpolate(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear, align_corners=True, split over the batch if the output would be huge."""
    size = (int(size[0]), int(size[1]))
    elements = size[0] * size[1] * x.shape[0] * x.shape[1]
    if elements <= _MAX_INTERP_ELEMENTS:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)
    parts = torch.chunk(x, elements // _MAX_INTERP_ELEMENTS + 1, dim=0)
    return torch.cat([F.interpolate(p, size=size, mode="bilinear", align_corners=True) for p in parts])


def _sincos(coord: torch.Tensor, channels: int) -> torch.Tensor:
    """(n,) coordinates -> (n, channels/2) [sin | cos] with frequencies 1 / 100^(k / (channels/4))."""
    quarter = channels // 4
    omega = torch.arange(quarter, dtype=torch.float64, device=coord.device) / (channels / 4.0)
    omega = 1.0 / 100.0**omega
    angles = coord.double()[:, None] * omega[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).float()


def add_uv_embedding(x: torch.Tensor, image_w: int, image_h: int) -> torch.Tensor:
    """Adds (in place) 0.1 x a sinusoidal embedding of a UV grid normalised by the image diagonal.

    The first half of the channels encodes the column coordinate, the second half the row; the
    two separable tables are broadcast instead of materialising a (C, H, W) embedding. ``x`` must be
    a fresh tensor owned by the caller.
    """
    _, channels, rows, cols = x.shape
    aspect = image_w / image_h
    diag = (aspect**2 + 1.0) ** 0.5
    span_x, span_y = aspect / diag, 1.0 / diag
    xs = torch.linspace(-span_x * (cols - 1) / cols, span_x * (cols - 1) / cols, cols, device=x.device)
    ys = torch.linspace(-span_y * (rows - 1) / rows, span_y * (rows - 1) / rows, rows, device=x.device)
    table_x = (_sincos(xs, channels) * 0.1).to(x.dtype).t()  # (C/2, cols)
    table_y = (_sincos(ys, channels) * 0.1).to(x.dtype).t()  # (C/2, rows)
    half = channels // 2
    x[:, :half] += table_x[None, :, None, :]
    x[:, half:] += table_y[None, :, :, None]
    return x


class ResidualConvUnit(nn.Module):
    """relu(x) + conv2(relu(conv1(relu(x)))) (the official in-place ReLU also rectifies the skip)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = Conv2d(features, features, 3, padding=1)
        self.conv2 = Conv2d(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        return self.conv2(F.relu(self.conv1(x))) + x


class FusionBlock(nn.Module):
    """(x [+ rcu1(skip)]) -> rcu2 -> 1x1 conv -> bilinear resize (to ``size`` or 2x).

    The official order is resize then 1x1 conv; the two commute (bilinear weights sum to 1), and the
    conv is 4x cheaper at the lower resolution.
    """

    def __init__(self, features: int, has_residual: bool = True) -> None:
        super().__init__()
        self.out_conv = Conv2d(features, features, 1)
        self.resConfUnit1 = ResidualConvUnit(features) if has_residual else None
        self.resConfUnit2 = ResidualConvUnit(features)

    def forward(
        self, x: torch.Tensor, skip: torch.Tensor | None = None, size: Sequence[int] | None = None
    ) -> torch.Tensor:
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        if size is None:
            size = (x.shape[-2] * 2, x.shape[-1] * 2)
        return interpolate(self.out_conv(x), size)


class Scratch(nn.Module):
    """Per-level 3x3 convs to a common width, four fusion blocks and the output convolutions."""

    def __init__(self, in_channels: Sequence[int], features: int, out_channels1: int, output_dim: int | None,
                 hidden: int) -> None:
        super().__init__()
        for i, ch in enumerate(in_channels, start=1):
            setattr(self, f"layer{i}_rn", Conv2d(ch, features, 3, padding=1, bias=False))
        self.refinenet1 = FusionBlock(features)
        self.refinenet2 = FusionBlock(features)
        self.refinenet3 = FusionBlock(features)
        self.refinenet4 = FusionBlock(features, has_residual=False)
        self.output_conv1 = Conv2d(features, out_channels1, 3, padding=1)
        if output_dim is not None:
            self.output_conv2 = nn.Sequential(
                Conv2d(out_channels1, hidden, 3, padding=1),
                nn.ReLU(inplace=True),
                Conv2d(hidden, output_dim, 1),
            )
        else:
            self.output_conv2 = None

    def project(self, levels: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [getattr(self, f"layer{i}_rn")(x) for i, x in enumerate(levels, start=1)]


class TokenMaps(nn.Module):
    """Tokens of four aggregator layers -> maps at 4x, 2x, 1x and 1/2x of the patch grid."""

    def __init__(self, dim_in: int, out_channels: Sequence[int]) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim_in)
        self.projects = nn.ModuleList(Conv2d(dim_in, oc, 1) for oc in out_channels)
        self.resize_layers = nn.ModuleList(
            [
                nn.ConvTranspose2d(out_channels[0], out_channels[0], kernel_size=4, stride=4),
                nn.ConvTranspose2d(out_channels[1], out_channels[1], kernel_size=2, stride=2),
                nn.Identity(),
                Conv2d(out_channels[3], out_channels[3], kernel_size=3, stride=2, padding=1),
            ]
        )

    def level(self, i: int, tokens: torch.Tensor, rows: int, cols: int, uv_wh: tuple[int, int] | None):
        """tokens (N, rows*cols, dim_in) -> level-i map; adds the UV embedding after the projection."""
        x = self.norm(tokens)
        x = tokens_to_map(x, rows, cols)
        x = self.projects[i](x)
        if uv_wh is not None:
            x = add_uv_embedding(x, *uv_wh)
        return self.resize_layers[i](x)


class DPTHead(TokenMaps):
    """Depth/point head: returns activated values (N, H, W, C-1), conf (N, H, W) and fusion features.

    The fusion features (refinenet2/3/4 outputs at 4x, 2x, 1x of the patch grid) feed the part head.
    ``output_dim=None`` builds the feature-only variant used by the tracking head.
    """

    def __init__(
        self,
        dim_in: int,
        output_dim: int | None,
        activation: str = "exp",
        features: int = 256,
        out_channels: Sequence[int] = (256, 512, 1024, 1024),
        hidden: int = 32,
    ) -> None:
        super().__init__(dim_in, out_channels)
        self.activation = activation
        conv1_out = features // 2 if output_dim is not None else features
        self.scratch = Scratch(out_channels, features, conv1_out, output_dim, hidden)

    def fuse(self, levels: list[torch.Tensor]) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        l1, l2, l3, l4 = self.scratch.project(levels)
        levels.clear()
        sc = self.scratch
        out4 = sc.refinenet4(l4, size=l3.shape[2:])
        del l4
        out3 = sc.refinenet3(out4, l3, size=l2.shape[2:])
        del l3
        out2 = sc.refinenet2(out3, l2, size=l1.shape[2:])
        del l2
        out1 = sc.refinenet1(out2, l1)
        del l1
        return sc.output_conv1(out1), (out2, out3, out4)

    def forward(
        self, layer_tokens: Sequence[torch.Tensor], rows: int, cols: int, image_hw: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
        """layer_tokens: four (N, rows*cols, dim_in) patch-token tensors (one per level)."""
        h, w = image_hw
        levels = [self.level(i, t, rows, cols, (w, h)) for i, t in enumerate(layer_tokens)]
        out, feats = self.fuse(levels)
        out = add_uv_embedding(interpolate(out, (h, w)), w, h)
        out = self.scratch.output_conv2(out)
        values, conf = split_value_and_conf(out, self.activation)
        return values, conf, feats
