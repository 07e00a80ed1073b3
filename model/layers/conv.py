"""Convolution that avoids oneDNN's per-call weight re-layout where that costs memory.

When the weight is large and the output small (e.g. a 1024->1024 3x3 conv on a 12x18 grid), oneDNN
would copy the 38 MB weight into its blocked layout on every call. There the convolution is computed
as im2col + matrix product instead (through ``layers.linear.linear``), which reads the weight in
place. Everything else uses ``F.conv2d``. The parameters are exactly those of ``nn.Conv2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .linear import linear

# weights at least this big (elements) are not re-laid-out per call when the unfolded input is smaller
_BIG_WEIGHT = 1 << 20


def tokens_to_map(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """(N, rows*cols, C) contiguous tokens -> (N, C, rows, cols) map in channels-last layout (a view).

    The heads keep their feature maps channels-last: oneDNN convolves such maps without converting
    them to and from its blocked layout, and maps and tokens convert into each other without copies.
    """
    n, _, c = x.shape
    return x.view(n, rows, cols, c).permute(0, 3, 1, 2)


def map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, H*W, C); a view for channels-last maps."""
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(n, h * w, c)


def unfold_tokens(conv: nn.Conv2d, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """im2col of ``x`` for ``conv`` as (N, out_h*out_w, C_in*kh*kw) rows, plus the output size."""
    kh, kw = conv.kernel_size
    h, w = x.shape[-2:]
    (sh, sw), (ph, pw), (dh, dw) = conv.stride, conv.padding, conv.dilation
    out_h = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cols = F.unfold(x, (kh, kw), dilation=(dh, dw), padding=(ph, pw), stride=(sh, sw))
    return cols.transpose(1, 2), out_h, out_w


class Conv2d(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            self.weight.numel() < _BIG_WEIGHT
            or self.groups != 1
            or self.padding_mode != "zeros"
            or isinstance(self.padding, str)
            or x.dim() != 4
        ):
            return super().forward(x)
        kh, kw = self.kernel_size
        n, c, h, w = x.shape
        out_pixels = ((h + 2 * self.padding[0] - kh) // self.stride[0] + 1) * (
            (w + 2 * self.padding[1] - kw) // self.stride[1] + 1
        )
        if n * c * kh * kw * out_pixels > self.weight.numel():
            return super().forward(x)
        rows, out_h, out_w = unfold_tokens(self, x)
        out = linear(rows, self.weight.reshape(self.out_channels, -1), self.bias)
        return tokens_to_map(out, out_h, out_w)
