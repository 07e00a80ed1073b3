"""What a scene stores about the run that made it (scene.json's "settings"), as one typed record.

`SceneSettings.of_run` is what a reconstruction stores: the run plan's settings plus what the run found
(device, image size, HDBSCAN's parameters, skipped files, notes, timings). `to_json()` is exactly the dict
the format has always held (key for key and in order, so files written before and after this type are
alike); `from_json` reads any version's (missing keys at their defaults, unknown keys kept in ``extra``
and written back). The scene keeps the JSON form (``Scene.settings``), which edits such as a re-clustering
update key by key; ``SceneSettings.of(scene)`` is the typed view of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from app.clustering import ClusterConfig
from app.geometry import DEMO_CONF_PERCENTILE
from app.images import PreprocessConfig
from app.inference import InferenceConfig

if TYPE_CHECKING:
    from app.run_plan import RunPlan
    from app.scene import Scene


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
    skipped_files: tuple[dict[str, Any], ...] = ()  # {"file", "reason", "bad"}
    notes: tuple[str, ...] = ()
    timings_s: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # keys of other versions, kept as they are

    @classmethod
    def of_run(cls, plan: RunPlan, device: str, image_size: tuple[int, int], **found: Any) -> SceneSettings:
        """The settings of a finished run of ``plan`` (``found``: cluster_params, skipped_files, notes,
        timings_s)."""
        return cls(
            weights=plan.inference.weights, device=device, inference=plan.inference,
            preprocess=plan.preprocess, image_size=(int(image_size[0]), int(image_size[1])),
            points_source=plan.points_source, conf_percentile=plan.conf_percentile,
            background_filter=plan.background_filter, mask_dir=plan.mask_dir, cluster=plan.cluster,
            **{k: tuple(v) if k in ("skipped_files", "notes") else v for k, v in found.items()},
        )  # fmt: skip

    @classmethod
    def of(cls, scene: Scene) -> SceneSettings:
        return cls.from_json(scene.settings)

    def to_json(self) -> dict[str, Any]:
        preprocess = asdict(self.preprocess)
        if self.image_size is not None:
            preprocess["image_size"] = list(self.image_size)
        return {
            "weights": self.weights,
            "device": self.device,
            "inference": asdict(self.inference),
            "preprocess": preprocess,
            "points_source": self.points_source,
            "conf_percentile": self.conf_percentile,
            "background_filter": self.background_filter,
            "mask_dir": self.mask_dir,
            "cluster": self.cluster.to_json(),
            "cluster_params": dict(self.cluster_params),
            "skipped_files": [dict(s) for s in self.skipped_files],
            "notes": list(self.notes),
            "timings_s": dict(self.timings_s),
            **self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SceneSettings:
        data = dict(data)
        own = {f.name for f in fields(cls)} - {"image_size", "extra"}
        values: dict[str, Any] = {k: data.pop(k) for k in list(data) if k in own}
        if "inference" in values:
            values["inference"] = _known(InferenceConfig, values["inference"])
        if "preprocess" in values:
            pre = dict(values["preprocess"])
            size = pre.pop("image_size", None)
            values["image_size"] = None if size is None else (int(size[0]), int(size[1]))
            values["preprocess"] = _known(PreprocessConfig, pre)
        if "cluster" in values:
            values["cluster"] = ClusterConfig.from_json(values["cluster"])
        for key in ("skipped_files", "notes"):
            if key in values:
                values[key] = tuple(values[key] or ())
        return cls(**values, extra=data)


def _known(kind: type, data: dict[str, Any]) -> Any:
    return kind(**{k: v for k, v in dict(data).items() if k in kind.__dataclass_fields__})
