"""The measuring tool and "Set scale" (View menu): click two points in the 3D view.

Measure: the distance appears in the status bar (metres once the scene has a scale, else scene units)
and as a line in the view. Set scale: after the two clicks, type their real length ("0.9 m", "90 cm");
the scale is an undoable edit stored in the scene (``app.measure``), and exports are then in metres.
Installed by ``install_measure(window)``; the window provides ``view`` (picked signal), ``document``,
``actions_``, ``push_edit`` and ``statusBar``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog, QWidget

from app.edits import EditError
from app.measure import Measurement, format_length, measure, parse_length, scale_of, set_scale
from viewer.actions import ActionSpec

LINE_NAME = "measurement"


def ask_length(parent: QWidget, span_text: str) -> str | None:
    label = f"The two points are {span_text} apart in the scene.\nTheir real length (e.g. 0.9 m, 90 cm):"
    text, ok = QInputDialog.getText(parent, "Set scale", label)
    return text if ok else None


class MeasureTool(QObject):
    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.mode: str | None = None  # "measure" | "scale" | None
        self.points: list[tuple[float, float, float]] = []
        self.last: Measurement | None = None
        reg = window.actions_
        self.measure_action = reg.add(
            ActionSpec("measure", "&Measure distance", "mdi6.ruler", "Shift+M",
                       "Click two points to measure the distance between them", menu="view", checkable=True),
            self._on_measure_toggled,
        )  # fmt: skip
        self.scale_action = reg.add(
            ActionSpec("set_scale", "Set &scale…", "mdi6.ruler-square", None,
                       "Click two points and type their real length: measurements and exports in metres",
                       menu="view"),
            self.start_set_scale,
        )  # fmt: skip
        window.view.picked.connect(self._on_picked)
        window.document.scene_changed.connect(lambda _s: self.stop())

    # ------------------------------------------------------------------------------------------ modes
    def _on_measure_toggled(self, on: bool) -> None:
        if on:
            self._start("measure", "Measure: click the first point")
        elif self.mode == "measure":
            self.stop()

    def start_set_scale(self) -> None:
        if self.window.document.scene is None:
            return
        self.measure_action.setChecked(False)
        self._start("scale", "Set scale: click the first of two points whose real distance you know")

    def _start(self, mode: str, message: str) -> None:
        self.mode, self.points = mode, []
        self._clear_line()
        self.window.statusBar().showMessage(message)

    def stop(self) -> None:
        self.mode, self.points = None, []
        self.measure_action.setChecked(False)
        self._clear_line()

    # ------------------------------------------------------------------------------------------ clicks
    def _on_picked(self, result: Any) -> None:
        scene = self.window.document.scene
        if self.mode is None or scene is None or result.position is None or result.point < 0:
            return
        self.points.append(tuple(float(v) for v in result.position))
        if len(self.points) == 1:
            self.window.statusBar().showMessage("Now click the second point")
            return
        a, b = self.points[:2]
        self.points = []
        self.last = measure(scene, a, b)
        self._draw_line(a, b)
        if self.mode == "measure":
            more = "click two more points; View > Measure ends"
            self.window.statusBar().showMessage(f"Distance: {self.last.text} ({more})")
            return
        self.mode = None
        text = ask_length(self.window, format_length(self.last.units, None))
        if text is None:
            self._clear_line()
            return
        try:
            edit = set_scale(scene, a, b, parse_length(text))
        except EditError as exc:
            self.window.statusBar().showMessage(str(exc), 8000)
            return
        self.window.push_edit(edit)
        self.window.statusBar().showMessage(
            f"Scale set: 1 scene unit = {format_length(1.0, scale_of(scene))}; exports are in metres", 8000
        )

    # ----------------------------------------------------------------------------------------- drawing
    def _draw_line(self, a, b) -> None:
        import pyvista as pv

        plotter = self.window.view.plotter
        line = pv.Line(np.asarray(a, float), np.asarray(b, float))
        plotter.add_mesh(line, color="#ffd54f", line_width=3, name=LINE_NAME, reset_camera=False,
                         render=False, pickable=False)  # fmt: skip
        self.window.view.render()

    def _clear_line(self) -> None:
        plotter = self.window.view.plotter
        if LINE_NAME in plotter.actors:
            plotter.remove_actor(LINE_NAME, render=False)
            self.window.view.render()


def install_measure(window: Any) -> MeasureTool:
    existing = getattr(window, "measure_tool", None)
    if isinstance(existing, MeasureTool):
        return existing
    window.measure_tool = MeasureTool(window)
    return window.measure_tool
