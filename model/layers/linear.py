"""``nn.Linear`` that runs inference through oneDNN on the CPU.

PyTorch's CPU ``F.linear`` goes to MKL's sgemm, which does not use AVX-512 on some (non-Intel) CPUs;
oneDNN's matmul dispatches on the instruction set and is 1.3-2x faster there for the shapes of this
model, without extra memory. Used only for float32 CPU tensors without autograd; everything else
(training, CUDA, other dtypes) is plain ``F.linear``. Parameters are exactly those of ``nn.Linear``.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

# small layers stay on F.linear: each oneDNN primitive (one per shape) carries JIT code and buffers
_MIN_WEIGHT = 1 << 20


@functools.lru_cache(maxsize=1)
def _onednn_linear():
    op = getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)
    if op is None or not torch.backends.mkldnn.is_available():
        return None
    try:  # probe once: the op exists in builds where it cannot run
        x = torch.ones(2, 3)
        w = torch.ones(4, 3)
        if not torch.equal(op(x, w, None, "none", [], ""), torch.full((2, 4), 3.0)):
            return None
    except (RuntimeError, NotImplementedError):
        return None
    return op


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    op = None
    if (
        x.device.type == "cpu"
        and weight.numel() >= _MIN_WEIGHT
        and x.dtype == weight.dtype == torch.float32
        and not torch.is_grad_enabled()
        and x.dim() >= 2
        and x.numel() > 0
    ):
        op = _onednn_linear()
    if op is None:
        return F.linear(x, weight, bias)
    flat = x.reshape(-1, x.shape[-1])
    out = op(flat, weight, bias, "none", [], "")
    return out.view(*x.shape[:-1], weight.shape[0])


class Linear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)
