"""Measuring and the scene's scale (Qt-free).

A reconstruction comes out in arbitrary units. "Set scale" takes two points and their real length (a door
width, say) and stores metres per scene unit in ``scene.settings.scale`` (an undoable edit, saved
with the scene). Measurements are then shown in metres, and exports (PLY, GLB, COLMAP, the table's
centroids and boxes) write metric geometry: ``metric_scene`` is the scaled copy the exporters get.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.edits import Edit, EditError, SettingsChange
from app.scene import Scene
from app.scene_settings import SceneScale

MIN_SPAN = 1e-9


def _point(p: Sequence[float], what: str) -> np.ndarray:
    try:
        arr = np.asarray(p, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise EditError(f"{what} is not a 3D point: {p!r}") from None
    if arr.shape != (3,) or not np.isfinite(arr).all():
        raise EditError(f"{what} is not a finite 3D point: {p!r}")
    return arr


def scene_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Distance between two points in scene units."""
    return float(np.linalg.norm(_point(a, "the first point") - _point(b, "the second point")))


def scale_of(scene: Scene) -> float | None:
    """Metres per scene unit, or None when no scale is set."""
    scale = scene.settings.scale
    if scale is None:
        return None
    s = scale.metres_per_unit
    return s if math.isfinite(s) and s > 0 else None


@dataclass(frozen=True)
class Measurement:
    units: float  # scene units
    metres_per_unit: float | None  # the scene's scale, when it has one

    @property
    def metres(self) -> float | None:
        return None if self.metres_per_unit is None else self.units * self.metres_per_unit

    @property
    def text(self) -> str:
        return format_length(self.units, self.metres_per_unit)


def measure(scene: Scene, a: Sequence[float], b: Sequence[float]) -> Measurement:
    return Measurement(scene_distance(a, b), scale_of(scene))


def format_length(units: float, metres_per_unit: float | None) -> str:
    """'1.23 m' / '45.6 cm' / '7.2 mm' with a scale, '0.412 units' without."""
    if metres_per_unit is None:
        return f"{units:.3g} units"
    m = units * metres_per_unit
    if m >= 1.0:
        return f"{m:.3f} m"
    if m >= 0.01:
        return f"{m * 100:.1f} cm"
    return f"{m * 1000:.1f} mm"


MIN_LENGTH_M, MAX_LENGTH_M = 0.001, 1000.0  # a length known in a room (a door, a table)


def parse_length(text: str) -> float:
    """A length typed by the user, in metres: '0.9', '0.9 m', '90 cm', '900mm', '2.5 ft', '36 in'."""
    units = {"": 1.0, "m": 1.0, "cm": 0.01, "mm": 0.001, "km": 1000.0, "in": 0.0254, '"': 0.0254,
             "ft": 0.3048, "'": 0.3048}  # fmt: skip
    t = str(text).strip().lower().replace(",", ".")
    num = t.rstrip("abcdefghijklmnopqrstuvwxyz\"' ")
    unit = t[len(num) :].strip()
    try:
        value = float(num)
    except ValueError:
        raise EditError(f"type a length such as 0.9 m or 90 cm, not {text!r}") from None
    if unit not in units:
        raise EditError(f"unknown unit {unit!r}; use m, cm, mm, in or ft")
    metres = value * units[unit]
    if not math.isfinite(metres) or metres <= 0:
        raise EditError("a length must be positive")
    if not MIN_LENGTH_M <= metres <= MAX_LENGTH_M:  # "1e9 km" made every measurement a trillion metres
        raise EditError("type the real length of something in the room, between 1 mm and 1 km")
    return metres


def set_scale(scene: Scene, a: Sequence[float], b: Sequence[float], length_m: float) -> Edit:
    """The undoable edit storing metres per unit from two points ``a``, ``b`` that are ``length_m`` apart."""
    span = scene_distance(a, b)
    if span < MIN_SPAN:
        raise EditError("pick two different points to set the scale")
    try:
        length = float(length_m)
    except (TypeError, ValueError):
        raise EditError(f"the real length must be a number of metres, not {length_m!r}") from None
    if not math.isfinite(length) or length <= 0:
        raise EditError("the real length must be positive")
    scale = SceneScale(
        metres_per_unit=length / span,
        points=(tuple(float(v) for v in a), tuple(float(v) for v in b)),
        length_m=length,
    )
    return Edit(
        text=f"Set scale: {span:.4g} units = {format_length(length, 1.0)}",
        op="set_scale",
        details={"metres_per_unit": scale.metres_per_unit, "length_m": length},
        settings=SettingsChange.of(scene, {"scale": scale}),
    )


def clear_scale(scene: Scene) -> Edit:
    if scale_of(scene) is None:
        raise EditError("the scene has no scale")
    return Edit(text="Clear scale", op="clear_scale", settings=SettingsChange.of(scene, {"scale": None}))


def scale_from_file(path) -> float:
    """Metres per unit stored in another scene file (``iggt export --scale-from``)."""
    from app.errors import UserError
    from app.scene_io import load_scene

    s = scale_of(load_scene(path))
    if s is None:
        raise UserError(f"{path} has no scale; set one in the viewer (View > Set scale…) first")
    return s


def metric_scene(scene: Scene, metres_per_unit: float | None = None) -> Scene:
    """A copy of ``scene`` with depth, points and camera positions in metres (the scene itself when there
    is no scale). Everything else (images, labels, instances, settings) is shared or copied as is."""
    s = scale_of(scene) if metres_per_unit is None else float(metres_per_unit)
    if s is None or s == 1.0:
        return scene
    if not math.isfinite(s) or s <= 0:
        raise EditError(f"a scale must be a positive number of metres per unit, not {s!r}")
    ext = np.array(scene.extrinsic, dtype=np.float32, copy=True)
    ext[:, :, 3] *= s
    out = Scene(
        views=scene.views,
        images=scene.images,
        extrinsic=ext,
        intrinsic=scene.intrinsic,
        depth=np.asarray(scene.depth) * np.float32(s),
        depth_conf=scene.depth_conf,
        point_map=np.asarray(scene.point_map) * np.float32(s),
        point_conf=scene.point_conf,
        point_mask=scene.point_mask,
        features=scene.features,
        labels=scene.labels,
        instances=scene.instances.values(),
        embeddings=scene.embeddings,
        layers=scene.layers,
        settings=scene.settings.updated(scale=SceneScale(metres_per_unit=1.0, applied=s)),
        model_id=scene.model_id,
        app_version=scene.app_version,
        created=scene.created,
        edit_log=scene.edit_log,
        metadata=scene.metadata,
        image_storage=scene.image_storage,
    )
    out.load_warnings = list(scene.load_warnings)
    return out
