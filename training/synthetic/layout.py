"""Seeded room layouts: room box, furniture groups placed without overlaps, lighting."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.clip.vocabulary import CATEGORY_ID, PALETTE

from .config import RoomConfig
from .furniture import BUILDERS, COLOURS_FOR, Piece, footprint, transform
from .palette import FLOOR_COLOURS, WALL_COLOURS
from .primitives import Part


@dataclass
class Room:
    size: np.ndarray  # (3,) extent; the room spans [0, size] on each axis, z up
    floor_colour: np.ndarray
    wall_colour: np.ndarray
    ceiling_colour: np.ndarray
    floor_pattern: int  # 0 planks, 1 tiles
    plank_axis: int
    light: np.ndarray  # (3,) point light position
    parts: list[Part] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)  # index i <-> instance id i + 1
    footprints: list[np.ndarray] = field(default_factory=list)  # one per piece (monitor: its desk's)

    @property
    def instances(self) -> list[tuple[int, str, str]]:
        return [(i + 1, p.category, p.colour_name) for i, p in enumerate(self.pieces)]


class _Placer:
    def __init__(self, rng: np.random.Generator, room: Room, cfg: RoomConfig):
        self.rng, self.room, self.cfg = rng, room, cfg
        self.rects: list[np.ndarray] = []

    def colour(self, category: str) -> str:
        return str(self.rng.choice(COLOURS_FOR[category]))

    def build(self, category: str, colour: str, **kw) -> tuple[list[Part], float, float]:
        return BUILDERS[category](self.rng, PALETTE[colour], **kw)

    def free(self, rect: np.ndarray, margin: float = 0.05) -> bool:
        lx, ly = self.room.size[:2]
        if rect[0] < 0.0 or rect[1] < 0.0 or rect[2] > lx or rect[3] > ly:
            return False
        for r in self.rects:
            if (
                rect[0] < r[2] + margin
                and r[0] < rect[2] + margin
                and rect[1] < r[3] + margin
                and r[1] < rect[3] + margin
            ):
                return False
        return True

    def commit(self, items: list[tuple[str, str, list[Part], float, float, float, float, int]]) -> bool:
        """Add a group of (category, colour, local parts, w, d, x, y, k) if none overlaps."""
        rects = [footprint(x, y, w, d, k) for _, _, _, w, d, x, y, k in items]
        for i, r in enumerate(rects):
            if not self.free(r):
                return False
            for s in rects[:i]:
                if r[0] < s[2] and s[0] < r[2] and r[1] < s[3] and s[1] < r[3]:
                    return False
        if len(self.room.pieces) + len(items) > self.cfg.max_pieces:
            return False
        for (cat, colour, parts, _w, _d, x, y, k), rect in zip(items, rects, strict=True):
            self.add(cat, colour, parts, x, y, k, rect)
        return True

    def add(self, cat, colour, parts, x, y, k, rect) -> None:
        inst = len(self.room.pieces) + 1
        world = transform(parts, x, y, k)
        for p in world:
            p.instance, p.category = inst, CATEGORY_ID[cat]
        top = max(p.bounds()[1][2] for p in world)
        self.room.pieces.append(Piece(cat, colour, world, rect[2] - rect[0], rect[3] - rect[1], top))
        self.room.parts.extend(world)
        self.room.footprints.append(rect)
        self.rects.append(rect)

    def against_wall(self, w: float, d: float) -> tuple[float, float, int]:
        lx, ly = self.room.size[:2]
        wall = int(self.rng.integers(4))
        gap = 0.02
        if wall == 0:  # y = 0, facing +y
            return self.rng.uniform(w / 2, lx - w / 2), d / 2 + gap, 0
        if wall == 1:  # x = lx, facing -x
            return lx - d / 2 - gap, self.rng.uniform(w / 2, ly - w / 2), 1
        if wall == 2:  # y = ly, facing -y
            return self.rng.uniform(w / 2, lx - w / 2), ly - d / 2 - gap, 2
        return d / 2 + gap, self.rng.uniform(w / 2, ly - w / 2), 3

    def anywhere(self, w: float, d: float) -> tuple[float, float, int]:
        lx, ly = self.room.size[:2]
        k = int(self.rng.integers(4))
        ww, dd = (d, w) if k % 2 else (w, d)
        return self.rng.uniform(ww / 2, lx - ww / 2), self.rng.uniform(dd / 2, ly - dd / 2), k

    def single(self, category: str, colour: str | None = None, wall: bool = True, tries: int = 20) -> bool:
        colour = colour or self.colour(category)
        parts, w, d = self.build(category, colour)
        for _ in range(tries):
            x, y, k = self.against_wall(w, d) if wall else self.anywhere(w, d)
            if self.commit([(category, colour, parts, w, d, x, y, k)]):
                return True
        return False

    def dining(self, tries: int = 20) -> bool:
        tcol = self.colour("table")
        tparts, tw, td = self.build("table", tcol)
        n = int(self.rng.integers(2, 5))
        same = self.rng.random() < self.cfg.same_colour_prob
        ccol = self.colour("chair")
        chairs = []
        # (local offset, relative rotation): chair fronts face the table
        slots = [
            ((0.0, -(td / 2 + 0.15)), 0),
            ((0.0, td / 2 + 0.15), 2),
            ((tw / 2 + 0.15, 0.0), 1),
            ((-(tw / 2 + 0.15), 0.0), 3),
        ]
        if tw > 1.25:
            slots = [
                ((-tw / 4, -(td / 2 + 0.15)), 0),
                ((tw / 4, -(td / 2 + 0.15)), 0),
                ((-tw / 4, td / 2 + 0.15), 2),
                ((tw / 4, td / 2 + 0.15), 2),
                *slots[2:],
            ]
        order = self.rng.permutation(len(slots))[:n]
        for i in order:
            colour = ccol if same else self.colour("chair")
            parts, w, d = self.build("chair", colour)
            (ox, oy), rel = slots[i]
            pull = self.rng.uniform(0.0, 0.2)
            norm = np.hypot(ox, oy) or 1.0
            chairs.append(
                (colour, parts, w, d, ox + ox / norm * (pull + d / 2), oy + oy / norm * (pull + d / 2), rel)
            )
        for _ in range(tries):
            x, y, k = self.anywhere(tw, td)
            k = k % 2
            items = [("table", tcol, tparts, tw, td, x, y, k)]
            cos, sin = [(1, 0), (0, 1)][k]
            for colour, parts, w, d, ox, oy, rel in chairs:
                items.append(
                    (
                        "chair",
                        colour,
                        parts,
                        w,
                        d,
                        x + cos * ox - sin * oy,
                        y + sin * ox + cos * oy,
                        (k + rel) % 4,
                    )
                )
            if self.commit(items):
                return True
        return False

    def workplace(self, tries: int = 20) -> bool:
        dcol = self.colour("desk")
        dparts, dw, dd = self.build("desk", dcol)
        top = max(p.params[5] for p in dparts)
        mcol = self.colour("monitor")
        mparts, _, _ = self.build("monitor", mcol, base_z=top)
        ccol = self.colour("chair")
        cparts, cw, cd = self.build("chair", ccol)
        for _ in range(tries):
            x, y, k = self.against_wall(dw, dd)
            cos, sin = [(1, 0), (0, 1), (-1, 0), (0, -1)][k]

            def at(ox, oy, cos=cos, sin=sin, x=x, y=y):
                return x + cos * ox - sin * oy, y + sin * ox + cos * oy

            mx, my = at(self.rng.uniform(-0.15, 0.15), -dd / 2 + 0.15)
            cx, cy = at(self.rng.uniform(-0.2, 0.2), dd / 2 + cd / 2 + self.rng.uniform(0.05, 0.3))
            desk_rect = footprint(x, y, dw, dd, k)
            chair_item = ("chair", ccol, cparts, cw, cd, cx, cy, (k + 2) % 4)
            if not self.commit([("desk", dcol, dparts, dw, dd, x, y, k), chair_item]):
                continue
            # the monitor stands on the desk: it shares the desk's footprint, no overlap test
            self.add("monitor", mcol, mparts, mx, my, k, desk_rect)
            return True
        return False

    def boxes(self) -> None:
        n = int(self.rng.integers(1, 4))
        same = self.rng.random() < self.cfg.same_colour_prob
        col = self.colour("box")
        for _ in range(n):
            self.single("box", col if same else None, wall=self.rng.random() < 0.5)


def sample_room(rng: np.random.Generator, cfg: RoomConfig) -> Room:
    size = np.array([rng.uniform(*cfg.room_size), rng.uniform(*cfg.room_size), rng.uniform(*cfg.room_height)])
    room = Room(
        size=size,
        floor_colour=np.array(FLOOR_COLOURS[int(rng.integers(len(FLOOR_COLOURS)))], np.float32),
        wall_colour=np.array(WALL_COLOURS[int(rng.integers(len(WALL_COLOURS)))], np.float32),
        ceiling_colour=np.array((0.93, 0.93, 0.92), np.float32),
        floor_pattern=int(rng.integers(2)),
        plank_axis=int(rng.integers(2)),
        light=np.array([rng.uniform(0.3, 0.7) * size[0], rng.uniform(0.3, 0.7) * size[1], size[2] - 0.15]),
    )
    placer = _Placer(rng, room, cfg)
    kind = int(rng.integers(3))  # 0 living room, 1 bedroom, 2 office
    if kind == 0:
        placer.single("sofa")
        placer.dining()
        for _ in range(int(rng.integers(1, 3))):
            placer.single("cabinet")
        placer.single("shelf")
    elif kind == 1:
        placer.single("bed")
        placer.workplace()
        twin = rng.random() < cfg.same_colour_prob
        col = placer.colour("cabinet")
        for _ in range(int(rng.integers(1, 3))):
            placer.single("cabinet", col if twin else None)
    else:
        for _ in range(int(rng.integers(2, 4))):
            placer.workplace()
        placer.single("shelf")
        placer.single("cabinet")
    for _ in range(int(rng.integers(1, 3))):
        placer.single("lamp", wall=rng.random() < 0.7)
    for _ in range(int(rng.integers(1, 3))):
        placer.single("plant", wall=rng.random() < 0.6)
    placer.boxes()
    if rng.random() < 0.5:
        placer.dining() if kind != 0 else placer.single("table", wall=False)
    return room
