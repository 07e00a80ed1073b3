"""`iggt reconstruct` and `iggt info` end to end: output file, info JSON keys, Ctrl-C, the real network."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES, placeholder_weights
from PIL import Image
from test_reconstruct import GroundTruthPredictor

from app.cli import main
from app.clustering import adjusted_rand_index
from app.scene_io import load_scene

INFO_KEYS = {"views", "image_size", "points", "model", "instances"}
INSTANCE_KEYS = {"id", "name", "points", "views", "consistency"}


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    from training.synthetic import render_room

    r = render_room(4, 3, 112, 168)
    folder = tmp_path_factory.mktemp("room")
    for i, img in enumerate(r.images):
        Image.fromarray(img).save(folder / f"frame_{i + 1}.png")
    return r, folder


@pytest.fixture
def gt_network(room, monkeypatch: pytest.MonkeyPatch, tmp_path_factory):
    weights = placeholder_weights(tmp_path_factory.mktemp("w") / "iggt-tiny.safetensors")
    monkeypatch.setattr("app.inference.BUNDLED_WEIGHTS", weights)
    pred = GroundTruthPredictor(room[0])
    monkeypatch.setattr("app.reconstruct.get_predictor", lambda config: pred)
    return pred


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_reconstruct_then_info(room, gt_network, tmp_path: Path, capsys) -> None:
    r, folder = room
    out = tmp_path / "room.iggt"
    assert main(["reconstruct", str(folder), "-o", str(out), "--width", "168", "--sample-size", "2000"]) == 0
    captured = capsys.readouterr()
    assert "wrote" in captured.out and "3 views at 168x112" in captured.out
    assert "[" in captured.err and "%]" in captured.err  # plain progress lines when not on a terminal
    scene = load_scene(out)
    assert adjusted_rand_index(scene.labels, r.instance_ids) > 0.9

    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert set(info) >= INFO_KEYS
    assert info["views"] == 3 and info["image_size"] == [112, 168] and info["points"] == scene.n_points
    assert info["model"] == "ground-truth"
    assert info["instances"] and all(set(i) >= INSTANCE_KEYS for i in info["instances"])
    first = info["instances"][0]
    assert first["points"] == scene.instances[first["id"]].stats.point_count
    assert first["views"] == [0, 1, 2] and 0.8 < first["consistency"] <= 1.0
    assert info["settings"]["cluster"]["epsilon"] == 0.06

    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "views      3 at 168x112" in text and "consistency" in text


def test_existing_output_is_kept_as_backup(room, gt_network, tmp_path: Path, capsys) -> None:
    _, folder = room
    from scenes import make_scene

    from app.scene_io import save_scene

    out = save_scene(make_scene(), tmp_path / "room.iggt")
    previous = out.read_bytes()
    assert main(["reconstruct", str(folder), "-o", str(out), "--width", "168", "-q"]) == 0
    assert (tmp_path / "room.iggt.bak").read_bytes() == previous
    assert "kept as" in capsys.readouterr().out


@pytest.mark.parametrize("stage", ["inference", "clustering", "saving"])
def test_ctrl_c_leaves_no_output(stage: str, room, gt_network, tmp_path: Path, monkeypatch, capsys) -> None:
    _, folder = room
    out = tmp_path / "out"
    out.mkdir()
    if stage == "saving":

        def interrupt(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr("app.scene_io._npy_bytes", interrupt)
    else:
        from app.commands import reconstruct as cmd

        original = cmd._Reporter.__call__

        def report(self, event):
            original(self, event)
            if event.stage == stage:
                raise KeyboardInterrupt

        monkeypatch.setattr(cmd._Reporter, "__call__", report)
    code = main(["reconstruct", str(folder), "-o", str(out / "room.iggt"), "--width", "168"])
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    assert _files(out) == []


def test_real_network_mechanics_on_sample_photos(tmp_path: Path, capsys) -> None:
    """The whole CLI path with a real (randomly initialised tiny) network on real photos."""
    import torch

    from model import IGGTConfig, build_iggt, save_iggt

    torch.manual_seed(0)
    weights = save_iggt(build_iggt(IGGTConfig.tiny()), tmp_path / "random.safetensors")
    out = tmp_path / "photos.iggt"
    args = ["reconstruct", str(SAMPLES / "room_png_3"), "-o", str(out), "--weights", str(weights),
            "--device", "cpu", "--width", "168", "--sample-size", "1000"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    scene = load_scene(out)
    assert scene.n_views == 3 and scene.image_size == (112, 168)
    assert scene.model_id.startswith("iggt-tiny:") and len(scene.instances) >= 1
    assert [v.name for v in scene.views] == ["1.png", "2.png", "3.png"]
    assert scene.views[0].original_size == (786, 1048)
    mask = scene.instance_mask_original(1, 0)
    assert mask.shape == (786, 1048) and mask.any()
    assert np.isfinite(scene.intrinsic).all()


@pytest.fixture(scope="module")
def bundled_run(tmp_path_factory):
    """The shipped sample room (resources/sample, with ground truth) reconstructed by `iggt reconstruct`
    with the bundled weights: 4 of its 10 views at 308x224, default settings."""
    from app.images import evenly_spaced
    from app.inference import BUNDLED_WEIGHTS
    from app.paths import SAMPLE_DIR
    from training.iggt.targets import structure_labels
    from training.synthetic.storage import read_scene

    assert BUNDLED_WEIGHTS.is_file(), f"bundled weights missing: {BUNDLED_WEIGHTS}"
    room = SAMPLE_DIR / "scene_000012"
    gt = read_scene(room)
    out = tmp_path_factory.mktemp("e2e") / "sample.iggt"
    args = ["reconstruct", str(room / "images"), "-o", str(out), "--views", "4",
            "--device", "cpu", "-q"]  # fmt: skip  (no --width: the weights name 308x224)
    assert main(args) == 0
    keep = evenly_spaced(gt.depth.shape[0], 4)
    # segments the model is trained to separate (training/iggt/targets.py): each furniture instance, and the
    # floor, the walls and the ceiling as one segment each (the app shows and names them like instances)
    views = dataclasses.replace(gt, instance_ids=gt.instance_ids[keep], category_ids=gt.category_ids[keep])
    segments = structure_labels(views)
    return load_scene(out), gt.depth[keep], segments


def test_end_to_end_bundled_weights_geometry(bundled_run) -> None:
    """Depth (median-aligned AbsRel) within 0.25 and better than a constant-depth guess; tables consistent."""
    scene, depth, _ = bundled_run
    assert scene.n_views == 4 and scene.image_size == (224, 308) and scene.model_id.startswith("iggt-tiny:")
    pred = np.asarray(scene.depth)
    abs_rel = float(np.mean(np.abs(pred * np.median(depth) / np.median(pred) - depth) / depth))
    constant = float(np.mean(np.abs(np.median(depth) - depth) / depth))
    assert abs_rel <= 0.25 and abs_rel < constant, f"AbsRel {abs_rel:.3f} (constant depth: {constant:.3f})"
    labelled = set(np.unique(scene.labels).tolist()) - {0}
    assert labelled == set(scene.instances)
    assert sum(i.stats.point_count for i in scene.instances.values()) == scene.n_points


def test_end_to_end_bundled_weights_instances_match_ground_truth(bundled_run) -> None:
    """Instances follow the ground-truth segments (furniture instances; floor, walls, ceiling one each):
    ARI >= 0.5 and an instance count within half/double of it. Default settings: the clustering preset
    is the one the bundled weights name ("spatial")."""
    scene, _, ids = bundled_run
    assert scene.settings.cluster.position_weight > 0
    ari = adjusted_rand_index(scene.labels, ids)
    n_gt = len(np.unique(ids))
    detail = f"ARI vs ground truth {ari:.3f} ({len(scene.instances)} instances, {n_gt} in truth)"
    assert ari >= 0.5, detail
    assert n_gt / 2 <= len(scene.instances) <= 2 * n_gt, detail


def test_end_to_end_official_large_preset_over_segments_the_sample(tmp_path) -> None:
    """The official features-only preset on the bundled model's features: what the spatial preset fixes
    (measured: several times more instances than segments). Guards the default choice above."""
    from app.paths import SAMPLE_DIR

    out = tmp_path / "large.iggt"
    room = SAMPLE_DIR / "scene_000012"
    args = ["reconstruct", str(room / "images"), "-o", str(out), "--views", "4", "--device", "cpu", "-q",
            "--preset", "large"]  # fmt: skip
    assert main(args) == 0
    scene = load_scene(out)
    assert scene.settings.cluster.position_weight == 0
    assert len(scene.instances) > 20
