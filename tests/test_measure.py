"""Measuring and "Set scale": a synthetic room (ground truth in metres) seen in arbitrary units, one known
length, then distances, exports and `iggt info` in metres."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scenes import make_scene

from app.cli import main
from app.edits import EditError, EditHistory
from app.measure import (
    clear_scale,
    format_length,
    measure,
    metric_scene,
    parse_length,
    scale_of,
    set_scale,
)
from app.scene_io import load_scene, save_scene
from app.scene_settings import MISSING
from app.semantics.ground_truth import scene_from_synthetic
from training.synthetic import render_room

UNITS_PER_METRE = 0.3719  # what an uncalibrated reconstruction might come out in


@pytest.fixture(scope="module")
def room():
    """A synthetic room (seed 5, 3 views at 112x168): the ground-truth scene in metres, and the same scene
    in unknown units (all geometry times UNITS_PER_METRE), as a reconstruction gives it."""
    gt = scene_from_synthetic(render_room(5, 3, 112, 168)).scene
    return gt, in_units(gt, UNITS_PER_METRE)


def in_units(scene, units_per_metre: float):
    """A copy of a metric scene in other units, with no scale set."""
    out = metric_scene(scene, units_per_metre)
    out.update_settings(scale=MISSING)
    return out


def _known_points(gt, n: int = 40, seed: int = 1) -> np.ndarray:
    """Flat pixel indices of ``n`` random in-cloud pixels."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.flatnonzero(np.asarray(gt.point_mask).reshape(-1)), n, replace=False)


def test_distances_agree_with_ground_truth_after_set_scale(room, tmp_path) -> None:
    gt, scene = room
    assert scale_of(scene) is None
    idx = _known_points(gt)
    gt_pts = np.asarray(gt.point_map).reshape(-1, 3)[idx]
    pts = np.asarray(scene.point_map).reshape(-1, 3)[idx]
    # one known length: the first two points (as a user clicks the ends of a door and types its width)
    known = float(np.linalg.norm(gt_pts[0] - gt_pts[1]))
    history = EditHistory(scene)
    history.push(set_scale(scene, pts[0], pts[1], parse_length(f"{known * 100:.4f} cm")))
    assert scale_of(scene) == pytest.approx(1 / UNITS_PER_METRE, rel=1e-4)
    for a, b in zip(range(2, 40, 2), range(3, 40, 2), strict=True):
        truth = float(np.linalg.norm(gt_pts[a] - gt_pts[b]))
        got = measure(scene, pts[a], pts[b]).metres
        assert got == pytest.approx(truth, rel=0.02), (a, b)
    # the scale is saved with the scene, and undoes in one step
    path = tmp_path / "room.iggt"
    save_scene(scene, path)
    assert scale_of(load_scene(path)) == pytest.approx(scale_of(scene))
    history.undo()
    assert scale_of(scene) is None


def test_exports_write_metres_and_info_shows_the_scale(room, tmp_path, capsys) -> None:
    from plyfile import PlyData

    gt, _ = room
    unscaled = in_units(gt, UNITS_PER_METRE)
    scene = in_units(gt, UNITS_PER_METRE)  # this test sets its scale
    idx = _known_points(gt, 2, seed=3)
    pts = np.asarray(scene.point_map).reshape(-1, 3)[idx]
    gt_known = np.asarray(gt.point_map).reshape(-1, 3)[idx]
    truth = float(np.linalg.norm(gt_known[0] - gt_known[1]))
    set_scale(scene, pts[0], pts[1], truth).apply(scene)
    scaled = tmp_path / "scaled.iggt"
    plain = tmp_path / "plain.iggt"
    save_scene(scene, scaled)
    save_scene(unscaled, plain)

    assert main(["export", str(scaled), "-f", "ply", "-o", str(tmp_path / "a.ply"), "-q"]) == 0
    assert main(["export", str(plain), "-f", "ply", "-o", str(tmp_path / "b.ply"), "-q"]) == 0
    assert main(["export", str(plain), "-f", "ply", "-o", str(tmp_path / "c.ply"), "-q", "--scale-from",
                 str(scaled)]) == 0  # fmt: skip
    gt_pts = np.asarray(gt.points, np.float64)
    for name, factor in (("a", 1.0), ("b", UNITS_PER_METRE), ("c", 1.0)):
        ply = PlyData.read(str(tmp_path / f"{name}.ply"))
        v = ply["vertex"]
        xyz = np.stack([v["x"], v["y"], v["z"]], 1).astype(np.float64)
        np.testing.assert_allclose(xyz, gt_pts * factor, rtol=1e-4, atol=1e-5)
        assert ("units metres" in ply.comments) == (factor == 1.0)
    # COLMAP camera centres in metres too
    assert (
        main(["export", str(scaled), "-f", "colmap", "-o", str(tmp_path / "colmap"), "-q", "--no-images"])
        == 0
    )
    images = (tmp_path / "colmap" / "sparse" / "0" / "images.txt").read_text().splitlines()
    rows = [r.split() for r in images if r and not r.startswith("#")][::2]
    t = np.array([[float(x) for x in r[5:8]] for r in rows])
    np.testing.assert_allclose(t, np.asarray(gt.extrinsic)[:, :, 3], rtol=1e-4, atol=1e-5)

    capsys.readouterr()
    assert main(["info", str(scaled), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scale_metres_per_unit"] == pytest.approx(1 / UNITS_PER_METRE)
    assert main(["info", str(scaled)]) == 0
    assert f"{1 / UNITS_PER_METRE:.6g} metres per scene unit" in capsys.readouterr().out
    assert main(["info", str(plain)]) == 0
    assert "scale      not set" in capsys.readouterr().out


def test_scale_from_a_scene_without_scale_is_one_clear_line(room, tmp_path, capsys) -> None:
    _, scene = room
    plain = tmp_path / "plain.iggt"
    save_scene(scene, plain)
    assert (
        main(["export", str(plain), "-f", "ply", "-o", str(tmp_path / "x.ply"), "--scale-from", str(plain)])
        == 1
    )
    err = capsys.readouterr().err
    assert "has no scale" in err and not (tmp_path / "x.ply").exists()
    assert "(View > Set scale…)" in err  # where the viewer has it (there is no Tools menu)


def test_bad_scale_input_is_refused() -> None:
    scene = make_scene()
    with pytest.raises(EditError, match="two different points"):
        set_scale(scene, (1, 2, 3), (1, 2, 3), 1.0)
    with pytest.raises(EditError, match="positive"):
        set_scale(scene, (0, 0, 0), (1, 0, 0), -2)
    with pytest.raises(EditError, match="finite 3D point"):
        set_scale(scene, (0, 0, np.nan), (1, 0, 0), 1)
    with pytest.raises(EditError, match="no scale"):
        clear_scale(scene)
    for text in ("abc", "3 furlongs", "0 m", "", "1e9 km", "0.1 mm", "2 km"):
        with pytest.raises(EditError):
            parse_length(text)
    assert parse_length("90 cm") == pytest.approx(0.9)
    assert parse_length("2,5 ft") == pytest.approx(0.762)
    assert parse_length('36"') == pytest.approx(0.9144)
    assert format_length(2.0, None) == "2 units"
    assert format_length(2.0, 0.45) == "90.0 cm"
    assert format_length(4.0, 0.5) == "2.000 m"
