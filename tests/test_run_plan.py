"""The run plan: the weights' defaults resolved once into a frozen plan that the pipeline follows, and the
settings dataclasses the CLI and the GUI's run settings are derived from."""

from __future__ import annotations

import argparse
import dataclasses

import pytest
import torch
from test_reconstruct import VIEWS, GroundTruthPredictor, W, room_dir  # noqa: F401  (fixture)

from app.clustering import PRESETS, ClusterConfig
from app.errors import UserError
from app.images import PreprocessConfig
from app.inference import InferenceConfig
from app.progress import run_generator
from app.reconstruct import iter_reconstruct
from app.run_plan import (
    USER_CLUSTER_FIELDS,
    ReconstructConfig,
    RunPlan,
    cluster_preset_metadata,
    make_plan,
)
from model import IGGTConfig, build_iggt, save_iggt
from model.checkpoint import preferred_metadata, with_preferred_input


@pytest.fixture(scope="module")
def medium_weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "medium.safetensors"
    meta = {**preferred_metadata(168, 112, 2), **cluster_preset_metadata("medium")}
    return save_iggt(build_iggt(IGGTConfig.tiny()), path, metadata=meta)


def test_plan_resolves_every_default_once_and_is_frozen(medium_weights) -> None:
    plan = make_plan(ReconstructConfig(inference=InferenceConfig(weights=str(medium_weights))))
    assert plan.cluster == ClusterConfig.preset("medium")
    assert plan.preprocess.target_size() == (112, 168) and plan.preprocess.max_views == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.cluster = ClusterConfig()  # type: ignore[misc]
    # what the user chose wins over the weights
    mine = make_plan(ReconstructConfig(PreprocessConfig(width=224, max_views=5),
                                       InferenceConfig(weights=str(medium_weights)),
                                       cluster=ClusterConfig.preset("small")))  # fmt: skip
    assert mine.cluster == ClusterConfig.preset("small")
    assert (mine.preprocess.target_size(), mine.preprocess.max_views) == ((140, 224), 5)


def test_plan_reports_bad_requests_before_any_work(tmp_path) -> None:
    with pytest.raises(UserError, match="weights file not found"):
        make_plan(ReconstructConfig(inference=InferenceConfig(weights=str(tmp_path / "none.safetensors"))))
    with pytest.raises(UserError, match="unknown clustering setting"):
        make_plan(ReconstructConfig(cluster_overrides=(("nonsense", 1),)))
    with pytest.raises(UserError, match="min samples"):
        make_plan(ReconstructConfig(cluster_overrides=(("min_samples", 0),)))


def test_the_pipeline_never_asks_the_weights_again(room_dir, medium_weights, tmp_path) -> None:  # noqa: F811
    """Once planned, a run follows its plan even when the weights file changes under it."""
    room, folder = room_dir
    weights = with_preferred_input(medium_weights, tmp_path / "w.safetensors", W,
                                   extra=cluster_preset_metadata("medium"))  # fmt: skip
    config = ReconstructConfig(inference=InferenceConfig(weights=str(weights)))
    plan = make_plan(config)
    with_preferred_input(weights, weights, 336, extra=cluster_preset_metadata("small"))
    weights.unlink()  # nothing may read it any more
    scene = run_generator(iter_reconstruct([folder], dataclasses.replace(
        plan, cluster=dataclasses.replace(plan.cluster, sample_size=2000)), GroundTruthPredictor(room)))
    assert scene.settings.cluster == ClusterConfig.preset("medium", sample_size=2000)
    assert scene.settings.preprocess.width == W and scene.n_views == VIEWS
    assert isinstance(plan, RunPlan)


def test_cli_options_are_derived_from_the_settings_dataclasses() -> None:
    from app.commands.reconstruct import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    options = {a.dest: a for a in parser._actions}
    assert tuple(options["preset"].choices) == tuple(PRESETS)
    defaults = ClusterConfig()
    for name in USER_CLUSTER_FIELDS:
        assert options[name].default is None  # unset: the preset's value
        assert options[name].type is type(getattr(defaults, name))
    args = parser.parse_args(["x", "-o", "y.iggt", "--device", "cuda:1", "--dtype", "float16"])
    assert (args.device, args.dtype) == ("cuda:1", "float16")
    with pytest.raises(SystemExit):
        parser.parse_args(["x", "-o", "y.iggt", "--device", "gpu"])


def test_gui_run_settings_are_derived_from_cluster_config() -> None:
    from viewer.pipeline import requested_cluster
    from viewer.run_settings import CLUSTER_FIELDS, CLUSTER_PRESETS, RunSettings

    assert tuple(PRESETS) == CLUSTER_PRESETS
    assert set(CLUSTER_FIELDS) <= set(USER_CLUSTER_FIELDS)
    run = RunSettings()
    defaults = ClusterConfig()
    assert all(getattr(run, f) == getattr(defaults, f) for f in CLUSTER_FIELDS)
    assert requested_cluster(run) is None  # "model": the plan resolves the weights' preset
    custom = RunSettings(cluster_preset="custom", min_cluster_size=800.0, epsilon=0.1)  # type: ignore[arg-type]
    assert requested_cluster(custom) == ClusterConfig(min_cluster_size=800, epsilon=0.1)
