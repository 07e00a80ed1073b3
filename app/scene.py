"""The Scene: everything about one reconstruction, the single source of truth (evented, Qt-free).

API (stable; later issues extend it through `layers`, `embeddings`, `edit_log`, `metadata`, `Instance.extra`)

Value types
  ViewTransform(crop_box=(left, top, right, bottom), model_size=(H, W), original_size=(H0, W0))
      the region of the original (EXIF-upright) image that was resized to the model grid; resize mode
      = the whole image. `model_to_original(rows, cols)`, `original_to_model(rows, cols)`,
      `labels_to_original(label_map)` (nearest-neighbour map back to original pixels).
  ViewInfo(name, path, sha256, original_size, transform)
  InstanceStats(point_count, bbox_min, bbox_max, centroid, view_pixels {view: pixels},
                consistency in [0, 1] or None, confused_with id or None)
  Instance(id, name, colour (r, g, b), category, visible, locked, stats, extra: dict)
  InstanceEmbeddings(instance_ids (K,), vectors (K, D) float32)   e.g. CLIP features of instances

Scene fields (numpy arrays are read-only views of the truth: change them through the methods)
  views: list[ViewInfo]                  S views, in input order
  images: (S, H, W, 3) uint8             the preprocessed model-resolution images
  extrinsic: (S, 3, 4) float32           world-to-camera, OpenCV axes;  intrinsic: (S, 3, 3) pixels
  depth, depth_conf: (S, H, W) float32
  point_map: (S, H, W, 3) float32        world points of every pixel (source in settings.points_source)
  point_conf: (S, H, W) float32          confidence of point_map
  point_mask: (S, H, W) bool             which pixels are in the point cloud (confidence/background filter)
  features: (S, H, W, C) float16         raw instance features from the network (C = 8)
  labels: (S, H, W) int32                instance id of every pixel, 0 = no instance
  instances: dict[int, Instance]         the instance table, in display order
  embeddings: dict[str, InstanceEmbeddings]   keyed by semantic model id
  layers: dict[str, np.ndarray]          extra per-pixel arrays (S, H, W[, ...]) added by later features
  settings: SceneSettings                the run's settings and what edits set since (app.scene_settings;
                                         frozen: replaced through update_settings)
  model_id: str;  app_version: str;  created: str (ISO time);  edit_log: list[dict];  metadata: dict
  image_storage: "embedded" | "paths"    how scene files keep the images (paths + sha256 only)

Derived (cached, invalidated by the mutating methods)
  n_views, image_size (H, W), n_points
  points (N, 3) float32, point_pixels (N, 3) int32 [view, row, col], point_labels (N,) int32,
  point_rgb (N, 3) uint8, point_confidence (N,)  — N = point_mask.sum(), C order (view, row, col)
  instance_colours() -> {id: rgb};  next_instance_id()

Mutations (each emits one event on `scene.events`)
  set_point_mask(mask)                  -> events.points()
  set_labels(labels, instances)         -> events.labels()  (re-clustering; the table is replaced too)
  update_instance(id, **fields)         -> events.instance_changed(id, field) once per changed field
  add_instance(inst) / remove_instance(id)  -> events.instances()
  set_instances(instances)              -> events.instances()
  set_embeddings(model_id, emb | None)  -> events.embeddings(model_id)
  set_layer(name, array | None)         -> events.layers(name)
  log_edit(entry: dict)                 -> events.edit_log()
  update_settings(**fields)             -> events.settings()  (MISSING removes a setting)
  replace_settings(settings)            -> events.settings()
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from psygnal import Signal, SignalGroup

from app import __version__
from app.colors import Colour, instance_colour

if TYPE_CHECKING:
    from app.scene_settings import SceneSettings

NO_INSTANCE = 0
INSTANCE_FIELDS = ("name", "colour", "category", "visible", "locked", "stats", "extra")


@dataclass(frozen=True)
class ViewTransform:
    """Maps model-grid pixels to original-image pixels (pixel centres at integer coordinates)."""

    crop_box: tuple[float, float, float, float]  # left, top, right, bottom in original pixels
    model_size: tuple[int, int]  # H, W
    original_size: tuple[int, int]  # H0, W0 (after EXIF orientation)

    @classmethod
    def resize(cls, original_size: tuple[int, int], model_size: tuple[int, int]) -> ViewTransform:
        h0, w0 = original_size
        return cls((0.0, 0.0, float(w0), float(h0)), tuple(model_size), tuple(original_size))

    @property
    def scale(self) -> tuple[float, float]:
        """Original pixels per model pixel, (rows, cols)."""
        left, top, right, bottom = self.crop_box
        return (bottom - top) / self.model_size[0], (right - left) / self.model_size[1]

    def model_to_original(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sy, sx = self.scale
        left, top = self.crop_box[0], self.crop_box[1]
        return top + (np.asarray(rows) + 0.5) * sy - 0.5, left + (np.asarray(cols) + 0.5) * sx - 0.5

    def original_to_model(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sy, sx = self.scale
        left, top = self.crop_box[0], self.crop_box[1]
        return (np.asarray(rows) + 0.5 - top) / sy - 0.5, (np.asarray(cols) + 0.5 - left) / sx - 0.5

    def labels_to_original(self, label_map: np.ndarray, fill: int = NO_INSTANCE) -> np.ndarray:
        """Nearest-neighbour resample a (H, W[, ...]) model-grid map to (H0, W0[, ...]) original pixels.

        Original pixels outside the crop box (crop modes) get ``fill``.
        """
        h, w = self.model_size
        h0, w0 = self.original_size
        if label_map.shape[:2] != (h, w):
            raise ValueError(f"label map is {label_map.shape[:2]}, expected {(h, w)}")
        r, _ = self.original_to_model(np.arange(h0), np.zeros(h0))
        _, c = self.original_to_model(np.zeros(w0), np.arange(w0))
        ri = np.floor(r + 0.5).astype(np.int64)
        ci = np.floor(c + 0.5).astype(np.int64)
        rows_ok = (ri >= 0) & (ri < h)
        cols_ok = (ci >= 0) & (ci < w)
        out = label_map[np.clip(ri, 0, h - 1)][:, np.clip(ci, 0, w - 1)]
        if not (rows_ok.all() and cols_ok.all()):
            out = out.copy()
            out[~rows_ok] = fill
            out[:, ~cols_ok] = fill
        return out

    def to_json(self) -> dict:
        return {
            "crop_box": list(self.crop_box),
            "model_size": list(self.model_size),
            "original_size": list(self.original_size),
        }

    @classmethod
    def from_json(cls, d: Mapping) -> ViewTransform:
        return cls(
            tuple(float(v) for v in d["crop_box"]),
            tuple(int(v) for v in d["model_size"]),
            tuple(int(v) for v in d["original_size"]),
        )


@dataclass(frozen=True)
class ViewInfo:
    name: str  # file name shown to users
    path: str  # absolute path of the original image
    sha256: str  # of the original file's bytes
    original_size: tuple[int, int]  # H0, W0 after EXIF orientation
    transform: ViewTransform

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "path": self.path,
            "sha256": self.sha256,
            "original_size": list(self.original_size),
            "transform": self.transform.to_json(),
        }

    @classmethod
    def from_json(cls, d: Mapping) -> ViewInfo:
        return cls(
            str(d["name"]),
            str(d["path"]),
            str(d["sha256"]),
            tuple(int(v) for v in d["original_size"]),
            ViewTransform.from_json(d["transform"]),
        )


@dataclass(frozen=True)
class InstanceStats:
    point_count: int = 0
    bbox_min: tuple[float, float, float] | None = None
    bbox_max: tuple[float, float, float] | None = None
    centroid: tuple[float, float, float] | None = None
    view_pixels: dict[int, int] = field(default_factory=dict)  # view index -> pixels of the instance
    consistency: float | None = None  # cross-view mask agreement in [0, 1]; None = not measurable
    confused_with: int | None = None  # instance its masks most often disagree with

    @property
    def views(self) -> list[int]:
        return sorted(v for v, n in self.view_pixels.items() if n > 0)

    def to_json(self) -> dict:
        return {
            "point_count": int(self.point_count),
            "bbox_min": None if self.bbox_min is None else [float(v) for v in self.bbox_min],
            "bbox_max": None if self.bbox_max is None else [float(v) for v in self.bbox_max],
            "centroid": None if self.centroid is None else [float(v) for v in self.centroid],
            "view_pixels": {str(k): int(v) for k, v in sorted(self.view_pixels.items())},
            "consistency": None if self.consistency is None else float(self.consistency),
            "confused_with": self.confused_with,
        }

    @classmethod
    def from_json(cls, d: Mapping) -> InstanceStats:
        def vec(key: str) -> tuple[float, float, float] | None:
            v = d.get(key)
            return None if v is None else tuple(float(x) for x in v)

        cw = d.get("confused_with")
        cons = d.get("consistency")
        return cls(
            point_count=int(d.get("point_count", 0)),
            bbox_min=vec("bbox_min"),
            bbox_max=vec("bbox_max"),
            centroid=vec("centroid"),
            view_pixels={int(k): int(v) for k, v in dict(d.get("view_pixels", {})).items()},
            consistency=None if cons is None else float(cons),
            confused_with=None if cw is None else int(cw),
        )


@dataclass(frozen=True)
class Instance:
    id: int
    name: str
    colour: Colour
    category: str | None = None
    visible: bool = True
    locked: bool = False
    stats: InstanceStats = field(default_factory=InstanceStats)
    extra: dict[str, Any] = field(default_factory=dict)  # JSON-able, for later features

    @classmethod
    def new(cls, instance_id: int, **kw: Any) -> Instance:
        kw.setdefault("name", f"instance {instance_id}")
        kw.setdefault("colour", instance_colour(instance_id - 1))
        return cls(id=instance_id, **kw)

    def to_json(self) -> dict:
        return {
            "id": int(self.id),
            "name": self.name,
            "colour": [int(c) for c in self.colour],
            "category": self.category,
            "visible": bool(self.visible),
            "locked": bool(self.locked),
            "stats": self.stats.to_json(),
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, d: Mapping) -> Instance:
        colour = tuple(int(c) for c in d["colour"])
        if len(colour) != 3 or not all(0 <= c <= 255 for c in colour):
            raise ValueError(f"bad colour {d['colour']!r}")
        return cls(
            id=int(d["id"]),
            name=str(d["name"]),
            colour=colour,
            category=None if d.get("category") is None else str(d["category"]),
            visible=bool(d.get("visible", True)),
            locked=bool(d.get("locked", False)),
            stats=InstanceStats.from_json(d.get("stats", {})),
            extra=dict(d.get("extra", {})),
        )


@dataclass(frozen=True)
class InstanceEmbeddings:
    instance_ids: np.ndarray  # (K,) int32
    vectors: np.ndarray  # (K, D) float32

    def __post_init__(self) -> None:
        ids = np.asarray(self.instance_ids, dtype=np.int32).reshape(-1)
        vec = np.asarray(self.vectors, dtype=np.float32)
        if vec.ndim != 2 or vec.shape[0] != ids.shape[0]:
            raise ValueError(f"embeddings: {ids.shape[0]} ids but vectors of shape {vec.shape}")
        object.__setattr__(self, "instance_ids", ids)
        object.__setattr__(self, "vectors", vec)


class SceneEvents(SignalGroup):
    points = Signal()  # point_mask changed
    labels = Signal()  # label maps (and with them the instance table) replaced
    instances = Signal()  # instance table changed structurally (add/remove/replace/reorder)
    instance_changed = Signal(int, str)  # (instance id, field name) one field of one instance changed
    embeddings = Signal(str)  # semantic model id
    layers = Signal(str)  # layer name
    edit_log = Signal()
    settings = Signal()


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


class Scene:
    """One reconstruction. See the module docstring for the full API."""

    def __init__(
        self,
        *,
        views: list[ViewInfo],
        images: np.ndarray,
        extrinsic: np.ndarray,
        intrinsic: np.ndarray,
        depth: np.ndarray,
        depth_conf: np.ndarray,
        point_map: np.ndarray,
        point_conf: np.ndarray,
        point_mask: np.ndarray,
        features: np.ndarray,
        labels: np.ndarray | None = None,
        instances: Iterable[Instance] = (),
        embeddings: Mapping[str, InstanceEmbeddings] | None = None,
        layers: Mapping[str, np.ndarray] | None = None,
        settings: SceneSettings | Mapping[str, Any] | None = None,
        model_id: str = "",
        app_version: str = __version__,
        created: str | None = None,
        edit_log: Iterable[dict] = (),
        metadata: Mapping[str, Any] | None = None,
        image_storage: str = "embedded",
    ) -> None:
        self.events = SceneEvents()
        self.views = list(views)
        self.images = _readonly(np.ascontiguousarray(images, dtype=np.uint8))
        self.extrinsic = _readonly(np.asarray(extrinsic, dtype=np.float32))
        self.intrinsic = _readonly(np.asarray(intrinsic, dtype=np.float32))
        self.depth = _readonly(np.asarray(depth, dtype=np.float32))
        self.depth_conf = _readonly(np.asarray(depth_conf, dtype=np.float32))
        self.point_map = _readonly(np.asarray(point_map, dtype=np.float32))
        self.point_conf = _readonly(np.asarray(point_conf, dtype=np.float32))
        self.point_mask = _readonly(np.asarray(point_mask, dtype=bool))
        self.features = _readonly(np.asarray(features, dtype=np.float16))
        s, h, w = self.depth.shape if self.depth.ndim == 3 else (0, 0, 0)
        if labels is None:
            labels = np.zeros((s, h, w), dtype=np.int32)
        self.labels = _readonly(np.asarray(labels, dtype=np.int32))
        self.instances: dict[int, Instance] = {i.id: i for i in instances}
        self.embeddings: dict[str, InstanceEmbeddings] = dict(embeddings or {})
        self.layers: dict[str, np.ndarray] = {k: _readonly(v) for k, v in (layers or {}).items()}
        from app.scene_settings import SceneSettings  # here: it imports modules that import this one

        if not isinstance(settings, SceneSettings):
            settings = SceneSettings.from_json(settings or {})
        self.settings: SceneSettings = settings
        self.model_id = model_id
        self.app_version = app_version
        self.created = created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        self.edit_log: list[dict] = list(edit_log)
        self.metadata: dict[str, Any] = dict(metadata or {})
        if image_storage not in ("embedded", "paths"):
            raise ValueError(f"image_storage must be 'embedded' or 'paths', not {image_storage!r}")
        self.image_storage = image_storage
        self.load_warnings: list[str] = []  # set by scene_io.load_scene; never saved
        self.loaded_stamp: tuple[int, int] | None = None  # (size, mtime_ns) of the file read; never saved
        self._cache: dict[str, np.ndarray] = {}
        self.validate()

    # ----------------------------------------------------------------------------------------- checks
    def validate(self) -> None:
        """Raise ValueError when arrays, views and the instance table do not fit together."""
        if self.depth.ndim != 3:
            raise ValueError(f"depth must be (S, H, W), got {self.depth.shape}")
        s, h, w = self.depth.shape
        if s < 1 or h < 1 or w < 1:
            raise ValueError(f"empty scene: depth shape {self.depth.shape}")
        expect = {
            "images": (s, h, w, 3),
            "extrinsic": (s, 3, 4),
            "intrinsic": (s, 3, 3),
            "depth_conf": (s, h, w),
            "point_map": (s, h, w, 3),
            "point_conf": (s, h, w),
            "point_mask": (s, h, w),
            "labels": (s, h, w),
        }
        for name, shape in expect.items():
            got = getattr(self, name).shape
            if got != shape:
                raise ValueError(f"{name} has shape {got}, expected {shape}")
        if self.features.ndim != 4 or self.features.shape[:3] != (s, h, w):
            raise ValueError(f"features has shape {self.features.shape}, expected ({s}, {h}, {w}, C)")
        if len(self.views) != s:
            raise ValueError(f"{len(self.views)} view records for {s} views")
        for name in ("extrinsic", "intrinsic", "depth", "depth_conf", "point_map", "point_conf"):
            if not np.isfinite(getattr(self, name)).all():
                raise ValueError(f"{name} contains NaN or infinite values")
        for v in self.views:
            if tuple(v.transform.model_size) != (h, w):
                raise ValueError(
                    f"view {v.name!r}: transform is for {v.transform.model_size}, scene is {(h, w)}"
                )
        for iid in self.instances:
            if iid <= NO_INSTANCE:
                raise ValueError(f"instance id {iid} must be positive")
        present = np.unique(self.labels)
        unknown = [int(i) for i in present if i != NO_INSTANCE and int(i) not in self.instances]
        if unknown:
            raise ValueError(f"labels use instance ids missing from the instance table: {unknown[:10]}")
        for name, layer in self.layers.items():
            if layer.shape[:3] != (s, h, w):
                raise ValueError(f"layer {name!r} has shape {layer.shape}, expected ({s}, {h}, {w}, ...)")

    # --------------------------------------------------------------------------------------- derived
    @property
    def n_views(self) -> int:
        return int(self.depth.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.depth.shape[1]), int(self.depth.shape[2])

    def _cached(self, key: str, make) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = _readonly(make())
        return self._cache[key]

    @property
    def n_points(self) -> int:
        return int(self.point_pixels.shape[0])

    @property
    def point_pixels(self) -> np.ndarray:
        """(N, 3) int32 [view, row, col] of every point in the cloud."""
        return self._cached("pixels", lambda: np.stack(np.nonzero(self.point_mask), axis=1).astype(np.int32))

    @property
    def points(self) -> np.ndarray:
        return self._cached("points", lambda: self.point_map[self.point_mask])

    @property
    def point_labels(self) -> np.ndarray:
        return self._cached("labels", lambda: self.labels[self.point_mask])

    @property
    def point_rgb(self) -> np.ndarray:
        return self._cached("rgb", lambda: self.images[self.point_mask])

    @property
    def point_confidence(self) -> np.ndarray:
        return self._cached("conf", lambda: self.point_conf[self.point_mask])

    def instance_colours(self) -> dict[int, Colour]:
        return {i: inst.colour for i, inst in self.instances.items()}

    def next_instance_id(self) -> int:
        return max(self.instances, default=NO_INSTANCE) + 1

    def instance_mask(self, instance_id: int, view: int) -> np.ndarray:
        """(H, W) bool mask of one instance in one view (model resolution)."""
        return self.labels[view] == instance_id

    def instance_mask_original(self, instance_id: int, view: int) -> np.ndarray:
        """(H0, W0) bool mask of one instance in one view at the original image's resolution."""
        return self.views[view].transform.labels_to_original(self.labels[view] == instance_id, fill=False)

    def labels_original(self, view: int) -> np.ndarray:
        """(H0, W0) int32 label map of one view at the original image's resolution."""
        return self.views[view].transform.labels_to_original(self.labels[view])

    # ------------------------------------------------------------------------------------- mutations
    def set_point_mask(self, mask: np.ndarray) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.point_mask.shape:
            raise ValueError(f"point mask has shape {mask.shape}, expected {self.point_mask.shape}")
        self.point_mask = _readonly(mask.copy())
        self._cache.clear()
        self.events.points.emit()

    def set_labels(self, labels: np.ndarray, instances: Iterable[Instance]) -> None:
        """Replace the label maps and the instance table together (e.g. after re-clustering)."""
        labels = np.asarray(labels, dtype=np.int32)
        if labels.shape != self.labels.shape:
            raise ValueError(f"labels have shape {labels.shape}, expected {self.labels.shape}")
        table = {i.id: i for i in instances}
        unknown = sorted(set(np.unique(labels).tolist()) - set(table) - {NO_INSTANCE})
        if unknown:
            raise ValueError(f"labels use instance ids missing from the instance table: {unknown[:10]}")
        self.labels = _readonly(labels.copy())
        self.instances = table
        self._cache.pop("labels", None)
        self.events.labels.emit()
        self.events.instances.emit()

    def update_instance(self, instance_id: int, **fields: Any) -> Instance:
        """Change fields of one instance (name, colour, category, visible, locked, stats, extra)."""
        if instance_id not in self.instances:
            raise KeyError(f"no instance {instance_id}")
        bad = set(fields) - set(INSTANCE_FIELDS)
        if bad:
            raise ValueError(f"unknown instance fields: {sorted(bad)}")
        if "colour" in fields:
            fields["colour"] = tuple(int(c) for c in fields["colour"])
        old = self.instances[instance_id]
        new = replace(old, **fields)
        self.instances[instance_id] = new
        for name in fields:
            if getattr(old, name) != getattr(new, name):
                self.events.instance_changed.emit(instance_id, name)
        return new

    def add_instance(self, instance: Instance) -> None:
        if instance.id in self.instances or instance.id <= NO_INSTANCE:
            raise ValueError(f"instance id {instance.id} is taken or invalid")
        self.instances[instance.id] = instance
        self.events.instances.emit()

    def remove_instance(self, instance_id: int) -> Instance:
        """Remove an instance from the table; its pixels must have been relabelled first."""
        if np.any(self.labels == instance_id):
            raise ValueError(f"instance {instance_id} still labels pixels; relabel them first")
        inst = self.instances.pop(instance_id)
        self.events.instances.emit()
        return inst

    def set_instances(self, instances: Iterable[Instance]) -> None:
        """Replace the table (same label maps), e.g. to reorder or refresh statistics."""
        table = {i.id: i for i in instances}
        missing = sorted(set(np.unique(self.labels).tolist()) - set(table) - {NO_INSTANCE})
        if missing:
            raise ValueError(f"labels use instance ids missing from the new table: {missing[:10]}")
        self.instances = table
        self.events.instances.emit()

    def set_embeddings(self, model_id: str, embeddings: InstanceEmbeddings | None) -> None:
        if embeddings is None:
            self.embeddings.pop(model_id, None)
        else:
            self.embeddings[model_id] = embeddings
        self.events.embeddings.emit(model_id)

    def set_layer(self, name: str, array: np.ndarray | None) -> None:
        if array is None:
            self.layers.pop(name, None)
        else:
            array = np.asarray(array)
            if array.shape[:3] != self.labels.shape:
                raise ValueError(
                    f"layer {name!r} has shape {array.shape}, expected {self.labels.shape} + ..."
                )
            self.layers[name] = _readonly(array.copy())
        self.events.layers.emit(name)

    def log_edit(self, entry: Mapping[str, Any]) -> None:
        self.edit_log.append(dict(entry))
        self.events.edit_log.emit()

    def update_settings(self, **values: Any) -> None:
        """Replace settings fields (``app.scene_settings.MISSING`` removes one)."""
        self.replace_settings(self.settings.updated(**values))

    def replace_settings(self, settings: SceneSettings) -> None:
        self.settings = settings
        self.events.settings.emit()

    def __repr__(self) -> str:
        h, w = self.image_size
        return (
            f"Scene({self.n_views} views, {h}x{w}, {self.n_points} points, {len(self.instances)} instances)"
        )
