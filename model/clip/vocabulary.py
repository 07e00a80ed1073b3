"""The object categories and named colours the bundled tiny models know (those of the synthetic rooms).

Runtime vocabulary: the app's label vocabulary and evaluation use it, and training's synthetic rooms paint
and label with it.

Category ids (the values of ``SyntheticScene.category_ids``):

* 0 ``none`` (never visible: the room is closed),
* 1 ``floor``, 2 ``wall``, 3 ``ceiling`` — the room's structure. These are *not* instances
  (``instance_ids`` is 0 there): instance metrics are about furniture only,
* 4.. the furniture categories in ``FURNITURE``; every furniture piece is one instance.
"""

from __future__ import annotations

STRUCTURE: tuple[str, ...] = ("none", "floor", "wall", "ceiling")
FURNITURE: tuple[str, ...] = (
    "chair",
    "table",
    "sofa",
    "bed",
    "cabinet",
    "lamp",
    "desk",
    "monitor",
    "plant",
    "box",
    "shelf",
)
CATEGORIES: tuple[str, ...] = STRUCTURE + FURNITURE
CATEGORY_ID: dict[str, int] = {name: i for i, name in enumerate(CATEGORIES)}

# Linear-ish RGB in [0, 1]; names are what the instance table reports.
PALETTE: dict[str, tuple[float, float, float]] = {
    "red": (0.78, 0.12, 0.12),
    "orange": (0.92, 0.48, 0.10),
    "yellow": (0.93, 0.80, 0.18),
    "olive": (0.50, 0.52, 0.16),
    "green": (0.20, 0.60, 0.22),
    "teal": (0.10, 0.55, 0.55),
    "cyan": (0.35, 0.78, 0.85),
    "blue": (0.15, 0.32, 0.78),
    "navy": (0.10, 0.13, 0.40),
    "purple": (0.48, 0.22, 0.62),
    "pink": (0.92, 0.55, 0.68),
    "maroon": (0.45, 0.10, 0.15),
    "brown": (0.45, 0.28, 0.14),
    "tan": (0.78, 0.62, 0.42),
    "beige": (0.88, 0.82, 0.66),
    "white": (0.92, 0.92, 0.90),
    "grey": (0.52, 0.53, 0.55),
    "black": (0.10, 0.10, 0.11),
}
COLOUR_NAMES: tuple[str, ...] = tuple(PALETTE)
