"""``scene.settings`` is the typed `SceneSettings`: written back exactly as read (key order, values, keys of
other versions, malformed values), changed only through undoable edits, read through attributes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from scenes import make_scene

from app.clustering import ClusterConfig
from app.edits import EditHistory, label_statistics, recluster
from app.measure import clear_scale, scale_of, set_scale
from app.scene_io import load_scene, save_scene
from app.scene_settings import MISSING, SceneScale, SceneSettings, SkippedFile

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "scenes" / "sample_w112_v4.iggt"


def _stored(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("scene.json"))["settings"]


def _with_settings(tmp_path: Path, settings: dict) -> Path:
    """A scene file whose stored settings are ``settings`` (as another version could have written them)."""
    scene = make_scene()
    scene.settings = SceneSettings.from_json(settings)
    path = tmp_path / "other.iggt"
    save_scene(scene, path)
    assert json.dumps(_stored(path)) == json.dumps(settings)
    return path


def test_scene_holds_the_typed_record() -> None:
    scene = load_scene(FIXTURE)
    assert isinstance(scene.settings, SceneSettings)
    assert scene.settings.notes == ("using 4 of 10 images, evenly spaced",)
    assert scene.settings.skipped_files == () and scene.settings.scale is None
    assert scene.settings.timings_s["inference"] == pytest.approx(11.112)
    assert scene.settings.has("cluster") and not scene.settings.has("scale")


def test_keys_of_other_versions_and_malformed_values_survive_a_save(tmp_path: Path) -> None:
    stored = _stored(FIXTURE)
    other = {
        "vocabulary": ["chair", "lamp"],  # known, before the run's keys
        **{k: v for k, v in stored.items() if k != "notes"},
        "notes": "one note, not a list",  # malformed: read as no notes, kept as it was
        "skipped_files": [{"file": "a.txt", "reason": "not an image file type"}],  # older: no "bad"
        "preprocess": {**stored["preprocess"], "crop": "centre"},  # a field this version does not know
        "future_key": {"anything": [1, 2]},
    }
    path = _with_settings(tmp_path, other)
    scene = load_scene(path)
    s = scene.settings
    assert s.vocabulary == ("chair", "lamp") and s.notes == ()
    assert s.skipped_files == (SkippedFile("a.txt", "not an image file type", False),)
    assert s.preprocess.width == 112 and s.image_size == (84, 112)
    assert set(s.extra) == {"notes", "skipped_files", "preprocess", "future_key"}
    out = tmp_path / "again.iggt"
    save_scene(scene, out)
    assert json.dumps(_stored(out)) == json.dumps(other)  # same keys, same order, same values


def test_an_edit_replaces_a_kept_value_and_its_undo_restores_it(tmp_path: Path) -> None:
    stored = _stored(FIXTURE)
    odd_cluster = {**stored["cluster"], "future_cue": 0.5}  # a cluster field of a newer version
    scene = load_scene(_with_settings(tmp_path, {**stored, "cluster": odd_cluster}))
    assert scene.settings.cluster.epsilon == 0.06 and "cluster" in scene.settings.extra
    history = EditHistory(scene)
    config = ClusterConfig(epsilon=0.01)
    stats = label_statistics(scene, scene.labels)
    history.push(recluster(scene, scene.labels.copy(), stats, {"cluster": config}))
    assert scene.settings.to_json()["cluster"] == config.to_json()
    assert list(scene.settings.to_json()) == list(stored)  # the key stays where it was
    history.undo()
    assert scene.settings.to_json()["cluster"] == odd_cluster


def test_set_scale_adds_the_key_and_undo_removes_it() -> None:
    scene = make_scene()
    before = scene.settings.to_json()
    history = EditHistory(scene)
    events: list[str] = []
    scene.events.settings.connect(lambda: events.append("settings"))
    history.push(set_scale(scene, [0, 0, 0], [2, 0, 0], 1.0))
    assert scale_of(scene) == pytest.approx(0.5) and events == ["settings"]
    assert scene.settings.scale == SceneScale(0.5, ((0.0, 0.0, 0.0), (2.0, 0.0, 0.0)), 1.0)
    assert scene.settings.to_json() == {
        **before,
        "scale": {"metres_per_unit": 0.5, "points": [[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]], "length_m": 1.0},
    }
    history.push(clear_scale(scene))
    assert scale_of(scene) is None and scene.settings.to_json()["scale"] is None  # as a dict would hold it
    history.undo()
    history.undo()
    assert scene.settings.to_json() == before and not scene.settings.has("scale")


def test_updates_name_fields_only() -> None:
    s = SceneSettings.from_json({"weights": "bundled"})
    with pytest.raises(TypeError, match="not a scene setting"):
        s.updated(colour="red")
    assert s.updated(image_size=(28, 42)).to_json() == {
        "weights": "bundled",
        "preprocess": {"width": None, "height": None, "background": "white", "max_views": None,
                       "image_size": [28, 42]},
    }  # fmt: skip
    assert s.updated(weights=MISSING).to_json() == {} and s.field_value("device") is MISSING


def test_settings_that_are_not_an_object_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="JSON object"):
        SceneSettings.from_json(["weights"])  # type: ignore[arg-type]


def test_a_stored_vocabulary_is_offered_first_when_labelling() -> None:
    from app.edits import category_vocabulary

    scene = make_scene()
    scene.settings = SceneSettings.from_json({"points_source": "depth", "vocabulary": ["easel", "kiln"]})
    assert category_vocabulary(scene)[:2] == ["easel", "kiln"]
    scene.settings = SceneSettings.from_json({"vocabulary": "easel"})  # malformed: nothing offered from it
    assert "easel" not in category_vocabulary(scene) and scene.settings.to_json() == {"vocabulary": "easel"}


@pytest.mark.parametrize("size", [[84], [], "84x112", [84, None]])
def test_a_malformed_stored_image_size_opens_and_is_written_back(tmp_path: Path, size) -> None:
    stored = _stored(FIXTURE)
    other = {**stored, "preprocess": {**stored["preprocess"], "image_size": size}}
    scene = load_scene(_with_settings(tmp_path, other))
    assert scene.settings.image_size is None and scene.settings.extra == {"preprocess": other["preprocess"]}
    out = tmp_path / "again.iggt"
    save_scene(scene, out)
    assert json.dumps(_stored(out)) == json.dumps(other)
