"""Deterministic, seeded ray-cast renderer of furnished rooms (numpy only, one CPU core).

``render_room(seed, views, height, width)`` draws a room layout, a walk-through camera path and
ray-casts every view analytically: RGB, z-depth, instance ids, category ids. Cameras are returned
in the IGGT training convention: world-to-camera OpenCV extrinsics expressed in the frame of the
first camera (so ``extrinsic[0]`` is the identity), depths in metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.clip.vocabulary import CATEGORY_ID

from .cameras import intrinsic_matrix, sample_cameras
from .config import RoomConfig
from .layout import Room, sample_room
from .primitives import Part, hit_part, part_normals, safe_inverse
from .shading import contact_shadow, floor_albedo, lighting, part_texture, wall_albedo


@dataclass
class SyntheticScene:
    images: np.ndarray  # uint8 (V, H, W, 3)
    depth: np.ndarray  # float32 (V, H, W), z-depth in metres (> 0 everywhere)
    extrinsic: np.ndarray  # float32 (V, 3, 4), world-to-camera OpenCV, extrinsic[0] = [I | 0]
    intrinsic: np.ndarray  # float32 (V, 3, 3), pixels, principal point at (W/2, H/2)
    instance_ids: np.ndarray  # int32 (V, H, W), 0 = floor / wall / ceiling
    category_ids: np.ndarray  # int32 (V, H, W), see palette.CATEGORIES
    instances: list[tuple[int, str, str]]  # (id, category, colour name) of every furniture piece
    seed: int = 0

    @property
    def views(self) -> int:
        return int(self.images.shape[0])


def _check_size(views: int, height: int, width: int) -> None:
    if views < 1:
        raise ValueError(f"views must be at least 1, got {views}")
    if height <= 0 or width <= 0 or height % 28 or width % 28:
        raise ValueError(
            f"image size must be positive multiples of 28 (the model's patch grid), got {height}x{width}"
        )


def _screen_rect(part: Part, position, w2c_rot, k, height, width):
    """Pixel rectangle (v0, v1, u0, u1) covering the part's bounding box, or None if unseen."""
    lo, hi = part.bounds()
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    cam = (corners - position) @ w2c_rot.T
    zc = cam[:, 2]
    if np.all(zc <= 1e-3):
        return None
    if np.any(zc <= 1e-3):
        return 0, height, 0, width
    u = k[0, 0] * cam[:, 0] / zc + k[0, 2]
    v = k[1, 1] * cam[:, 1] / zc + k[1, 2]
    u0, u1 = max(int(np.floor(u.min())) - 1, 0), min(int(np.ceil(u.max())) + 2, width)
    v0, v1 = max(int(np.floor(v.min())) - 1, 0), min(int(np.ceil(v.max())) + 2, height)
    if u0 >= u1 or v0 >= v1:
        return None
    return v0, v1, u0, u1


