"""Weights that name their preferred input size: metadata keys, reading them cheaply, and the app using
them as the default input size (an explicit width still wins; weights without the keys keep 504x336)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from app.errors import UserError
from app.images import PreprocessConfig, load_images
from app.inference import InferenceConfig, NetworkPredictor
from app.run_plan import ReconstructConfig, make_plan, weights_defaults
from model import CheckpointError, IGGTConfig, build_iggt, load_iggt, save_iggt
from model.checkpoint import (
    PreferredInput,
    preferred_metadata,
    read_preferred_input,
    read_weights_info,
    with_preferred_input,
)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_iggt(IGGTConfig.tiny())


@pytest.fixture(scope="module")
def plain(tiny, tmp_path_factory) -> Path:
    """Tiny weights without any preferred size."""
    return save_iggt(tiny, tmp_path_factory.mktemp("plain") / "plain.safetensors")


@pytest.fixture(scope="module")
def sized(tiny, tmp_path_factory) -> Path:
    """Tiny weights trained "at 308x224, at most 3 views"."""
    return save_iggt(tiny, tmp_path_factory.mktemp("sized") / "sized.safetensors",
                     metadata={"name": "sized", **preferred_metadata(308, 224, max_views=3)})  # fmt: skip


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)).save(folder / f"img{i}.png")
    return folder


def test_metadata_keys_and_values() -> None:
    assert preferred_metadata(308) == {"iggt.input_width": "308"}
    assert preferred_metadata(308, 224, 6) == {
        "iggt.input_width": "308", "iggt.input_height": "224", "iggt.max_views": "6"}  # fmt: skip
    for bad in ((10,), (308, 5000), (308, None, 0)):
        with pytest.raises(ValueError, match="iggt"):
            preferred_metadata(*bad)


def test_loaded_model_and_header_reader_carry_the_preferred_size(sized, plain) -> None:
    expected = PreferredInput(308, 224, 3)
    assert read_preferred_input(sized) == expected
    assert read_preferred_input(sized.parent) == expected  # a folder holding the file
    net = load_iggt(sized)
    assert net.weights_info.preferred == expected and net.weights_info.metadata["name"] == "sized"
    info = read_weights_info(sized)
    assert (info.config_name, info.preferred, info.tensors) == ("tiny", expected, net.weights_info.tensors)
    assert read_preferred_input(plain) == PreferredInput()
    assert load_iggt(plain).weights_info.preferred == PreferredInput()
    pt = plain.parent / "plain.pt"
    torch.save(load_iggt(plain).state_dict(), pt)
    assert read_preferred_input(pt) == PreferredInput()  # .pt files carry no metadata


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"iggt.input_width": "wide"}, "invalid iggt.input_width metadata 'wide'"),
        ({"iggt.input_width": "308", "iggt.max_views": "-1"}, "invalid iggt.max_views"),
        ({"iggt.input_height": "224"}, "iggt.input_height metadata without iggt.input_width"),
    ],
)
def test_malformed_size_metadata_is_a_clear_error(tiny, tmp_path, meta, message) -> None:
    path = save_iggt(tiny, tmp_path / "bad.safetensors", metadata=meta)
    with pytest.raises(CheckpointError, match=re.escape(message)):
        load_iggt(path)
    with pytest.raises(UserError, match=re.escape(message)):
        weights_defaults(str(path))


def resolve_preprocess(preprocess: PreprocessConfig, weights: str) -> PreprocessConfig:
    """The input size a run plan gives ``preprocess`` with these weights."""
    return make_plan(ReconstructConfig(preprocess, InferenceConfig(weights=weights))).preprocess


def test_default_width_follows_the_weights(sized, plain, photos) -> None:
    resolved = resolve_preprocess(PreprocessConfig(), str(sized))
    assert (resolved.width, resolved.height, resolved.max_views) == (308, 224, 3)
    imgs = load_images([photos], resolved)
    assert imgs.images.shape == (3, 224, 308, 3)  # 3 of the 5 photos, evenly spaced
    # without the metadata: the official demo's size, all photos
    resolved = resolve_preprocess(PreprocessConfig(width=0), str(plain))
    assert resolved.target_size() == (336, 504) and resolved.max_views is None
    # an explicit choice wins over the weights' preference
    explicit = resolve_preprocess(PreprocessConfig(width=168, max_views=5), str(sized))
    assert (explicit.target_size(), explicit.max_views) == ((112, 168), 5)
    assert resolve_preprocess(PreprocessConfig(width=168), str(sized)).target_size() == (112, 168)
    with pytest.raises(UserError, match="weights file not found"):
        resolve_preprocess(PreprocessConfig(), "/nonexistent/w.safetensors")


def test_predictor_exposes_the_preferred_size(sized) -> None:
    predictor = NetworkPredictor(InferenceConfig(weights=str(sized), device="cpu"))
    predictor.load()
    assert predictor.preferred == PreferredInput(308, 224, 3)


def test_stamping_an_existing_file_keeps_its_tensors(plain, tmp_path) -> None:
    from safetensors import safe_open

    out = with_preferred_input(plain, tmp_path / "stamped.safetensors", 308, 224)
    assert read_preferred_input(out) == PreferredInput(308, 224) and read_preferred_input(plain).width is None
    with safe_open(str(plain), "pt") as a, safe_open(str(out), "pt") as b:
        assert b.metadata()["iggt_config"] == a.metadata()["iggt_config"]
        keys = sorted(a.keys())
        assert keys == sorted(b.keys())
        for key in keys:
            assert torch.equal(a.get_tensor(key), b.get_tensor(key)), key
    with_preferred_input(out, out, 336)  # in place; replaces the earlier preference
    assert read_preferred_input(out) == PreferredInput(336)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stamped.safetensors"]  # no temporary files left
    with pytest.raises(CheckpointError, match=r"only \.safetensors"):
        with_preferred_input(tmp_path / "x.pt", tmp_path / "y.pt", 308)


def test_info_and_doctor_show_the_preferred_size(sized, plain, capsys, monkeypatch) -> None:
    from app.cli import main
    from app.commands import doctor

    assert main(["info", str(sized), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["input_size"] == [224, 308] and summary["input_size_from"] == "metadata"
    assert (summary["architecture"], summary["name"], summary["max_views"]) == ("tiny", "sized", 3)
    assert main(["info", str(plain)]) == 0
    text = capsys.readouterr().out
    assert "504x336 px (the official demo's size; the weights name no preferred size)" in text
    assert main(["info", str(plain.parent / "missing.safetensors")]) == 1

    monkeypatch.setattr("app.paths.WEIGHTS_DIR", sized.parent)
    (sized.parent / "iggt-tiny.safetensors").write_bytes(sized.read_bytes())
    check = doctor._weights_check()
    assert check.ok and "input 308x224 px, at most 3 views (from the weights' metadata)" in check.detail


def test_reconstruct_runs_at_the_weights_preferred_size(sized, photos, tmp_path) -> None:
    """`iggt reconstruct` without --width feeds the network the size the weights name; --width wins."""
    from app.cli import main
    from app.scene_io import load_scene

    out = tmp_path / "a.iggt"
    assert main(["reconstruct", str(photos), "-o", str(out), "--weights", str(sized), "--views", "2",
                 "--device", "cpu", "-q", "--sample-size", "1000"]) == 0  # fmt: skip
    scene = load_scene(out)
    assert scene.image_size == (224, 308) and scene.n_views == 2
    assert scene.settings.preprocess.width == 308
    out2 = tmp_path / "b.iggt"
    assert main(["reconstruct", str(photos), "-o", str(out2), "--weights", str(sized), "--views", "2",
                 "--width", "140", "--device", "cpu", "-q", "--sample-size", "1000"]) == 0  # fmt: skip
    assert load_scene(out2).image_size == (84, 140)
