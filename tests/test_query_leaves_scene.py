"""`iggt query` and `iggt ask` only read the scene file: the CLIP features they compute are written into it
only with --save, and one line on stderr says which happened (query wrote them silently unless --no-save)."""

from __future__ import annotations

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
