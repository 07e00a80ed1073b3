"""The Scans panel: File > Open batch lists a manifest, opens scans in turn, follows a running batch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from scene_factory import synthetic_scene

from app.batch_manifest import ScanRecord, append_record, manifest_path
from app.scene_io import save_scene

OPEN_TIMEOUT_MS = 60_000


def record(scan: str, status: str = "done", **kw) -> ScanRecord:
    values = {"views": 2, "points": 1000, "instances": 7, "consistency": 0.8125, "seconds": 12.0}
    if status != "done":
        values = {"error": "no usable image in /scans/broken: view_00.png: damaged image file"}
    return ScanRecord(scan=scan, status=status, **{**values, **kw})


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory) -> Path:
    """An iggt batch output folder: two done scans (one nested), one failed."""
    out = tmp_path_factory.mktemp("batch")
    (out / "site").mkdir()
    save_scene(synthetic_scene(seed=1, views=2, height=56, width=84), out / "room_a.iggt")
    save_scene(synthetic_scene(seed=2, views=2, height=56, width=84), out / "site" / "room_c.iggt")
    for rec in (record("room_a", instances=5), record("room_b", "failed"), record("site/room_c")):
        append_record(manifest_path(out), rec)
    return out


def _wait_opened(window, qtbot, path: Path) -> None:
    qtbot.waitUntil(lambda: window.job is None and window.document.path == path, timeout=OPEN_TIMEOUT_MS)


def test_open_batch_lists_scans_and_steps_through_done_ones(window, batch_dir: Path, qtbot, tmp_path) -> None:
    panel = window.scans_panel
    assert panel.open_batch_action in window.menus["file"].actions()
    assert not panel.isVisible()
    assert panel.open_batch(batch_dir)
    assert panel.isVisible()
    table = panel.table
    rows = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
    assert rows == [
        ["room_a", "done", "5", "0.81", "2", "12"],
        ["room_b", "failed", "", "", "", "0"],
        ["site/room_c", "done", "7", "0.81", "2", "12"],
    ]
    assert "damaged image file" in table.item(1, 1).toolTip()
    assert "2 done, 1 failed" in panel.header.text()

    panel.next_action.trigger()  # the first done scan
    _wait_opened(window, qtbot, batch_dir / "room_a.iggt")
    assert panel.step(1)  # skips the failed one
    _wait_opened(window, qtbot, batch_dir / "site" / "room_c.iggt")
    assert not panel.next_button.isEnabled() and panel.previous_button.isEnabled()
    panel.previous_action.trigger()
    _wait_opened(window, qtbot, batch_dir / "room_a.iggt")
    assert table.item(0, 0).font().bold()

    assert not panel.open_row(1)  # a failed scan says why instead of opening
    assert "damaged image file" in panel.header.text()
    assert window.document.path == batch_dir / "room_a.iggt"
    if os.environ.get("IGGT_SCREENSHOTS"):
        window.grab().save(str(Path(os.environ["IGGT_SCREENSHOTS"]) / "scans_panel.png"))


def test_panel_follows_a_running_batch(window, tmp_path: Path, qtbot) -> None:
    panel = window.scans_panel
    append_record(manifest_path(tmp_path), record("first", "failed"))
    assert panel.open_batch(tmp_path)
    assert panel.table.rowCount() == 1 and not panel.next_button.isEnabled()
    save_scene(synthetic_scene(seed=3, views=2, height=56, width=84), tmp_path / "second.iggt")
    append_record(manifest_path(tmp_path), record("second"))  # the batch finished one more scan
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=10_000)
    assert panel.next_button.isEnabled()


def test_folder_without_manifest_is_explained(window, tmp_path: Path) -> None:
    panel = window.scans_panel
    assert not panel.open_batch(tmp_path)
    assert "no batch manifest" in panel.header.text()
