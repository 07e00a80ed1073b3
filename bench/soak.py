"""Soak benchmark: one running app opens, edits, re-clusters, queries, saves and exports a scene many times.

Run headless (Xvfb is started by the wrapper):

    bash scripts/with_display.sh .venv/bin/python bench/soak.py --rounds 200 [--minutes 60]

Each round, in one MainWindow under pytest-qt: open the scene file (tests/fixtures/scenes, the sample room
at 112 px), rename an instance (an undoable edit), re-cluster with the next preset, run a text query
in the query panel (which computes the CLIP features), save the scene, export it as PLY and masks.
It prints the resident memory (RSS) and wall time per round, the growth from round 1 to the last
(goal: < 50 MB) and the last rounds' time against the first rounds' (goal: within 10 %).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENE = ROOT / "tests" / "fixtures" / "scenes" / "sample_w112_v4.iggt"
PRESETS = ("small", "large", "medium", "spatial")
WINDOW = 5  # rounds averaged at each end when comparing times


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _round(window, panel, qtbot, k: int, out: Path) -> None:
    from app.export import ExportOptions, export_scene
    from viewer.run_settings import RunSettings

    previous = window.document.scene
    panel.edit.clear()  # no query may start while the scene opens
    assert window.open_path(SCENE)
    qtbot.waitUntil(lambda: window.document.scene is not previous and window.job is None, timeout=120_000)
    scene = window.document.scene
    iid = max(scene.instances, key=lambda i: scene.instances[i].stats.point_count)
    window.edit_instance(iid, name=f"soak round {k}")
    edits = len(scene.edit_log)
    assert window.reclustering.recluster(RunSettings(cluster_preset=PRESETS[k % len(PRESETS)]))
    qtbot.waitUntil(lambda: window.job is None and len(scene.edit_log) > edits, timeout=300_000)
    panel.edit.setText("chair" if k % 2 else "table")
    panel.run_now()
    qtbot.waitUntil(lambda: panel.job is None and panel.table.rowCount() > 0, timeout=300_000)
    window.document.save(out / "soak.iggt")
    options = ExportOptions(force=True)
    export_scene(scene, "ply", out / "soak.ply", options)
    export_scene(scene, "masks", out / "masks", options)


def test_soak(qtbot, tmp_path: Path, rounds: int, minutes: float) -> None:
    from app.logging_setup import configure_logging
    from viewer.main_window import MainWindow
    from viewer.panels.query import install_query_panel
    from viewer.settings import AppSettings

    window = MainWindow(AppSettings(tmp_path / "viewer.ini"), log_path=configure_logging())
    window.show()
    qtbot.waitExposed(window)
    panel = install_query_panel(window)
    out = tmp_path / "out"
    out.mkdir()
    rows = []
    try:
        started = time.monotonic()
        for k in range(rounds):
            if time.monotonic() - started > minutes * 60:
                print(f"stopped after {k} rounds: the time limit of {minutes:g} minutes was reached")
                break
            t0 = time.perf_counter()
            _round(window, panel, qtbot, k, out)
            qtbot.wait(1)  # let queued signals and deleteLater run, as the event loop would between clicks
            gc.collect()
            rows.append((time.perf_counter() - t0, rss_mb()))
            print(f"round {k + 1:4d}  {rows[-1][0]:7.2f} s  RSS {rows[-1][1]:8.1f} MB", flush=True)
            if (k + 1) % 10 == 0:
                _report(rows)
    finally:
        window.document.set_modified(False)
        window.close()
    _report(rows)


def _report(rows: list[tuple[float, float]]) -> None:
    times = [t for t, _ in rows]
    n = min(WINDOW, max(1, len(rows) // 2))
    first, last = statistics.median(times[:n]), statistics.median(times[-n:])
    if not rows:
        return
    print(f"\nrounds            {len(rows)}")
    print(f"RSS after round 1 {rows[0][1]:.1f} MB, after the last {rows[-1][1]:.1f} MB: "
          f"growth {rows[-1][1] - rows[0][1]:+.1f} MB (peak {max(r for _, r in rows):.1f} MB)")  # fmt: skip
    print(f"time per round    first {n}: median {first:.2f} s, last {n}: median {last:.2f} s "
          f"({(last / first - 1) * 100:+.1f} %)")  # fmt: skip
    print(f"load average      {os.getloadavg()[0]:.1f} (times grow when the CPU is shared)")


@pytest.fixture
def rounds() -> int:
    return int(os.environ.get("SOAK_ROUNDS", "200"))


@pytest.fixture
def minutes() -> float:
    return float(os.environ.get("SOAK_MINUTES", "inf"))


def main() -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=float("inf"), help="stop after this long")
    args = parser.parse_args()
    os.environ["SOAK_ROUNDS"] = str(args.rounds)
    os.environ["SOAK_MINUTES"] = str(args.minutes)
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
    home = Path(tempfile.mkdtemp(prefix="iggt-soak-"))  # keep the user's settings, logs and caches apart
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        os.environ[var] = str(home / var.lower())
    sys.path.insert(0, str(ROOT))
    # no:logging: pytest's log capture would keep every record of the run (ten a round) and count as growth
    argv = [__file__, "-q", "-s", "-p", "no:cacheprovider", "-p", "no:logging", "--import-mode=importlib",
            "--rootdir", str(ROOT)]  # fmt: skip
    return int(pytest.main(argv))


if __name__ == "__main__":
    sys.exit(main())
