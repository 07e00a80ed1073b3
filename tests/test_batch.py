"""`iggt batch` without Ray: embedded and local processes, manifest bookkeeping, dry run, faults, Ctrl-C.

Real scans (tiny synthetic rooms) through the bundled model; Ray's own tests are in test_batch_ray.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_data import (
    RUN_OPTIONS,
    assert_same_scene,
    change_one_image,
    reconstruct_cli,
    run_config,
    write_broken,
    write_room,
)

from app.batch import BatchOptions, batch_plan, locked, prepare, run_batch
from app.batch_manifest import manifest_path, read_manifest
from app.batch_scans import find_scans
from app.batch_worker import FAULT_ENV
from app.cli import main
from app.errors import UserError
from app.scene_io import load_scene

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scans")
    write_room(root / "site_a" / "room_1", seed=3)
    write_room(root / "room_2", seed=5)
    write_broken(root / "broken")
    return root


def test_embedded_batch_equals_reconstruct_and_resumes(scans: Path, tmp_path: Path, capsys) -> None:
    root = tmp_path / "in"
    shutil.copytree(scans, root)
    out = tmp_path / "out"
    summary = run_batch(root, out, run_config(), BatchOptions(quiet=True))
    assert sorted(summary.done) == ["room_2", "site_a/room_1"]
    assert [s for s, _ in summary.failed] == ["broken"]
    records = read_manifest(manifest_path(out))
    assert records["broken"].status == "failed" and "broken" not in summary.done
    assert "image" in records["broken"].error  # the reader's reason, one line
    assert not (out / "broken.iggt").exists()
    for name in ("site_a/room_1", "room_2"):
        rec = records[name]
        assert rec.status == "done" and rec.views == 2 and rec.attempts == 1
        scene = load_scene(out / f"{name}.iggt")
        assert (rec.points, rec.instances) == (scene.n_points, len(scene.instances))
    assert_same_scene(out / "room_2.iggt", reconstruct_cli(root / "room_2", tmp_path / "ref.iggt"))

    again = run_batch(root, out, run_config(), BatchOptions(quiet=True))  # nothing changed: nothing runs
    assert again.to_run == 0 and not again.done and len(again.skipped) == 3

    change_one_image(root / "room_2")
    changed = run_batch(root, out, run_config(), BatchOptions(quiet=True))
    assert changed.done == ["room_2"] and not changed.failed
    assert (out / "room_2.iggt.bak").exists()  # the earlier file (maybe edited by someone) is kept

    capsys.readouterr()
    argv = ["batch", str(root), "-o", str(out), "--dry-run", "--json", "--retry-failed", *RUN_OPTIONS]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["scan"] for r in report["to_run"]] == ["broken"] and len(report["skipped"]) == 2
    assert report["to_run"][0]["seconds"] > 0  # from the rooms' measured seconds per view-megapixel
    assert report["time_from"] == "the scans this batch already finished"

    retry = run_batch(root, out, run_config(), BatchOptions(quiet=True, retry_failed=True))
    assert retry.done == [] and [s for s, _ in retry.failed] == ["broken"]

    other = batch_plan(run_config("--conf-percentile", "5"))
    _, plan, _ = prepare(root, out, other, retry_failed=False)
    assert sorted(j.scan.name for j in plan.jobs) == ["broken", "room_2", "site_a/room_1"]  # all again


def test_dry_run_lists_work_with_estimate(scans: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["batch", str(scans), "-o", str(out), "--dry-run", "--json", *RUN_OPTIONS]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["scan"] for r in report["to_run"]] == ["broken", "room_2", "site_a/room_1"]
    room = report["to_run"][1]
    assert room["views"] == 2 and room["memory_gb"] > 0 and room["fits"] and room["seconds"] is None
    assert report["input_size"] == [112, 168]
    assert not manifest_path(out).exists()  # a dry run writes nothing


def test_list_file_names_scans_relative_to_their_common_folder(scans: Path, tmp_path: Path) -> None:
    listing = tmp_path / "scans.txt"
    listing.write_text(f"# tonight\n{scans / 'site_a' / 'room_1'}\n\n{scans / 'room_2'}\n")
    assert [s.name for s in find_scans(listing)] == ["site_a/room_1", "room_2"]
    listing.write_text(f"{scans / 'nope'}\n")
    with pytest.raises(UserError, match="not a folder"):
        find_scans(listing)


def test_second_batch_into_the_same_folder_is_refused(tmp_path: Path) -> None:
    with locked(tmp_path), pytest.raises(UserError, match="another batch"):
        run_batch(tmp_path, tmp_path, run_config(), BatchOptions(quiet=True))


def test_local_process_killed_mid_scan_is_retried(scans: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(FAULT_ENV, "kill:room_2:once")
    out = tmp_path / "out"
    summary = run_batch(scans, out, run_config(), BatchOptions(workers=2, quiet=True))
    assert sorted(summary.done) == ["room_2", "site_a/room_1"]
    assert ("room_2", 2, "done") in summary.retried
    assert any(line.startswith("retried room_2") for line in summary.lines())
    assert read_manifest(manifest_path(out))["room_2"].attempts == 2
    load_scene(out / "room_2.iggt")  # valid
    assert not list(out.rglob(".*.part"))


def _default_sigint() -> None:
    """Ctrl-C reaches the batch even when these tests run in a background shell (which ignores it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_cleanly_and_a_rerun_resumes(scans: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "app.cli", "batch", str(scans), "-o", str(out), *RUN_OPTIONS]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            preexec_fn=_default_sigint)  # fmt: skip
    deadline = time.monotonic() + 300
    while len(read_manifest(manifest_path(out))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)  # the broken scan and one room are finished; the last one is running
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err + _
    left = [p.name for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert "room_1.iggt" not in left and not list(out.rglob(".*.part"))
    resumed = run_batch(scans, out, run_config(), BatchOptions(quiet=True))
    assert resumed.done == ["site_a/room_1"] and len(resumed.skipped) == 2
