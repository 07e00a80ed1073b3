"""Progress and cancel for one forward of the network, from outside it, through forward hooks.

The network's code knows nothing of progress or cancelling (its forward stays pure, as in vggt). For
the length of a ``with ForwardWatch(net, ...)`` block, hooks on its modules report progress per block
("patch embedding", "aggregator") and per head chunk ("heads"), and raise `model.errors.Cancelled`
before the next module runs once ``cancel()`` says so. On CUDA, kernels run after they are queued: the
device is synchronised before each progress report, so that progress counts work done and a cancel
is seen between blocks rather than after the whole queue ran.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import nn

from .device import CancelFn, ProgressFn
from .errors import Cancelled


def device_sync(device: torch.device) -> Callable[[], None] | None:
    """What makes progress on ``device`` mean work done: CUDA synchronisation (None on the CPU)."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return None


class ForwardWatch:
    """Hooks that report progress and check for a cancel during one forward (see the module doc).

    ``head_chunks``: how many chunks the dense heads run in (for the "heads" fraction). ``sync``: called
    before each progress report (`device_sync`). Reports are rate-limited to one per ``min_interval_s``
    except a stage's last one.
    """

    def __init__(
        self,
        net: nn.Module,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
        head_chunks: int = 1,
        sync: Callable[[], None] | None = None,
        min_interval_s: float = 0.05,
    ) -> None:
        self.net = net
        self.progress = progress
        self.cancel = cancel
        self.head_chunks = max(1, head_chunks)
        self.sync = sync
        self.min_interval_s = min_interval_s
        self._last_report = -math.inf
        self._chunks_done = 0
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    # ------------------------------------------------------------------ the protocol
    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled("Inference was cancelled.")

    def step(self, stage: str, fraction: float) -> None:
        """Report ``fraction`` of ``stage`` (after synchronising the device), then check for a cancel."""
        if self.progress is not None:
            now = time.monotonic()
            if fraction >= 1.0 or now - self._last_report >= self.min_interval_s:
                if self.sync is not None:
                    self.sync()
                self._last_report = time.monotonic()
                self.progress(stage, min(max(float(fraction), 0.0), 1.0))
        self.check()

    # ------------------------------------------------------------------ hooks
    def __enter__(self) -> ForwardWatch:
        net = self.net
        aggregator = getattr(net, "aggregator", None)
        if aggregator is not None:
            vit_blocks = list(getattr(aggregator.patch_embed, "blocks", []))
            self._steps(vit_blocks, "patch embedding")
            self._steps(list(aggregator.global_blocks), "aggregator")
        names = ("camera_head", "depth_head", "point_head", "part_adaptor", "part_head")
        heads = [m for m in (getattr(net, name, None) for name in names) if m is not None]
        last_head = getattr(net, "part_head", None)
        if last_head is not None:
            self._handles.append(last_head.register_forward_hook(self._head_chunk_done))
        # a cancel check before every module that holds others (blocks, attention, MLPs, head stages)
        for root in [aggregator, *heads]:
            if root is None:
                continue
            for module in root.modules():
                if next(module.children(), None) is not None:
                    self._handles.append(module.register_forward_pre_hook(self._check_hook))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _steps(self, blocks: list[nn.Module], stage: str) -> None:
        for i, block in enumerate(blocks):
            fraction = (i + 1) / len(blocks)
            self._handles.append(block.register_forward_hook(
                lambda _m, _a, _o, f=fraction: self.step(stage, f)))  # fmt: skip

    def _check_hook(self, _module: nn.Module, _args: object) -> None:
        self.check()

    def _head_chunk_done(self, _module: nn.Module, _args: object, _out: object) -> None:
        self._chunks_done += 1
        self.step("heads", self._chunks_done / self.head_chunks)
