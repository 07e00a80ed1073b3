"""Entry point of the GUI: ``iggt-viewer [PATH]`` (PATH: an image folder or an .iggt scene)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from app import __version__

log = logging.getLogger(__name__)
EXIT_WAIT_MS = 15_000  # how long quitting waits for cancelled background work to stop


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iggt-viewer",
        description="IGGT Viewer: explore a room reconstructed from photos, click objects, "
        "check their identity across views.",
    )
    parser.add_argument("path", nargs="?", type=Path, help="an image folder or an .iggt scene to open")
    parser.add_argument("--sample", action="store_true", help="open the bundled sample room")
    parser.add_argument("--no-sample", action="store_true", help="do not open the sample room on first start")
    parser.add_argument("--debug", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"iggt-viewer {__version__}")
    return parser


def _split_qt_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """Separate Qt's own options (-platform xcb, -style …) from ours."""
    qt_with_value = {"-platform", "-style", "-qwindowgeometry", "-qwindowtitle", "-display", "-stylesheet"}
    ours, qt = [], []
    it = iter(argv)
    for arg in it:
        if arg in qt_with_value:
            qt += [arg, next(it, "")]
        else:
            ours.append(arg)
    return ours, qt


def create_application(qt_args: Sequence[str] = ()):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from viewer import gui_gc

    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(["iggt-viewer", *qt_args])
    app.setApplicationName("IGGT Viewer")
    app.setOrganizationName("iggt-viewer")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("iggt-viewer")
    import viewer.main_window  # noqa: F401 - its modules are loaded before the collector freezes them
    gui_gc.install()  # before any window: closed windows are freed in the GUI thread only
    return app


def install_excepthook(window) -> None:
    """Unexpected exceptions in Qt slots become an error dialog and a log entry, never a crash."""

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("unhandled exception", exc_info=(exc_type, exc, tb))
        try:
            window.show_exception("Unexpected error", exc.with_traceback(tb))
        except Exception:
            sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = hook


def install_features(window) -> None:
    """Add the feature modules (text queries) to a main window and offer to recover a crashed session."""
    from PySide6.QtCore import QTimer

    from viewer.context_menu import install_context_menu
    from viewer.dock_tabs import tabify_groups
    from viewer.measure_tool import install_measure
    from viewer.panels.query import install_query_panel
    from viewer.review_panel import install_review
    from viewer.view_image import install_view_image

    find = install_query_panel(window)
    window.scroll_when_cramped(find)
    review = install_review(window)
    window.scroll_when_cramped(review)
    # tabs are made once the window is shown: in a never-shown window they leave a stray tab bar;
    # Find (ranked instances) is a tab beside the list, the right column stays two panels high
    tabify_groups(window, [[window.instance_panel, window.history, review], [window.instances_panel, find]])
    install_measure(window)
    install_context_menu(window)
    install_view_image(window)
    window.restore_layout()
    QTimer.singleShot(0, window.editing.offer_recovery)


def create_window(path: Path | None = None, open_sample: bool = False, settings=None, log_path=None):
    """Build the main window and start opening ``path`` (or the sample room); used by main() and tests."""
    from viewer.main_window import MainWindow
    from viewer.settings import AppSettings

    settings = settings if settings is not None else AppSettings()
    window = MainWindow(settings, log_path=log_path)
    window.show()  # before the feature panels: docks tabified in a never-shown window leave a stray tab bar
    install_features(window)
    if path is not None:
        window.open_path(path)
    elif open_sample:
        window.open_sample()
    return window


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ours, qt_args = _split_qt_args(argv)
    args = build_parser().parse_args(ours)
    from app.logging_setup import configure_logging

    log_path = configure_logging(debug=args.debug)
    log.info("iggt-viewer %s starting", __version__)
    app = create_application(qt_args)
    from viewer.settings import AppSettings

    settings = AppSettings()
    first_start = not settings.get("app/started_before", False)
    settings.set("app/started_before", True)
    open_sample = args.path is None and (args.sample or (first_start and not args.no_sample))
    window = create_window(args.path, open_sample=open_sample, settings=settings, log_path=log_path)
    install_excepthook(window)
    code = app.exec()
    # A job cancelled by the closing window (or a warm-up) may still be between two of its checks: let it
    # stop while Qt is alive (quitting under it aborted the process and printed superqt's thread errors)
    from PySide6.QtCore import QThreadPool

    if not QThreadPool.globalInstance().waitForDone(EXIT_WAIT_MS):
        log.warning("background work still running after %.0f s at exit", EXIT_WAIT_MS / 1000)
    sys.excepthook = sys.__excepthook__
    log.info("iggt-viewer exiting with code %s", code)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
