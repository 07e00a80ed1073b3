"""Fixtures for GUI tests: an isolated settings/log location and a display for the 3D view.

The 3D view needs an OpenGL context, which Qt's ``offscreen`` platform cannot give. When the Xvfb
binary is present we start a private virtual X server for the session and use Qt's ``xcb`` platform
(set IGGT_TEST_QT_PLATFORM=offscreen to force the offscreen platform, e.g. for non-3D tests).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

_ISOLATED_HOME = Path(tempfile.mkdtemp(prefix="iggt-viewer-tests-"))
for _var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
    os.environ[_var] = str(_ISOLATED_HOME / _var.lower())
os.environ.setdefault("PYVISTA_OFF_SCREEN", "false")

_xvfb: subprocess.Popen | None = None


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process exits (after Qt has closed its connection)."""
    import contextlib
    import ctypes
    import signal

    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start_xvfb() -> str | None:
    """Start ``Xvfb`` on a free display number; return the DISPLAY string (or None)."""
    global _xvfb
    exe = shutil.which("Xvfb")
    if exe is None:
        return None
    read_fd, write_fd = os.pipe()
    try:
        _xvfb = subprocess.Popen(
            [exe, "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        _xvfb.kill()
        _xvfb = None
        return None
    return f":{number}"


def _choose_platform() -> None:
    forced = os.environ.get("IGGT_TEST_QT_PLATFORM")
    if forced:
        os.environ["QT_QPA_PLATFORM"] = forced
        return
    display = _start_xvfb()
    if display is not None:
        os.environ["DISPLAY"] = display
        os.environ["QT_QPA_PLATFORM"] = "xcb"
    else:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


_choose_platform()


def pytest_unconfigure(config):
    # Xvfb itself ends with this process (PR_SET_PDEATHSIG): Qt still talks to it until exit.
    shutil.rmtree(_ISOLATED_HOME, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _qt_test_mode(qapp):
    from PySide6.QtCore import QStandardPaths

    import viewer.main_window  # noqa: F401 - as the app does: modules loaded, then the collector
    from viewer import gui_gc

    gui_gc.install()  # before the first window
    QStandardPaths.setTestModeEnabled(True)
    qapp.setQuitOnLastWindowClosed(False)
    yield


@pytest.fixture
def settings(tmp_path):
    from viewer.settings import AppSettings

    return AppSettings(tmp_path / "settings" / "viewer.ini")


@pytest.fixture
def log_file(tmp_path):
    """Logging configured into a temporary file (as the app does at start)."""
    from app.logging_setup import configure_logging

    return configure_logging()


@pytest.fixture
def make_window(qtbot, settings, log_file):
    """Factory for main windows sharing one settings store; windows are closed at teardown."""
    from PySide6.QtWidgets import QApplication

    from viewer.main_window import MainWindow

    windows = []

    def make(**kwargs):
        window = MainWindow(kwargs.pop("settings", settings), log_path=log_file)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()  # keyboard shortcuts need the active window
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
        windows.append(window)
        return window

    yield make
    for w in windows:  # closed here, not by qtbot: no unsaved-changes prompt may block teardown
        w.document.set_modified(False)
        if w.isVisible():
            w.close()
        w.deleteLater()


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture
def sample_truth_window(make_window, tmp_path, monkeypatch, qtbot):
    """A 1280x800 window showing the bundled sample room with its ground-truth geometry and instances."""
    from app.paths import SAMPLE_DIR
    from app.semantics.ground_truth import scene_from_synthetic
    from training.synthetic.storage import read_scene

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    scene = scene_from_synthetic(read_scene(SAMPLE_DIR / "scene_000012")).scene
    window = make_window()
    window.resize(1280, 800)
    window.document.set_scene(scene)
    qtbot.waitUntil(lambda: window.view.scene is scene, timeout=30_000)
    yield window, scene
    window.document.set_modified(False)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """A tiny IGGT checkpoint with random weights (enough to run the whole pipeline quickly)."""
    import torch

    from model import IGGTConfig, build_iggt, save_iggt

    torch.manual_seed(0)
    return save_iggt(build_iggt(IGGTConfig.tiny()), tmp_path_factory.mktemp("weights") / "tiny.safetensors")


@pytest.fixture
def fast_run(settings, tiny_weights):
    """Reconstruction settings for tests: the tiny checkpoint, 3 small views."""
    from viewer.run_settings import RunSettings

    run = RunSettings(weights_source="file", weights_file=str(tiny_weights), device="cpu", image_width=140,
                      max_views=3)
    run.save(settings)
    return run
