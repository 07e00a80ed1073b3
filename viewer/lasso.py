"""Lasso tools: a freehand lasso (or a box) drawn over the 3D view, and a canvas to draw one on a photo
(used by ``viewer.photo_lasso_dialog``).

Both only collect a shape; ``app.edits`` / ``app.photo_lasso`` turn it into pixels and an edit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QWidget


# ------------------------------------------------------------------------------------------ 3D lasso
def view_display_matrix(view: Any) -> np.ndarray:
    """4x4 matrix from world coordinates to VTK display pixels (origin bottom-left) of the 3D view."""
    renderer = view.plotter.renderer
    camera = renderer.GetActiveCamera()
    aspect = renderer.GetTiledAspectRatio()
    m = camera.GetCompositeProjectionTransformMatrix(aspect, -1, 1)
    proj = np.array([[m.GetElement(i, j) for j in range(4)] for i in range(4)])
    w, h = renderer.GetSize()
    x0, y0 = renderer.GetOrigin()
    to_display = np.array([[w / 2, 0, 0, x0 + w / 2], [0, h / 2, 0, y0 + h / 2], [0, 0, 1, 0], [0, 0, 0, 1]])
    return to_display @ proj


class LassoTool(QObject):
    """Freehand lasso (or box with Shift) drawn over the 3D view; the camera is frozen while drawing.

    Calls ``done(polygon, is_box)`` with the polygon in VTK display pixels (None when cancelled).
    """

    def __init__(self, view: Any, done: Callable[[np.ndarray | None, bool], None], parent=None) -> None:
        super().__init__(parent)
        self.view = view
        self.widget = view.plotter
        self._done = done
        self.points: list[tuple[float, float]] = []
        self.box = False
        self._drawing = False
        self._actor = None
        self.active = False

    def start(self) -> None:
        self.active = True
        self.widget.installEventFilter(self)
        self.widget.setCursor(Qt.CursorShape.CrossCursor)
        self.widget.setFocus()

    def stop(self, polygon: np.ndarray | None = None) -> None:
        if not self.active:
            return
        self.active = False
        self.widget.removeEventFilter(self)
        self.widget.unsetCursor()
        try:
            self._remove_outline()
        finally:
            self._done(polygon, self.box)

    def to_display(self, x: float, y: float) -> tuple[float, float]:
        ratio = self.widget.devicePixelRatioF()
        return x * ratio, (self.widget.height() - y) * ratio

    def polygon(self) -> np.ndarray:
        pts = np.array(self.points, dtype=np.float64).reshape(-1, 2)
        if self.box and len(pts) >= 2:
            (xa, ya), (xb, yb) = pts[0], pts[-1]
            return np.array([[xa, ya], [xb, ya], [xb, yb], [xa, yb]])
        return pts

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        et = event.type()
        if et == QEvent.Type.ShortcutOverride and event.key() == Qt.Key.Key_Escape:
            event.accept()  # Esc cancels the lasso instead of triggering the window's shortcut
            return True
        if et == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
            self.stop(None)
            return True
        if et == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._drawing = True
            self.box = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            pos = event.position()
            self.points = [self.to_display(pos.x(), pos.y())]
            return True
        if et == QEvent.Type.MouseMove and self._drawing:
            pos = event.position()
            point = self.to_display(pos.x(), pos.y())
            if self.box:
                self.points = [self.points[0], point]
            else:
                self.points.append(point)
            self._draw_outline()
            return True
        if et == QEvent.Type.MouseButtonRelease and self._drawing:
            self._drawing = False
            self.stop(self.polygon())
            return True
        # the camera stays put while the tool is active
        return et in (QEvent.Type.MouseButtonDblClick, QEvent.Type.Wheel, QEvent.Type.MouseButtonPress)

    def _draw_outline(self) -> None:
        import pyvista as pv
        from vtkmodules.vtkRenderingCore import vtkActor2D, vtkPolyDataMapper2D

        poly = self.polygon()
        if len(poly) < 2:
            return
        closed = np.vstack([poly, poly[:1]])
        pts = np.column_stack([closed, np.zeros(len(closed))])
        lines = pv.lines_from_points(pts)
        if self._actor is None:
            mapper = vtkPolyDataMapper2D()
            self._actor = vtkActor2D()
            self._actor.SetMapper(mapper)
            self._actor.GetProperty().SetColor(1.0, 0.85, 0.1)
            self._actor.GetProperty().SetLineWidth(2)
            self.view.plotter.renderer.AddViewProp(self._actor)
        self._actor.GetMapper().SetInputData(lines)
        self.view.plotter.render()

    def _remove_outline(self) -> None:
        if self._actor is not None:
            self.view.plotter.renderer.RemoveViewProp(self._actor)
            self._actor = None
            self.view.plotter.render()


# ------------------------------------------------------------------------------------------ 2D lasso
class ViewCanvas(QWidget):
    """One view's photo (model resolution, scaled to fit) on which the user draws a lasso or a box."""

    polygon_finished = Signal(object)  # (P, 2) polygon in model-grid pixel coordinates

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("view_canvas")
        self.setMinimumSize(320, 220)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.image: QImage | None = None
        self.points: list[QPointF] = []
        self.box = False
        self._drawing = False

    def set_image(self, rgb: np.ndarray, keep_shape: bool = False) -> None:
        """Show ``rgb``; the shape drawn last stays when ``keep_shape`` (a preview of it is shown)."""
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        h, w = rgb.shape[:2]
        self.image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        if not keep_shape:
            self.points = []
        self.update()

    def _geometry(self) -> tuple[float, float, float]:
        """Scale and offset of the drawn image inside the widget."""
        if self.image is None:
            return 1.0, 0.0, 0.0
        scale = min(self.width() / self.image.width(), self.height() / self.image.height())
        ox = (self.width() - scale * self.image.width()) / 2
        oy = (self.height() - scale * self.image.height()) / 2
        return scale, ox, oy

    def to_model(self, p: QPointF) -> tuple[float, float]:
        """Widget position -> model-grid coordinates (pixel centres at integers)."""
        scale, ox, oy = self._geometry()
        return (p.x() - ox) / scale - 0.5, (p.y() - oy) / scale - 0.5

    def polygon(self) -> np.ndarray:
        pts = np.array([self.to_model(p) for p in self.points], dtype=np.float64).reshape(-1, 2)
        if self.box and len(pts) >= 2:
            (xa, ya), (xb, yb) = pts[0], pts[-1]
            return np.array([[xa, ya], [xb, ya], [xb, yb], [xa, yb]])
        return pts

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        if self.image is not None:
            scale, ox, oy = self._geometry()
            target = QRectF(ox, oy, scale * self.image.width(), scale * self.image.height())
            painter.drawImage(target, self.image)
        if len(self.points) >= 2:
            painter.setPen(QPen(QColor(255, 215, 0), 2))
            if self.box:
                painter.drawRect(QRectF(self.points[0], self.points[-1]).normalized())
            else:
                painter.drawPolygon(QPolygonF(self.points))
        painter.end()

    def cancel_drawing(self) -> bool:
        """Drop the shape being drawn (Esc while the button is down); True when there was one."""
        if not self._drawing:
            return False
        self._drawing = False
        self.points = []
        self.update()
        return True

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drawing = True
            self.box = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.points = [event.position()]
            self.update()

    def mouseMoveEvent(self, event) -> None:
        if self._drawing:
            if self.box:
                self.points = [self.points[0], event.position()]
            else:
                self.points.append(event.position())
            self.update()

    def mouseReleaseEvent(self, event) -> None:
        if self._drawing and event.button() == Qt.MouseButton.LeftButton:
            self._drawing = False
            if len(self.points) >= 2:
                self.polygon_finished.emit(self.polygon())
