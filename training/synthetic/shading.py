"""Procedural textures and lighting for the synthetic rooms (all vectorised numpy)."""

from __future__ import annotations

import numpy as np

from .layout import Room
from .primitives import FABRIC, FOLIAGE, METAL, SCREEN, WOOD


def hash1(x: np.ndarray) -> np.ndarray:
    """Cheap deterministic pseudo-random value in [0, 1) per input value."""
    return np.modf(np.abs(np.sin(x * 12.9898 + 78.233) * 43758.5453))[0]


def floor_albedo(room: Room, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    base = room.floor_colour
    if room.floor_pattern == 0:  # wooden planks
        u, v = (px, py) if room.plank_axis == 0 else (py, px)
        width = 0.19
        plank = np.floor(v / width)
        seg = np.floor((u + hash1(plank) * 1.7) / 1.3)
        shade = 0.82 + 0.3 * hash1(plank * 7.13 + seg * 3.71)
        shade *= 1.0 + 0.06 * np.sin(u * 37.0 + 9.0 * hash1(plank))
        gap = (np.modf(v / width)[0] < 0.05) | (np.modf((u + hash1(plank) * 1.7) / 1.3)[0] < 0.008)
        shade = np.where(gap, 0.55, shade)
    else:  # square tiles with grout
        size = 0.5
        ti, tj = np.floor(px / size), np.floor(py / size)
        shade = 0.9 + 0.15 * hash1(ti * 5.3 + tj * 11.1)
        fx, fy = np.modf(px / size)[0], np.modf(py / size)[0]
        grout = (fx < 0.025) | (fy < 0.025)
        shade = np.where(grout, 1.25, shade)
    return np.clip(shade[..., None] * base, 0.0, 1.0)


def wall_albedo(room: Room, px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> np.ndarray:
    along = px + py
    shade = 1.0 + 0.025 * np.sin(along * 23.0) * np.sin(pz * 17.0)
    col = shade[..., None] * room.wall_colour
    base = pz < 0.09  # baseboard
    col[base] = np.array([0.95, 0.95, 0.93], np.float32) * 0.9
    return col


def part_texture(texture: int, p: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Multiplicative albedo factor (N,) of a part's surface points ``p`` (N, 3)."""
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    if texture == WOOD:
        return 1.0 + 0.07 * np.sin((x + y) * 45.0 + 4.0 * np.sin(z * 6.0 + x * 3.0))
    if texture == FABRIC:
        return 1.0 + 0.05 * np.sin((x - y) * 70.0) * np.sin(z * 70.0 + x * 20.0)
    if texture == FOLIAGE:
        cells = np.floor(p * 22.0)
        return 0.7 + 0.5 * hash1(cells[:, 0] * 1.7 + cells[:, 1] * 3.1 + cells[:, 2] * 5.3)
    if texture == SCREEN:
        return 1.0 + 2.0 * np.clip(z - z.min(initial=0.0), 0.0, 0.5)
    if texture == METAL:
        return 1.0 + 0.15 * np.abs(n[:, 2])
    return np.ones(len(p), dtype=np.float32)


def lighting(room: Room, p: np.ndarray, n: np.ndarray, visible_light: np.ndarray | None = None) -> np.ndarray:
    """Diffuse point light at the ceiling plus a hemisphere ambient term. ``p``, ``n``: (..., 3)."""
    to_light = room.light - p
    dist2 = np.sum(to_light * to_light, axis=-1)
    ndl = np.maximum(np.sum(n * to_light, axis=-1), 0.0) / np.sqrt(np.maximum(dist2, 1e-6))
    direct = 1.1 * ndl / (1.0 + 0.06 * dist2)
    if visible_light is not None:
        direct = direct * visible_light
    ambient = 0.42 + 0.08 * n[..., 2] + 0.05 * n[..., 0]
    return ambient + direct


def contact_shadow(room: Room, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Darkening of floor points near furniture footprints (a cheap ambient-occlusion stand-in)."""
    occl = np.ones_like(px)
    for r in room.footprints:
        dx = np.maximum(np.maximum(r[0] - px, px - r[2]), 0.0)
        dy = np.maximum(np.maximum(r[1] - py, py - r[3]), 0.0)
        occl *= 1.0 - 0.35 * np.exp(-np.sqrt(dx * dx + dy * dy) * 9.0)
    return occl
