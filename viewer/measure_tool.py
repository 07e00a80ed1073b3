"""The measuring tool and "Set scale" (View menu): click two points in the 3D view.

Measure: the distance appears in the status bar (metres once the scene has a scale, else scene units)
and as a line in the view; it follows the scale when one is set or undone. Set scale: after the two clicks,
type their real length ("0.9 m", "90 cm"; a length it cannot read is asked for again, with why); the scale
is an undoable edit stored in the scene (``app.measure``), and exports are then in metres. Esc ends either.
Both are disabled, with a tooltip saying why, until a scene is open. While either is on, the tool takes the
view's clicks (``SceneView.take_clicks``): a click picks a point to measure from, never a camera (the view
does not jump to that photo) and never a selection.
Installed by ``install_measure(window)``; the window provides ``view``, ``document``, ``actions_``,
``push_edit`` and ``statusBar``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog, QMenu, QWidget

from app.edits import EditError
from app.measure import MIN_SPAN, Measurement, format_length, measure, parse_length, scale_of, set_scale
from viewer.actions import ActionSpec

LINE_NAME = "measurement"
NO_SCENE_TIP = "Open a scene first. {tip}"
LINE_COLOUR = "#ff40ff"  # magenta: apart from the cameras' amber and cyan, the room's colours and both themes


def ask_length(parent: QWidget, span_text: str, error: str | None = None) -> str | None:
    label = f"The two points are {span_text} apart in the scene.\nTheir real length (e.g. 0.9 m, 90 cm):"
    if error:
        label = f"{error[:1].upper()}{error[1:]}.\n\n{label}"
    text, ok = QInputDialog.getText(parent, "Set scale", label)
    return text if ok else None


class MeasureTool(QObject):
    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.mode: str | None = None  # "measure" | "scale" | None
        self.points: list[tuple[float, float, float]] = []
        self.last: Measurement | None = None
        self.measured: tuple | None = None  # the two points of the distance shown
        self._message = ""  # what the tool last wrote in the status bar
        self._scene = None
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
        self._tips = {action: (action.toolTip(), action.statusTip())
                      for action in (self.measure_action, self.scale_action)}  # fmt: skip
        for action in self._tips:  # a menu shows no tooltips unless asked: the why of a greyed item
            for menu in action.associatedObjects():
                if isinstance(menu, QMenu):
                    menu.setToolTipsVisible(True)
        window.document.scene_changed.connect(self._on_scene)
        if "clear_selection" in reg:  # Esc (Edit > Clear selection) also ends measuring
            reg["clear_selection"].triggered.connect(self._on_escape)
        self._on_scene(window.document.scene)

    def _on_scene(self, scene: Any) -> None:
        if self._scene is not None:
            self._scene.events.settings.disconnect(self._on_settings)
        self._scene = scene
        if scene is not None:
            scene.events.settings.connect(self._on_settings)
        self.stop()
        for action, (tip, status_tip) in self._tips.items():  # nothing to measure without a scene
            action.setEnabled(scene is not None)
            action.setToolTip(tip if scene is not None else NO_SCENE_TIP.format(tip=tip))
            action.setStatusTip(status_tip if scene is not None else NO_SCENE_TIP.format(tip=status_tip))

    def _on_settings(self, *_: Any) -> None:
        """A scale set or undone: the distance shown is read again in the new units."""
        scene = self.window.document.scene
        if self.mode != "measure" or self.measured is None or scene is None:
            return
        self.last = measure(scene, *self.measured)
        self._show(self._distance_text())

    def _on_escape(self) -> None:
        if self.mode is not None:
            self.stop()
            self._show("Measuring ended", 3000)

    def _show(self, text: str, timeout: int = 0) -> None:
        self._message = text
        self.window.statusBar().showMessage(text, timeout)

    def _distance_text(self) -> str:
        return f"Distance: {self.last.text} (click two more points; View > Measure or Esc ends)"

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
        self.mode, self.points, self.measured = mode, [], None
        self.window.view.take_clicks(self._on_picked)
        self._clear_line()
        self._show(message)

    def _end_mode(self) -> None:
        """Clicks go back to cameras and selection."""
        self.mode = None
        self.window.view.take_clicks(None)

    def stop(self) -> None:
        """End measuring: the line goes, and the tool's words in the status bar with it."""
        self._end_mode()
        self.points, self.measured = [], None
        self.measure_action.setChecked(False)
        self._clear_line()
        bar = self.window.statusBar()
        if self._message and bar.currentMessage() == self._message:
            bar.clearMessage()
        self._message = ""

    # ------------------------------------------------------------------------------------------ clicks
    def _on_picked(self, result: Any) -> None:
        scene = self.window.document.scene
        if self.mode is None or scene is None or result.position is None or result.point < 0:
            return
        self.points.append(tuple(float(v) for v in result.position))
        if len(self.points) == 1:
            self._show("Now click the second point (Esc ends)")
            return
        a, b = self.points[:2]
        self.points = []
        self.last = measure(scene, a, b)
        if self.last.units < MIN_SPAN:  # no distance to measure, and no length typed could make it a scale
            self.points = [a]
            self._show("That is the first point again: click a second, different point (Esc ends)")
            return
        self._draw_line(a, b)
        if self.mode == "measure":
            self.measured = (a, b)
            self._show(self._distance_text())
            return
        self._end_mode()
        span, error = format_length(self.last.units, None), None
        while True:  # until a length it can use, or Cancel
            text = ask_length(self.window, span, error)
            if text is None:
                self.stop()
                return
            try:
                edit = set_scale(scene, a, b, parse_length(text))
                break
            except EditError as exc:
                error = str(exc)
        self.window.push_edit(edit)
        self._clear_line()
        unit = format_length(1.0, scale_of(scene))
        self._show(f"Scale set: 1 scene unit = {unit}; exports are in metres", 8000)

    # ----------------------------------------------------------------------------------------- drawing
    def _draw_line(self, a, b) -> None:
        import pyvista as pv

        plotter = self.window.view.plotter
        line = pv.Line(np.asarray(a, float), np.asarray(b, float))
        plotter.add_mesh(line, color=LINE_COLOUR, line_width=3, name=LINE_NAME, reset_camera=False,
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
