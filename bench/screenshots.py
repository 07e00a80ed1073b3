"""Screenshots of the viewer's main states, for looking at (saved to screenshots/, git-ignored).

    xvfb-run -s "-screen 0 1920x1080x24" .venv/bin/python bench/screenshots.py

The room is the bundled sample reconstructed with the bundled weights when they are installed (the first
minute is that run, shown in the middle); otherwise (or with --ground-truth) the same synthetic room built
from the renderer's ground truth and a scripted run. Find with weak matches is real photos
(resources/photos/room_png_3) reconstructed with the bundled weights and searched with the bundled CLIP.
Issue 17's set: 02 (first minute), 22 (isolate), 17/17b (presentation, after leaving it), 24 (Find with weak
matches on real photos), 25/26 (the window at 1280x800 and 1920x1080).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "viewer"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--ground-truth", action="store_true", help="do not run the network")
    parser.add_argument("--size", default="1500x950")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.split("x"))

    import os

    home = Path(tempfile.mkdtemp(prefix="iggt-shots-"))  # never touch the user's settings
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(home / var.lower())

    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDockWidget

    from viewer.main import create_application

    app = create_application()
    from app.inference import BUNDLED_WEIGHTS
    from app.logging_setup import configure_logging
    from app.progress import Progress
    from viewer.main import install_features
    from viewer.main_window import MainWindow
    from viewer.settings import AppSettings
    from viewer.workers import Job

    log_path = configure_logging()
    settings = AppSettings(home / "viewer.ini")
    window = MainWindow(settings, log_path=log_path)
    window.resize(width, height)
    window.show()
    install_features(window)

    def pump(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def wait(cond, timeout: float = 300.0) -> None:
        end = time.monotonic() + timeout
        while not cond() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    shots = []

    def shot(name: str, widget=None) -> None:
        pump(0.4)
        w = widget or window
        if w is window:
            window.view.render()
        path = args.out / f"{name}.png"
        w.grab().save(str(path))
        shots.append(path)
        print(f"saved {path}")

    shot("01_empty_state")
    real_run = BUNDLED_WEIGHTS.is_file() and not args.ground_truth

    # ---- the first minute: the sample room being built, shown in the middle (the real run with the bundled
    # weights; without them a scripted job)
    if real_run:
        window.open_sample()
        wait(lambda: window.jobs.progress.value() > 100 or window.job is None, 600)
        shot("02_first_minute_run_in_the_middle")
        wait(lambda: window.job is None, 900)
        source = "reconstructed with the bundled weights"
    else:
        def slow(cancelled):
            for i in range(200):
                time.sleep(0.02)
                if cancelled():
                    return None
                yield Progress("inference", "aggregator: global attention over 10 views", 0.2 + i / 500,
                               i / 200, eta_s=42.0)
            return None

        window.run_job(Job("reconstruct", slow, window), lambda _r: None, "Reconstructing Sample room",
                       "failed")
        wait(lambda: window.jobs.progress.value() > 250, 20)
        shot("02_first_minute_run_in_the_middle")
        window.jobs.cancel()
        pump()
        from scene_factory import synthetic_scene

        window.document.set_scene(synthetic_scene(seed=12, views=10, height=224, width=308))
        source = "ground truth of the synthetic sample room (bundled weights not installed or not used)"
    scene = window.document.scene
    print(f"scene: {scene} — {source}")
    if scene is None:
        print("no scene; errors:", [d.text() for d in window.error_dialogs])
        return 1
    shot("03_scene_rgb")

    window.display_panel.set_colour_mode("instance")
    big = max(scene.instances, key=lambda i: scene.instances[i].stats.point_count)
    shot("04_instances")

    # pick the largest instance with a real click at its screen position in view 0
    import numpy as np

    view = window.view
    view.go_to_view(0)
    counts = np.bincount(scene.labels[0].ravel())
    counts[0] = 0
    iid = int(counts.argmax()) or big
    rows, cols = np.nonzero(scene.labels[0] == iid)
    k = len(rows) // 2
    view.reset_view()
    pump()
    x, y = view.world_to_widget(scene.point_map[0, rows[k], cols[k]])
    view.click(x, y)
    pump()
    shot("05_picked_instance_panel")

    window.display_panel.set_colour_mode("pca")
    shot("06_pca_features")

    window.display_panel.set_colour_mode("confidence")
    window.display_panel.threshold.setValue(50)
    shot("07_confidence_filter_50pct")
    window.display_panel.threshold.setValue(0)

    window.display_panel.set_colour_mode("height")
    window.actions_["grid"].setChecked(True)
    shot("08_height_grid")
    window.actions_["grid"].setChecked(False)

    # image browser: a view large with masks, hovering a mask
    window.display_panel.set_colour_mode("instance")
    window.open_view(2)
    browser = window.images_panel
    canvas = browser.canvas
    r, c = (int(v) for v in np.argwhere(browser._display_cache[2][1] == iid)[0])
    pos = canvas.widget_pos_of(r + 3, c + 3).toPoint()
    canvas.mouseMoveEvent_pos = pos
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent

    app.sendEvent(canvas, QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), QPointF(canvas.mapToGlobal(pos)),
                                      Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                                      Qt.KeyboardModifier.NoModifier))
    shot("09_image_browser_masks_hover")
    browser.opacity.setValue(80)
    shot("10_image_browser_opacity_80", browser)

    window.instances_panel.search.setText(scene.instances[iid].name.split()[-2])
    shot("11_instance_list_search")
    window.instances_panel.search.clear()

    window.set_theme("dark")
    shot("12_dark_theme")
    window.set_theme("light")

    window.clustering_panel.show()
    window.clustering_panel.raise_()
    shot("13_clustering_panel")

    dialog = window.show_settings()
    pump(0.5)
    shot("14_settings_dialog", dialog)
    dialog.reject()

    window.open_path(Path(tempfile.mkdtemp()) / "missing-folder")
    pump()
    err = window.error_dialogs[-1]
    shot("15_error_dialog", err)
    err.accept()

    shortcuts = window.show_shortcuts()
    shot("16_shortcuts", shortcuts)
    shortcuts.close()

    # presentation: the whole screen is the scene (nothing cropped); leaving gives the layout back
    window.selection.select(iid)
    before = (window.geometry(), window.view.camera_pose())
    window.actions_["presentation"].setChecked(True)
    pump(1.5)
    screen = window.screen().geometry()
    print(f"presentation: window {window.geometry().getRect()}, 3D view {window.view.size().toTuple()}, "
          f"screen {screen.getRect()}")
    shot("17_presentation_mode")
    window.actions_["presentation"].setChecked(False)
    pump(0.8)
    print(f"after presentation: window {window.geometry().getRect()} (before {before[0].getRect()}), "
          f"camera restored: {window.view.camera_pose() == before[1]}, selected: {window.selection.instance}")
    shot("17b_after_presentation")

    # review mode (issue 18): the queue, the current instance selected and framed, its masks view by view
    panel = window.review_panel
    panel.show()
    panel.raise_()
    panel.build_queue()
    wait(lambda: window.job is None and bool(panel.items), 300)
    shot("18_review_mode")
    from app.edits import merge_candidates
    from viewer.merge_dialog import MergeDialog, view_preview

    scene = window.document.scene
    iid = panel.current_item().instance_id
    merge = MergeDialog(scene, iid, merge_candidates(scene, iid), view_preview(window.view), window)
    merge.show()
    merge._on_hover(merge.listing.item(0))  # as when the pointer rests on the first candidate
    shot("19_merge_preview_in_3d")
    shot("20_merge_dialog_swatches", merge)
    merge.reject()
    export = window.editing.show_export()
    export.set_format("all")
    shot("21_export_dialog_all", export)
    export.close()
    # isolating frames the instance without the camera frusta; the view image at 2x with a legend
    window.actions_["cameras"].setChecked(True)
    window.selection.select(iid)  # the review queue's first instance
    window.actions_["isolate"].trigger()
    shot("22_isolate_framed")
    window.actions_["isolate"].trigger()
    from viewer.view_image import save_view_image

    save_view_image(window.view, scene, args.out / "23_view_2x_legend.png", 2, True)
    shots.append(args.out / "23_view_2x_legend.png")

    # ---- Find with weak matches on real photos: "chair" on a table top without a chair, bundled models
    if real_run:
        window.document.set_modified(False)
        window.open_path(ROOT / "resources" / "photos" / "room_png_3")
        wait(lambda: window.job is None and window.document.scene is not scene, 900)
        if window.document.scene is scene or window.document.scene is None:
            print("room_png_3 did not open; errors:", [d.text() for d in window.error_dialogs])
            return 1
        window.display_panel.set_colour_mode("rgb")  # the photos' colours: what Find lights up would show
        find = window.findChild(QDockWidget, "query_panel")
        window.bring_forward(find)
        find.edit.setText("chair")
        find.run_now()
        wait(lambda: window.job is None and find.ready() and find.table.rowCount() > 0, 600)
        print(f"Find 'chair' on room_png_3: {find.status.text()} rows: {find.verdicts()}")
        shot("24_find_weak_matches_real_photos")
        iid = next(iter(window.document.scene.instances))

    # ---- the window on common screens (default layout for that size), an instance selected
    for n, (w, h) in enumerate(((1280, 800), (1920, 1080))):
        window.showNormal()
        window.resize(w, h)
        window.restore_layout()
        window.selection.select(iid)
        pump(0.8)
        shot(f"{25 + n}_window_{w}x{h}")

    window.document.set_modified(False)
    window.close()
    print(f"{len(shots)} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
