"""Zero-shot classification accuracy of a CLIP on held-out crops (the number in the model card)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from model.clip.config import TinyClipConfig
from training.synthetic import FURNITURE

from .data import CLASSES, CropSet
from .encode import encode_class_prompts, encode_crops


@dataclass
class ZeroShotResult:
    crop_top1: float  # every crop classified on its own
    mask_top1: float  # the crops of one mask averaged, as the app's instance embedding does per view
    per_class: dict[str, float]  # mask_top1 per class
    crops: int
    masks: int

    def as_dict(self) -> dict:
        return {
            "crop_top1": self.crop_top1,
            "mask_top1": self.mask_top1,
            "per_class": self.per_class,
            "crops": self.crops,
            "masks": self.masks,
        }


def zero_shot(
    model, cfg: TinyClipConfig, data: CropSet, classes: tuple[str, ...] = FURNITURE
) -> ZeroShotResult:
    """Classify the furniture crops of ``data`` among ``classes`` with "a {class}" prompt ensembles."""
    keep = np.isin(np.asarray(CLASSES)[data.classes], classes)
    crops, labels, groups = data.crops[keep], data.classes[keep], data.groups[keep]
    target = torch.as_tensor([classes.index(CLASSES[c]) for c in labels])
    image = encode_crops(model, cfg, crops)
    text = encode_class_prompts(model, cfg, classes)
    crop_pred = (image @ text.T).argmax(1)
    uniq, inverse = np.unique(groups, return_inverse=True)
    inv = torch.as_tensor(inverse)
    pooled = torch.zeros(len(uniq), image.shape[1]).index_add_(0, inv, image)
    pooled = F.normalize(pooled, dim=-1)
    mask_target = torch.zeros(len(uniq), dtype=torch.long).index_copy_(0, inv, target)
    mask_pred = (pooled @ text.T).argmax(1)
    per_class = {}
    for i, name in enumerate(classes):
        sel = mask_target == i
        if sel.any():
            per_class[name] = float((mask_pred[sel] == i).float().mean())
    return ZeroShotResult(
        crop_top1=float((crop_pred == target).float().mean()) if len(target) else 0.0,
        mask_top1=float((mask_pred == mask_target).float().mean()) if len(uniq) else 0.0,
        per_class=per_class,
        crops=len(target),
        masks=len(uniq),
    )


def main() -> None:
    import argparse
    import json
    from pathlib import Path

    from model.clip.config import load_tiny_clip

    parser = argparse.ArgumentParser(description="zero-shot accuracy of a tiny CLIP on held-out crops")
    parser.add_argument("weights", type=Path)
    parser.add_argument("heldout", type=Path, help="held-out crop set (.npz from training.clip.data)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, cfg = load_tiny_clip(args.weights)
    print(json.dumps(zero_shot(model, cfg, CropSet.load(args.heldout)).as_dict(), indent=1))


if __name__ == "__main__":
    main()
