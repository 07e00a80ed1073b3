"""`iggt doctor`: what this installation has and whether it can do its job."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from dataclasses import dataclass

NAME = "doctor"
HELP = ("print Python/torch/CUDA/Qt facts, where files live, whether the bundled weights load, and which "
        "hub models are downloaded")

_QT_PROBE = (
    "import sys\n"
    "from PySide6.QtGui import QGuiApplication\n"
    "app = QGuiApplication(sys.argv[:1])\n"
    "print(app.platformName())\n"
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-weights", action="store_true", help="skip loading the bundled weights")


def _torch_lines() -> tuple[list[tuple[str, str]], Check]:
    try:
        import torch
    except Exception as exc:
        return [("torch", f"not importable: {exc}")], Check("torch", False, str(exc))
    lines = [("torch", torch.__version__)]
    cuda = torch.cuda.is_available()
    lines.append(("CUDA available", "yes" if cuda else "no"))
    if cuda:
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            lines.append((f"CUDA device {i}", f"{props.name}, {props.total_memory / 2**30:.1f} GiB"))
        from model.device import cuda_reduced_dtype

        for i in range(torch.cuda.device_count()):
            major, minor = torch.cuda.get_device_capability(i)
            dtype = str(cuda_reduced_dtype(i)).removeprefix("torch.")
            lines.append((f"CUDA device {i} precision", f"{dtype} (compute capability {major}.{minor})"))
    lines.append(("device (auto)", "cuda" if cuda else "cpu"))
    lines.append(("CPU threads", str(torch.get_num_threads())))
    return lines, Check("torch", True, torch.__version__)


def _run_qt_probe(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _QT_PROBE], capture_output=True, text=True, timeout=30, check=False, env=env
    )


def _qt_platform() -> Check:
    """Ask a child process: Qt must never be imported by the headless core."""
    env = dict(os.environ)
    try:
        out = _run_qt_probe(env)
        if out.returncode == 0:
            return Check("Qt platform", True, out.stdout.strip() or "unknown")
        headless = not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("QT_QPA_PLATFORM"))
        if headless:
            offscreen = _run_qt_probe({**env, "QT_QPA_PLATFORM": "offscreen"})
            if offscreen.returncode == 0:
                return Check(
                    "Qt platform",
                    True,
                    "no display here; Qt works offscreen (run the GUI under xvfb-run or with a desktop)",
                )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("Qt platform", False, f"probe failed: {exc}")
    last = (out.stderr.strip().splitlines() or ["unknown error"])[-1]
    return Check("Qt platform", False, f"Qt cannot start here: {last}")


def _weights_check() -> Check:
    from app.paths import WEIGHTS_DIR

    path = WEIGHTS_DIR / "iggt-tiny.safetensors"
    if not path.is_file():
        return Check("bundled weights", False, f"missing: {path}")
    try:
        from model import load_iggt

        net = load_iggt(path, device="cpu")
    except Exception as exc:
        return Check("bundled weights", False, f"{path.name} does not load: {exc}")
    from app.run_plan import defaults_from_metadata

    params = sum(p.numel() for p in net.parameters())
    info = net.weights_info
    size = defaults_from_metadata(info.metadata, info.origin).size_text()
    return Check("bundled weights", True, f"{path} loads ({params / 1e6:.1f} M parameters; input {size})")


def _clip_check() -> Check:
    try:
        from app.semantics import load_backend

        backend = load_backend("bundled", device="cpu")
    except Exception as exc:  # report, don't crash
        return Check("bundled CLIP", False, f"does not load: {exc}")
    return Check("bundled CLIP", True, f"loads ({backend.model_id})")


def _hub_models() -> list[tuple[str, str]]:
    """The downloadable models and their state (local hub cache only; no network)."""
    from app.hub_download import human_bytes
    from app.models_hub import CATALOG, state
    from model.checkpoint import hub_cache_dir

    rows = [("hub cache", str(hub_cache_dir()))]
    for model in CATALOG:
        s = state(model)
        where = f", {s.where}" if s.where else f" (iggt models get {model.key})"
        rows.append((model.key, f"{s.state}, {human_bytes(s.size)}{where}"))
    return rows


def run(args: argparse.Namespace) -> int:
    from app import __version__
    from app.logging_setup import log_file_path
    from app.paths import RESOURCES, user_cache_dir, user_config_dir, user_data_dir

    rows: list[tuple[str, str]] = [
        ("iggt-viewer", __version__),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("platform", platform.platform()),
    ]
    torch_rows, torch_check = _torch_lines()
    rows += torch_rows
    checks = [torch_check]
    qt = _qt_platform()
    checks.append(qt)
    rows.append(("Qt platform", qt.detail))
    rows.append(("DISPLAY", os.environ.get("DISPLAY", "(none)")))
    rows += [
        ("resources", str(RESOURCES)),
        ("settings", str(user_config_dir())),
        ("user data", str(user_data_dir())),
        ("cache", str(user_cache_dir())),
        ("log file", str(log_file_path())),
    ]
    rows += _hub_models()
    from app.semantics.vlm_client import endpoint_status

    vlm, reachable = endpoint_status()
    rows.append(("VLM endpoint", vlm))
    if reachable is not None:
        checks.append(Check("VLM endpoint", reachable, vlm))
    if not args.no_weights:
        weights = _weights_check()
        checks.append(weights)
        rows.append(("bundled weights", weights.detail))
        clip = _clip_check()
        checks.append(clip)
        rows.append(("bundled CLIP", clip.detail))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    failed = [c for c in checks if not c.ok]
    if failed:
        print("problems: " + "; ".join(f"{c.name}: {c.detail}" for c in failed))
        return 1
    print("all checks passed")
    return 0
