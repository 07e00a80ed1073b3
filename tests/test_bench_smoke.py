"""The clustering benchmark still runs against today's app (clustering and the re-clustering edit path) on a
tiny synthetic room; the figures themselves belong to an idle machine, not to this test."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_clustering_benchmark_runs_on_a_tiny_room():
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "clustering.py"),
         "--views", "2", "--height", "56", "--width", "84",
         "--no-reference", "--repeat", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    ari = re.search(r"ARI fast vs ground truth: ([0-9.]+)", result.stdout)
    assert ari is not None and float(ari.group(1)) > 0.8, result.stdout[-2000:]
    for preset in ("small", "medium", "large", "spatial"):
        assert re.search(rf"^\s+{preset}\s+cold", result.stdout, re.M), result.stdout[-2000:]
