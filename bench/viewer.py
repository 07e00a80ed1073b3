"""Benchmark of the 3D view: frame time against a bare pyvista plot of the same cloud, colour-mode and
confidence-filter latency, and pick latency.

Run with a display (a real one, or Xvfb for software rendering):

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python bench/viewer.py --points 2000000
    .venv/bin/python bench/viewer.py --points 2000000 --colours-only   # colour computation only, no display

Frame times are wall-clock times of ``render()`` after a small camera turn (the same for both plots),
averaged over ``--frames`` frames. "update" times exclude the render that follows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "viewer"))


def bench_scene(points: int):
    """A synthetic room with about ``points`` points (views of 224x280, tiled when more are asked)."""
    from scene_factory import synthetic_scene

    per_view = 224 * 280
    repeat = 1
    while per_view * repeat * repeat * 16 < points:
        repeat += 1
    views = max(1, min(16, round(points / (per_view * repeat * repeat))))
    return synthetic_scene(seed=3, views=views, height=224, width=280, repeat=repeat)


def frame_times(render, turn, frames: int) -> list[float]:
    out = []
    for _ in range(frames):
        turn()
        t0 = time.perf_counter()
        render()
        out.append(time.perf_counter() - t0)
    return out


def ms(values) -> str:
    values = list(values)
    return f"{statistics.median(values) * 1e3:8.1f} ms (max {max(values) * 1e3:.1f})"


def colour_mode_times(points: int, repeat: int = 5) -> int:
    """Time computing each colour mode's (N, 3) colours from the scene (what a first switch costs)."""
    from app.colors import FeaturePca
    from viewer.colouring import COLOUR_MODES, masked_rows, mode_colours

    t0 = time.perf_counter()
    scene = bench_scene(points)
    print(f"scene: {scene} (built in {time.perf_counter() - t0:.1f} s)")
    scene.point_pixels, scene.points  # noqa: B018 - cached scene arrays every mode shares
    for mode in COLOUR_MODES:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            mode_colours(scene, mode)
            times.append(time.perf_counter() - t0)
        print(f"  {mode:<11} {ms(times)}")
    feats = masked_rows(scene.features, scene.point_mask)
    gather = []
    fit = []
    apply = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        feats = masked_rows(scene.features, scene.point_mask)
        t1 = time.perf_counter()
        pca = FeaturePca.fit(feats)
        t2 = time.perf_counter()
        pca.colours(feats, np.uint8)
        gather.append(t1 - t0)
        fit.append(t2 - t1)
        apply.append(time.perf_counter() - t2)
    print(f"  pca = gather features {ms(gather)} + fit on a subsample {ms(fit)} + project all {ms(apply)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--picks", type=int, default=40)
    parser.add_argument("--size", default="1280x800", help="render window size WxH")
    parser.add_argument("--colours-only", action="store_true",
                        help="only time computing each colour mode (no window, no rendering)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    if args.colours_only:
        return colour_mode_times(args.points)

    from viewer.main import create_application

    app = create_application()
    import pyvista as pv
    from pyvistaqt import QtInteractor

    import viewer  # noqa: F401 - process setup shared with the app
    from viewer.colouring import COLOUR_MODES
    from viewer.scene_view import SceneView

    t0 = time.perf_counter()
    scene = bench_scene(args.points)
    print(f"scene: {scene} (built in {time.perf_counter() - t0:.1f} s)")
    pts = np.ascontiguousarray(scene.points, np.float32)
    rgb = np.ascontiguousarray(scene.point_rgb)

    def settle():
        for _ in range(5):
            app.processEvents()

    # ---- bare pyvista: one add_points call, pyvista defaults except anti-aliasing (points need none)
    results = {}
    for msaa in (None, 1):
        bare = QtInteractor(auto_update=False, multi_samples=msaa)
        bare.resize(width, height)
        bare.show()
        settle()
        cloud = pv.PolyData(pts)
        cloud["rgb"] = rgb
        bare.add_points(cloud, scalars="rgb", rgb=True, point_size=2)
        bare.reset_camera()
        bare.render()  # first frame uploads the buffers
        label = f"bare pyvista (multi_samples={bare.ren_win.GetMultiSamples()})"
        results[label] = frame_times(bare.render, lambda b=bare: b.camera.Azimuth(2), args.frames)
        bare.close()
        bare.deleteLater()
        settle()

    # ---- the viewer's SceneView
    view = SceneView()
    view.resize(width, height)
    view.show()
    settle()
    t0 = time.perf_counter()
    view.set_scene(scene)
    set_scene_s = time.perf_counter() - t0
    from viewer.colouring import COLOUR_MODES as _modes

    t_wait = time.perf_counter()
    while len(view._colour_cache) < len(_modes) - 1 and time.perf_counter() - t_wait < 120:
        time.sleep(0.05)  # let the background colour precompute finish: it competes for the CPU
    precompute_s = time.perf_counter() - t0
    renderer = view.plotter.ren_win.ReportCapabilities().splitlines()
    gl = next((line for line in renderer if "renderer string" in line), "unknown renderer").strip()
    view.lod_policy = "never"
    turn = lambda: view.camera.Azimuth(2)  # noqa: E731
    results["viewer, full cloud"] = frame_times(view.render, turn, args.frames)
    view.lod_policy = "always"
    results["viewer, while dragging (LOD)"] = frame_times(
        lambda: view.request_render(interactive=True), turn, args.frames)
    view.lod_policy = "auto"
    lod_auto = view.lod_active()

    print(f"\nrender window {width}x{height}, {view.n_points:,} points, {gl}")
    print(f"set_scene (actors, first frame): {set_scene_s:.2f} s")
    print("\nframe time (render after a 2° turn):")
    for label, times in results.items():
        fps = 1.0 / statistics.median(times)
        print(f"  {label:<38} {ms(times)}   {fps:6.1f} fps")
    print(f"  level of detail while dragging in auto mode: {'on' if lod_auto else 'off'} "
          f"({min(view.n_points, 200_000):,} points drawn)")

    # ---- colour modes and the confidence filter: update only, and update + one frame
    print(f"\nall colour modes ready (background precompute) {precompute_s:.1f} s after opening")
    print("colour mode switch (\"first time\": computing it in the foreground, as if not precomputed):")
    # The view follows its ViewerState; to time the update alone (no frame), the state is written with its
    # events blocked and the view's update is called directly.
    state = view.state

    def quietly(signal, write) -> None:
        with signal.blocked():
            write()

    for mode in COLOUR_MODES:
        cached = view._colour_cache.pop(mode, None)
        t0 = time.perf_counter()
        quietly(state.events.colour_mode, lambda m=mode: state.set_colour_mode(m))
        view._update_colours(render=False)
        first = time.perf_counter() - t0
        if cached is not None:
            view._colour_cache[mode] = cached
        quietly(state.events.colour_mode, lambda: state.set_colour_mode("rgb"))
        view._update_colours(render=False)
        t0 = time.perf_counter()
        quietly(state.events.colour_mode, lambda m=mode: state.set_colour_mode(m))
        view._update_colours(render=False)
        again = time.perf_counter() - t0
        print(f"  {mode:<11} update {again * 1e3:7.1f} ms   (first time {first * 1e3:7.1f} ms)")
    view.set_colour_mode("rgb")
    updates = []
    for pct in (10, 30, 50, 70, 0):
        t0 = time.perf_counter()
        quietly(state.events.threshold_percent, lambda p=pct: state.set_threshold(p))
        view._update_visibility(render=False)
        updates.append(time.perf_counter() - t0)
    print(f"\nconfidence filter change: update {ms(updates)}")
    sel = []
    for iid in list(scene.instances)[:5]:
        t0 = time.perf_counter()
        quietly(state.selection.changed, lambda i=iid: state.selection.select(i))
        view._update_colours(render=False)
        sel.append(time.perf_counter() - t0)
    print(f"selection highlight change: update {ms(sel)}")
    view.lod_policy = "always"
    t0 = time.perf_counter()
    view.set_confidence_threshold(40)
    print(f"filter change + interactive (LOD) frame: {(time.perf_counter() - t0) * 1e3:.1f} ms")
    view.lod_policy = "never"
    view.set_confidence_threshold(0)
    view.set_selection(None)

    # ---- picking
    t0 = time.perf_counter()
    view._ensure_tree()
    tree_s = time.perf_counter() - t0
    view.go_to_view(0)
    rng = np.random.default_rng(0)
    labels0 = scene.labels[0]
    rows, cols = np.nonzero(labels0 > 0)
    pick_times, correct, tried = [], 0, 0
    for k in rng.choice(len(rows), size=min(args.picks, len(rows)), replace=False):
        x, y = view.world_to_widget(scene.point_map[0, rows[k], cols[k]])
        if not (0 <= x < view.plotter.width() and 0 <= y < view.plotter.height()):
            continue
        t0 = time.perf_counter()
        result = view.pick(x, y)
        pick_times.append(time.perf_counter() - t0)
        tried += 1
        correct += int(result.instance == labels0[rows[k], cols[k]])
    print(f"\npick latency: {ms(pick_times)} over {tried} clicks; {correct}/{tried} hit the clicked instance "
          f"(k-d tree of {view.n_points:,} points built in {tree_s:.2f} s, in the background after opening)")
    view.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
