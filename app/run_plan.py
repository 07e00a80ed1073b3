"""The run plan: every setting of a reconstruction, resolved once, at the start of a run.

The user's request (`ReconstructConfig`: what the CLI options, the GUI's run settings and tests build)
leaves some settings to the weights: the input size and views cap (``iggt.input_width``, ...; read by
`model.checkpoint`) and the clustering preset (``iggt.cluster_preset``, this app's policy, kept here).
`make_plan` reads the weights' header once and returns a frozen `RunPlan` in which nothing is left open;
the pipeline after it (images -> network -> points -> clustering -> instances -> scene) never asks the
weights again. This module is the only place in the app that reads those defaults.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from app.clustering import DEFAULT_PRESET, PRESETS, ClusterConfig, known_preset
from app.errors import UserError
from app.geometry import BACKGROUND_FILTERS, DEMO_CONF_PERCENTILE
from app.images import PreprocessConfig
from app.inference import InferenceConfig, check_device, resolve_weights

CLUSTER_PRESET_METADATA_KEY = "iggt.cluster_preset"  # optional: this app's clustering preset for the weights
_PRESET_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
POINT_SOURCES = ("depth", "pointmap")
IMAGE_STORAGES = ("embedded", "paths")
DTYPES = ("float32", "bfloat16", "float16")  # --dtype; unset: bf16 (fp16 before Ampere) on CUDA, fp32 on CPU
# The clustering settings a user sets by hand, beside a preset: (metavar, help). The GUI's run settings
# show the first five; the CLI has an option for each. The rest keep `ClusterConfig`'s defaults.
USER_CLUSTER_FIELDS: dict[str, tuple[str, str]] = {
    "min_cluster_size": ("M", "smallest instance, in pixels at 336x504"),
    "min_samples": ("N", "HDBSCAN min_samples at 336x504"),
    "epsilon": ("E", "HDBSCAN cluster_selection_epsilon"),
    "position_weight": ("W", "weight of 3D position beside the features, 0 = features only"),
    "merge_distance": ("D", "merge touching clusters whose mean features are closer than D, 0 = off"),
    "colour_weight": ("C", "weight of the photo colour beside the features, 0 = off"),
    "absorb_size": ("F", "fold clusters under F pixels (at 336x504) into their neighbour, 0 = off"),
    "sample_size": ("S", "points clustered by HDBSCAN (0: all, slow)"),
}


@dataclass(frozen=True)
class WeightsDefaults:
    """What the weights' metadata leaves to them (None: the file does not say)."""

    width: int | None = None
    height: int | None = None
    max_views: int | None = None
    named_preset: str | None = None  # as written in the file (possibly a preset this version does not know)

    @property
    def cluster_preset(self) -> str:
        """The clustering preset to run: the one named, when known, else the official demo's default."""
        return known_preset(self.named_preset)

    def size_text(self) -> str:
        """How these weights are run by default, e.g. '308x224 px (from the weights' metadata)'."""
        h, w = PreprocessConfig().with_model_defaults(self.width, self.height).target_size()
        if self.width is None:
            return f"{w}x{h} px (the official demo's size; the weights name no preferred size)"
        views = f", at most {self.max_views} views" if self.max_views is not None else ""
        return f"{w}x{h} px{views} (from the weights' metadata)"


def cluster_preset_metadata(preset: str) -> dict[str, str]:
    """The metadata entry naming ``preset`` for some weights (e.g. for ``save_iggt(metadata=...)``)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown clustering preset {preset!r}; choose from {', '.join(PRESETS)}")
    return {CLUSTER_PRESET_METADATA_KEY: preset}


def defaults_from_metadata(metadata: dict[str, str], origin: str) -> WeightsDefaults:
    """Parse the defaults out of a weights file's metadata; UserError when an entry is malformed."""
    from model.checkpoint import preferred_input_from_metadata
    from model.errors import IGGTError

    try:
        size = preferred_input_from_metadata(metadata, origin)
    except IGGTError as exc:
        raise UserError(str(exc)) from None
    preset = metadata.get(CLUSTER_PRESET_METADATA_KEY)
    if preset is not None and not _PRESET_NAME.fullmatch(str(preset)):
        raise UserError(
            f"{origin}: invalid {CLUSTER_PRESET_METADATA_KEY} metadata {preset!r} "
            "(expected a preset name: lower-case letters, digits, '-' or '_')"
        )
    return WeightsDefaults(size.width, size.height, size.max_views, preset)


