"""Colours for query results: a heat ramp for one phrase, one hue per phrase for several; instances that do
not match (weak guesses included) get no colour (the view dims them)."""

from __future__ import annotations

import numpy as np

from .confidence import MATCH
from .relevancy import QueryResult

Colour = tuple[int, int, int]

# Heat ramp (dark red -> orange -> yellow -> white-ish) for relevancy from the threshold up to 1.
_HEAT = np.array([[128, 0, 38], [227, 26, 28], [253, 141, 60], [254, 217, 118], [255, 255, 204]], np.float64)
# Distinct hues for several phrases (the first phrase uses the heat ramp's mid colour).
PHRASE_COLOURS: tuple[Colour, ...] = (
    (253, 141, 60),
    (44, 160, 220),
    (77, 200, 90),
    (200, 90, 220),
    (240, 220, 40),
    (230, 70, 120),
    (60, 220, 200),
    (160, 120, 70),
)


def heat_colour(score: float, threshold: float) -> Colour:
    """Ramp position by how far above the threshold the score is."""
    t = 0.0 if threshold >= 1.0 else (float(score) - threshold) / (1.0 - threshold)
    x = np.clip(t, 0.0, 1.0) * (len(_HEAT) - 1)
    i = min(int(x), len(_HEAT) - 2)
    c = _HEAT[i] + (x - i) * (_HEAT[i + 1] - _HEAT[i])
    r, g, b = (int(v) for v in np.rint(c))
    return r, g, b


def phrase_colour(index: int) -> Colour:
    return PHRASE_COLOURS[index % len(PHRASE_COLOURS)]


def highlight_overlay(result: QueryResult) -> dict[int, Colour]:
    """instance id -> colour for every instance that matches (relative to the scene, see
    ``app.semantics.confidence``); weak guesses and the rest get no colour."""
    if not result.phrases:
        return {}
    threshold = result.phrases[0].threshold
    overlay: dict[int, Colour] = {}
    several = len(result.phrases) > 1
    for row in result.rows():
        if row.verdict != MATCH:
            continue
        if several:
            base = np.asarray(phrase_colour(row.phrase), np.float64)
            t = np.clip((row.score - threshold) / max(1e-6, 1.0 - threshold), 0.0, 1.0)
            c = base * (0.55 + 0.45 * t)
            overlay[row.instance] = (int(c[0]), int(c[1]), int(c[2]))
        else:
            overlay[row.instance] = heat_colour(row.score, threshold)
    return overlay
