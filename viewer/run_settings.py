"""Reconstruction settings chosen in the Settings dialog and kept between sessions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from viewer.settings import AppSettings

WEIGHT_SOURCES = ("bundled", "file", "hub")
DEVICES = ("auto", "cpu", "cuda")
CLUSTER_PRESETS = ("small", "medium", "large", "spatial")  # app.clustering.PRESETS, in the order shown
MODEL_PRESET = "model"  # cluster_preset: the preset the chosen weights name (see viewer.pipeline)


def preset_values(name: str) -> dict[str, float]:
    """Every clustering setting of a preset (those it does not name at their defaults, e.g. position weight
    0 for the official three)."""
    from app.clustering import ClusterConfig

    return ClusterConfig.preset(name).to_json()


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
    min_cluster_size: int = 500
    min_samples: int = 100
    epsilon: float = 0.06
    position_weight: float = 0.0  # 3D position appended to the features (the "spatial" preset); 0 = official
    merge_distance: float = 0.0  # touching look-alike clusters merged (the "spatial" preset); 0 = official

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

    def weights_spec(self) -> str:
        """What the loader is given: 'bundled', a file path, or a hub id."""
        if self.weights_source == "file":
            return self.weights_file
        if self.weights_source == "hub":
            return self.weights_hub_id
        return "bundled"
