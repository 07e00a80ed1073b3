"""Exports are atomic, never overwrite without --force, can be cancelled, and run from the `iggt` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_export_fixtures import make_export_scene

from app.cli import main
from app.export import FORMATS, ExportCancelled, ExportOptions, OutputExistsError, export_scene
from app.export.atomic import atomic_file, atomic_folder
from app.scene import Scene
from app.scene_io import save_scene

TARGETS = {
    "ply": "c.ply",
    "glb": "s.glb",
    "colmap": "colmap",
    "masks": "masks",
    "coco": "c.json",
    "table": "t.csv",
}


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    return make_export_scene(tmp_path / "photos")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_existing_output_is_kept_without_force(scene: Scene, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / TARGETS[fmt]
    if FORMATS[fmt].folder:
        target.mkdir()
        (target / "mine.txt").write_text("keep me")
    else:
        target.write_text("keep me")
    with pytest.raises(OutputExistsError, match="--force"):
        export_scene(scene, fmt, target)
    kept = target / "mine.txt" if FORMATS[fmt].folder else target
    assert kept.read_text() == "keep me"
    result = export_scene(scene, fmt, target, ExportOptions(force=True))
    assert result.path == target
    if FORMATS[fmt].folder:
        assert not (target / "mine.txt").exists() and any(target.iterdir())
    else:
        assert target.read_bytes() != b"keep me"
    assert _leftovers(tmp_path) == []


def test_cancel_leaves_old_output_and_no_temporary_files(scene: Scene, tmp_path: Path) -> None:
    target = tmp_path / "colmap"
    export_scene(scene, "colmap", target)
    before = (target / "sparse" / "0" / "points3D.txt").read_text()
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(ExportCancelled):
        export_scene(scene, "colmap", target, ExportOptions(force=True, cancel=cancel))
    assert (target / "sparse" / "0" / "points3D.txt").read_text() == before
    assert _leftovers(tmp_path) == []


def test_failure_while_writing_a_file_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(target, force=True) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old" and _leftovers(tmp_path) == []
    with pytest.raises(RuntimeError), atomic_folder(tmp_path / "new", force=False) as folder:
        (folder / "a.txt").write_text("x")
        raise RuntimeError("boom")
    assert not (tmp_path / "new").exists() and _leftovers(tmp_path) == []


def test_missing_parent_folder_is_a_clear_error(scene: Scene, tmp_path: Path) -> None:
    from app.errors import UserError

    with pytest.raises(UserError, match="does not exist"):
        export_scene(scene, "ply", tmp_path / "nope" / "c.ply")


def test_progress_reaches_one(scene: Scene, tmp_path: Path) -> None:
    seen: list[float] = []
    export_scene(scene, "masks", tmp_path / "m", ExportOptions(progress=lambda _m, f: seen.append(f)))
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_cli_exports_every_format_and_refuses_overwrite(scene: Scene, tmp_path: Path, capsys) -> None:
    import plyfile

    scene_path = save_scene(scene, tmp_path / "room.iggt")
    for fmt, name in TARGETS.items():
        out = tmp_path / "exports" / name
        out.parent.mkdir(exist_ok=True)
        assert main(["export", str(scene_path), "--format", fmt, "-o", str(out), "-q"]) == 0, fmt
        assert out.exists()
        assert main(["export", str(scene_path), "--format", fmt, "-o", str(out), "-q"]) == 1
        assert "--force" in capsys.readouterr().err
        assert main(["export", str(scene_path), "--format", fmt, "-o", str(out), "-q", "--force"]) == 0
    ply = plyfile.PlyData.read(str(tmp_path / "exports" / "c.ply"))
    np.testing.assert_array_equal(ply["vertex"]["instance_id"], scene.point_labels)
    coco = json.loads((tmp_path / "exports" / "c.json").read_text())
    assert {a["instance_id"] for a in coco["annotations"]} == {1, 2, 3}


def test_cli_reports_a_missing_scene(tmp_path: Path, capsys) -> None:
    assert (
        main(["export", str(tmp_path / "none.iggt"), "--format", "ply", "-o", str(tmp_path / "x.ply")]) == 1
    )
    assert "not found" in capsys.readouterr().err


def test_cli_exports_all_formats_into_one_folder(scene: Scene, tmp_path: Path, capsys) -> None:
    from app.export import ALL_NAMES

    scene_path = save_scene(scene, tmp_path / "room.iggt")
    out = tmp_path / "everything"
    assert main(["export", str(scene_path), "--format", "all", "-o", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(ALL_NAMES.values())
    before = (out / "cloud.ply").read_bytes()
    assert main(["export", str(scene_path), "--format", "all", "-o", str(out), "-q"]) == 1
    assert "--force" in capsys.readouterr().err and (out / "cloud.ply").read_bytes() == before
    assert main(["export", str(scene_path), "-f", "all", "-o", str(out), "-q", "--force"]) == 0
