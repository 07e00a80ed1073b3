"""Training stages: which parameters a run trains, and the forward pass each stage needs.

* ``all``: the whole network with every loss (camera, depth, point map, contrastive).
* ``instance``: only the instance branch (part adaptor + part head) with the contrastive loss; the
  trunk (aggregator, camera/depth/point heads) is frozen and runs without autograd, which makes a step
  about 4x cheaper on CPU. Use it to (re)train instance features on top of a geometry checkpoint.
"""

from __future__ import annotations

import torch
from torch import nn

STAGES = ("all", "instance")
INSTANCE_MODULES = ("part_adaptor", "part_head")


def check_stage(stage: str) -> str:
    if stage not in STAGES:
        raise ValueError(f"unknown training stage {stage!r} (use one of {', '.join(STAGES)})")
    return stage


def set_trainable(net: nn.Module, stage: str) -> list[nn.Parameter]:
    """Marks the stage's parameters trainable (the rest frozen) and returns them."""
    check_stage(stage)
    for name, p in net.named_parameters():
        p.requires_grad_(stage == "all" or name.split(".", 1)[0] in INSTANCE_MODULES)
    return [p for p in net.parameters() if p.requires_grad]


def reinit_instance_branch(net: nn.Module, seed: int) -> None:
    """Fresh instance-branch weights (as a new network of the same configuration would have)."""
    torch.manual_seed(seed)
    net.reset_instance_branch()


def instance_forward(net: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """``part_feat`` (B, S, C, H, W) with gradients for the instance branch only."""
    cfg = net.config
    b, s, _, h, w = images.shape
    rows, cols = h // cfg.patch_size, w // cfg.patch_size
    with torch.no_grad():
        tokens = net.aggregator(images, cfg.output_layers)
        start = net.aggregator.patch_start_idx
        layers = [tokens[i].float()[:, :, start:].reshape(b * s, rows * cols, -1) for i in cfg.head_layers]
        del tokens
        _, _, point_feats = net.point_head(layers, rows, cols, (h, w))
    maps = net.part_adaptor(layers, rows, cols)
    part = net.part_head(maps, point_feats, (h, w))
    return {"part_feat": part.view(b, s, -1, h, w)}
