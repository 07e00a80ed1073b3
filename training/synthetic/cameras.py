"""Walk-through cameras inside a room: a person circling or walking past the furniture while
looking at it, so consecutive views overlap strongly."""

from __future__ import annotations

import numpy as np

from .config import RoomConfig
from .layout import Room


def look_at(position: np.ndarray, target: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """Camera-to-world rotation (columns: OpenCV x right, y down, z forward) for a z-up world."""
    forward = target - position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    c, s = np.cos(roll), np.sin(roll)
    right, down = c * right + s * down, -s * right + c * down
    return np.stack([right, down, forward], axis=1)


def intrinsic_matrix(height: int, width: int, hfov: float) -> np.ndarray:
    """Pinhole intrinsics with the principal point at the image centre (as IGGT predicts)."""
    f = (width / 2) / np.tan(hfov / 2)
    return np.array([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])


def _position_ok(room: Room, p: np.ndarray, margin: float = 0.3) -> bool:
    lx, ly = room.size[:2]
    if not (0.35 <= p[0] <= lx - 0.35 and 0.35 <= p[1] <= ly - 0.35):
        return False
    return all(
        not (r[0] - margin < p[0] < r[2] + margin and r[1] - margin < p[1] < r[3] + margin)
        for r in room.footprints
    )


def _interest(rng: np.random.Generator, room: Room) -> np.ndarray:
    centres = np.array([[(r[0] + r[2]) / 2, (r[1] + r[3]) / 2] for r in room.footprints])
    if len(centres) == 0:
        return np.array([room.size[0] / 2, room.size[1] / 2, 0.6])
    pick = rng.choice(len(centres), size=min(len(centres), int(rng.integers(3, 7))), replace=False)
    xy = centres[pick].mean(axis=0)
    return np.array([xy[0], xy[1], rng.uniform(0.5, 0.9)])


def _smooth_offsets(rng: np.random.Generator, views: int, scale: np.ndarray) -> np.ndarray:
    a, b = rng.uniform(-1, 1, size=(2, 3)) * scale
    s = np.linspace(0.0, 1.0, views)[:, None]
    return a * (1 - s) + b * s


def sample_cameras(
    rng: np.random.Generator, room: Room, views: int, cfg: RoomConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Return camera positions (V, 3) and camera-to-world rotations (V, 3, 3)."""
    for attempt in range(60):
        centre = _interest(rng, room)
        height = rng.uniform(*cfg.camera_height)
        if rng.random() < 0.6 or attempt > 40:  # orbit around the point of interest
            radius = rng.uniform(1.5, 3.2) * (0.8 if attempt > 30 else 1.0)
            step = np.deg2rad(rng.uniform(5.0, 15.0)) * rng.choice([-1, 1])
            theta = rng.uniform(0, 2 * np.pi) + step * np.arange(views)
            xy = centre[:2] + radius * np.stack([np.cos(theta), np.sin(theta)], axis=1)
        else:  # walk along a straight line while looking at the furniture
            start = np.array([rng.uniform(0.4, room.size[0] - 0.4), rng.uniform(0.4, room.size[1] - 0.4)])
            ang = rng.uniform(0, 2 * np.pi)
            xy = start + np.outer(np.arange(views) * rng.uniform(0.12, 0.3), [np.cos(ang), np.sin(ang)])
        z = height + rng.normal(0.0, 0.03, size=views)
        positions = np.column_stack([xy, z])
        if not all(_position_ok(room, p) for p in positions):
            continue
        targets = centre + _smooth_offsets(rng, views, np.array([0.7, 0.7, 0.3]))
        if np.min(np.linalg.norm(targets[:, :2] - positions[:, :2], axis=1)) < 0.9:
            continue
        rolls = rng.normal(0.0, np.deg2rad(2.0), size=views)
        rotations = np.stack([look_at(p, t, r) for p, t, r in zip(positions, targets, rolls, strict=True)])
        return positions, rotations
    # last resort: the room centre looking around (always inside the room)
    centre = np.array([room.size[0] / 2, room.size[1] / 2, 1.5])
    angles = rng.uniform(0, 2 * np.pi) + np.deg2rad(10) * np.arange(views)
    positions = np.repeat(centre[None], views, axis=0)
    targets = centre + np.stack([np.cos(angles), np.sin(angles), np.full(views, -0.5)], axis=1)
    return positions, np.stack([look_at(p, t) for p, t in zip(positions, targets, strict=True)])