def _render_view(room: Room, position, c2w, k, height, width, cfg: RoomConfig, rng):
    us = (np.arange(width, dtype=np.float32) - k[0, 2]) / k[0, 0]
    vs = (np.arange(height, dtype=np.float32) - k[1, 2]) / k[1, 1]
    c2w = c2w.astype(np.float32)
    d = [c2w[a, 0] * us[None, :] + c2w[a, 1] * vs[:, None] + c2w[a, 2] for a in range(3)]
    inv = [safe_inverse(x) for x in d]
    o = [float(c) for c in position]

    # room shell seen from inside: the nearest exit plane along each axis
    exits = np.stack([((d[a] > 0) * float(room.size[a]) - o[a]) * inv[a] for a in range(3)])
    face = np.argmin(exits, axis=0)
    zbuf = np.min(exits, axis=0).astype(np.float32)
    pidx = np.full((height, width), -1, dtype=np.int32)

    w2c = c2w.T
    for i, part in enumerate(room.parts):
        rect = _screen_rect(part, np.asarray(position), w2c, k, height, width)
        if rect is None:
            continue
        s = np.s_[rect[0] : rect[1], rect[2] : rect[3]]
        t = hit_part(part, o, (d[0][s], d[1][s], d[2][s]), (inv[0][s], inv[1][s], inv[2][s]))
        closer = t < zbuf[s]
        if closer.any():
            zbuf[s] = np.where(closer, t, zbuf[s])
            pidx[s][closer] = i

    p = np.stack([o[a] + zbuf * d[a] for a in range(3)], axis=-1)  # (H, W, 3) world points
    normal = np.zeros((height, width, 3), np.float32)
    albedo = np.zeros((height, width, 3), np.float32)
    category = np.zeros((height, width), np.int32)
    instance = np.zeros((height, width), np.int32)

    shell = pidx < 0
    for a in range(3):
        m = shell & (face == a)
        normal[..., a][m] = -np.sign(d[a][m])
    floor = shell & (face == 2) & (d[2] < 0)
    ceiling = shell & (face == 2) & (d[2] > 0)
    wall = shell & (face != 2)
    category[floor], category[ceiling], category[wall] = (
        CATEGORY_ID["floor"],
        CATEGORY_ID["ceiling"],
        CATEGORY_ID["wall"],
    )
    albedo[floor] = floor_albedo(room, p[floor][:, 0], p[floor][:, 1])
    albedo[ceiling] = room.ceiling_colour
    pw = p[wall]
    albedo[wall] = wall_albedo(room, pw[:, 0], pw[:, 1], pw[:, 2])

    flat = np.flatnonzero(~shell)
    if flat.size:
        ids = pidx.ravel()[flat]
        order = np.argsort(ids, kind="stable")
        flat, ids = flat[order], ids[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        ends = np.r_[starts[1:], ids.size]
        pf, nf, af = p.reshape(-1, 3), normal.reshape(-1, 3), albedo.reshape(-1, 3)
        cf, inf_ = category.ravel(), instance.ravel()
        for a, b in zip(starts, ends, strict=True):
            part = room.parts[ids[a]]
            idx = flat[a:b]
            pts = pf[idx]
            n = part_normals(part, pts)
            nf[idx] = n
            af[idx] = np.clip(
                np.asarray(part.colour, np.float32) * part_texture(part.texture, pts, n)[:, None], 0, 1
            )
            cf[idx] = part.category
            inf_[idx] = part.instance

    visible = _shadow_rays(room, p, normal) if cfg.shadows else None
    light = lighting(room, p, normal, visible)
    if cfg.contact_shadows:
        light[floor] *= contact_shadow(room, p[floor][:, 0], p[floor][:, 1])
    exposure = 1.0 + rng.uniform(-cfg.exposure_jitter, cfg.exposure_jitter)
    colour = np.clip(albedo * (light * exposure)[..., None], 0.0, 1.0) ** (1 / 1.5)
    if cfg.noise_std > 0:
        colour = colour + rng.normal(0.0, cfg.noise_std, size=colour.shape).astype(np.float32)
    image = np.clip(colour * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return image, zbuf, instance, category


def _shadow_rays(room: Room, p: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """1 where the ceiling light is visible from the surface point, else 0 (hard shadows)."""
    origin = p + normal * 2e-3
    to_light = room.light - origin
    d = [to_light[..., a] for a in range(3)]
    inv = [safe_inverse(x) for x in d]
    o = [origin[..., a] for a in range(3)]
    lit = np.ones(p.shape[:2], np.float32)
    for part in room.parts:
        hi = part.bounds()[1]
        if hi[2] < 0.05:
            continue
        below = origin[..., 2] < hi[2]  # the light is above all furniture
        if not below.any():
            continue
        t = hit_part(part, o, d, inv, t_min=1e-4)
        lit[below & (t < 1.0)] = 0.0
    return lit


def _relative_to_first(positions: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """World-to-camera extrinsics (V, 3, 4) re-expressed in the first camera's frame."""
    r_w2c = np.transpose(rotations, (0, 2, 1))
    t_w2c = -np.einsum("vij,vj->vi", r_w2c, positions)
    r0, t0 = r_w2c[0], t_w2c[0]
    r = r_w2c @ r0.T
    t = t_w2c - np.einsum("vij,j->vi", r, t0)
    ext = np.concatenate([r, t[..., None]], axis=-1)
    ext[0] = np.eye(3, 4)
    return ext


def render_room(
    seed: int, views: int, height: int, width: int, config: RoomConfig | None = None
) -> SyntheticScene:
    """Render ``views`` views of the room drawn from ``seed`` (same seed -> identical scene)."""
    _check_size(views, height, width)
    cfg = config or RoomConfig()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x1997]))
    room = sample_room(rng, cfg)
    positions, rotations = sample_cameras(rng, room, views, cfg)
    hfov = np.deg2rad(rng.uniform(*cfg.hfov_deg))
    k = intrinsic_matrix(height, width, hfov)
    out = [_render_view(room, positions[v], rotations[v], k, height, width, cfg, rng) for v in range(views)]
    images, depth, instance, category = (np.stack(x) for x in zip(*out, strict=True))
    return SyntheticScene(
        images=images,
        depth=depth.astype(np.float32),
        extrinsic=_relative_to_first(positions, rotations).astype(np.float32),
        intrinsic=np.repeat(k[None], views, axis=0).astype(np.float32),
        instance_ids=instance.astype(np.int32),
        category_ids=category.astype(np.int32),
        instances=room.instances,
        seed=int(seed),
    )
