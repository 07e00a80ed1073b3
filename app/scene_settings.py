"""What a scene stores about the run that made it and what edits set since (scene.json's "settings"), as
one typed, frozen record: ``scene.settings``.

`SceneSettings.of_run` is what a reconstruction stores: the run plan's settings plus what the run found
(device, image size, HDBSCAN's parameters, skipped files, notes, timings). Edits change it through
``Scene.update_settings`` (a new record; re-clustering sets ``cluster``/``cluster_params``, Set scale sets
``scale``), undoably (`app.edit_record.SettingsChange`).

The JSON form is exactly the dict the format has always held. ``keys`` is which keys the record holds, in
order, as a dict would: a file's keys as read, a new key appended when an edit sets it, a key removed when
an undo takes it away again. ``extra`` keeps, verbatim, the values this version cannot write back exactly:
keys it does not know (from newer or older versions) and known keys whose stored value is malformed or has
more than it reads (their typed field holds what could be read, or the default). A file read and written
again is therefore unchanged, key for key and in order; an edit of a field drops the kept original.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from app.clustering import ClusterConfig
from app.geometry import DEMO_CONF_PERCENTILE
from app.images import PreprocessConfig
from app.inference import InferenceConfig


class _Missing:
    """An update value that removes a key (``updated(scale=MISSING)``: the scene had no scale)."""

    def __repr__(self) -> str:
        return "MISSING"

    def __copy__(self) -> _Missing:
        return self

    def __deepcopy__(self, memo: dict) -> _Missing:
        return self

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class SkippedFile:
    """An input file the run did not use, and why (``bad``: unreadable or broken, not just another kind)."""

    file: str
    reason: str
    bad: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "reason": self.reason, "bad": self.bad}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SkippedFile:
        return cls(_str(data["file"]), _str(data["reason"]), _bool(data.get("bad", False)))


@dataclass(frozen=True)
class SceneScale:
    """Metres per scene unit (Set scale: two points ``length_m`` apart). ``applied``: the geometry was
    already multiplied by that factor (`app.measure.metric_scene`), so the scene is in metres."""

    metres_per_unit: float
    points: tuple[tuple[float, ...], ...] | None = None
    length_m: float | None = None
    applied: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metres_per_unit": self.metres_per_unit}
        if self.points is not None:
            out["points"] = [list(p) for p in self.points]
        if self.length_m is not None:
            out["length_m"] = self.length_m
        if self.applied is not None:
            out["applied"] = self.applied
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SceneScale:
        points = data.get("points")
        return cls(
            metres_per_unit=_float(data["metres_per_unit"]),
            points=None if points is None else tuple(tuple(_float(v) for v in p) for p in _list(points)),
            length_m=_optional(_float, data.get("length_m")),
            applied=_optional(_float, data.get("applied")),
        )


@dataclass(frozen=True)
class SceneSettings:
    weights: str = "bundled"
    device: str = "cpu"  # where the network ran
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    image_size: tuple[int, int] | None = None  # (H, W) the network saw (stored inside "preprocess")
    points_source: str = "depth"
    conf_percentile: float = DEMO_CONF_PERCENTILE
    background_filter: str = "none"
    mask_dir: str | None = None
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    cluster_params: dict[str, Any] = field(default_factory=dict)  # what HDBSCAN ran with
    skipped_files: tuple[SkippedFile, ...] = ()
    notes: tuple[str, ...] = ()
    timings_s: dict[str, float] = field(default_factory=dict)
    scale: SceneScale | None = None  # set by Set scale (app.measure)
    vocabulary: tuple[str, ...] = ()  # category names offered first when labelling
    extra: dict[str, Any] = field(default_factory=dict)  # JSON values kept verbatim (see the module doc)
    keys: tuple[str, ...] | None = None  # the JSON keys held, in order; None: those a run writes

    def __post_init__(self) -> None:
        if self.keys is None:
            own = (
                RUN_KEYS
                + (("scale",) if self.scale is not None else ())
                + (("vocabulary",) if self.vocabulary else ())
            )
            object.__setattr__(self, "keys", own + tuple(k for k in self.extra if k not in own))

    # ------------------------------------------------------------------------------------ making
    @classmethod
    def of_run(
        cls,
        plan: Any,  # app.run_plan.RunPlan
        device: str,
        image_size: tuple[int, int],
        cluster_params: Mapping[str, Any] | None = None,
        skipped_files: Sequence[SkippedFile] = (),
        notes: Sequence[str] = (),
        timings_s: Mapping[str, float] | None = None,
    ) -> SceneSettings:
        """The settings of a finished run of ``plan`` and what it found."""
        return cls(
            weights=plan.inference.weights, device=device, inference=plan.inference,
            preprocess=plan.preprocess, image_size=(int(image_size[0]), int(image_size[1])),
            points_source=plan.points_source, conf_percentile=plan.conf_percentile,
            background_filter=plan.background_filter, mask_dir=plan.mask_dir, cluster=plan.cluster,
            cluster_params=dict(cluster_params or {}), skipped_files=tuple(skipped_files), notes=tuple(notes),
            timings_s=dict(timings_s or {}),
        )  # fmt: skip

    def has(self, key: str) -> bool:
        """Whether the record holds ``key`` (a scene made by a run holds every run key)."""
        return key in (self.keys or ())

    def updated(self, **values: Any) -> SceneSettings:
        """A copy with fields replaced (``MISSING``: the key removed, the field back at its default)."""
        unknown = set(values) - set(_FIELD_KEY)
        if unknown:
            raise TypeError(f"not a scene setting: {', '.join(sorted(unknown))}")
        keys, extra, changes = list(self.keys or ()), dict(self.extra), {}
        for name, value in values.items():
            key = _FIELD_KEY[name]
            extra.pop(key, None)
            if value is MISSING:
                changes[name] = _default(name)
                if key in keys:
                    keys.remove(key)
            else:
                changes[name] = value
                if key not in keys:
                    keys.append(key)
        return replace(self, **changes, extra=extra, keys=tuple(keys))

    def taken_from(self, other: SceneSettings, names: Iterable[str]) -> SceneSettings:
        """A copy with the fields ``names`` as ``other`` holds them: value, presence, kept original."""
        names = list(names)
        out = self.updated(**{n: other.field_value(n) for n in names})
        kept = {k: other.extra[k] for k in {_FIELD_KEY[n] for n in names} if k in other.extra}
        return replace(out, extra={**out.extra, **kept}) if kept else out

    def field_value(self, name: str) -> Any:
        """A field's value, or ``MISSING`` when the record does not hold its key (for undo records)."""
        return getattr(self, name) if self.has(_FIELD_KEY[name]) else MISSING

    # ------------------------------------------------------------------------------------- JSON
    def to_json(self) -> dict[str, Any]:
        """scene.json's "settings": the held keys in order, kept values verbatim."""
        out: dict[str, Any] = {}
        for key in self.keys or ():
            out[key] = copy.deepcopy(self.extra[key]) if key in self.extra else _WRITE[key](self)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SceneSettings:
        """Any version's settings; never fails on a value (a malformed one is kept in ``extra``)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"scene settings must be a JSON object, not {type(data).__name__}")
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, raw in data.items():
            if key not in _READ:
                extra[key] = raw
                continue
            try:
                values.update(_READ[key](raw))
            except (TypeError, ValueError, LookupError, AttributeError):
                extra[key] = raw
        read = cls(**values, extra=extra, keys=tuple(str(k) for k in data))
        inexact = {
            k: raw
            for k, raw in data.items()
            if k in _READ and k not in extra and _dump(_WRITE[k](read)) != _dump(raw)
        }
        return replace(read, extra={**extra, **inexact}) if inexact else read


# ------------------------------------------------------------------------------- field <-> JSON
RUN_KEYS = (
    "weights", "device", "inference", "preprocess", "points_source", "conf_percentile", "background_filter",
    "mask_dir", "cluster", "cluster_params", "skipped_files", "notes", "timings_s",
)  # fmt: skip


def _dump(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"not a string: {v!r}")
    return v


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"not a boolean: {v!r}")
    return v


def _float(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"not a number: {v!r}")
    return float(v)


def _list(v: Any) -> list:
    if not isinstance(v, list):
        raise TypeError(f"not a list: {v!r}")
    return v


def _dict(v: Any) -> dict:
    if not isinstance(v, Mapping):
        raise TypeError(f"not an object: {v!r}")
    return dict(v)


def _optional(read: Callable[[Any], Any], v: Any) -> Any:
    return None if v is None else read(v)


def _known(kind: type, data: Any) -> Any:
    return kind(**{k: v for k, v in _dict(data).items() if k in kind.__dataclass_fields__})


def _read_preprocess(raw: Any) -> dict[str, Any]:
    pre = _dict(raw)
    size = pre.pop("image_size", None)
    try:  # a malformed size is read as none (the stored value is kept verbatim, see from_json)
        h, w = _list(size)
        image_size: tuple[int, int] | None = (int(h), int(w))
    except (TypeError, ValueError):
        image_size = None
    return {"preprocess": _known(PreprocessConfig, pre), "image_size": image_size}


def _write_preprocess(s: SceneSettings) -> dict[str, Any]:
    out = asdict(s.preprocess)
    if s.image_size is not None:
        out["image_size"] = list(s.image_size)
    return out


_READ: dict[str, Callable[[Any], dict[str, Any]]] = {
    "weights": lambda v: {"weights": _str(v)},
    "device": lambda v: {"device": _str(v)},
    "inference": lambda v: {"inference": _known(InferenceConfig, v)},
    "preprocess": _read_preprocess,
    "points_source": lambda v: {"points_source": _str(v)},
    "conf_percentile": lambda v: {"conf_percentile": _float(v)},
    "background_filter": lambda v: {"background_filter": _str(v)},
    "mask_dir": lambda v: {"mask_dir": _optional(_str, v)},
    "cluster": lambda v: {"cluster": ClusterConfig.from_json(_dict(v))},
    "cluster_params": lambda v: {"cluster_params": _dict(v)},
    "skipped_files": lambda v: {"skipped_files": tuple(SkippedFile.from_json(_dict(s)) for s in _list(v))},
    "notes": lambda v: {"notes": tuple(_str(n) for n in _list(v))},
    "timings_s": lambda v: {"timings_s": _dict(v)},
    "scale": lambda v: {"scale": _optional(lambda d: SceneScale.from_json(_dict(d)), v)},
    "vocabulary": lambda v: {"vocabulary": tuple(_str(n) for n in _list(v))},
}
_WRITE: dict[str, Callable[[SceneSettings], Any]] = {
    "weights": lambda s: s.weights,
    "device": lambda s: s.device,
    "inference": lambda s: asdict(s.inference),
    "preprocess": _write_preprocess,
    "points_source": lambda s: s.points_source,
    "conf_percentile": lambda s: s.conf_percentile,
    "background_filter": lambda s: s.background_filter,
    "mask_dir": lambda s: s.mask_dir,
    "cluster": lambda s: s.cluster.to_json(),
    "cluster_params": lambda s: copy.deepcopy(dict(s.cluster_params)),
    "skipped_files": lambda s: [f.to_json() for f in s.skipped_files],
    "notes": lambda s: list(s.notes),
    "timings_s": lambda s: dict(s.timings_s),
    "scale": lambda s: None if s.scale is None else s.scale.to_json(),
    "vocabulary": lambda s: list(s.vocabulary),
}
_FIELD_KEY = {f.name: f.name for f in fields(SceneSettings) if f.name not in ("extra", "keys")}
_FIELD_KEY["image_size"] = "preprocess"


def _default(name: str) -> Any:
    f = SceneSettings.__dataclass_fields__[name]
    return f.default_factory() if callable(f.default_factory) else f.default
