"""Furniture pieces built from primitives, in a local frame.

Local frame: origin at the centre of the footprint on the floor, +y = the piece's front (where a
person sits / the doors open), +x = to the right when facing the piece's back, z up. Builders
return the parts plus the footprint size (width along x, depth along y).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model.clip.vocabulary import PALETTE

from .primitives import BOX, CYLINDER, FABRIC, FOLIAGE, METAL, PLAIN, SCREEN, SPHERE, WOOD, Part

Colour = tuple[float, float, float]


@dataclass
class Piece:
    category: str
    colour_name: str
    parts: list[Part]
    width: float
    depth: float
    height: float


def _box(x0, y0, z0, x1, y1, z1, colour: Colour, texture: int = PLAIN) -> Part:
    return Part(BOX, (x0, y0, z0, x1, y1, z1), colour, texture)


def _legs(rng, w, d, z_top, thick, colour, inset=0.03, round_legs=False) -> list[Part]:
    parts = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            cx = sx * (w / 2 - inset - thick / 2)
            cy = sy * (d / 2 - inset - thick / 2)
            if round_legs:
                parts.append(Part(CYLINDER, (cx, cy, thick / 2, 0.0, z_top), colour, METAL))
            else:
                h = thick / 2
                parts.append(_box(cx - h, cy - h, 0.0, cx + h, cy + h, z_top, colour, WOOD))
    return parts


def _dark(rng) -> Colour:
    return PALETTE[str(rng.choice(["black", "brown", "grey"]))]


def chair(rng, c: Colour) -> tuple[list[Part], float, float]:
    w = rng.uniform(0.42, 0.5)
    d = rng.uniform(0.42, 0.5)
    seat_z = rng.uniform(0.42, 0.48)
    legs = _dark(rng) if rng.random() < 0.6 else c
    back_h = rng.uniform(0.35, 0.5)
    parts = _legs(rng, w, d, seat_z - 0.05, 0.04, legs, round_legs=rng.random() < 0.4)
    parts.append(_box(-w / 2, -d / 2, seat_z - 0.05, w / 2, d / 2, seat_z, c, FABRIC))
    parts.append(_box(-w / 2, -d / 2, seat_z, w / 2, -d / 2 + 0.05, seat_z + back_h, c, FABRIC))
    return parts, w, d


def table(rng, c: Colour) -> tuple[list[Part], float, float]:
    w = rng.uniform(1.0, 1.6)
    d = rng.uniform(0.7, 1.0)
    z = rng.uniform(0.72, 0.77)
    parts = _legs(rng, w, d, z - 0.04, 0.07, c if rng.random() < 0.5 else _dark(rng))
    parts.append(_box(-w / 2, -d / 2, z - 0.04, w / 2, d / 2, z, c, WOOD))
    return parts, w, d


def sofa(rng, c: Colour) -> tuple[list[Part], float, float]:
    w = rng.uniform(1.6, 2.2)
    d = rng.uniform(0.8, 0.95)
    seat = rng.uniform(0.4, 0.46)
    arm = 0.16
    parts = [
        _box(-w / 2, -d / 2, 0.08, w / 2, d / 2, seat, c, FABRIC),
        _box(-w / 2, -d / 2, seat, w / 2, -d / 2 + 0.2, rng.uniform(0.78, 0.9), c, FABRIC),
        _box(-w / 2, -d / 2, seat, -w / 2 + arm, d / 2, seat + 0.2, c, FABRIC),
        _box(w / 2 - arm, -d / 2, seat, w / 2, d / 2, seat + 0.2, c, FABRIC),
    ]
    foot = _dark(rng)
    for sx in (-1, 1):
        for sy in (-1, 1):
            x, y = sx * (w / 2 - 0.08), sy * (d / 2 - 0.08)
            parts.append(Part(CYLINDER, (x, y, 0.03, 0.0, 0.08), foot, METAL))
    return parts, w, d


def bed(rng, c: Colour) -> tuple[list[Part], float, float]:
    w = rng.uniform(1.2, 1.8)
    d = rng.uniform(1.95, 2.15)
    frame_z = rng.uniform(0.25, 0.35)
    sheet = PALETTE[str(rng.choice(["white", "beige", "cyan", "pink"]))]
    parts = [
        _box(-w / 2, -d / 2, 0.0, w / 2, d / 2, frame_z, c, WOOD),
        _box(-w / 2 + 0.03, -d / 2 + 0.08, frame_z, w / 2 - 0.03, d / 2 - 0.03, frame_z + 0.2, sheet, FABRIC),
        _box(-w / 2, -d / 2, 0.0, w / 2, -d / 2 + 0.08, rng.uniform(0.9, 1.15), c, WOOD),
    ]
    n_pillows = 2 if w > 1.35 else 1
    pw = (w - 0.2) / n_pillows
    for i in range(n_pillows):
        x0 = -w / 2 + 0.1 + i * pw
        parts.append(
            _box(
                x0 + 0.03,
                -d / 2 + 0.12,
                frame_z + 0.2,
                x0 + pw - 0.03,
                -d / 2 + 0.5,
                frame_z + 0.32,
                PALETTE["white"],
                FABRIC,
            )
        )
    return parts, w, d


def cabinet(rng, c: Colour) -> tuple[list[Part], float, float]:
    w = rng.uniform(0.5, 1.2)
    d = rng.uniform(0.4, 0.55)
    h = rng.uniform(0.7, 1.9)
    handle = PALETTE[str(rng.choice(["grey", "black", "white"]))]
    parts = [_box(-w / 2, -d / 2, 0.0, w / 2, d / 2, h, c, WOOD)]
    doors = 2 if w > 0.7 else 1
    for i in range(doors):
        x = (
            -w / 2
            + (i + 0.5) * w / doors
            + (0.08 if i == 0 and doors == 2 else -0.08 if doors == 2 else 0.15)
        )
        parts.append(_box(x - 0.012, d / 2, h * 0.5, x + 0.012, d / 2 + 0.025, h * 0.5 + 0.14, handle, METAL))
    return parts, w, d


def lamp(rng, c: Colour) -> tuple[list[Part], float, float]:
    r = rng.uniform(0.16, 0.24)
    h = rng.uniform(1.35, 1.7)
    parts = [
        Part(CYLINDER, (0.0, 0.0, r * 0.7, 0.0, 0.03), c, METAL),
        Part(CYLINDER, (0.0, 0.0, 0.015, 0.03, h - 0.2), c, METAL),
    ]
    if rng.random() < 0.5:
        parts.append(Part(CYLINDER, (0.0, 0.0, r, h - 0.28, h), PALETTE["beige"], FABRIC))
    else:
        parts.append(Part(SPHERE, (0.0, 0.0, h - 0.12, r * 0.8), PALETTE["white"], PLAIN))
    return parts, 2 * r, 2 * r


def desk(rng, c: Colour) -> tuple[list[Part], float, float]:
    w = rng.uniform(1.1, 1.5)
    d = rng.uniform(0.6, 0.75)
    z = rng.uniform(0.72, 0.76)
    parts = [
        _box(-w / 2, -d / 2, z - 0.035, w / 2, d / 2, z, c, WOOD),
        _box(-w / 2, -d / 2, 0.0, -w / 2 + 0.04, d / 2, z - 0.035, c, WOOD),
        _box(w / 2 - 0.04, -d / 2, 0.0, w / 2, d / 2, z - 0.035, c, WOOD),
        _box(-w / 2 + 0.04, -d / 2, z - 0.3, w / 2 - 0.04, -d / 2 + 0.02, z - 0.035, c, WOOD),
    ]
    return parts, w, d


def monitor(rng, c: Colour, base_z: float = 0.0) -> tuple[list[Part], float, float]:
    w = rng.uniform(0.5, 0.7)
    h = w * rng.uniform(0.55, 0.62)
    lift = rng.uniform(0.1, 0.16)
    z = base_z
    parts = [
        _box(-0.11, -0.09, z, 0.11, 0.09, z + 0.015, c, METAL),
        _box(-0.025, -0.05, z + 0.015, 0.025, -0.025, z + lift, c, METAL),
        _box(-w / 2, -0.025, z + lift, w / 2, 0.01, z + lift + h, c, METAL),
        _box(
            -w / 2 + 0.015,
            0.01,
            z + lift + 0.015,
            w / 2 - 0.015,
            0.018,
            z + lift + h - 0.015,
            (0.05, 0.06, 0.08),
            SCREEN,
        ),
    ]
    return parts, w, 0.2


def plant(rng, c: Colour) -> tuple[list[Part], float, float]:
    r = rng.uniform(0.12, 0.2)
    h = rng.uniform(0.25, 0.45)
    leaf = (0.16 + rng.uniform(-0.04, 0.04), 0.45 + rng.uniform(-0.1, 0.1), 0.16)
    parts = [Part(CYLINDER, (0.0, 0.0, r, 0.0, h), c, PLAIN)]
    top = h
    for _ in range(int(rng.integers(2, 4))):
        rr = rng.uniform(0.16, 0.28)
        ox, oy = rng.uniform(-0.08, 0.08, size=2)
        parts.append(Part(SPHERE, (ox, oy, top + rr * 0.8, rr), leaf, FOLIAGE))
        top += rr * rng.uniform(0.6, 1.0)
    span = 2 * max(r, 0.3)
    return parts, span, span


def box(rng, c: Colour) -> tuple[list[Part], float, float]:
    w = rng.uniform(0.3, 0.6)
    d = rng.uniform(0.3, 0.5)
    h = rng.uniform(0.25, 0.5)
    return [_box(-w / 2, -d / 2, 0.0, w / 2, d / 2, h, c, FABRIC if rng.random() < 0.3 else PLAIN)], w, d


def shelf(rng, c: Colour) -> tuple[list[Part], float, float]:
    w = rng.uniform(0.7, 1.2)
    d = rng.uniform(0.3, 0.4)
    h = rng.uniform(1.4, 2.0)
    t = 0.03
    parts = [
        _box(-w / 2, -d / 2, 0.0, -w / 2 + t, d / 2, h, c, WOOD),
        _box(w / 2 - t, -d / 2, 0.0, w / 2, d / 2, h, c, WOOD),
        _box(-w / 2, -d / 2, 0.0, w / 2, -d / 2 + 0.015, h, c, WOOD),
    ]
    n = int(rng.integers(3, 6))
    names = list(PALETTE)
    for i in range(n + 1):
        z = i * (h - t) / n
        parts.append(_box(-w / 2 + t, -d / 2, z, w / 2 - t, d / 2, z + t, c, WOOD))
        if i < n and rng.random() < 0.8:  # a row of books
            x = -w / 2 + t + 0.02
            end = w / 2 - t - rng.uniform(0.05, 0.3)
            while x < end:
                bw = rng.uniform(0.02, 0.06)
                bh = min(rng.uniform(0.15, 0.3), (h - t) / n - t - 0.02)
                col = PALETTE[names[int(rng.integers(len(names)))]]
                parts.append(_box(x, -d / 2 + 0.03, z + t, x + bw, d / 2 - 0.03, z + t + bh, col, PLAIN))
                x += bw + 0.003
    return parts, w, d


BUILDERS: dict[str, Callable] = {
    "chair": chair,
    "table": table,
    "sofa": sofa,
    "bed": bed,
    "cabinet": cabinet,
    "lamp": lamp,
    "desk": desk,
    "monitor": monitor,
    "plant": plant,
    "box": box,
    "shelf": shelf,
}

# Typical colour names per category (the instance table reports the chosen name).
COLOURS_FOR: dict[str, tuple[str, ...]] = {
    "chair": ("red", "blue", "green", "black", "white", "orange", "teal", "brown", "yellow", "grey"),
    "table": ("brown", "tan", "white", "black", "beige", "grey"),
    "sofa": ("grey", "blue", "navy", "green", "maroon", "beige", "teal", "orange", "purple"),
    "bed": ("brown", "tan", "white", "grey", "black", "navy"),
    "cabinet": ("white", "brown", "tan", "grey", "black", "olive", "blue"),
    "lamp": ("black", "white", "grey", "yellow", "red"),
    "desk": ("brown", "white", "tan", "black", "grey"),
    "monitor": ("black", "grey", "white"),
    "plant": ("white", "red", "orange", "grey", "brown", "blue", "pink"),
    "box": ("tan", "brown", "blue", "red", "white", "yellow", "green", "purple"),
    "shelf": ("brown", "white", "tan", "black", "grey"),
}


def transform(parts: list[Part], x: float, y: float, k: int) -> list[Part]:
    """Rotate local parts by k*90 degrees about z (counter-clockwise) and move them to (x, y)."""
    cos, sin = [(1, 0), (0, 1), (-1, 0), (0, -1)][k % 4]

    def rot(px, py):
        return cos * px - sin * py + x, sin * px + cos * py + y

    out = []
    for p in parts:
        if p.kind == BOX:
            x0, y0, z0, x1, y1, z1 = p.params
            ax, ay = rot(x0, y0)
            bx, by = rot(x1, y1)
            params = (min(ax, bx), min(ay, by), z0, max(ax, bx), max(ay, by), z1)
        elif p.kind == CYLINDER:
            cx, cy, r, z0, z1 = p.params
            params = (*rot(cx, cy), r, z0, z1)
        else:
            cx, cy, cz, r = p.params
            params = (*rot(cx, cy), cz, r)
        out.append(Part(p.kind, tuple(float(v) for v in params), p.colour, p.texture, p.instance, p.category))
    return out


def footprint(x: float, y: float, w: float, d: float, k: int) -> np.ndarray:
    """World-space footprint rectangle (xmin, ymin, xmax, ymax)."""
    if k % 2:
        w, d = d, w
    return np.array([x - w / 2, y - d / 2, x + w / 2, y + d / 2])
