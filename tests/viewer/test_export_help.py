"""Issue #17 item 11 through real widgets: export names and folders, the PLY colour choice, "all" in the GUI
export, F1 lists the mouse controls and Esc closes it, the merge dialog's swatches and 3D preview."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog
from scene_factory import synthetic_scene

from app.colors import NO_INSTANCE_COLOUR
from app.edits import merge_candidates
from app.export import ALL_NAMES
from app.scene_io import save_scene
from viewer import export_dialog
from viewer.export_dialog import default_target
from viewer.merge_dialog import MergeDialog, view_preview


@pytest.fixture
def opened(make_window, tmp_path, monkeypatch, qtbot):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = tmp_path / "room3.iggt"
    save_scene(synthetic_scene(seed=1, views=3), path)
    window = make_window()
    assert window.open_path(path)
    qtbot.waitUntil(lambda: window.document.scene is not None and window.job is None, timeout=30_000)
    yield window, path
    window.document.set_modified(False)


def test_export_names_are_the_scene_name_with_the_format_suffix(tmp_path) -> None:
    base = tmp_path / "room3.iggt"
    assert default_target(base, "glb") == tmp_path / "room3.glb"
    assert default_target(base, "ply") == tmp_path / "room3.ply"
    assert default_target(base, "colmap") == tmp_path / "room3-colmap"
    assert default_target(base, "table") == tmp_path / "room3-instances.csv"
    assert default_target(base, "all") == tmp_path / "room3-export"


def test_export_and_save_never_default_to_a_read_only_folder(tmp_path, monkeypatch) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == photos else real_access(p, mode))
    target = default_target(photos / "room.iggt", "glb")
    assert target.parent != photos and target.name == "room.glb"
    assert export_dialog.writable_folder(photos) != photos
    assert export_dialog.writable_folder(tmp_path) == tmp_path


def test_save_as_never_starts_in_a_read_only_photo_folder(opened, tmp_path, monkeypatch) -> None:
    """The Save dialog offered the (read-only) photo folder of a new reconstruction."""
    window, _ = opened
    photos = tmp_path / "photos"
    photos.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == photos else real_access(p, mode))
    window.settings.set("paths/last_dir", str(photos))
    window.document.set_scene(window.document.scene, source=photos)  # a new reconstruction: no file yet
    offered = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **_k: offered.append(a[2]) or ("", ""))
    assert not window.scenes.save_as()  # the user cancels
    start = Path(offered[0])
    assert start.parent != photos and start.parent.is_dir() and start.suffix == ".iggt"


def test_a_new_reconstruction_exports_under_its_own_name(opened, tmp_path) -> None:
    """The sample room (photos in .../images) offered "images.glb" and "images-export"."""
    window, _ = opened
    photos = tmp_path / "images"
    photos.mkdir()
    window.document.set_scene(window.document.scene, source=photos, modified=True, title="Sample room")
    dialog = window.editing.show_export()
    dialog.set_format("glb")
    assert Path(dialog.target.text()) == tmp_path / "sample-room.glb"
    dialog.set_format("all")
    assert Path(dialog.target.text()) == tmp_path / "sample-room-export"
    dialog.close()


def test_ply_colour_choice_follows_the_view_and_all_formats_export(opened, tmp_path, qtbot) -> None:
    from plyfile import PlyData

    window, path = opened
    scene = window.document.scene
    window.display_panel.set_colour_mode("instance")
    dialog = window.editing.show_export()
    dialog.set_format("ply")
    assert dialog.colour_by.isEnabled() and dialog.colour_by.currentData() == "instance"
    assert Path(dialog.target.text()) == path.with_suffix(".ply")
    dialog.set_target(tmp_path / "c.ply")
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=60_000)
    v = PlyData.read(str(tmp_path / "c.ply"))["vertex"]
    rgb = np.stack([v["red"], v["green"], v["blue"]], 1)
    lut = np.array([NO_INSTANCE_COLOUR] * (max(scene.instances) + 1))
    for iid, inst in scene.instances.items():
        lut[iid] = inst.colour
    np.testing.assert_array_equal(rgb, lut[v["instance_id"]])  # each point in its instance's colour
    # every format into one folder from the GUI
    dialog.set_format("all")
    assert dialog.colour_by.isEnabled() and dialog.with_images.isEnabled()
    dialog.set_target(tmp_path / "everything")
    dialog.with_images.setChecked(False)
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=120_000)
    assert dialog.last_result is not None, dialog.status.text()
    for name in ALL_NAMES.values():
        assert (tmp_path / "everything" / name).exists(), name
    dialog.close()


def test_f1_lists_mouse_controls_and_esc_closes_it(opened, qtbot) -> None:
    window, _ = opened
    dialog = window.show_shortcuts()
    qtbot.waitExposed(dialog)
    table = dialog.table
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["Rotate the 3D view"] == "Left drag" and "Wheel" in rows["Zoom"] and "Pan" in rows
    table.setFocus()
    QTest.keyClick(table, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())


def test_merge_dialog_has_swatches_and_previews_the_hovered_candidate(opened, qtbot) -> None:
    window, _ = opened
    scene = window.document.scene
    view = window.view
    base = next(iter(scene.instances))
    dialog = MergeDialog(scene, base, merge_candidates(scene, base), view_preview(view), window)
    dialog.show()
    qtbot.waitExposed(dialog)
    first = dialog.listing.item(0)
    assert not first.icon().isNull()
    colour = first.icon().pixmap(12, 12).toImage().pixelColor(6, 6)
    partner = int(first.data(Qt.ItemDataRole.UserRole))
    assert (colour.red(), colour.green(), colour.blue()) == tuple(scene.instances[partner].colour)
    shown_before = view.n_visible
    view.set_frustums_visible(True)
    rect = dialog.listing.visualItemRect(first)
    QTest.mouseMove(dialog.listing.viewport(), rect.center())
    qtbot.waitUntil(lambda: view.isolated == {base, partner})
    both = np.isin(scene.point_labels, [base, partner]).sum()
    assert view.n_visible == both < shown_before
    assert not view.frustums_drawn and view.frustums_visible  # the cameras do not cover the two
    QTest.mouseMove(window, QPoint(5, 5))  # leaving the list restores the view
    qtbot.waitUntil(lambda: not view.isolated)
    assert view.n_visible == shown_before and view.frustums_drawn
    first.setCheckState(Qt.CheckState.Checked)
    dialog.accept()
    assert dialog.checked() == [partner]
