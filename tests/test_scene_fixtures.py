"""Scene files written by earlier versions of the app still open, with the same contents.

tests/fixtures/scenes holds files of the format's history (see its README: how and when each was made).
Each must load without warnings, show the contents it was written with, and save back to the same
manifest (settings, instances, edit log) and arrays: a redesign of the code must not change the format.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from app.clustering import ClusterConfig
from app.scene_io import load_scene, save_scene

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "scenes"

# what each file was written with (checked by hand against `iggt info` when the fixture was made)
EXPECTED = {
    "room_png_3_w140.iggt": dict(views=3, size=(84, 140), points=35174, instances=22, edits=0, width=140,
                                 max_views=None),
    "sample_w112_v4.iggt": dict(views=4, size=(84, 112), points=37519, instances=32, edits=0, width=112,
                                max_views=4),
    "sample_w112_v4_edited.iggt": dict(views=4, size=(84, 112), points=37519, instances=29, edits=6,
                                       width=112, max_views=4),
}  # fmt: skip
MODEL_ID = "iggt-tiny:ecd2d84c8044"


def _manifest(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("scene.json"))


def _array_digests(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as zf:
        return {n: hashlib.sha256(zf.read(n)).hexdigest() for n in zf.namelist() if n.endswith(".npy")}


def test_every_fixture_is_listed() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.iggt")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_opens_with_its_contents(name: str) -> None:
    want = EXPECTED[name]
    scene = load_scene(FIXTURES / name)
    assert scene.load_warnings == []
    assert scene.n_views == want["views"]
    assert scene.image_size == want["size"]
    assert scene.n_points == want["points"] == int(scene.point_mask.sum())
    assert len(scene.instances) == want["instances"]
    assert len(scene.edit_log) == want["edits"]
    assert scene.model_id == MODEL_ID
    assert scene.image_storage == "embedded"
    assert scene.images.shape == (want["views"], *want["size"], 3)
    # every labelled pixel belongs to a known instance (or to a deleted one kept for restore)
    ids = set(np.unique(scene.labels[scene.labels > 0]).tolist())
    assert set(scene.instances) <= ids
    # the stored run settings: the bundled weights' "spatial" clustering, the chosen input size
    settings = scene.settings
    assert settings.weights == "bundled"
    assert settings.points_source == "depth"
    assert settings.conf_percentile == pytest.approx(0.3)
    assert settings.preprocess.width == want["width"]
    assert settings.preprocess.max_views == want["max_views"]
    assert settings.image_size == want["size"]
    assert settings.extra == {}  # every stored value read as typed and written back exactly
    # "spatial" as it was when they were written (before the colour cue and fragment absorption)
    then = ClusterConfig.preset("spatial", min_cluster_size=1500, colour_weight=0.0, absorb_size=0)
    assert settings.cluster == then


def test_edited_fixture_keeps_its_edits() -> None:
    scene = load_scene(FIXTURES / "sample_w112_v4_edited.iggt")
    assert [e["text"] for e in scene.edit_log] == [
        "Accept labels of 32 instances",
        "Merge 3 instances into table 1",
        "Rename table 4 to the red chair",
        "Lock box 5",
        "Delete sofa 6",
        "Colour table 7 #0ac81e",
    ]
    assert scene.instances[4].name == "the red chair"
    assert scene.instances[5].locked and not scene.instances[4].locked
    assert scene.instances[7].colour == (10, 200, 30)
    assert 2 not in scene.instances and 3 not in scene.instances and 6 not in scene.instances
    assert scene.instances[1].category == "table"
    assert len(scene.embeddings) == 1


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_saves_back_unchanged(name: str, tmp_path: Path) -> None:
    source = FIXTURES / name
    out = tmp_path / name
    save_scene(load_scene(source), out)
    before, after = _manifest(source), _manifest(out)
    for key in ("settings", "instances", "edit_log", "views", "model_id", "image_size", "arrays", "metadata"):
        assert after[key] == before[key], key
    assert _array_digests(out) == _array_digests(source)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_stored_settings_read_as_the_typed_record_and_back(name: str) -> None:
    from app.scene_settings import SceneSettings

    stored = _manifest(FIXTURES / name)["settings"]
    typed = SceneSettings.from_json(stored)
    # the same keys in the same order; the clustering gains the fields added since, at their defaults
    cluster = ClusterConfig.from_json(stored["cluster"])
    written = typed.to_json()
    assert written == {**stored, "cluster": cluster.to_json()} and list(written) == list(stored)
    assert {k: v for k, v in cluster.to_json().items() if k in stored["cluster"]} == stored["cluster"]
    assert typed.cluster == cluster and typed.weights == "bundled"
    assert typed.image_size == EXPECTED[name]["size"] and typed.preprocess.width == EXPECTED[name]["width"]
    assert typed.extra == {}
    future = SceneSettings.from_json({**stored, "vocabulary": ["chair"]})  # a key of another version
    assert future.to_json()["vocabulary"] == ["chair"]
