"""The crop data set: instance crops (and floor/wall/ceiling patches) of seeded synthetic rooms, with their
category and colour, stored as one compressed .npz per split."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.clip.crops import CropConfig, mask_crops
from training.synthetic import CATEGORIES, FURNITURE, render_room

# Seed ranges: training rooms never overlap the held-out rooms used for the model card and `eval-vocab`.
TRAIN_SEED_BASE = 1_000_000
HELDOUT_SEED_BASE = 900_000
STRUCTURE_CLASSES: tuple[str, ...] = ("floor", "wall", "ceiling")
# Class index space of the data set: furniture first (the zero-shot eval classes), then structure.
CLASSES: tuple[str, ...] = FURNITURE + STRUCTURE_CLASSES
COLOURS: tuple[str, ...] = (
    "red",
    "orange",
    "yellow",
    "olive",
    "green",
    "teal",
    "cyan",
    "blue",
    "navy",
    "purple",
    "pink",
    "maroon",
    "brown",
    "tan",
    "beige",
    "white",
    "grey",
    "black",
)


@dataclass(frozen=True)
class RenderConfig:
    views: int = 4
    height: int = 224
    width: int = 308
    min_mask_pixels: int = 150


@dataclass
class CropSet:
    crops: np.ndarray  # uint8 (N, S, S, 3)
    classes: np.ndarray  # int16 (N,) index into CLASSES
    colours: np.ndarray  # int16 (N,) index into COLOURS, -1 for structure
    groups: np.ndarray  # int32 (N,) one id per (room, view, instance): the crops of one mask
    variants: np.ndarray  # int8 (N,) which crop of the mask (scale index; last = masked background)

    def __len__(self) -> int:
        return int(self.classes.shape[0])

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        os.close(fd)
        try:
            np.savez(
                tmp,
                crops=self.crops,
                classes=self.classes,
                colours=self.colours,
                groups=self.groups,
                variants=self.variants,
            )
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> CropSet:
        with np.load(path) as z:
            return cls(**{k: z[k] for k in ("crops", "classes", "colours", "groups", "variants")})


def _structure_mask(rng: np.random.Generator, category_ids: np.ndarray, cat_id: int) -> np.ndarray | None:
    """A random window mostly of one structure class (floor/wall/ceiling), as a mask, or None."""
    h, w = category_ids.shape
    region = category_ids == cat_id
    if region.sum() < 400:
        return None
    rows, cols = np.nonzero(region)
    for _ in range(6):
        i = int(rng.integers(rows.size))
        side = int(rng.integers(24, max(25, min(h, w) // 2)))
        r0, c0 = max(0, rows[i] - side // 2), max(0, cols[i] - side // 2)
        window = np.zeros_like(region)
        window[r0 : r0 + side, c0 : c0 + side] = True
        mask = window & region
        if mask.sum() > 0.6 * window.sum():
            return mask
    return None


def room_crops(seed: int, render: RenderConfig, crop: CropConfig) -> CropSet:
    """All crops of one room: every visible instance in every view, plus a few structure patches."""
    scene = render_room(seed, render.views, render.height, render.width)
    rng = np.random.default_rng(seed)
    info = {iid: (cat, colour) for iid, cat, colour in scene.instances}
    crops, classes, colours, groups, variants = [], [], [], [], []
    group = 0

    def add(image, mask, cls_name, colour_name):
        nonlocal group
        c = mask_crops(image, mask, crop)
        crops.append((c.permute(0, 2, 3, 1).numpy() * 255.0 + 0.5).astype(np.uint8))
        classes.extend([CLASSES.index(cls_name)] * len(c))
        colours.extend([COLOURS.index(colour_name) if colour_name else -1] * len(c))
        groups.extend([group] * len(c))
        variants.extend(range(len(c)))
        group += 1

    for v in range(scene.views):
        ids = scene.instance_ids[v]
        present, counts = np.unique(ids[ids > 0], return_counts=True)
        for iid, count in zip(present.tolist(), counts.tolist(), strict=True):
            if count < render.min_mask_pixels or iid not in info:
                continue
            cat, colour = info[iid]
            add(scene.images[v], ids == iid, cat, colour)
        for name in STRUCTURE_CLASSES:
            mask = _structure_mask(rng, scene.category_ids[v], CATEGORIES.index(name))
            if mask is not None:
                add(scene.images[v], mask, name, None)
    if not crops:
        return _empty(crop.size)
    return CropSet(
        crops=np.concatenate(crops),
        classes=np.asarray(classes, np.int16),
        colours=np.asarray(colours, np.int16),
        groups=np.asarray(groups, np.int32),
        variants=np.asarray(variants, np.int8),
    )


def _empty(size: int) -> CropSet:
    return CropSet(
        np.zeros((0, size, size, 3), np.uint8),
        np.zeros(0, np.int16),
        np.zeros(0, np.int16),
        np.zeros(0, np.int32),
        np.zeros(0, np.int8),
    )


def build_crop_set(
    seeds: Iterable[int],
    render: RenderConfig | None = None,
    crop: CropConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CropSet:
    render, crop = render or RenderConfig(), crop or CropConfig()
    seeds = list(seeds)
    parts: list[CropSet] = []
    offset = 0
    for i, seed in enumerate(seeds):
        part = room_crops(seed, render, crop)
        part.groups = part.groups + offset
        offset = int(part.groups.max()) + 1 if len(part) else offset
        parts.append(part)
        if progress:
            progress(i + 1, len(seeds))
    parts = [p for p in parts if len(p)] or [_empty(crop.size)]
    return CropSet(
        *(
            np.concatenate([getattr(p, k) for p in parts])
            for k in ("crops", "classes", "colours", "groups", "variants")
        )
    )


def main() -> None:
    import argparse
    import time

    parser = argparse.ArgumentParser(description="render the tiny CLIP's crop data set")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--heldout", action="store_true", help="use the held-out seed range")
    args = parser.parse_args()
    base = HELDOUT_SEED_BASE if args.heldout else TRAIN_SEED_BASE
    start = time.time()

    def report(done: int, total: int) -> None:
        if done % 25 == 0 or done == total:
            print(f"{done}/{total} rooms, {time.time() - start:.0f} s", flush=True)

    data = build_crop_set(range(base, base + args.rooms), progress=report)
    data.save(args.out)
    counts = np.bincount(data.classes, minlength=len(CLASSES))
    print(
        f"{len(data)} crops -> {args.out}; per class: "
        + ", ".join(f"{c}={n}" for c, n in zip(CLASSES, counts, strict=False))
    )


if __name__ == "__main__":
    main()
