"""A photo folder given where a scene file goes (`iggt review resources/photos/room_png_3`) is told as a
folder, with how to make a scene of it, exit 1: review and export said "scene file not found" of a folder
that is there."""

from __future__ import annotations

import pytest

from app.cli import main
from app.paths import ROOT

PHOTOS = ROOT / "resources" / "photos" / "room_png_3"


@pytest.mark.parametrize("command", [["review"], ["export", "-f", "ply", "-o", "{out}"],
                                     ["label", "--vocab", "scannet20"], ["query", "{photos}", "chair"]])
def test_a_photo_folder_is_not_a_scene(command, tmp_path, capsys) -> None:
    args = [a.format(out=tmp_path / "x.ply", photos=PHOTOS) for a in command]
    if "{photos}" not in command:
        args.insert(1, str(PHOTOS))
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a folder, not a scene file" in err[0] and "iggt reconstruct" in err[0]
    assert "not found" not in err[0] and not (tmp_path / "x.ply").exists()
