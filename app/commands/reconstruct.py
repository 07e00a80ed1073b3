"""`iggt reconstruct IMAGES... -o SCENE.iggt`: photos in, scene file out (see docs/cli.md)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from app.clustering import PRESETS, ClusterConfig
from app.run_plan import DTYPES, USER_CLUSTER_FIELDS

NAME = "reconstruct"
HELP = "reconstruct a scene (cameras, depth, points, instances) from a folder or list of images"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "images", nargs="+", help="image folder(s) and/or image files (JPEG, PNG, WebP, BMP, TIFF)"
    )
    parser.add_argument("-o", "--output", required=True, type=Path, help="scene file to write (.iggt)")
    add_run_options(parser)
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options that choose how a scan is reconstructed (`build_config` reads them); `iggt batch`
    takes the same ones."""
    parser.add_argument(
        "--weights", default="bundled", help="'bundled' (default), a checkpoint file, or a cached hub id"
    )
    parser.add_argument("--device", default="auto", type=_device,
                        help="auto (default), cpu, cuda or cuda:N")  # fmt: skip
    parser.add_argument("--dtype", choices=DTYPES,
                        help="precision of the network's aggregator (default on CUDA: bfloat16, float16 "
                             "before compute capability 8.0; on the CPU: float32)")  # fmt: skip
    parser.add_argument("--views", type=int, metavar="N", help="use N evenly spaced images")
    parser.add_argument(
        "--width",
        type=int,
        help="network input width, multiple of 28 (default: the weights' preferred width, else 504)",
    )
    parser.add_argument("--height", type=int, help="network input height (default: width x 2/3, as the demo)")
    parser.add_argument(
        "--conf-percentile", type=float, metavar="P", default=None,
        help="drop the P%% least confident points (default 0.3, as the official demo)",
    )  # fmt: skip
    parser.add_argument("--points", choices=("depth", "pointmap"), default="depth",
                        help="points from depth + cameras (default) or from the point head")  # fmt: skip
    parser.add_argument("--preset", choices=tuple(PRESETS),
                        help="clustering preset: the official demo's small/medium/large, or spatial "
                             "(features + 3D position); default: the one the weights name, else large")
    for name, (metavar, text) in USER_CLUSTER_FIELDS.items():
        kind = ClusterConfig.__dataclass_fields__[name].type
        parser.add_argument(f"--{name.replace('_', '-')}", type=float if kind == "float" else int,
                            metavar=metavar, help=f"{text} (preset default)")  # fmt: skip
    parser.add_argument("--filter-background", choices=("none", "black", "white"), default="none",
                        help="drop near-black or near-white pixels (default: none)")  # fmt: skip
    parser.add_argument("--mask-dir", help="folder of per-image masks (same names; black = drop, e.g. sky)")
    parser.add_argument("--alpha-background", choices=("white", "black"), default="white",
                        help="background for transparent pixels (default: white, as the demo)")  # fmt: skip
    parser.add_argument("--store-paths", action="store_true",
                        help="keep image paths and SHA-256 in the scene instead of the images")  # fmt: skip


def _device(text: str) -> str:
    """``--device``: auto, cpu, cuda or cuda:N (the rest of the check happens when the run is planned)."""
    from app.inference import InferenceConfig

    try:
        InferenceConfig(device=text).validate()
    except Exception as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def build_config(args: argparse.Namespace):
    """The user's request (`app.run_plan.ReconstructConfig`); what it leaves open, the plan decides."""
    from app.errors import UserError
    from app.geometry import DEMO_CONF_PERCENTILE
    from app.images import PreprocessConfig
    from app.inference import InferenceConfig
    from app.run_plan import ReconstructConfig

    overrides = tuple((k, getattr(args, k)) for k in USER_CLUSTER_FIELDS if getattr(args, k) is not None)
    if args.views is not None and args.views < 1:
        raise UserError(f"--views must be at least 1, not {args.views}")
    config = ReconstructConfig(
        preprocess=PreprocessConfig(
            width=args.width, height=args.height, background=args.alpha_background, max_views=args.views
        ),
        inference=InferenceConfig(weights=args.weights, device=args.device, dtype=args.dtype),
        cluster=None if args.preset is None else ClusterConfig.preset(args.preset, **dict(overrides)),
        cluster_overrides=() if args.preset is not None else overrides,
        points_source=args.points,
        conf_percentile=DEMO_CONF_PERCENTILE if args.conf_percentile is None else args.conf_percentile,
        background_filter=args.filter_background,
        mask_dir=args.mask_dir,
        image_storage="paths" if args.store_paths else "embedded",
    )
    config.validate()
    return config


