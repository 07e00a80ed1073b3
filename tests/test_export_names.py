"""`iggt export -f glb -o cloud.ply` writes what was asked, but says on stderr that the file's name does not
match what it holds (it wrote a GLB named .ply in silence: other tools pick the reader by the suffix)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_export_fixtures import make_export_scene

from app.cli import main
from app.scene_io import save_scene


@pytest.fixture
def scene_file(tmp_path: Path) -> Path:
    path = tmp_path / "room.iggt"
    save_scene(make_export_scene(tmp_path / "photos"), path)
    return path


@pytest.mark.parametrize(("fmt", "name"), [("glb", "cloud.ply"), ("ply", "scene.glb"), ("coco", "coco.txt")])
def test_a_name_that_does_not_match_the_format_is_warned(scene_file, tmp_path, capsys, fmt, name) -> None:
    out = tmp_path / name
    assert main(["export", str(scene_file), "-f", fmt, "-o", str(out), "-q"]) == 0
    assert out.is_file()
    captured = capsys.readouterr()
    assert f"wrote {out}" in captured.out
    (line,) = [x for x in captured.err.splitlines() if x.startswith("warning:")]
    assert name in line and "not named" in line


@pytest.mark.parametrize(("fmt", "name"), [("glb", "scene.GLB"), ("ply", "cloud.ply"), ("table", "t.json")])
def test_matching_names_are_not_warned(scene_file, tmp_path, capsys, fmt, name) -> None:
    assert main(["export", str(scene_file), "-f", fmt, "-o", str(tmp_path / name), "-q"]) == 0
    assert "warning" not in capsys.readouterr().err
