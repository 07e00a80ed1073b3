"""Clustering settings: the official demo's presets, the app's own, and `ClusterConfig`."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("app.clustering")

OFFICIAL_PIXELS_PER_VIEW = 336 * 504

# The official demo's three clustering settings (demo.py; "large" is the one it runs).
PRESETS: dict[str, dict[str, float]] = {
    "small": {"epsilon": 0.005, "min_samples": 50, "min_cluster_size": 500, "knn_k": 20},
    "medium": {"epsilon": 0.01, "min_samples": 100, "min_cluster_size": 500, "knn_k": 20},
    "large": {"epsilon": 0.06, "min_samples": 100, "min_cluster_size": 500, "knn_k": 20},
    # not the demo's: features plus 3D position and photo colour, with fragments folded into their
    # neighbours, for features that alone do not keep look-alike objects apart (the bundled tiny model's;
    # see ClusterConfig.position_weight / colour_weight / absorb_size; values chosen on validation rooms)
    "spatial": {
        "epsilon": 0.06,
        "min_samples": 100,
        "min_cluster_size": 2500,
        "knn_k": 20,
        "position_weight": 0.35,
        "colour_weight": 1.0,
        "absorb_size": 4000,
    },
}
OFFICIAL_PRESETS = ("small", "medium", "large")
DEFAULT_PRESET = "large"  # for weights that name no preset of their own (see `preset_for_weights`)
SAMPLE_MIN_CLUSTER_SIZE = 5  # floors of the scaled HDBSCAN sizes on a subsample
SAMPLE_MIN_SAMPLES = 3


_FLOAT_FIELDS = ("epsilon", "position_weight", "merge_distance", "colour_weight")


@dataclass(frozen=True)
class ClusterConfig:
    """Clustering settings. Sizes are in pixels at the official 336x504 resolution."""

    min_cluster_size: int = 500
    min_samples: int = 100
    epsilon: float = 0.06  # HDBSCAN cluster_selection_epsilon, in (smoothed, normalised) feature space
    knn_k: int = 20  # 3D neighbours averaged per point
    sample_size: int = 12_000  # points given to HDBSCAN; 0 = all pixels (the official procedure)
    # weight of 3D distance (relative to the median sample spacing) in step 4, without a position weight
    spatial_weight: float = 1.0
    # weight of the 3D position (in units of the scene's median point distance from its median point)
    # appended to the smoothed features for HDBSCAN and every later assignment; 0 = features only, as
    # the official demo. Keeps apart look-alike objects in different places when the features do not.
    position_weight: float = 0.0
    # after HDBSCAN, clusters that touch in 3D and whose mean smoothed features are closer than this are
    # merged (`merge_touching`); 0 = off, as the demo. Joins the fragments weak features split objects into.
    merge_distance: float = 0.0
    # weight of each pixel's photo colour (RGB in [0, 1], box-averaged like the features) appended beside
    # the features and position; needs the photos (``colours``); 0 = off, as the demo
    colour_weight: float = 0.0
    # clusters smaller than this (pixels at 336x504, like min_cluster_size) join the neighbouring cluster
    # they touch most in 3D after HDBSCAN (`absorb_fragments`); 0 = off, as the demo
    absorb_size: int = 0
    seed: int = 0

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ClusterConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown clustering preset {name!r}; choose from {', '.join(PRESETS)}")
        values = {k: (float(v) if k in _FLOAT_FIELDS else int(v)) for k, v in PRESETS[name].items()}
        return cls(**{**values, **overrides})

    def validate(self) -> None:
        from app.errors import UserError

        if self.min_cluster_size < 2:
            raise UserError(f"min cluster size must be at least 2, not {self.min_cluster_size}")
        if self.min_samples < 1:
            raise UserError(f"min samples must be at least 1, not {self.min_samples}")
        if not 0 <= self.epsilon < 2:
            raise UserError(f"cluster epsilon must be in [0, 2), not {self.epsilon}")
        if not 1 <= self.knn_k <= 200:
            raise UserError(f"kNN k must be between 1 and 200, not {self.knn_k}")
        if not 0 <= self.merge_distance < 2:
            raise UserError(f"merge distance must be in [0, 2), not {self.merge_distance}")
        if not 0 <= self.position_weight <= 10:
            raise UserError(f"position weight must be between 0 and 10, not {self.position_weight}")
        if not 0 <= self.colour_weight <= 10:
            raise UserError(f"colour weight must be between 0 and 10, not {self.colour_weight}")
        if not 0 <= self.absorb_size <= 1e7:
            raise UserError(f"fragment size must be between 0 and 1e7 pixels, not {self.absorb_size}")
        if self.sample_size < 0 or 0 < self.sample_size < 500:
            raise UserError(f"sample size must be 0 (all points) or at least 500, not {self.sample_size}")

    def to_json(self) -> dict[str, Any]:
        """All fields; the cues added later (colour, fragment absorption) only when set, so the settings of
        scenes clustered without them read exactly as before."""
        d = asdict(self)
        for name in ("colour_weight", "absorb_size"):
            if not d[name]:
                del d[name]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ClusterConfig:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)

    def scaled_sizes(self, n_sample: int, n_views: int, subsampled: bool = True) -> tuple[int, int]:
        """(min_cluster_size, min_samples) for HDBSCAN on ``n_sample`` points of ``n_views`` views.

        On a subsample the scaled values are floored at (5, 3): below that HDBSCAN splits instances into
        dozens of specks (measured on synthetic rooms: ARI vs the official result 0.59 -> 0.96).
        """
        factor = n_sample / float(n_views * OFFICIAL_PIXELS_PER_VIEW)
        floor_mcs, floor_ms = (SAMPLE_MIN_CLUSTER_SIZE, SAMPLE_MIN_SAMPLES) if subsampled else (2, 1)
        mcs = max(floor_mcs, round(self.min_cluster_size * factor))
        ms = max(floor_ms, round(self.min_samples * factor))
        return mcs, ms


def known_preset(name: str | None) -> str:
    """``name`` when it is one of `PRESETS`, else `DEFAULT_PRESET` (weights may name a preset this version
    does not know)."""
    if name in PRESETS:
        return str(name)
    if name:
        log.warning("unknown clustering preset %r named by the weights; using %r", name, DEFAULT_PRESET)
    return DEFAULT_PRESET