def weights_defaults(weights: str) -> WeightsDefaults:
    """The defaults the weights name in their metadata, read from the header alone (no tensor is loaded).

    Empty when the weights name none (the official checkpoint, ``.pt`` files) or when a hub id is not in
    the local cache yet (the loader then says how to download it). A bad setting, a missing or damaged
    file, or malformed metadata is a UserError, as the loader would report it.
    """
    from model.checkpoint import read_metadata
    from model.errors import IGGTError

    source = resolve_weights(weights)
    try:
        metadata, origin = read_metadata(source.location)
    except IGGTError as exc:
        if source.kind == "hub":
            return WeightsDefaults()
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot read the weights {source.location}: {exc.strerror or exc}") from None
    return defaults_from_metadata(metadata, origin)


def cluster_plan(
    cluster: ClusterConfig | None, weights: str, overrides: tuple[tuple[str, Any], ...] = ()
) -> ClusterConfig:
    """``cluster``, or (None) the preset the weights name with ``overrides``; weights that cannot be read
    get the official default here, and are reported by the run that loads them."""
    if cluster is not None:
        return cluster
    try:
        name = weights_defaults(weights).cluster_preset
    except UserError:
        name = DEFAULT_PRESET
    return ClusterConfig.preset(name, **dict(overrides))


@dataclass(frozen=True)
class ReconstructConfig:
    """What the user asked for. ``None`` leaves a setting to the weights (see `make_plan`)."""

    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    cluster: ClusterConfig | None = None  # None: the preset the weights name, with cluster_overrides
    cluster_overrides: tuple[tuple[str, Any], ...] = ()  # (ClusterConfig field, value) pairs
    points_source: str = "depth"  # "depth": depth head unprojected with the cameras; "pointmap": point head
    conf_percentile: float = DEMO_CONF_PERCENTILE  # drop this percentage of least confident points
    background_filter: str = "none"  # "none" | "black" | "white" (the demo's background filters)
    mask_dir: str | None = None  # per-image keep masks (0 = sky/background), same file stems
    image_storage: str = "embedded"  # "embedded" | "paths" (scene keeps paths + SHA-256 only)

    def validate(self) -> None:
        self.preprocess.validate()
        self.inference.validate()
        unknown = [k for k, _ in self.cluster_overrides if k not in ClusterConfig.__dataclass_fields__]
        if unknown:
            raise UserError(f"unknown clustering setting(s): {', '.join(unknown)}")
        if self.cluster is not None:
            self.cluster.validate()
        else:
            ClusterConfig(**dict(self.cluster_overrides)).validate()
        if self.points_source not in POINT_SOURCES:
            raise UserError(f"points source must be 'depth' or 'pointmap', not {self.points_source!r}")
        if not 0.0 <= self.conf_percentile < 100.0:
            raise UserError(f"confidence percentile must be in [0, 100), not {self.conf_percentile}")
        if self.background_filter not in BACKGROUND_FILTERS:
            raise UserError(f"background filter must be one of {', '.join(BACKGROUND_FILTERS)}")
        if self.image_storage not in IMAGE_STORAGES:
            raise UserError("image storage must be 'embedded' or 'paths'")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunPlan:
    """A reconstruction with every setting decided (frozen; made by `make_plan`)."""

    preprocess: PreprocessConfig  # the input size and views cap, the weights' own where the user chose none
    inference: InferenceConfig
    cluster: ClusterConfig
    points_source: str = "depth"
    conf_percentile: float = DEMO_CONF_PERCENTILE
    background_filter: str = "none"
    mask_dir: str | None = None
    image_storage: str = "embedded"


def make_plan(config: ReconstructConfig, read_size: bool = True) -> RunPlan:
    """Resolve ``config`` against its weights (one header read). Raises UserError for bad settings, missing
    weights or a missing GPU, before any work. ``read_size=False`` (a caller that brings its own
    predictor, e.g. a test's) keeps the user's input size and does not check the weights file."""
    config.validate()
    preprocess, cluster = config.preprocess, config.cluster
    if read_size:
        resolve_weights(config.inference.weights)
        check_device(config.inference.device)
        if preprocess.width is None or preprocess.max_views is None or cluster is None:
            d = weights_defaults(config.inference.weights)  # the one read of the weights' header
            preprocess = preprocess.with_model_defaults(d.width, d.height, d.max_views)
            if cluster is None:
                cluster = ClusterConfig.preset(d.cluster_preset, **dict(config.cluster_overrides))
    if cluster is None:
        cluster = cluster_plan(None, config.inference.weights, config.cluster_overrides)
    cluster.validate()
    return RunPlan(
        preprocess=preprocess,
        inference=config.inference,
        cluster=cluster,
        points_source=config.points_source,
        conf_percentile=config.conf_percentile,
        background_filter=config.background_filter,
        mask_dir=config.mask_dir,
        image_storage=config.image_storage,
    )
