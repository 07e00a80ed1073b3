"""bench/viewer.py still runs against today's viewer (it broke once when the view's colour mode moved into
ViewerState): a tiny cloud, a few frames and picks, every section printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_viewer_benchmark_runs_on_a_small_cloud(qapp):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "viewer.py"),
         "--points", "20000", "--frames", "2", "--picks", "5",
         "--size", "400x300"],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for section in ("viewer, full cloud", "colour mode switch", "confidence filter change",
                    "selection highlight change", "pick latency"):
        assert section in out, out[-2000:]
    for mode in ("instance", "pca", "confidence", "height", "depth"):
        assert f"  {mode} " in out
