"""Square crops around an instance mask, as OpenMask3D takes them: several context scales plus a variant
with the background outside the mask greyed out. Shared by training and the app's instance embeddings so
the model sees at inference exactly the kind of crop it was trained on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

GREY = 0.5


@dataclass(frozen=True)
class CropConfig:
    # Extra context around the mask's bounding box, as a fraction of its longer side.
    expansions: tuple[float, ...] = (0.1, 0.4, 0.9)
    masked_background: bool = True
    size: int = 64

    @property
    def per_mask(self) -> int:
        return len(self.expansions) + int(self.masked_background)


def mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(row0, col0, row1, col1) half-open box of a boolean mask, or None when empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _square_window(box: tuple[int, int, int, int], expansion: float) -> tuple[int, int, int]:
    r0, c0, r1, c1 = box
    side = max(r1 - r0, c1 - c0)
    side = max(4, round(side * (1.0 + expansion)))
    cr, cc = (r0 + r1) / 2.0, (c0 + c1) / 2.0
    return round(cr - side / 2.0), round(cc - side / 2.0), side


def _cut(image: torch.Tensor, top: int, left: int, side: int) -> torch.Tensor:
    """A side x side window of a (3,H,W) image; parts outside the image are grey."""
    _, h, w = image.shape
    out = torch.full((3, side, side), GREY, dtype=image.dtype)
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + side, h), min(left + side, w)
    if r1 > r0 and c1 > c0:
        out[:, r0 - top : r1 - top, c0 - left : c1 - left] = image[:, r0:r1, c0:c1]
    return out


def _resize(window: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(
        window[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )[0]


def mask_crops(image: np.ndarray | torch.Tensor, mask: np.ndarray, cfg: CropConfig) -> torch.Tensor:
    """Crops (cfg.per_mask, 3, size, size) float in [0, 1] of one instance in one view.

    ``image`` is (H,W,3) uint8 or float in [0,1]; ``mask`` is (H,W) bool and must not be empty.
    """
    box = mask_bbox(mask)
    if box is None:
        raise ValueError("empty mask")
    img = torch.from_numpy(np.array(image, copy=True))
    img = img.permute(2, 0, 1).float()
    if img.max() > 1.5:
        img = img / 255.0
    crops = []
    for expansion in cfg.expansions:
        top, left, side = _square_window(box, expansion)
        crops.append(_resize(_cut(img, top, left, side), cfg.size))
    if cfg.masked_background:
        m = torch.as_tensor(mask, dtype=torch.bool)
        greyed = torch.where(m[None], img, torch.tensor(GREY, dtype=img.dtype))
        top, left, side = _square_window(box, cfg.expansions[0])
        crops.append(_resize(_cut(greyed, top, left, side), cfg.size))
    return torch.stack(crops).clamp_(0.0, 1.0)
