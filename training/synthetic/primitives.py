"""Ray-primitive intersection for the synthetic room renderer (numpy, vectorised).

All primitives are axis-aligned in the world frame (x, y horizontal, z up): boxes, vertical
cylinders and spheres. Rays are ``o + t * d`` with ``d`` *not* normalised: the renderer builds
``d`` so that its camera-z component is 1, which makes ``t`` the z-depth directly.
Functions accept per-ray arrays (any shape) for directions and either scalars or arrays of the
same shape for origins, and return ``t`` with ``inf`` where the ray misses (or hits behind
``t_min``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOX, CYLINDER, SPHERE = 0, 1, 2

# Albedo texture kinds applied on top of a part's colour.
PLAIN, WOOD, FABRIC, FOLIAGE, SCREEN, METAL = range(6)


@dataclass
class Part:
    """One primitive of a furniture piece.

    ``kind`` BOX: ``params`` = (xmin, ymin, zmin, xmax, ymax, zmax);
    CYLINDER: (cx, cy, radius, zmin, zmax); SPHERE: (cx, cy, cz, radius).
    """

    kind: int
    params: tuple[float, ...]
    colour: tuple[float, float, float]
    texture: int = PLAIN
    instance: int = 0
    category: int = 0

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        if self.kind == BOX:
            return np.array(p[:3]), np.array(p[3:])
        if self.kind == CYLINDER:
            cx, cy, r, z0, z1 = p
            return np.array([cx - r, cy - r, z0]), np.array([cx + r, cy + r, z1])
        cx, cy, cz, r = p
        return np.array([cx - r, cy - r, cz - r]), np.array([cx + r, cy + r, cz + r])


def safe_inverse(d: np.ndarray) -> np.ndarray:
    """1/d with exact zeros nudged, so slab tests never compute 0 * inf."""
    d = np.where(np.abs(d) < 1e-12, np.float32(1e-12), d)
    return (1.0 / d).astype(np.float32, copy=False)


def hit_box(o, inv, lo, hi, t_min: float = 1e-4) -> np.ndarray:
    """Slab test. ``o``: 3 scalars or 3 arrays; ``inv``: 3 arrays of 1/d."""
    t1 = (lo[0] - o[0]) * inv[0]
    t2 = (hi[0] - o[0]) * inv[0]
    near = np.minimum(t1, t2)
    far = np.maximum(t1, t2)
    for a in (1, 2):
        t1 = (lo[a] - o[a]) * inv[a]
        t2 = (hi[a] - o[a]) * inv[a]
        np.maximum(near, np.minimum(t1, t2), out=near)
        np.minimum(far, np.maximum(t1, t2), out=far)
    miss = (near > far) | (near < t_min)
    near[miss] = np.inf
    return near


def hit_cylinder(o, d, params, t_min: float = 1e-4) -> np.ndarray:
    """Closed vertical cylinder (side + both caps), seen from outside."""
    cx, cy, r, z0, z1 = params
    ox, oy, oz = o[0] - cx, o[1] - cy, o[2]
    dx, dy, dz = d
    a = dx * dx + dy * dy
    b = ox * dx + oy * dy
    c = ox * ox + oy * oy - r * r
    disc = b * b - a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (-b - np.sqrt(np.maximum(disc, 0.0))) / np.maximum(a, 1e-12)
    z = oz + t * dz
    side_ok = (disc >= 0) & (t > t_min) & (z >= z0) & (z <= z1)
    t = np.where(side_ok, t, np.inf)
    inv_dz = safe_inverse(dz)
    for zc in (z0, z1):
        tc = (zc - oz) * inv_dz
        x = ox + tc * dx
        y = oy + tc * dy
        ok = (tc > t_min) & (x * x + y * y <= r * r)
        t = np.where(ok & (tc < t), tc, t)
    return t.astype(np.float32, copy=False)


def hit_sphere(o, d, params, t_min: float = 1e-4) -> np.ndarray:
    cx, cy, cz, r = params
    ox, oy, oz = o[0] - cx, o[1] - cy, o[2] - cz
    dx, dy, dz = d
    a = dx * dx + dy * dy + dz * dz
    b = ox * dx + oy * dy + oz * dz
    c = ox * ox + oy * oy + oz * oz - r * r
    disc = b * b - a * c
    with np.errstate(invalid="ignore"):
        t = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
    return np.where((disc >= 0) & (t > t_min), t, np.inf).astype(np.float32, copy=False)


def hit_part(part: Part, o, d, inv, t_min: float = 1e-4) -> np.ndarray:
    if part.kind == BOX:
        lo, hi = part.bounds()
        return hit_box(o, inv, lo, hi, t_min)
    if part.kind == CYLINDER:
        return hit_cylinder(o, d, part.params, t_min)
    return hit_sphere(o, d, part.params, t_min)


def part_normals(part: Part, p: np.ndarray) -> np.ndarray:
    """Outward unit normals at surface points ``p`` (N, 3) of ``part``."""
    n = np.zeros_like(p)
    if part.kind == BOX:
        lo, hi = part.bounds()
        centre, half = (lo + hi) / 2, np.maximum((hi - lo) / 2, 1e-6)
        q = (p - centre) / half
        axis = np.argmax(np.abs(q), axis=1)
        rows = np.arange(len(p))
        n[rows, axis] = np.sign(q[rows, axis])
        return n
    if part.kind == CYLINDER:
        cx, cy, r, z0, z1 = part.params
        rx, ry = p[:, 0] - cx, p[:, 1] - cy
        radial = np.sqrt(rx * rx + ry * ry) / max(r, 1e-6)
        half = max((z1 - z0) / 2, 1e-6)
        vert = np.abs(p[:, 2] - (z0 + z1) / 2) / half
        cap = vert > radial
        norm = np.maximum(np.sqrt(rx * rx + ry * ry), 1e-6)
        n[:, 0] = np.where(cap, 0.0, rx / norm)
        n[:, 1] = np.where(cap, 0.0, ry / norm)
        n[:, 2] = np.where(cap, np.sign(p[:, 2] - (z0 + z1) / 2), 0.0)
        return n
    cx, cy, cz, r = part.params
    return (p - np.array([cx, cy, cz])) / max(r, 1e-6)