def check_output(path: Path) -> Path:
    """Refuse a bad output before the (long) run: a folder, a missing folder, or anything that is not a
    scene file (an input photo, a device, a FIFO), or a backup beside it that is not a scene's."""
    import os

    from app.errors import UserError
    from app.scene_io import check_replaceable

    path = path.expanduser()
    if path.is_dir():
        raise UserError(f"output {path} is a folder; give a file name such as {path / 'scene.iggt'}")
    if not path.parent.exists():
        raise UserError(f"output folder {path.parent} does not exist")
    if not path.parent.is_dir():
        raise UserError(f"output folder {path.parent} is not a folder")
    if not os.access(path.parent, os.W_OK):
        raise UserError(f"output folder {path.parent} is not writable")
    check_replaceable(path.absolute())
    return path


class _Reporter:
    """A rich progress bar on a terminal, plain throttled lines otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.bar = None
        self._last_stage = ""
        self._last_print = 0.0
        self._last_pct = -10

    def __enter__(self) -> _Reporter:
        if not self.quiet and self.tty:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), transient=True,
            )  # fmt: skip
            self.bar.start()
            self.task = self.bar.add_task("starting", total=1.0)
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, event) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.update(
                self.task, completed=event.fraction, description=f"{event.stage}: {event.message}"[:60]
            )
            return
        now = time.monotonic()
        pct = int(event.fraction * 100)
        if event.stage != self._last_stage or pct >= self._last_pct + 10 or now - self._last_print > 10:
            self._last_stage, self._last_pct, self._last_print = event.stage, pct, now
            print(event.format(), file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.console.print(text)
        else:
            print(text, file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from app.display import for_terminal
    from app.errors import UserError
    from app.progress import Cancelled, format_seconds
    from app.reconstruct import iter_reconstruct
    from app.scene_io import backup_path, save_scene

    config = build_config(args)
    output = check_output(args.output)
    started = time.monotonic()
    with _Reporter(args.quiet) as report:
        gen = iter_reconstruct(args.images, config)
        try:
            while True:
                try:
                    event = next(gen)
                except StopIteration as stop:
                    scene = stop.value
                    break
                report(event)
        except Cancelled:
            raise UserError("reconstruction cancelled; nothing was written") from None
        finally:
            gen.close()
        existed = output.exists()
        report.note(f"saving {for_terminal(output)}")
        save_scene(scene, output)
    for item in scene.settings.skipped_files:
        if item.bad or not args.quiet:
            kind = "skipped" if item.bad else "note: skipped"
            print(f"{kind} {for_terminal(Path(item.file).name)}: {for_terminal(item.reason)}",
                  file=sys.stderr)  # fmt: skip
    for note in [] if args.quiet else scene.settings.notes:
        print(f"note: {for_terminal(note)}", file=sys.stderr)
    if config.inference.weights == "bundled" and not args.quiet:
        print(
            "note: the bundled tiny model was trained on synthetic rooms only; on real photos expect rough "
            "geometry and instances (use --weights with the official IGGT checkpoint for real scenes)",
            file=sys.stderr,
        )
    h, w = scene.image_size
    print(
        f"wrote {for_terminal(output)}: {scene.n_views} views at {w}x{h}, {scene.n_points} points, "
        f"{len(scene.instances)} instances, model {scene.model_id} "
        f"({format_seconds(time.monotonic() - started)})"
    )
    if existed:
        print(f"the previous file was kept as {for_terminal(backup_path(output))}")
    return 0
