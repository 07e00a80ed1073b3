"""`iggt batch --ray` on a real local Ray cluster (2 CPU workers, loopback only) with the bundled model.

One cluster for the module: the batch joins a Ray that is already running (as it would join one started
with ``ray start``) and leaves it running.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import ray
from batch_data import (
    RUN_OPTIONS,
    assert_same_scene,
    change_one_image,
    reconstruct_cli,
    run_config,
    write_broken,
    write_room,
)

from app.batch import BatchOptions, run_batch
from app.batch_manifest import manifest_path, read_manifest
from app.batch_worker import FAULT_ENV
from app.cli import main
from app.scene_io import load_scene

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    # the test machine is shared: Ray's memory monitor would kill workers for other processes' memory
    os.environ["RAY_memory_monitor_refresh_ms"] = "0"  # noqa: SIM112  (Ray's own spelling)
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             configure_logging=False)  # fmt: skip
    yield ray
    ray.shutdown()
    os.environ.pop("RAY_memory_monitor_refresh_ms", None)


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    root = tmp_path / "scans"
    write_room(root / "room_1", seed=3)
    write_room(root / "room_2", seed=5)
    write_broken(root / "broken")
    return root


def test_ray_batch_matches_reconstruct_skips_and_reruns_changed(cluster, scans: Path, tmp_path: Path,
                                                               capsys) -> None:  # fmt: skip
    out = tmp_path / "out"
    argv = ["batch", str(scans), "-o", str(out), "--ray", "--workers", "2", "--json", *RUN_OPTIONS]
    assert main(argv) == 1  # a scan failed
    summary = json.loads(capsys.readouterr().out)
    assert sorted(summary["done"]) == ["room_1", "room_2"] and summary["runner"] == "ray (local)"
    assert [f["scan"] for f in summary["failed"]] == ["broken"] and "image" in summary["failed"][0]["error"]
    assert summary["ray"]["workers"] == 2
    records = read_manifest(manifest_path(out))
    assert len({records["room_1"].worker, records["room_2"].worker} - {""}) >= 1
    for name in ("room_1", "room_2"):
        assert_same_scene(out / f"{name}.iggt", reconstruct_cli(scans / name, tmp_path / f"{name}-ref.iggt"))

    capsys.readouterr()
    assert main(argv) == 0  # nothing changed: nothing runs, the failed scan is skipped too
    again = json.loads(capsys.readouterr().out)
    assert again["ran"] == 0 and len(again["skipped"]) == 3

    change_one_image(scans / "room_1")
    assert main(argv) == 0
    changed = json.loads(capsys.readouterr().out)
    assert changed["done"] == ["room_1"] and changed["ran"] == 1
    assert_same_scene(out / "room_1.iggt", reconstruct_cli(scans / "room_1", tmp_path / "room_1-ref2.iggt"))


def test_ray_worker_killed_mid_scan_is_retried(cluster, scans: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(FAULT_ENV, "kill:room_2:once")
    out = tmp_path / "out"
    summary = run_batch(scans, out, run_config(), BatchOptions(ray="local", workers=2, quiet=True))
    assert sorted(summary.done) == ["room_1", "room_2"] and [s for s, _ in summary.failed] == ["broken"]
    assert summary.retried == [("room_2", 2, "done")]
    assert "retried room_2: its worker process died; done after 2 attempts" in summary.lines()
    for name in ("room_1", "room_2"):
        scene = load_scene(out / f"{name}.iggt")
        assert scene.n_views == 2 and len(scene.instances) > 0
    assert not list(out.rglob(".*.part"))
    assert ray.is_initialized()  # the batch joined the running Ray and left it running
