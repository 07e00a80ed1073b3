"""`iggt query` and `iggt ask` only read the scene file: the CLIP features they compute are written into it
only with --save, and one line on stderr says which happened (query wrote them silently unless --no-save)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from app.cli import main
from app.paths import SAMPLE_DIR
from app.scene_io import backup_path, load_scene, save_scene
from app.semantics import cached_embeddings, load_backend
from app.semantics.ground_truth import scene_from_synthetic


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """The bundled sample room (ground-truth instances) saved without any CLIP features."""
    from training.synthetic.storage import read_scene

    scene = scene_from_synthetic(read_scene(SAMPLE_DIR / "scene_000012")).scene
    assert not scene.embeddings
    return save_scene(scene, tmp_path_factory.mktemp("pristine") / "room.iggt")


@pytest.fixture
def room(pristine, tmp_path) -> Path:
    return Path(shutil.copy2(pristine, tmp_path / "room.iggt"))


def _state(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_a_query_leaves_the_scene_file_as_it_was(room, capsys) -> None:
    before = _state(room)
    for extra in ([], ["--no-save"]):  # --no-save, the old way to ask for this, still says the same
        assert main(["query", str(room), "chair", "--json", *extra]) == 0
        out, err = capsys.readouterr()
        assert json.loads(out)  # the ranking, on stdout only
        assert _state(room) == before and not backup_path(room).exists()
        notes = err.strip().splitlines()
        assert len(notes) == 1 and "left unchanged" in notes[0] and "--save" in notes[0]


def test_query_save_keeps_the_features_and_says_so(room, capsys) -> None:
    model_id = load_backend("bundled", device="cpu").model_id
    assert main(["query", str(room), "chair", "--json", "--save"]) == 0
    out, err = capsys.readouterr()
    ranking = [row["id"] for row in json.loads(out)]
    n = len(cached_embeddings(load_scene(room), model_id).instance_ids)
    said = f"saved CLIP features for {n} objects in room.iggt (the previous file kept as room.iggt.bak)"
    assert err.strip() == said
    assert cached_embeddings(load_scene(backup_path(room)), model_id) is None  # the file as it was

    saved = _state(room)
    assert main(["query", str(room), "chair", "--json", "--save"]) == 0  # nothing new to keep
    out, err = capsys.readouterr()
    assert err.strip() == "room.iggt already holds these CLIP features: nothing written"
    assert main(["query", str(room), "chair", "--json"]) == 0  # read from the file: nothing computed
    again, quiet = capsys.readouterr()
    assert quiet == "" and [row["id"] for row in json.loads(again)] == ranking
    assert _state(room) == saved


def test_save_never_writes_over_a_file_saved_meanwhile(room, capsys) -> None:
    """An answer can take minutes (ask): if the viewer saved the file meanwhile, --save must not put the
    copy read at the start back over it."""
    from app.semantics.console import keep_embeddings, scene_embeddings

    scene, emb, computed = scene_embeddings(room, load_backend("bundled", device="cpu"))
    assert computed
    newer = load_scene(room)
    first = min(newer.instances)
    newer.instances[first] = dataclasses.replace(newer.instances[first], name="renamed meanwhile")
    save_scene(newer, room, keep_backup=False)
    state = _state(room)
    capsys.readouterr()
    keep_embeddings(scene, room, emb, computed, save=True)
    err = capsys.readouterr().err.strip()
    assert err.startswith("warning: CLIP features not saved: room.iggt changed on disk since it was read")
    assert _state(room) == state and not backup_path(room).exists()
    assert load_scene(room).instances[first].name == "renamed meanwhile"


def test_save_refuses_a_scene_opened_with_missing_photos(room, tmp_path, capsys) -> None:
    """Placeholder photos would give placeholder features, kept as if they were the real ones'."""
    from PIL import Image
    from scenes import rebuild_scene

    from app.images import file_sha256
    from app.scene import ViewInfo, ViewTransform

    base = load_scene(room)
    views, shape = [], base.images.shape[1:3]
    for i in range(base.n_views):
        photo = tmp_path / f"photo{i}.png"
        Image.fromarray(base.images[i]).save(photo)
        same = ViewTransform.resize(shape, shape)
        views.append(ViewInfo(photo.name, str(photo), file_sha256(photo), shape, same))
    path = save_scene(rebuild_scene(base, views=views, image_storage="paths"), tmp_path / "by_path.iggt")
    (tmp_path / "photo1.png").unlink()
    state = _state(path)
    assert main(["query", str(path), "chair", "--json", "--save"]) == 0
    err = capsys.readouterr().err
    assert "not saved: by_path.iggt was opened without some of its photos: image photo1.png cannot" in err
    assert _state(path) == state and not backup_path(path).exists()
