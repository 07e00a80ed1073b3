"""Template captions for the synthetic categories and colours (training only; the query prompts are
``model.clip.prompts``)."""

from __future__ import annotations

import numpy as np

from model.clip.prompts import fix_article

# Other words people use for the synthetic rooms' categories (also what ScanNet-style vocabularies say).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "chair": ("chair", "seat", "dining chair", "armchair"),
    "table": ("table", "dining table", "coffee table"),
    "sofa": ("sofa", "couch", "settee"),
    "bed": ("bed", "double bed", "mattress"),
    "cabinet": ("cabinet", "cupboard", "wardrobe", "dresser"),
    "lamp": ("lamp", "floor lamp", "light"),
    "desk": ("desk", "writing desk", "office desk"),
    "monitor": ("monitor", "computer monitor", "screen", "display"),
    "plant": ("plant", "potted plant", "houseplant", "flower pot"),
    "box": ("box", "cardboard box", "crate", "storage box"),
    "shelf": ("shelf", "bookshelf", "bookcase", "shelves"),
    "floor": ("floor", "ground", "carpet"),
    "wall": ("wall", "walls"),
    "ceiling": ("ceiling", "roof"),
}

CATEGORY_TEMPLATES: tuple[str, ...] = (
    "a {}",
    "a photo of a {}",
    "the {}",
    "a {} in a room",
    "a picture of the {}",
)
COLOUR_TEMPLATES: tuple[str, ...] = (
    "a {colour} {noun}",
    "a photo of a {colour} {noun}",
    "the {colour} {noun}",
    "a {colour} {noun} in a room",
)

# Things that never appear in the synthetic rooms (ScanNet-20 classes the rooms lack, other household
# words). Training pushes every crop away from their captions, so a vocabulary holding such words (e.g.
# ScanNet-20 in "Label all") does not steal the synthetic objects with an untrained, random text embedding.
ABSENT_THINGS: tuple[str, ...] = (
    "door", "window", "picture", "counter", "curtain", "refrigerator", "shower curtain", "toilet", "sink",
    "bathtub", "television", "oven", "mirror", "clock", "bottle", "cup", "vase", "laptop", "phone",
    "person", "dog", "cat", "car", "tree", "bicycle", "stairs", "fireplace", "radiator", "washing machine",
    "microwave",
)  # fmt: skip


def sample_caption(rng: np.random.Generator, category: str, colour: str | None, p_colour: float = 0.6) -> str:
    """One random caption of a crop of ``category`` painted ``colour`` (None for structure)."""
    noun = str(rng.choice(SYNONYMS.get(category, (category,))))
    if rng.random() < 0.5:
        noun = category
    if colour is not None and rng.random() < p_colour:
        template = str(rng.choice(COLOUR_TEMPLATES))
        return fix_article(template.format(colour=colour, noun=noun))
    return fix_article(str(rng.choice(CATEGORY_TEMPLATES)).format(noun))


def absent_captions(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` captions of things absent from the rooms (negatives only)."""
    picks = rng.choice(len(ABSENT_THINGS), size=min(n, len(ABSENT_THINGS)), replace=False)
    return [fix_article(str(rng.choice(CATEGORY_TEMPLATES)).format(ABSENT_THINGS[i])) for i in picks]
