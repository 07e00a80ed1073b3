"""Reconstruction settings chosen in the Settings dialog and kept between sessions.

A flat record (one stored key per field) of what `app.run_plan.ReconstructConfig` asks for: the preset
names, the clustering fields a user sets and their defaults come from `app.clustering.ClusterConfig` and
`app.run_plan.USER_CLUSTER_FIELDS`; `viewer.pipeline.reconstruct_config` turns it into the request.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from app.clustering import PRESETS, ClusterConfig
from viewer.settings import AppSettings

WEIGHT_SOURCES = ("bundled", "file", "hub")
DEVICES = ("auto", "cpu", "cuda")
CLUSTER_PRESETS = tuple(PRESETS)  # in the order shown
MODEL_PRESET = "model"  # cluster_preset: the weights' own (resolved when the run is planned)
CLUSTER_FIELDS = (
    "min_cluster_size", "min_samples", "epsilon", "position_weight", "merge_distance", "colour_weight",
    "absorb_size",
)  # fmt: skip
_CLUSTER_DEFAULTS = ClusterConfig()


def preset_values(name: str) -> dict[str, float]:
    """Every clustering setting of a preset (those it does not name at their defaults, e.g. position weight
    0 for the official three)."""
    from app.clustering import ClusterConfig

    return asdict(ClusterConfig.preset(name))


@dataclass
class RunSettings:
    weights_source: str = "bundled"  # bundled | file | hub
    weights_file: str = ""
    weights_hub_id: str = ""
    device: str = "auto"
    image_width: int = 0  # 0: the weights' preferred width (the official demo's 504 when they name none)
    max_views: int = 24
    confidence_percentile: float = 0.3  # drop this percentage of least confident points (the demo's value)
    # "model": the weights' own preset (the fields below are then ignored); a preset name, or "custom"
    cluster_preset: str = MODEL_PRESET
    # the clustering fields of `CLUSTER_FIELDS`, at ClusterConfig's defaults
    min_cluster_size: int = _CLUSTER_DEFAULTS.min_cluster_size
    min_samples: int = _CLUSTER_DEFAULTS.min_samples
    epsilon: float = _CLUSTER_DEFAULTS.epsilon
    position_weight: float = _CLUSTER_DEFAULTS.position_weight
    merge_distance: float = _CLUSTER_DEFAULTS.merge_distance
    colour_weight: float = _CLUSTER_DEFAULTS.colour_weight
    absorb_size: int = _CLUSTER_DEFAULTS.absorb_size

    @classmethod
    def load(cls, settings: AppSettings) -> RunSettings:
        out = cls()
        for f in fields(cls):
            setattr(out, f.name, settings.get(f"run/{f.name}", getattr(out, f.name)))
        return out

    def save(self, settings: AppSettings) -> None:
        for key, value in asdict(self).items():
            settings.set(f"run/{key}", value)
        settings.sync()

    def cluster_values(self) -> dict[str, int | float]:
        """The clustering fields, typed as ClusterConfig declares them (stored settings may hold floats)."""
        kinds = {f.name: f.type for f in fields(ClusterConfig)}
        return {k: (float if kinds[k] == "float" else int)(getattr(self, k)) for k in CLUSTER_FIELDS}

    def weights_spec(self) -> str:
        """What the loader is given: 'bundled', a file path, or a hub id."""
        if self.weights_source == "file":
            return self.weights_file
        if self.weights_source == "hub":
            return self.weights_hub_id
        return "bundled"
