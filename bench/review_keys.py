"""How long a review key keeps the window busy, and how long until the queue is ranked again.

    bash scripts/with_display.sh .venv/bin/python bench/review_keys.py [--scene S.iggt] [--keys 8] [--accept]

The sample room (reconstructed with the bundled weights, as bench/review.py does, or --scene) is opened in
the real window at 1280x800 with the app's panels; the review queue is built, then the key the queue
suggests for the current item (A accept, M merge, S split; with --accept always A, the commonest key) is
pressed ``--keys`` times, each once the ranking after the previous key is in. Printed per key: how long
the key press held the GUI thread (the window answers nothing meanwhile: the edit, its listeners, showing
the next item; under Xvfb each 3D render is software GL, a few hundred ms of it) and how long until the
re-ranked queue is in the list. Then where a ranking's time goes, headless on the same scene: one ranking
after an accept (no instance's pixels changed) and its parts, with what the session keeps between
rankings and from scratch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

KEY_FOR = {"merge": "M", "split": "S"}


def gui_keys(path: Path, keys: int, accept: bool) -> None:
    import os

    home = Path(tempfile.mkdtemp(prefix="iggt-review-keys-"))  # never touch the user's settings
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(home / var.lower())
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from viewer.main import create_application

    app = create_application()  # as the app: the GUI-thread collector included
    from app.logging_setup import configure_logging
    from viewer.main import install_features
    from viewer.main_window import MainWindow
    from viewer.settings import AppSettings

    window = MainWindow(AppSettings(home / "viewer.ini"), log_path=configure_logging())
    window.resize(1280, 800)
    window.show()
    install_features(window)

    def wait(cond, timeout: float = 600.0) -> None:
        end = time.monotonic() + timeout
        while not cond() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.002)

    window.open_path(path)
    wait(lambda: window.document.scene is not None and window.job is None)
    panel = window.review_panel
    panel.show()
    panel.raise_()
    t = time.perf_counter()
    panel.build_queue()
    wait(lambda: window.job is None and bool(panel.items))
    print(f"first ranking (Build queue, in the background): {time.perf_counter() - t:.2f} s, "
          f"{len(panel.items)} items")  # fmt: skip
    panel.list.setFocus()
    blocked, ranked = [], []
    for _ in range(keys):
        item = panel.current_item()
        if item is None:
            break
        key = "A" if accept else KEY_FOR.get(item.action, "A")
        t = time.perf_counter()
        QTest.keyClick(panel.list, getattr(Qt.Key, f"Key_{key}"))
        t_key = time.perf_counter() - t
        wait(lambda: not getattr(panel, "ranking", False))  # code before the background ranking: no such flag
        t_ranked = time.perf_counter() - t
        blocked.append(t_key)
        ranked.append(t_ranked)
        print(f"  {key} on {item.instance_id:3d}: key held the GUI thread {t_key * 1000:6.0f} ms; "
              f"queue ranked again after {t_ranked * 1000:6.0f} ms")  # fmt: skip
    if blocked:
        print(f"median over {len(blocked)} keys: GUI thread held {statistics.median(blocked) * 1000:.0f} ms, "
              f"ranked again after {statistics.median(ranked) * 1000:.0f} ms")  # fmt: skip
    window.document.set_modified(False)
    window.close()


def ranking_parts(path: Path, repeat: int = 3) -> None:
    from app import review
    from app.edits import EditHistory
    from app.review_session import ReviewSession
    from app.scene_io import load_scene

    scene = load_scene(path)
    session = ReviewSession(scene, EditHistory(scene).push)
    session.rerank()
    session.push(session.edit_for("accept"))
    kept, ids = session._cache, list(scene.instances)  # what the session's rankings keep between them
    index = review._label_index(scene)
    parts = {
        "whole ranking after an accept": lambda: session.rank(),
        "  sorting the labels": lambda: review._label_index(scene),
        "  mean features (kept)": lambda: review._mean_features(scene, ids, index, kept),
        "  touching pairs (3D gaps kept)": lambda: review.touching_pairs(scene, cache=kept),
        "  3D parts and feature groups (kept)": lambda: review._shape_checks(scene, ids, kept, index),
        "mean features from scratch": lambda: review._mean_features(scene, scene.instances),
        "touching pairs from scratch": lambda: review.touching_pairs(scene),
    }
    print(f"ranking parts ({scene.n_views} views {scene.image_size[1]}x{scene.image_size[0]}, "
          f"{len(scene.instances)} instances; best of {repeat}):")  # fmt: skip
    for name, run in parts.items():
        best = min(_timed(run) for _ in range(repeat))
        print(f"  {name}: {best * 1000:.0f} ms")


def _timed(run) -> float:
    t = time.perf_counter()
    run()
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scene", type=Path, help="a reconstruction of the sample room (default: make one)")
    parser.add_argument("--keys", type=int, default=8)
    parser.add_argument("--accept", action="store_true", help="press A on every item")
    args = parser.parse_args()
    from review import room_path  # bench/review.py

    path = room_path(args.scene)
    gui_keys(path, args.keys, args.accept)
    ranking_parts(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
