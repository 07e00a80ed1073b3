"""Presentation mode: full screen, panels and bars hidden, nothing highlighted, a slow orbit around the
scene; leaving it gives back the window's layout, the cameras, the selection and the camera itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QObject, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from viewer.scene_view import SceneView
from viewer.state import CameraPose, ViewerState

ORBIT_DEG_PER_S = 8.0


@dataclass
class _Saved:
    state: QByteArray
    geometry: QByteArray
    maximized: bool
    selected: int | None
    camera: CameraPose


class Presentation(QObject):
    """Turns ``window`` into a presentation of ``view`` and back; ``bars`` are hidden meanwhile."""

    def __init__(self, window: QMainWindow, view: SceneView, state: ViewerState, bars: list[QWidget],
                 has_scene: Callable[[], bool]) -> None:
        super().__init__(window)
        self.window, self.view, self.state, self.bars = window, view, state, bars
        self._has_scene = has_scene
        self._saved: _Saved | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(40)
        self.timer.timeout.connect(self._orbit_step)
        self._clock = 0.0
        self._framed = False
        view.rendered.connect(self._on_rendered)

    @property
    def active(self) -> bool:
        return self._saved is not None

    def set_active(self, on: bool) -> None:
        w = self.window
        if on and self._saved is None:
            self._saved = _Saved(w.saveState(), w.saveGeometry(), w.isMaximized(),
                                 self.state.selection.instance, self.view.camera_pose())
            self.state.selection.clear()
            self.view.hold_frusta("presentation", True, render=False)  # Show cameras stays as the user set it
            for dock in w.findChildren(QDockWidget):
                dock.hide()
            for bar in self.bars:
                bar.hide()
            w.showFullScreen()
            self.view.reset_view(zoom=1.0)
            self._framed = False  # framed again once the view has its full-screen size (the first step)
            self._clock = time.monotonic()
            self.timer.start()
        elif not on and self._saved is not None:
            saved, self._saved = self._saved, None
            self.timer.stop()
            w.showNormal()
            w.restoreGeometry(saved.geometry)
            for bar in self.bars:
                bar.show()
            w.restoreState(saved.state)
            self.view.hold_frusta("presentation", False, render=False)
            self.state.selection.select(saved.selected)
            self.view.set_camera_pose(saved.camera)
            if saved.maximized:
                w.showMaximized()

    def _orbit_step(self) -> None:
        """Turn a little; the whole cloud stays in view at every angle (framed by its bounding sphere, not
        filling the view from one side, which cropped it as it turned)."""
        now = time.monotonic()
        dt, self._clock = now - self._clock, now
        if not self._has_scene():
            return
        if not self._framed:
            self._framed = True
            self.view.reset_view(render=False, zoom=1.0)
        self.view.orbit(ORBIT_DEG_PER_S * min(dt, 0.5))

    def _on_rendered(self, seconds: float) -> None:
        # slow software renderers: orbit less often rather than pile up frames
        if self.timer.isActive():
            self.timer.setInterval(max(40, int(seconds * 1000 * 1.5)))
