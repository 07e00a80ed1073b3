"""Colours of the synthetic rooms' structure (the furniture's named colours are
``model.clip.vocabulary.PALETTE``)."""

from __future__ import annotations

# Light colours used for walls / ceilings (not instances, so not in the instance table).
WALL_COLOURS: tuple[tuple[float, float, float], ...] = (
    (0.86, 0.84, 0.78),
    (0.80, 0.84, 0.86),
    (0.88, 0.82, 0.76),
    (0.78, 0.82, 0.74),
    (0.90, 0.88, 0.86),
    (0.84, 0.78, 0.80),
)
FLOOR_COLOURS: tuple[tuple[float, float, float], ...] = (
    (0.55, 0.38, 0.22),
    (0.68, 0.52, 0.34),
    (0.40, 0.30, 0.22),
    (0.62, 0.62, 0.60),
    (0.75, 0.72, 0.66),
    (0.35, 0.36, 0.40),
)
