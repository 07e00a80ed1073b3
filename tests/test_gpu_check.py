"""bench/gpu_check.py on the CPU with the tiny weights: its logic, JSON schema and time guard (#22). The GPU
figures themselves come from running it on a CUDA machine (docs/gpu_check.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import gpu_check


def test_time_guard_counts_down_from_its_budget() -> None:
    now = [100.0]
    guard = gpu_check.Guard(60.0, clock=lambda: now[0])
    assert guard.allows(60.0) and not guard.allows(61.0)
    now[0] = 130.0
    assert guard.left() == 30.0 and guard.allows(29.0) and not guard.allows(31.0)


def test_precision_metrics() -> None:
    from model.predict import Prediction

    rng = np.random.default_rng(0)
    s, h, w = 2, 4, 6
    ext = np.repeat(np.eye(3, 4, dtype=np.float32)[None], s, 0)
    base = Prediction(ext, np.eye(3)[None].repeat(s, 0), rng.uniform(1, 2, (s, h, w)), np.ones((s, h, w)),
                      rng.normal(size=(s, h, w, 3)), np.ones((s, h, w)), rng.normal(size=(s, h, w, 3)),
                      rng.normal(size=(s, h, w, 8)), np.zeros((s, 9)))  # fmt: skip
    same = gpu_check.compare(base, base)
    assert same["depth_rel"] == 0 and same["points_rel"] == 0 and same["rotation_deg"] == 0
    assert same["feature_cosine"] == pytest.approx(1.0)
    turned = ext.copy()
    angle = np.radians(3.0)
    turned[1, :3, :3] = [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    assert gpu_check.rotation_degrees(ext, turned) == pytest.approx(3.0, abs=1e-3)


def test_an_exhausted_budget_skips_everything_but_the_environment(tmp_path, capsys) -> None:
    out = tmp_path / "check.json"
    assert gpu_check.main(["--device", "cpu", "--tiny", "--budget-s", "0", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["schema"] == gpu_check.SCHEMA and list(report["sections"]) == list(gpu_check.SECTIONS)
    assert report["sections"]["environment"]["status"] == "ok"
    assert all(report["sections"][s]["status"] == "skipped" for s in gpu_check.SECTIONS[1:])
    printed = capsys.readouterr().out
    assert all(name in printed for name in gpu_check.SECTIONS)


@pytest.mark.slow
def test_tiny_check_on_the_cpu_runs_every_section(tmp_path, capsys) -> None:
    out = tmp_path / "check.json"
    code = gpu_check.main(["--device", "cpu", "--tiny", "--budget-s", "600", "--json", str(out)])
    report = json.loads(out.read_text())
    sections = report["sections"]
    assert code == 0, capsys.readouterr().out
    assert report["device"] == "cpu" and report["tiny"] is True
    assert sections["environment"]["dtype"] == "float32"
    assert sections["parity_fp32"]["status"] == sections["precision"]["status"] == "skipped"  # full / CUDA
    assert sections["loading"]["load_s"] > 0 and sections["loading"]["peak_cpu_mib"] > 0
    rows = sections["scale"]["rows"]
    assert [(r["size"], r["views"]) for r in rows] == [(f"{w}x{h}", n) for h, w in gpu_check.TINY_SIZES
                                                        for n in gpu_check.TINY_VIEWS]  # fmt: skip
    assert all(r["status"] == "ok" and r["predict_s"] > 0 and r["estimate_gb"] > 0 for r in rows)
    assert sections["heads_chunk"]["status"] == "ok"
    oom = sections["oom_recovery"]
    assert (oom["status"], oom["oom"], oom["retry"]) == ("ok", True, "ok")
    assert sections["cancel_latency"]["status"] == "ok" and sections["cancel_latency"]["latency_s"] < 5
    assert "scale" in capsys.readouterr().out
